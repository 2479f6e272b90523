"""EASE, the closed-form linear item-item model (Steck 2019, "Embarrassingly Shallow Autoencoders").

Minimise ``‖X − XB‖² + λ‖B‖²`` subject to ``diag(B) = 0``. With ``P = (XᵀX + λI)⁻¹``
the solution is ``B = I − P · diag(1 / diag(P))`` (so ``B_ij = −P_ij / P_jj`` off the
diagonal, 0 on it), and a user's scores are ``x_u B``.

Cost: one dense ``n × n`` inverse (a Cholesky factorisation and its inverse, O(n³) time) and
``n × n`` weights, so the exact model is for catalogues up to a few thousand items. Above
``max_items`` (default 5,000) EASE switches, with a warning and on the record (``variant_``),
to **head EASE**: the exact model over the ``max_items`` most popular train items (the head,
``head_``, which carries most interactions of a long-tailed catalogue); items outside the
head are neither scored nor read from histories, and are left to the other sources (item-kNN
covers the tail in the default pipeline). ``max_items=None`` keeps the exact model at any
size, and a catalogue whose exact model would not fit in memory (more than ``MAX_ITEMS``) is
refused, naming its size and the memory it would need.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import lapack

from workbench.candidates.base import BATCH_CELLS, CandidateSource, recency_weighted, top_k
from workbench.data.dataset import Dataset
from workbench.types import PAD

MAX_ITEMS = 40_000  # the exact model's ceiling (max_items=None): about 25 GB of float64 n×n arrays
DEFAULT_MAX_ITEMS = 5_000  # above this, head EASE over the most popular DEFAULT_MAX_ITEMS items


def exact_memory_gb(n_items: int) -> float:
    """Peak memory of the exact model, in GB: the float64 ``n × n`` Gram/inverse and the float32 weights."""
    return n_items**2 * (8 + 4) / 1e9


def ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    """``B`` from the Gram matrix ``XᵀX`` (float64 ``[n, n]``, overwritten): float32, zero diagonal.

    ``(XᵀX + λI)⁻¹`` through its Cholesky factor (LAPACK ``dpotrf`` then ``dpotri``, in place):
    half the work of a general inverse and no second ``n × n`` buffer.
    """
    gram[np.diag_indices_from(gram)] += lam
    chol, info = lapack.dpotrf(gram.T, lower=False, clean=True, overwrite_a=True)  # gram.T: the same (symmetric) matrix, Fortran order
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: XᵀX + λI is not positive definite (LAPACK dpotrf info={info})")
    P, info = lapack.dpotri(chol, lower=False, overwrite_c=True)  # upper triangle of the inverse; zeros below
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: inverting XᵀX + λI failed (LAPACK dpotri info={info})")
    P += np.triu(P, 1).T
    P /= -np.diag(P).copy()[None, :]
    np.fill_diagonal(P, 0.0)
    return np.ascontiguousarray(P, dtype=np.float32)


class EASE(CandidateSource):
    """Closed-form linear item model; ``lam`` is the L2 penalty λ (about 200-1000 on MovieLens).

    history_half_life: when set, scores use the recency-weighted history (`recency_weighted`)
    instead of the binary one; the weights ``B`` are learned from the binary matrix either way.
    max_items: above this many items, head EASE over the ``max_items`` most popular items (module
    docstring; announced by a warning, recorded in ``variant_``); None: always exact (refused
    above ``MAX_ITEMS``).
    """

    name = "ease"

    def __init__(self, lam: float = 250.0, history_half_life: float | None = None,
                 max_items: int | None = DEFAULT_MAX_ITEMS) -> None:  # fmt: skip
        if not lam > 0:
            raise ValueError(f"lam={lam!r}: expected a positive L2 penalty")
        if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, (int, np.integer))
                                      or max_items < 1):  # fmt: skip
            raise ValueError(f"max_items={max_items!r}: expected a positive number of items or None (always exact)")
        self.lam, self.history_half_life, self.max_items = lam, history_half_life, max_items

    def _fit(self, train: Dataset) -> None:
        n = self.n_items_
        if self.max_items is None and n > MAX_ITEMS:
            raise ValueError(
                f"EASE (max_items=None, exact) would invert a dense {n:,}×{n:,} matrix, about "
                f"{exact_memory_gb(n):.1f} GB; more than {MAX_ITEMS:,} items is refused: set max_items "
                "for head EASE, or use ItemKNN or ALS for this catalogue"
            )
        X = train.matrix
        if self.max_items is None or n <= self.max_items:
            self.head_ = np.arange(n, dtype=np.int64)
            self.variant_ = f"exact over all {n:,} items"
        else:
            head = np.sort(self.fallback_[: self.max_items])  # the most popular items, ties by index
            share = X[:, head].nnz / max(X.nnz, 1)
            self.head_ = head.astype(np.int64)
            self.variant_ = f"head EASE over the {self.max_items:,} most popular of {n:,} items ({share:.1%} of train interactions)"
            warnings.warn(
                f"EASE: {n:,} items > max_items={self.max_items:,}: fitting {self.variant_}; the other "
                f"{n - self.max_items:,} items are not proposed by EASE. The exact model needs about "
                f"{exact_memory_gb(n):.1f} GB and O(n³) time (max_items=None).",
                UserWarning,
                stacklevel=3,
            )
            X = X[:, head]
        self.weights_ = ease_weights((X.T @ X).astype(np.float64).toarray(), self.lam)
        history = recency_weighted(train, self.history_half_life)
        self.history_ = history if len(self.head_) == n else history[:, self.head_].tocsr()

    def _score(self, users: np.ndarray) -> np.ndarray:
        history = self.history_[users]
        head_scores = np.asarray(history @ self.weights_)
        if len(self.head_) == self.n_items_:
            return head_scores
        scores = np.full((len(users), self.n_items_), -np.inf, dtype=np.float32)
        in_head = np.diff(history.indptr) > 0  # a history wholly outside the head: EASE proposes nothing
        scores[np.ix_(in_head, self.head_)] = head_scores[in_head]
        return scores

    def _retrieve_warm(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Head EASE proposes head items only, so it scores and ranks the ``h`` head columns, not all
        ``n`` (the same lists as `CandidateSource._retrieve_warm` over `_score`'s ``[b, n]`` table, up to
        the order of tied scores, for ``h / n`` of its top-k time); exact EASE goes the general way."""
        if len(self.head_) == self.n_items_:
            return super()._retrieve_warm(users, k, exclude_seen)
        items = np.empty((len(users), k), dtype=np.int64)
        scores = np.empty((len(users), k), dtype=np.float32)
        step = max(1, BATCH_CELLS // len(self.head_))
        for lo in range(0, len(users), step):
            batch = users[lo : lo + step]
            history = self.history_[batch]
            s = np.asarray(history @ self.weights_, dtype=np.float32)
            s[np.diff(history.indptr) == 0] = -np.inf  # a history wholly outside the head: nothing proposed
            if exclude_seen:
                rows, cols = self.seen_[batch][:, self.head_].nonzero()
                s[rows, cols] = -np.inf
            idx, top = top_k(s, k)
            items[lo : lo + step] = np.where(idx >= 0, self.head_[np.maximum(idx, 0)], PAD)
            scores[lo : lo + step] = top
        return items, scores
