"""How well a scorer orders a whole candidate list, not only its top k.

`candidate_auc`: per user, the probability that a random held-out (relevant) candidate
outscores a random other candidate: the Mann–Whitney U statistic over P·N pairs
(Hanley & McNeil 1982), ties counted one half.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata


def candidate_auc(scores: np.ndarray, items: np.ndarray, relevance: sp.csr_matrix) -> np.ndarray:
    """AUC per user over its real candidates: positives are candidates with relevance > 0.

    scores, items: ``[U, n]`` (items ``-1`` = padding); relevance: CSR ``[U, n_items]`` aligned by row.
    NaN for a user whose candidates are all positive or all negative.
    """
    items = np.asarray(items)
    real = items >= 0
    rows = np.broadcast_to(np.arange(items.shape[0])[:, None], items.shape)
    pos = np.zeros(items.shape, dtype=bool)
    pos[real] = np.asarray(relevance[rows[real], items[real]]).ravel() > 0
    key = np.where(real, np.asarray(scores, dtype=np.float64), -np.inf)
    ranks = rankdata(key, axis=1, method="average") - (~real).sum(axis=1, keepdims=True)  # padding ranks lowest
    n_pos = pos.sum(axis=1)
    n_neg = real.sum(axis=1) - n_pos
    u_stat = np.where(pos, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u_stat / (n_pos * n_neg), np.nan)
