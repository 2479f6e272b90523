"""A semi-synthetic ground truth for real data (MovieLens-100K has no true click probabilities).

Recipe (documented so readers know what the "truth" is):

1. Fit a strong model on **all** interactions: EASE (Steck 2019), closed form
   ``P = (XᵀX + λI)⁻¹``, ``B = I − P · diag(1/diag P)`` (zero diagonal), scores ``S = X B``.
2. Standardise each user's scores over the catalogue: ``z = (s − mean_u) / sd_u``.
3. Click probability once examined: ``a(u, i) = sigmoid(sharpness · z + b_u)``, where
   the offset ``b_u`` is found by bisection so that the mean of ``a`` over the user's
   top-``top_n`` items equals ``base_rate``.

The result is semi-synthetic: the interaction data are real, the click probabilities
are a model of them. Rankers close to EASE will look good in this world by design,
so use it to study experiment mechanics, not to crown a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.data.dataset import Dataset


@dataclass(frozen=True, eq=False)
class CalibratedOracle:
    """Click probabilities from a model's scores; same interface as ``SyntheticTruth``."""

    logits: np.ndarray  # float64 [n_users, n_items]
    base_rate: float
    sharpness: float
    description: str = ""

    @property
    def n_users(self) -> int:
        return self.logits.shape[0]

    @property
    def n_items(self) -> int:
        return self.logits.shape[1]

    def affinity_logit(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Logit of ``true_affinity``; ``users [U]``, ``items [U, m]`` or ``[m]``."""
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.asarray(items, dtype=np.int64)
        if len(users) and (users.min() < 0 or users.max() >= self.n_users):
            raise IndexError(f"user ids span [{users.min()}, {users.max()}], expected [0, {self.n_users - 1}]")
        if items.size and items.max() >= self.n_items:
            raise IndexError(f"item id {items.max()} out of range: the oracle has {self.n_items} items")
        safe = np.maximum(items, 0)
        if items.ndim == 1:
            return self.logits[users][:, safe]
        if items.shape[0] != len(users):
            raise ValueError(f"items has {items.shape[0]} rows but {len(users)} users were given")
        return self.logits[users[:, None], safe]

    def true_affinity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Probability in (0, 1) that the user clicks the item once examined; 0 at padding (-1)."""
        items_arr = np.asarray(items)
        prob = 1.0 / (1.0 + np.exp(-self.affinity_logit(users, items_arr)))
        return np.where(np.broadcast_to(items_arr >= 0, prob.shape), prob, 0.0)


def ease_scores(ds: Dataset, l2: float = 200.0) -> np.ndarray:
    """EASE scores ``X B`` for every (user, item), float64 ``[n_users, n_items]`` (Steck 2019)."""
    if l2 <= 0:
        raise ValueError(f"l2={l2!r}: expected > 0")
    x = ds.matrix.astype(np.float64)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return np.asarray(x @ b)


def calibrate_offsets(z: np.ndarray, sharpness: float, base_rate: float, top_n: int = 10) -> np.ndarray:
    """Per-user offsets ``b_u`` with ``mean(sigmoid(sharpness · z_top + b_u)) = base_rate`` (vectorised bisection)."""
    if not 0.0 < base_rate < 1.0:
        raise ValueError(f"base_rate={base_rate!r}: expected a probability in (0, 1)")
    if not 1 <= top_n <= z.shape[1]:
        raise ValueError(f"top_n={top_n!r}: expected 1..{z.shape[1]} (the catalogue size)")
    top = -np.partition(-z, top_n - 1, axis=1)[:, :top_n] * sharpness
    lo = np.full(len(z), -60.0)
    hi = np.full(len(z), 60.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        too_high = (1.0 / (1.0 + np.exp(-(top + mid[:, None])))).mean(axis=1) > base_rate
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    return 0.5 * (lo + hi)


def fit_oracle(
    ds: Dataset, base_rate: float = 0.3, sharpness: float = 0.5, top_n: int = 10, l2: float = 200.0
) -> CalibratedOracle:
    """Semi-synthetic truth for ``ds``: EASE on all its data, calibrated per user to ``base_rate``."""
    if sharpness <= 0:
        raise ValueError(f"sharpness={sharpness!r}: expected > 0")
    s = ease_scores(ds, l2)
    sd = s.std(axis=1, keepdims=True)
    z = (s - s.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    b = calibrate_offsets(z, sharpness, base_rate, top_n)
    desc = (f"semi-synthetic oracle on {ds.name!r}: EASE(l2={l2}) on all data, "
            f"sigmoid({sharpness}·z + b_u), top-{top_n} mean click probability {base_rate}")  # fmt: skip
    return CalibratedOracle(sharpness * z + b[:, None], base_rate, sharpness, desc)


def world_for(ds: Dataset, **oracle_kwargs) -> object:
    """The ground truth of ``ds``: its own ``truth`` (synthetic) or a fitted ``CalibratedOracle`` (real data)."""
    return ds.truth if ds.truth is not None else fit_oracle(ds, **oracle_kwargs)
