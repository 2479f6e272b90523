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

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

from workbench.candidates.base import BATCH_CELLS, CandidateSource, recency_weighted
from workbench.data.dataset import Dataset

PAIR_BUDGET = 1 << 24  # co-occurring pairs held before they are counted into a block (128 MB of int64 keys)


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
        n = self.popularity_.astype(np.float64)
        k = min(self.neighbours, self.n_items_ - 1)
        blocks = []
        for lo, hi, c in self._cooccurrence_blocks(train):
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

    def _cooccurrence_blocks(self, train: Dataset) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(lo, hi, c)``: rows ``lo:hi`` of the co-occurrence ``c_ij`` (users with both items; within
        ``window`` positions of each other when set), float64 ``[hi - lo, n_items]``, ``(hi - lo) · n_items
        ≤ BATCH_CELLS``. Streamed block by block: the items × items matrix is never held whole (at
        MovieLens-20M's size it would hold ~30 pairs per interaction: gigabytes)."""
        n_items = self.n_items_
        step = max(1, BATCH_CELLS // n_items)
        if self.window is None:
            X = train.matrix
            Xc = X.tocsc()
            for lo in range(0, n_items, step):
                hi = min(lo + step, n_items)
                yield lo, hi, (Xc[:, lo:hi].T @ X).toarray().astype(np.float64)
            return
        inter = train.interactions.drop_duplicates(["user", "item"], keep="last")  # by user, then time
        users, items = inter["user"].to_numpy(np.int64), inter["item"].to_numpy(np.int64)
        by_item = np.argsort(items, kind="stable")
        first = np.searchsorted(items[by_item], np.arange(0, n_items + step, step))
        for b, lo in enumerate(range(0, n_items, step)):
            hi = min(lo + step, n_items)
            at = by_item[first[b] : first[b + 1]]  # positions holding an item of this block
            counts = np.zeros((hi - lo) * n_items, np.float64)
            keys: list[np.ndarray] = []
            held = 0
            for lag in range(1, self.window + 1):
                for other in (at + lag, at - lag):  # the item `lag` positions later, and earlier
                    ok = (other >= 0) & (other < len(items))
                    mine, other = at[ok], other[ok]
                    same = users[other] == users[mine]
                    keys.append((items[mine[same]] - lo) * n_items + items[other[same]])
                    held += len(keys[-1])
                    if held >= PAIR_BUDGET:
                        counts += np.bincount(np.concatenate(keys), minlength=len(counts))
                        keys, held = [], 0
            if keys:
                counts += np.bincount(np.concatenate(keys), minlength=len(counts))
            yield lo, hi, counts.reshape(hi - lo, n_items)

    def _score(self, users: np.ndarray) -> np.ndarray:
        """The sparse product's positive cells written into a ``-inf`` table (one pass over the table, not the
        three of densifying it and then masking its cells ``≤ 0``; the same scores)."""
        product = self.history_[users] @ self.similarity_
        scores = np.full(product.shape, -np.inf, dtype=np.float32)
        rows = np.repeat(np.arange(product.shape[0]), np.diff(product.indptr))
        positive = product.data > 0
        scores[rows[positive], product.indices[positive]] = product.data[positive]
        return scores
