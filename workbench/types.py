"""The arrays that flow between stages: `CandidateSet` (stages 1 and 2) and `Slate` (stage 3).

Both hold many users at once, one row per user, padded with item ``-1``. One
request is a batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PAD = -1


def _check_rows(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
    if arr.shape[: len(shape)] != shape:
        raise ValueError(f"CandidateSet.{name} has shape {arr.shape}, expected leading shape {shape} (items' shape)")


@dataclass(eq=False)
class CandidateSet:
    """Candidates for many users.

    users: int64 ``[n_users]`` row indices into the Dataset's user table.
    items: int64 ``[n_users, n]`` item indices, ``-1`` for padding (padding sits
        at the end of each row).
    scores: float32 ``[n_users, n]``, higher is better, ``-inf`` at padding.
    sources: int64 ``[n_users, n]`` bitmask; bit ``s`` set when ``source_names[s]``
        proposed the item. 0 at padding.
    source_names: names of the bits of ``sources``.
    source_ranks: optional int32 ``[n_users, n, n_sources]``: 0-based rank of the
        item in each source's own list, ``-1`` where the source did not propose it.
    source_scores: optional float32 ``[n_users, n, n_sources]``: each source's raw
        score, NaN where the source did not propose it.
    """

    users: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    sources: np.ndarray | None = None
    source_names: tuple[str, ...] = ()
    source_ranks: np.ndarray | None = None
    source_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64).reshape(-1)
        self.items = np.asarray(self.items, dtype=np.int64)
        if self.items.ndim != 2:
            raise ValueError(f"CandidateSet.items must be 2-D [n_users, n], got shape {self.items.shape}")
        shape = self.items.shape
        if shape[0] != len(self.users):
            raise ValueError(f"CandidateSet has {len(self.users)} users but items has {shape[0]} rows")
        self.scores = np.asarray(self.scores, dtype=np.float32)
        _check_rows("scores", self.scores, shape)
        if self.sources is None:
            self.sources = np.zeros(shape, dtype=np.int64)
        self.sources = np.asarray(self.sources, dtype=np.int64)
        _check_rows("sources", self.sources, shape)
        for name in ("source_ranks", "source_scores"):
            arr = getattr(self, name)
            if arr is not None:
                _check_rows(name, arr, shape)
                if arr.shape[2] != len(self.source_names):
                    raise ValueError(f"CandidateSet.{name} has {arr.shape[2]} sources, source_names has {len(self.source_names)}")

    @property
    def n_users(self) -> int:
        return self.items.shape[0]

    @property
    def n(self) -> int:
        """Width of the padded rows."""
        return self.items.shape[1]

    @property
    def mask(self) -> np.ndarray:
        """bool ``[n_users, n]``: True where a real item (not padding) sits."""
        return self.items >= 0

    @property
    def counts(self) -> np.ndarray:
        """int64 ``[n_users]``: real candidates per user."""
        return self.mask.sum(axis=1)

    def take(self, order: np.ndarray) -> CandidateSet:
        """Reorder/select columns per row: ``order`` is int ``[n_users, m]`` of column indices."""
        rows = np.arange(self.n_users)[:, None]
        pick = lambda a: None if a is None else a[rows, order]  # noqa: E731
        return CandidateSet(
            users=self.users,
            items=self.items[rows, order],
            scores=self.scores[rows, order],
            sources=self.sources[rows, order],
            source_names=self.source_names,
            source_ranks=pick(self.source_ranks),
            source_scores=pick(self.source_scores),
        )

    def top(self, k: int) -> CandidateSet:
        """The ``k`` best-scored candidates of each row, sorted by score (padding last)."""
        key = np.where(self.mask, self.scores, -np.inf)
        order = np.argsort(-key, axis=1, kind="stable")[:, :k]
        return self.take(order)

    def select_users(self, rows: np.ndarray) -> CandidateSet:
        """The rows ``rows`` (positions in this set, not user ids)."""
        rows = np.asarray(rows, dtype=np.int64)
        sub = lambda a: None if a is None else a[rows]  # noqa: E731
        return CandidateSet(
            users=self.users[rows],
            items=self.items[rows],
            scores=self.scores[rows],
            sources=self.sources[rows],
            source_names=self.source_names,
            source_ranks=sub(self.source_ranks),
            source_scores=sub(self.source_scores),
        )

    def source_labels(self) -> np.ndarray:
        """object ``[n_users, n]``: '+'-joined names of the sources behind each cell."""
        out = np.full(self.items.shape, "", dtype=object)
        for bit, name in enumerate(self.source_names):
            has = (self.sources >> bit) & 1 == 1
            out[has] = np.where(out[has] == "", name, out[has] + "+" + name)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Long table (user, rank, item, score, sources) without padding, for display."""
        mask = self.mask
        rows, cols = np.nonzero(mask)
        return pd.DataFrame(
            {
                "user": self.users[rows],
                "rank": cols + 1,
                "item": self.items[rows, cols],
                "score": self.scores[rows, cols],
                "sources": self.source_labels()[rows, cols],
            }
        )

    def __repr__(self) -> str:
        return f"CandidateSet(users={self.n_users}, n={self.n}, sources={list(self.source_names)})"


