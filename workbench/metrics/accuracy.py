"""Accuracy of top-k lists against held-out relevance, per user, for many users at once.

Inputs shared by every function here:

recommended: int ``[n_users, width]`` item ids, best first, ``-1`` padding at row ends.
relevance: scipy.sparse ``[n_users, n_items]``, row ``u`` aligned with ``recommended[u]``;
    the value is the relevance grade (binary 1, or a rating), 0 / absent = not relevant.

Conventions (those of trec_eval and ranx, checked against ranx in the tests):

- padding and items absent from ``relevance`` are non-relevant;
- an item is relevant when its grade is > 0 (ranx: grade >= 1; the same for integer grades);
- Precision@k divides by k, even when the list holds fewer than k real items;
- AP@k divides by R, the user's number of relevant items (not by min(k, R));
- NDCG@k = DCG@k / IDCG@k with discount 1/log2(rank + 1); IDCG takes the user's own top-k
  grades. ``gain="exp"`` uses 2^rel - 1 (Burges et al. 2005; ranx ``ndcg_burges``),
  ``gain="linear"`` uses rel (Järvelin & Kekäläinen 2002; ranx ``ndcg``). Both agree for
  binary relevance;
- RR@k = 1 / rank of the first relevant item within the top k, 0 if none;
- users with no relevant item get NaN for every metric (ranx reports 0): they say nothing
  about ranking quality, and `workbench.metrics.evaluate` excludes and counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from workbench.checks import check_count

Gain = Literal["exp", "linear"]
ACCURACY_METRICS = ("precision", "recall", "map", "ndcg", "mrr", "hit_rate")


def _as_2d(recommended: np.ndarray) -> np.ndarray:
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D [n_users, k], got shape {rec.shape}")
    return rec


def check_recommended(recommended: np.ndarray, n_items: int) -> np.ndarray:
    """Validate top-k lists and return them as int64 ``[n_users, width]``.

    Raises ValueError on: a shape other than 2-D, non-integer ids, ids outside
    ``[-1, n_items)``, padding followed by a real item, or an item repeated in a row.
    """
    rec = _as_2d(recommended)
    if rec.size and not np.issubdtype(rec.dtype, np.integer):
        raise ValueError(f"recommended must hold integer item ids, got dtype {rec.dtype}")
    rec = rec.astype(np.int64, copy=False)
    if rec.size == 0:
        return rec
    lo, hi = int(rec.min()), int(rec.max())
    if lo < -1 or hi >= n_items:
        bad = rec[(rec < -1) | (rec >= n_items)][:5].tolist()
        raise ValueError(f"recommended holds item ids {bad}; expected ids in [0, {n_items - 1}] or -1 for padding")
    pad = rec < 0
    gap = pad[:, :-1] & ~pad[:, 1:]
    if gap.any():
        row = int(np.argmax(gap.any(axis=1)))
        raise ValueError(
            f"recommended row {row} has a real item after -1 padding: {rec[row].tolist()}; "
            "padding must sit at row ends"
        )
    srt = np.sort(rec, axis=1)
    dup = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    if dup.any():
        row = int(np.argmax(dup.any(axis=1)))
        item = int(srt[row, 1:][dup[row]][0])
        raise ValueError(f"recommended row {row} lists item {item} more than once; each list must hold distinct items")
    return rec


def check_relevance(relevance: sp.spmatrix | np.ndarray, n_users: int) -> sp.csr_matrix:
    """Return relevance as float64 CSR, sorted indices, no stored zeros; reject bad shapes and grades."""
    if not (sp.issparse(relevance) or isinstance(relevance, np.ndarray)):
        raise ValueError(f"relevance must be a scipy.sparse matrix [n_users, n_items], got {type(relevance).__name__}")
    rel = sp.csr_matrix(relevance, dtype=np.float64, copy=True)
    if rel.shape[0] != n_users:
        raise ValueError(
            f"relevance has {rel.shape[0]} rows but recommended has {n_users}; "
            "rows must be aligned user by user"
        )
    if rel.nnz and not np.isfinite(rel.data).all():
        raise ValueError("relevance holds NaN or infinite grades; expected finite grades >= 0")
    if rel.nnz and rel.data.min() < 0:
        raise ValueError(f"relevance holds negative grade {rel.data.min():g}; expected grades >= 0 (0 = not relevant)")
    rel.sum_duplicates()
    rel.eliminate_zeros()
    rel.sort_indices()
    return rel


def check_k(k: int, width: int) -> int:
    k = check_count("k", k, 1)
    if k > width:
        raise ValueError(
            f"k={k} is larger than the recommended lists' width {width}; "
            "pass lists at least k long (pad with -1)"
        )
    return k


@dataclass(frozen=True)
class Judged:
    """The relevance of each recommended cell, the ideal ranking, and each user's R.

    gains: float64 ``[n_users, k]`` grade of each recommended item (0: not relevant or padding).
    ideal: float64 ``[n_users, k]`` the user's own k highest grades, descending (0-padded).
    n_relevant: int64 ``[n_users]`` number of items with grade > 0 (R).
    """

    gains: np.ndarray
    ideal: np.ndarray
    n_relevant: np.ndarray


def judge(recommended: np.ndarray, relevance: sp.spmatrix, k: int | None = None) -> Judged:
    """Look up the grade of every recommended cell with one sparse fancy-index, up to rank ``k``.

    ``k`` defaults to the lists' width. One ``relevance[rows, cols]`` call (scipy's
    binary search over each CSR row) measured faster than a global searchsorted.
    """
    rel = check_relevance(relevance, len(_as_2d(recommended)))
    rec = check_recommended(recommended, rel.shape[1])
    k = check_k(rec.shape[1] if k is None else k, rec.shape[1])
    rec = rec[:, :k]
    n_users = rec.shape[0]
    real = rec >= 0
    rows = np.broadcast_to(np.arange(n_users)[:, None], rec.shape)
    gains = np.zeros(rec.shape, dtype=np.float64)
    gains[real] = np.asarray(rel[rows[real], rec[real]]).ravel()
    return Judged(gains=gains, ideal=_ideal_gains(rel, k), n_relevant=np.diff(rel.indptr).astype(np.int64))


def _ideal_gains(rel: sp.csr_matrix, k: int) -> np.ndarray:
    row = np.repeat(np.arange(rel.shape[0]), np.diff(rel.indptr))
    order = np.lexsort((-rel.data, row))
    rank = np.arange(rel.nnz) - rel.indptr[row]
    keep = rank < k
    ideal = np.zeros((rel.shape[0], k), dtype=np.float64)
    ideal[row[keep], rank[keep]] = rel.data[order][keep]
    return ideal


def _gain(grades: np.ndarray, gain: Gain) -> np.ndarray:
    if gain == "exp":
        return np.exp2(grades) - 1.0
    if gain == "linear":
        return grades
    raise ValueError(f"gain must be 'exp' (2^rel - 1) or 'linear' (rel), got {gain!r}")


def _hit_list(grades: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero cells of ``grades`` [n_users, k] in row-major order: (user, 0-based rank, grade, ordinal).

    ``ordinal`` counts the user's earlier hits, so a hit's precision is (ordinal + 1) / (rank + 1).
    """
    user, rank = np.nonzero(grades)
    counts = np.bincount(user, minlength=grades.shape[0])
    ordinal = np.arange(user.size) - (np.cumsum(counts) - counts)[user]
    return user, rank, grades[user, rank], ordinal


