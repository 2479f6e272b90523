"""What every candidate source shares: fit on a train `Dataset`, retrieve top-k for many users at once.

A source implements either ``_score(users) -> float32 [B, n_items]`` (dense scores,
``-inf`` where an item is ineligible) or ``_retrieve_warm(users, k, exclude_seen)``
(for index-backed sources). The base class checks input, batches users, masks seen
items, pads short rows with ``-1`` and gives users with no training history the
popular fallback (their rows carry popularity counts as scores).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.lists import BATCH_CELLS, apply_order, compact, seen_mask
from workbench.types import PAD, CandidateSet


def recency_weighted(train: Dataset, half_life: float | None) -> sp.csr_matrix:
    """User×item matrix of history weights: a user's ``n``-th most recent item (``n = 0``: the latest)
    weighs ``0.5 ** (n / half_life)``; all weights are 1 when ``half_life`` is None.

    Linear item models score ``x_u · B``; weighting ``x_u`` by recency is a cheap sequential signal.
    """
    if half_life is None:
        return train.matrix
    if not half_life > 0:
        raise ValueError(f"history_half_life={half_life!r}: expected a positive number of interactions or None")
    inter = train.interactions.drop_duplicates(["user", "item"], keep="last")
    users = inter["user"].to_numpy()
    counts = np.bincount(users, minlength=train.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    from_end = counts[users] - 1 - (np.arange(len(users)) - starts[users])
    weight = (0.5 ** (from_end / half_life)).astype(np.float32)
    out = sp.csr_matrix((weight, (users, inter["item"].to_numpy())), shape=(train.n_users, train.n_items))
    out.sort_indices()
    return out


class NotFittedError(RuntimeError):
    """A source was asked to retrieve before ``fit``."""


def check_users(users: np.ndarray | list[int] | int, n_users: int) -> np.ndarray:
    """Users as int64 row indices; ValueError naming any outside ``0..n_users-1``."""
    arr = np.atleast_1d(np.asarray(users))
    if arr.ndim != 1:
        raise ValueError(f"users must be a 1-D array of user row indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"users must be integer row indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n_users)]
    if bad.size:
        raise ValueError(
            f"unknown user row index(es) {np.unique(bad)[:5].tolist()}: expected 0..{n_users - 1} "
            "(ids are re-indexed; map original ids with Dataset.user_index)"
        )
    return arr


def check_k(k: int) -> int:
    """``k`` candidates per user: a positive integer."""
    return check_count("k (candidates per user)", k, 1)


GROUPS = 8  # `best_columns`: a row's columns in this many interleaved groups,
GROUPED_FROM = 3  # ... used when a row has at least GROUPED_FROM · GROUPS · k columns
GROUPED_MIN_COLUMNS = 4_096  # ... and at least this many (a small catalogue keeps `np.argpartition` alone)


def best_columns(neg: np.ndarray, kk: int) -> np.ndarray:
    """Column indices ``[B, kk]`` (in no order) of the ``kk`` smallest cells of each row of ``neg [B, n]``
    (negated scores; ``kk < n``): `np.argpartition`'s answer, exact, in a third of its time on wide rows.

    Wide rows (``n ≥ GROUPED_FROM · GROUPS · kk`` and ``n ≥ GROUPED_MIN_COLUMNS``: a large catalogue, such
    as MovieLens-20M's 26,744 items or head EASE's 5,000 against 200 candidates) are cut into ``GROUPS`` interleaved groups of ``w = ⌊n / GROUPS⌋`` columns
    (column ``c < GROUPS · w`` is slot ``c mod w`` of group ``c // w``; the last ``n mod GROUPS`` columns are
    always candidates); each slot's smallest cell over the groups is one pass over the row. The ``kk``
    slots with the smallest minima hold ``kk`` cells at or below the ``kk``-th smallest minimum ``t``, so
    the row's ``kk``-th smallest cell is ≤ ``t`` too, and every cell below ``t`` lies in one of those
    slots: the answer is among their ``kk · GROUPS`` cells, which are partitioned instead of all ``n``.
    Which of several cells tied at the boundary is kept is left to `np.argpartition` (as it always was);
    narrower rows (MovieLens-100K's 1,682 items) go to it directly.
    """
    b, n = neg.shape
    if n < max(GROUPED_FROM * GROUPS * kk, GROUPED_MIN_COLUMNS):
        return np.argpartition(neg, kk - 1, axis=1)[:, :kk]
    w = n // GROUPS
    slots = np.argpartition(neg[:, : GROUPS * w].reshape(b, GROUPS, w).min(axis=1), kk - 1, axis=1)[:, :kk]
    cols = (slots[:, :, None] + w * np.arange(GROUPS)[None, None, :]).reshape(b, kk * GROUPS)
    if GROUPS * w < n:
        cols = np.concatenate([cols, np.broadcast_to(np.arange(GROUPS * w, n), (b, n - GROUPS * w))], axis=1)
    keep = np.argpartition(np.take_along_axis(neg, cols, axis=1), kk - 1, axis=1)[:, :kk]
    return np.take_along_axis(cols, keep, axis=1)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of each row of ``scores [B, n]``, sorted; ``-inf`` cells become ``-1`` padding.

    Returns ``(items int64 [B, k], scores float32 [B, k])``; when ``k > n`` rows are padded.
    A full sort beats partition-then-sort once ``k`` is a sizeable share of ``n``; the partition is
    `best_columns` (grouped on wide rows).
    """
    n = scores.shape[1]
    kk = min(k, n)
    neg = -np.asarray(scores, dtype=np.float32)
    if 3 * kk > n:
        idx = np.argsort(neg, axis=1)[:, :kk]
    else:
        part = best_columns(neg, kk)
        idx = np.take_along_axis(part, np.argsort(np.take_along_axis(neg, part, axis=1), axis=1), axis=1)
    top = -np.take_along_axis(neg, idx, axis=1)
    items = np.where(top > -np.inf, idx, PAD).astype(np.int64)
    if kk < k:
        items = np.pad(items, ((0, 0), (0, k - kk)), constant_values=PAD)
        top = np.pad(top, ((0, 0), (0, k - kk)), constant_values=-np.inf)
    return items, top


class CandidateSource:
    """Base class: ``fit(train) -> self``, then ``retrieve(users, k, exclude_seen=True) -> CandidateSet``.

    Learned state ends in ``_``. ``seen_`` is the binary train matrix, ``popularity_``
    the train interaction count of each item, ``fallback_`` the items by popularity (ties by
    index): what users without history get.
    """

    name: ClassVar[str] = "source"
    personalised: ClassVar[bool] = True

    def fit(self, train: Dataset) -> CandidateSource:
        """Learn from ``train``'s interactions (and item/user tables); returns ``self``."""
        self.n_users_, self.n_items_ = train.n_users, train.n_items
        self.seen_ = train.matrix
        self.popularity_ = train.item_popularity.astype(np.float32)
        self.fallback_ = np.argsort(-self.popularity_, kind="stable")
        self._fit(train)
        self.fitted_ = True
        return self

    def _fit(self, train: Dataset) -> None:
        raise NotImplementedError

    def _score(self, users: np.ndarray) -> np.ndarray:
        """float32 ``[len(users), n_items]`` scores for users with history (a new array, written to
        by the caller); ``-inf`` = ineligible."""
        raise NotImplementedError

    def _retrieve_warm(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(items, scores)`` for users with training history; dense scoring in user batches."""
        items = np.empty((len(users), k), dtype=np.int64)
        scores = np.empty((len(users), k), dtype=np.float32)
        step = max(1, BATCH_CELLS // self.n_items_)
        for lo in range(0, len(users), step):
            batch = users[lo : lo + step]
            s = np.asarray(self._score(batch), dtype=np.float32)
            if exclude_seen:
                rows, cols = self.seen_[batch].nonzero()
                s[rows, cols] = -np.inf
            items[lo : lo + step], scores[lo : lo + step] = top_k(s, k)
        return items, scores

    def _top_unseen(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray, k: int,
                    exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The first ``k`` real cells of best-first rows ``items``/``scores``, leaving out the user's
        train items when ``exclude_seen``; ``-1``/``-inf`` padded to ``k``."""
        keep = items >= 0
        if exclude_seen:
            keep &= ~seen_mask(items, users, self.seen_)
        order = compact(keep, k)
        return apply_order(items, order, PAD), apply_order(scores, order, -np.inf)

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(train) before retrieve()")

    def retrieve(self, users: np.ndarray | list[int], k: int, exclude_seen: bool = True) -> CandidateSet:
        """Top-``k`` items for each of ``users`` (row indices), best first, ``-1``-padded past the eligible items.

        Users without training history get the most popular items (the fallback) from
        personalised sources. ``exclude_seen`` drops items the user interacted with in train.
        """
        self._check_fitted()
        users = check_users(users, self.n_users_)
        k = check_k(k)
        items = np.full((len(users), k), PAD, dtype=np.int64)
        scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        cold = np.diff(self.seen_.indptr)[users] == 0 if self.personalised else np.zeros(len(users), bool)
        if (~cold).any():
            items[~cold], scores[~cold] = self._retrieve_warm(users[~cold], k, exclude_seen)
        if cold.any():
            top = self.fallback_[:k]
            items[cold, : len(top)], scores[cold, : len(top)] = top, self.popularity_[top]
        return CandidateSet(users=users, items=items, scores=scores, sources=np.where(items >= 0, 1, 0),
                            source_names=(self.name,))  # fmt: skip

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"
