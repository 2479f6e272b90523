"""Maximal Marginal Relevance (Carbonell & Goldstein, SIGIR 1998), for many users at once.

Greedily pick, k times, the candidate that maximises

    MMR(i) = λ · rel(i) − (1 − λ) · max_{j picked} sim(i, j)

λ weights *relevance*: λ = 1 keeps the relevance order exactly, λ = 0 is pure
diversity. (A common textbook version documents λ as "the diversity weight" while
its formula, like the one above, multiplies relevance by λ: trust the formula.)

- rel: min-max normalised per user to [0, 1] (`minmax_normalise`), so λ means the
  same trade-off for every user and every model's score scale.
- sim(i, j) = α · [category(i) = category(j)] + (1 − α) · cos(v_i, v_j).
- The max over an empty set is 0, so at λ = 0 every first candidate scores 0.
  Ties (exact equality of the float32 scores) go to the higher relevance, then to
  the earlier column: the first pick is always the most relevant candidate.
- Cost: each user keeps a running max-similarity per candidate, updated with the
  similarity row of the item just picked (one batched mat-vec, ``[U, n]``), so a
  step is O(n·d) per user and the whole is O(k·n·d), never a dense ``[U, n, n]``
  similarity tensor. The only Python loop runs over the k picks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from workbench.checks import check_count, check_unit_interval


class MMRResult(NamedTuple):
    """order: int64 ``[U, k]`` column indices into the inputs, in pick order, ``-1``
    where a user ran out of real candidates. marginal: float64 ``[U, k]``, the MMR
    value of each pick when it was picked (NaN at padding)."""

    order: np.ndarray
    marginal: np.ndarray


def _finite(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``scores`` as float64, checked finite at every real (``mask``) cell."""
    s = np.asarray(scores, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if s.shape != mask.shape:
        raise ValueError(f"scores shape {s.shape} differs from mask shape {mask.shape}")
    if not np.isfinite(s[mask]).all():
        r, c = np.argwhere(mask & ~np.isfinite(s))[0]
        raise ValueError(f"score at row {r}, column {c} is {s[r, c]}; real candidates need finite scores")
    return s


def minmax_normalise(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-row min-max scaling of ``scores`` over the cells where ``mask`` is True.

    Returns float64 ``[U, n]`` in [0, 1] (best real candidate 1, worst 0), 0 outside
    the mask. A row whose real scores are all equal (or a single candidate) maps to
    1.0 everywhere: every candidate is as relevant as the best one. Raises
    ValueError on NaN or ±inf at a real cell.
    """
    s = _finite(scores, mask)
    mask = np.asarray(mask, dtype=bool)
    lo = np.where(mask, s, np.inf).min(axis=1, keepdims=True, initial=np.inf)
    hi = np.where(mask, s, -np.inf).max(axis=1, keepdims=True, initial=-np.inf)
    span = hi - lo
    flat = ~(span > 0)
    out = (s - np.where(np.isfinite(lo), lo, 0.0)) / np.where(flat, 1.0, span)
    out = np.where(flat, 1.0, out)
    return np.where(mask, out, 0.0)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit L2 norm (all-zero rows stay zero: cosine 0 with everything)."""
    v = np.asarray(vectors, dtype=np.float32)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


LAM = 0.7  # λ's default, the one declaration (RerankConfig.lam and mmr's lam use it)
ALPHA = 0.3  # α's default


def check_weights(lam: float, alpha: float) -> tuple[float, float]:
    """λ and α, each in [0, 1]: the one place they are validated (`RerankConfig` calls it once per
    config; `rerank` then calls `mmr_checked`, which does not check them again)."""
    return (check_unit_interval("lam (λ, the relevance weight)", lam),
            check_unit_interval("alpha (α, the same-category share of similarity)", alpha))  # fmt: skip


def _check_inputs(relevance, items, item_vectors, item_category, k):
    k = check_count("k", k, 1)
    items = np.asarray(items, dtype=np.int64)
    if items.ndim != 2 or np.shape(relevance) != items.shape:
        raise ValueError(f"relevance {np.shape(relevance)} and items {items.shape} must both be [U, n]")
    vec = np.asarray(item_vectors)
    cat = np.asarray(item_category)
    if vec.ndim != 2 or cat.shape != (vec.shape[0],):
        raise ValueError(f"item_vectors must be [n_items, d] and item_category [n_items]; got {vec.shape} and {cat.shape}")
    if not np.isfinite(vec).all():
        raise ValueError("item_vectors hold NaN or inf; expected finite vectors")
    if items.size and (items.min() < -1 or items.max() >= vec.shape[0]):
        raise ValueError(f"items hold ids in [{items.min()}, {items.max()}]; expected -1 or [0, {vec.shape[0] - 1}]")
    return items, k


def mmr(
    relevance: np.ndarray,
    items: np.ndarray,
    item_vectors: np.ndarray,
    item_category: np.ndarray,
    k: int,
    *,
    lam: float = LAM,
    alpha: float = ALPHA,
    normalise: bool = True,
) -> MMRResult:
    """Rerank each row of ``items`` by MMR and return the first ``k`` picks.

    relevance: float ``[U, n]``, ignored at padding; any scale, normalised per row here unless
        ``normalise=False`` (for relevance already normalised, as `workbench.rerank.rerank` passes it).
    items: int ``[U, n]`` item ids, ``-1`` = padding, never picked.
    item_vectors: float ``[n_items, d]`` (cosine similarity; need not be unit length).
    item_category: int ``[n_items]``.
    lam: λ in [0, 1], weight of relevance. alpha: α in [0, 1], weight of same-category.
    """
    lam, alpha = check_weights(lam, alpha)
    return mmr_checked(relevance, items, item_vectors, item_category, k, lam=lam, alpha=alpha, normalise=normalise)


def mmr_checked(
    relevance: np.ndarray,
    items: np.ndarray,
    item_vectors: np.ndarray,
    item_category: np.ndarray,
    k: int,
    *,
    lam: float,
    alpha: float,
    normalise: bool = True,
) -> MMRResult:
    """`mmr` with λ and α already validated (by `check_weights`, as `RerankConfig` does)."""
    items, k = _check_inputs(relevance, items, item_vectors, item_category, k)
    mask = items >= 0
    rel = minmax_normalise(relevance, mask) if normalise else np.where(mask, _finite(relevance, mask), 0.0)
    n_users, n = items.shape
    rows = np.arange(n_users)
    # Columns sorted by relevance (stable), so argmax's first-maximum rule breaks exact
    # ties by higher relevance, then by earlier column.
    key = np.where(mask, rel, -1.0)
    by_rel = np.broadcast_to(np.arange(n), items.shape)
    if (key[:, 1:] > key[:, :-1]).any():
        by_rel = np.argsort(-key, axis=1, kind="stable")
        rel, items, mask = (np.take_along_axis(a, by_rel, axis=1) for a in (rel, items, mask))
    safe = np.where(mask, items, 0)
    # Similarities pre-scaled by (1 − λ), so that the running max is the penalty itself.
    w_cos, w_cat = np.float32((1.0 - lam) * (1.0 - alpha)), np.float32((1.0 - lam) * alpha)
    unit = unit_rows(item_vectors)
    codes = np.unique(np.asarray(item_category), return_inverse=True)[1]
    category = codes.astype(np.min_scalar_type(codes.max(initial=0)))
    cand_vec = (unit * w_cos)[safe]
    cand_cat = category[safe]

    picks = np.full((n_users, k), -1, dtype=np.int64)
    marginal = np.full((n_users, k), -np.inf)
    base = np.where(mask, np.float32(lam) * rel.astype(np.float32), -np.inf).astype(np.float32)
    score, penalty = base.copy(), None
    offsets = rows * n
    for step in range(min(k, n)):
        picks[:, step] = pick = np.argmax(score, axis=1)
        flat = offsets + pick
        marginal[:, step] = score.ravel()[flat]
        base.ravel()[flat] = -np.inf
        if step == k - 1:
            break
        item = safe.ravel()[flat]
        sim = np.matmul(cand_vec, unit[item][:, :, None])[:, :, 0]
        sim += w_cat * (cand_cat == category[item][:, None])
        penalty = sim if penalty is None else np.maximum(penalty, sim, out=penalty)
        np.subtract(base, penalty, out=score)
    live = marginal > -np.inf
    order = np.where(live, np.take_along_axis(by_rel, np.maximum(picks, 0), axis=1), -1)
    return MMRResult(order, np.where(live, marginal, np.nan))
