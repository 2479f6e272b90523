"""What a fitted ranker looks at: permutation importance of its feature families.

`permutation_importance`: how much NDCG@k falls when one feature (or a family, such as all
genre columns) is shuffled across the candidate pairs (Breiman 2001, §10): a feature the
model relies on costs accuracy when scrambled; one it ignores costs none.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.metrics import accuracy_metrics
from workbench.ranking.ranker import Ranker
from workbench.types import CandidateSet


def feature_family(name: str) -> str:
    """Group expanded columns: every ``user_genre_*`` is one family, likewise ``item_genre_*``, and the
    three columns of each candidate source (``src_<source>_in/rr/z``); other features stand alone."""
    if name.startswith("user_genre_"):
        return "user_genre_* (genre profile)"
    if name.startswith("item_genre_"):
        return "item_genre_* (item genres)"
    m = re.match(r"src_(.+)_(in|rr|z)$", name)
    return f"src_{m.group(1)}_* (source {m.group(1)})" if m else name


def _ndcg(scores: np.ndarray, cs: CandidateSet, relevance: sp.csr_matrix, k: int) -> float:
    ranked = CandidateSet(cs.users, cs.items, scores).top(k)
    return float(np.nanmean(accuracy_metrics(ranked.items, relevance, (k,))[("ndcg", k)]))


def permutation_importance(ranker: Ranker, cs: CandidateSet, relevance: sp.csr_matrix, k: int = 10,
                           seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """NDCG@k drop when each feature family is shuffled across all candidate pairs of ``cs``.

    relevance: CSR aligned with ``cs`` by row. Returns ``feature``, ``kind`` (numeric or
    categorical), ``importance`` (NDCG@k lost, may be slightly negative by chance), sorted
    by importance; ``df.attrs["ndcg"]`` holds the unshuffled NDCG@k.
    """
    num, cat = ranker.features_.build(cs)
    rows, cols = np.nonzero(cs.mask)
    num, cat = num[rows, cols], cat[rows, cols]
    layout = ranker.features_.layout_

    def ndcg_of(n: np.ndarray, c: np.ndarray) -> float:
        scores = np.full(cs.items.shape, -np.inf, dtype=np.float32)
        scores[rows, cols] = ranker.model_.score(n, c)
        return _ndcg(scores, cs, relevance, k)

    base = ndcg_of(num, cat)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(rows))
    out = []
    for kind, names, matrix in (("numeric", layout.numeric, num), ("categorical", layout.categorical, cat)):
        families: dict[str, list[int]] = {}
        for j, name in enumerate(names):
            families.setdefault(feature_family(name), []).append(j)
        for family, idx in families.items():
            shuffled = matrix.copy()
            shuffled[:, idx] = matrix[perm][:, idx]
            args = (shuffled, cat) if kind == "numeric" else (num, shuffled)
            out.append({"feature": family, "kind": kind, "importance": base - ndcg_of(*args)})
    df = pd.DataFrame(out).sort_values("importance", ascending=False).reset_index(drop=True)
    df.attrs["ndcg"] = base
    return df