@dataclass(eq=False)
class Slate:
    """The final lists shown to users, plus what each stage did to them.

    items: int64 ``[n_users, k]`` (``-1`` padding), in display order.
    scores: float32 ``[n_users, k]``: the score each item was placed by.
    propensities: float64 ``[n_users, k]``: probability with which the item was
        shown in its slot (1.0 for deterministic slots; < 1 for exploration).
    trace: per-cell arrays ``[n_users, k]`` recording what reranking did
        (e.g. ``ranked_position``, ``pinned``, ``explored``, ``freshness_boost``).
    stages: intermediate CandidateSets by stage name (``candidates``, ``ranked``).
    timings_ms: per-user wall time of each stage in milliseconds.
    """

    users: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    propensities: np.ndarray | None = None
    trace: dict[str, np.ndarray] = field(default_factory=dict)
    stages: dict[str, CandidateSet] = field(default_factory=dict)
    timings_ms: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64).reshape(-1)
        self.items = np.asarray(self.items, dtype=np.int64)
        if self.items.ndim != 2 or self.items.shape[0] != len(self.users):
            raise ValueError(f"Slate.items must be [n_users={len(self.users)}, k], got shape {self.items.shape}")
        self.scores = np.asarray(self.scores, dtype=np.float32)
        if self.propensities is None:
            self.propensities = np.where(self.items >= 0, 1.0, 0.0)
        for name, arr in self.trace.items():
            if np.shape(arr)[:2] != self.items.shape:
                raise ValueError(f"Slate.trace[{name!r}] has shape {np.shape(arr)}, expected {self.items.shape}")

    @property
    def k(self) -> int:
        return self.items.shape[1]

    def to_frame(self) -> pd.DataFrame:
        rows, cols = np.nonzero(self.items >= 0)
        data = {
            "user": self.users[rows],
            "position": cols + 1,
            "item": self.items[rows, cols],
            "score": self.scores[rows, cols],
            "propensity": self.propensities[rows, cols],
        }
        for name, arr in self.trace.items():
            data[name] = np.asarray(arr)[rows, cols]
        return pd.DataFrame(data)


@dataclass(frozen=True, eq=False)
class ItemArrays:
    """What reranking and the beyond-accuracy metrics read about the catalogue, indexed by item id:
    ``vectors`` float ``[n_items, d]`` (content), ``category`` int, ``age_days`` float,
    ``available`` and ``promoted`` bool, ``popularity`` int (distinct training users per item),
    each ``[n_items]``, and ``n_users`` (training users, novelty's denominator).
    `workbench.data.Dataset.item_arrays` builds it from a training split; `workbench.rerank.rerank`
    and `workbench.metrics.evaluate` take it as ``items=``."""

    vectors: np.ndarray
    category: np.ndarray
    age_days: np.ndarray
    available: np.ndarray | None = None
    promoted: np.ndarray | None = None
    popularity: np.ndarray | None = None
    n_users: int | None = None

    @property
    def n_items(self) -> int:
        return int(np.shape(self.vectors)[0])

