"""Item-to-item collaborative filtering: "customers who bought X also bought Y" (Linden, Smith & York 2003).

Similarity of items ``i`` and ``j`` from binary co-occurrence ``c_ij = |users(i) ∩ users(j)|``::

    s_ij = c_ij / (n_i ** alpha · n_j ** (1 − alpha) + shrink)

(``alpha = 0.5``: cosine; ``shrink`` damps pairs seen together only a few times). Each
item keeps its ``neighbours`` most similar items (a sparse ``S``); a user's scores are
``x_u · S``, the summed similarity of each item to the user's history. Items with no
similarity to the history are not proposed.

Two sequence-aware options: with ``window``, ``c_ij`` counts only the users in whose
time-ordered history ``i`` and ``j`` lie at most ``window`` positions apart (tastes
drift, so items consumed together are better neighbours than items consumed a year
apart); with ``history_half_life`` the user's history is recency-weighted
(`recency_weighted`), so neighbours of recent items count more.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.candidates.base import BATCH_CELLS, CandidateSource, recency_weighted
from workbench.data.dataset import Dataset


class ItemKNN(CandidateSource):
    """Sparse top-``neighbours`` item cosine similarity; scores ``X[users] @ S``."""

    name = "itemknn"

    def __init__(
        self,
        neighbours: int = 20,
        shrink: float = 0.0,
        alpha: float = 0.5,
        window: int | None = None,
        history_half_life: float | None = None,
    ) -> None:
        if neighbours < 1:
            raise ValueError(f"neighbours={neighbours!r}: expected a positive number of neighbours per item")
        if window is not None and window < 1:
            raise ValueError(f"window={window!r}: expected a positive number of positions or None (whole history)")
        if shrink < 0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"shrink={shrink!r} must be >= 0 and alpha={alpha!r} in [0, 1]")
        self.neighbours, self.shrink, self.alpha = neighbours, shrink, alpha
        self.window, self.history_half_life = window, history_half_life

    def _fit(self, train: Dataset) -> None:
        co = self._cooccurrence(train)
        n = self.popularity_.astype(np.float64)
        k = min(self.neighbours, self.n_items_ - 1)
        blocks = []
        step = max(1, BATCH_CELLS // self.n_items_)
        for lo in range(0, self.n_items_, step):
            hi = min(lo + step, self.n_items_)
            c = co[lo:hi].toarray().astype(np.float64)
            c[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            denom = np.outer(n[lo:hi] ** self.alpha, n ** (1.0 - self.alpha)) + self.shrink
            sim = np.divide(c, denom, out=np.zeros_like(c), where=denom > 0)
            keep = np.argpartition(-sim, k - 1, axis=1)[:, :k] if k > 0 else np.zeros((hi - lo, 0), np.int64)
            vals = np.take_along_axis(sim, keep, axis=1)
            rows = np.broadcast_to(np.arange(lo, hi)[:, None], keep.shape)
            nz = vals > 0
            blocks.append((vals[nz], rows[nz], keep[nz]))
        vals, rows, cols = (np.concatenate(p) for p in zip(*blocks)) if blocks else ([], [], [])
        self.similarity_ = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_items_,) * 2, dtype=np.float32)
        self.history_ = recency_weighted(train, self.history_half_life)

    def _cooccurrence(self, train: Dataset) -> sp.csr_matrix:
        """``c_ij``: users with both items (within ``window`` positions of each other when set)."""
        if self.window is None:
            X = train.matrix
            return (X.T @ X).tocsr()
        inter = train.interactions.drop_duplicates(["user", "item"], keep="last")
        users, items = inter["user"].to_numpy(), inter["item"].to_numpy()
        shape = (self.n_items_, self.n_items_)
        # float32 counts: exact integers below 2^24 pairs, half float64's memory in the items × items
        # matrix, the largest array of this fit (docs/ARCHITECTURE.md, "Memory of a fit")
        co = sp.csr_matrix(shape, dtype=np.float32)
        for lag in range(1, self.window + 1):
            same = users[lag:] == users[:-lag]
            ahead = sp.csr_matrix((np.ones(same.sum(), np.float32), (items[:-lag][same], items[lag:][same])), shape=shape)
            co = co + ahead + ahead.T
        return co

    def _score(self, users: np.ndarray) -> np.ndarray:
        scores = (self.history_[users] @ self.similarity_).toarray()
        scores[scores <= 0] = -np.inf
        return scores
