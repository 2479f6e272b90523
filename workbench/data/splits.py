"""Train/test splits over one id space.

Every split returns ``(train, test)`` Datasets that share the user and item tables,
so a model fitted on ``train`` can be scored on ``test`` without re-mapping ids.
Ties in time are broken by item index, so the same data always splits the same way.
"""

from __future__ import annotations

import numpy as np

from workbench.data.dataset import Dataset


def _split(ds: Dataset, is_test: np.ndarray, kind: str) -> tuple[Dataset, Dataset]:
    inter = ds.interactions
    train = ds.with_interactions(inter[~is_test], name=f"{ds.name}:train")
    test = ds.with_interactions(inter[is_test], name=f"{ds.name}:test")
    return train, test


def _position_from_end(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each interaction's 0-based position from the end of its user's history (time, then item)."""
    inter = ds.interactions
    order = np.lexsort((inter["item"].to_numpy(), inter["timestamp"].to_numpy(), inter["user"].to_numpy()))
    users = inter["user"].to_numpy()[order]
    counts = np.bincount(users, minlength=ds.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos_in_user = np.arange(len(order)) - starts[users]
    from_end = np.empty(len(order), dtype=np.int64)
    from_end[order] = counts[users] - 1 - pos_in_user
    return from_end, counts[inter["user"].to_numpy()]


def temporal_split(ds: Dataset, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """Per-user temporal split: each user's last ``test_fraction`` of interactions (by time) is test.

    A user with ``n`` interactions gives ``floor(n · test_fraction)`` to test, so users with
    very short histories keep everything in train (and are not evaluated).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r}: expected a number strictly between 0 and 1")
    from_end, n_user = _position_from_end(ds)
    n_test = np.floor(n_user * test_fraction + 1e-9).astype(np.int64)
    return _split(ds, from_end < n_test, f"temporal({test_fraction})")


def leave_last_out(ds: Dataset, n: int = 1) -> tuple[Dataset, Dataset]:
    """Each user's last ``n`` interactions are test; users with ``<= n`` interactions stay in train."""
    if n < 1:
        raise ValueError(f"n={n!r}: expected at least 1 held-out interaction per user")
    from_end, n_user = _position_from_end(ds)
    return _split(ds, (from_end < n) & (n_user > n), f"leave_last_out({n})")


def random_split(ds: Dataset, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Each interaction goes to test with probability ``test_fraction`` (seeded)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r}: expected a number strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    return _split(ds, rng.random(ds.n_interactions) < test_fraction, f"random({test_fraction}, seed={seed})")


def time_cut_split(ds: Dataset, cut_ts: int | None = None, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """Global time cut: interactions at or after ``cut_ts`` (Unix seconds) are test.

    Without ``cut_ts``, the cut is the timestamp quantile that leaves ``test_fraction`` in test.
    """
    ts = ds.interactions["timestamp"].to_numpy()
    if cut_ts is None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction={test_fraction!r}: expected a number strictly between 0 and 1")
        cut_ts = int(np.quantile(ts, 1.0 - test_fraction))
    if len(ts) and not ts.min() < cut_ts <= ts.max():
        raise ValueError(
            f"cut_ts={cut_ts} leaves train or test empty: expected a time in ({ts.min()}, {ts.max()}]"
        )
    return _split(ds, ts >= cut_ts, f"time_cut({cut_ts})")


SPLITS = {
    "temporal": temporal_split,
    "leave-last-out": leave_last_out,
    "random": random_split,
    "time-cut": time_cut_split,
}


def split(ds: Dataset, kind: str = "temporal", **kwargs) -> tuple[Dataset, Dataset]:
    """Split by name: one of ``SPLITS``."""
    if kind not in SPLITS:
        raise ValueError(f"unknown split {kind!r}: expected one of {sorted(SPLITS)}")
    return SPLITS[kind](ds, **kwargs)