def metrics_from_judged(j: Judged, ks: tuple[int, ...], gain: Gain = "exp") -> dict[tuple[str, int], np.ndarray]:
    """Every metric of ``ACCURACY_METRICS`` at every k, per user, from one `Judged` (k <= its width).

    Works on the list of hits (about k x hit rate per user) rather than the dense [n_users, k]
    grid. Returns ``{(metric, k): float64 [n_users]}``.
    """
    n_users, width = j.gains.shape
    for k in ks:
        check_k(k, width)
    user, rank, grade, ordinal = _hit_list(j.gains)
    i_user, i_rank, i_grade, _ = _hit_list(j.ideal)
    dcg_terms = _gain(grade, gain) / np.log2(rank + 2)
    idcg_terms = _gain(i_grade, gain) / np.log2(i_rank + 2)
    first = np.full(n_users, width)
    first[user[ordinal == 0]] = rank[ordinal == 0]
    n_rel = j.n_relevant.astype(np.float64)
    none = j.n_relevant == 0

    def per_user(mask: np.ndarray, who: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(who[mask], None if weights is None else weights[mask], minlength=n_users)

    out: dict[tuple[str, int], np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in ks:
            top = rank < k
            hits = per_user(top, user)
            values = {
                "precision": hits / k,
                "recall": hits / n_rel,
                "map": per_user(top, user, (ordinal + 1) / (rank + 1)) / n_rel,
                "ndcg": per_user(top, user, dcg_terms) / per_user(i_rank < k, i_user, idcg_terms),
                "mrr": np.where(first < k, 1.0 / (first + 1), 0.0),
                "hit_rate": (first < k).astype(np.float64),
            }
            for name, v in values.items():
                out[(name, k)] = np.where(none, np.nan, v)
    return out


def accuracy_metrics(
    recommended: np.ndarray, relevance: sp.spmatrix, ks: tuple[int, ...] = (10,), gain: Gain = "exp"
) -> dict[tuple[str, int], np.ndarray]:
    """Precision, recall, MAP, NDCG, MRR and hit rate at each k, per user: ``{(metric, k): [n_users]}``."""
    ks = tuple(int(k) for k in ks)
    if not ks:
        raise ValueError("ks is empty; expected at least one cut-off k")
    return metrics_from_judged(judge(recommended, relevance, max(ks)), ks, gain)


def precision_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int) -> np.ndarray:
    """Precision@k per user: relevant items in the top k, divided by k."""
    return accuracy_metrics(recommended, relevance, (k,))[("precision", k)]


def recall_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int) -> np.ndarray:
    """Recall@k per user: relevant items in the top k, divided by R."""
    return accuracy_metrics(recommended, relevance, (k,))[("recall", k)]


def average_precision_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int) -> np.ndarray:
    """AP@k per user: sum of Precision@i over the ranks i <= k holding a relevant item, divided by R."""
    return accuracy_metrics(recommended, relevance, (k,))[("map", k)]


def ndcg_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int, gain: Gain = "exp") -> np.ndarray:
    """NDCG@k per user with gain 2^rel - 1 (``"exp"``) or rel (``"linear"``), discount 1/log2(rank + 1)."""
    return accuracy_metrics(recommended, relevance, (k,), gain)[("ndcg", k)]


def reciprocal_rank_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int) -> np.ndarray:
    """RR@k per user: 1 / rank of the first relevant item in the top k, 0 if none (its mean is MRR)."""
    return accuracy_metrics(recommended, relevance, (k,))[("mrr", k)]


def hit_rate_at_k(recommended: np.ndarray, relevance: sp.spmatrix, k: int) -> np.ndarray:
    """Hit@k per user: 1 if any relevant item is in the top k, else 0 (its mean is the hit rate)."""
    return accuracy_metrics(recommended, relevance, (k,))[("hit_rate", k)]
