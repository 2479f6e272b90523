"""What notebook 03 shows of stage 2: each ranker's quality on held-out candidates, and what it looks at.

- `candidate_auc`: per user, the probability that a random held-out (test) candidate
  outscores a random other candidate: the Mann–Whitney U statistic over P·N pairs
  (Hanley & McNeil 1982), ties counted one half.
- `permutation_importance`: how much NDCG@k falls when one feature (or a family, such as
  all genre columns) is shuffled across the candidate pairs (Breiman 2001, §10): a
  feature the model relies on costs accuracy when scrambled; one it ignores costs none.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata

from workbench.candidates import CandidateGenerator
from workbench.data.dataset import Dataset
from workbench.metrics import accuracy_metrics
from workbench.ranking import RANKERS, Ranker, fit_two_stage
from workbench.types import CandidateSet


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
    num, cat = ranker.features.build(cs)
    rows, cols = np.nonzero(cs.mask)
    num, cat = num[rows, cols], cat[rows, cols]
    layout = ranker.features.layout

    def ndcg_of(n: np.ndarray, c: np.ndarray) -> float:
        scores = np.full(cs.items.shape, -np.inf, dtype=np.float32)
        scores[rows, cols] = ranker.model.score(n, c)
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


def train_rankers(train: Dataset, names: tuple[str, ...] = tuple(RANKERS), n_candidates: int = 300,
                  future_fraction: float = 0.2) -> tuple[dict[str, Ranker], CandidateGenerator]:  # fmt: skip
    """Train each named ranker the pipeline's way (`workbench.ranking.fit_two_stage`) on one shared
    set of training candidates, and fit the serving candidate generator on all of ``train``.

    The candidate sources are fitted on the carved history once, not once per ranker.
    """
    unknown = [n for n in names if n not in RANKERS]
    if unknown:
        raise ValueError(f"unknown ranker(s) {unknown}: expected some of {sorted(RANKERS)}")
    cache: dict[tuple[int, int], CandidateSet] = {}

    def retrieve(history: Dataset, users: np.ndarray) -> CandidateSet:
        key = (history.n_interactions, len(users))
        if key not in cache:
            cache[key] = CandidateGenerator().fit(history).retrieve(users, n_candidates)
        return cache[key]

    rankers = {name: fit_two_stage(train, retrieve, Ranker(name), future_fraction) for name in names}
    return rankers, CandidateGenerator().fit(train)


def compare_rankers(rankers: dict[str, Ranker], candidates: CandidateSet, relevance: sp.csr_matrix,
                    k: int = 10) -> pd.DataFrame:  # fmt: skip
    """One row per ranker, plus the fused candidate order as a no-ranker baseline: NDCG@k and recall@k
    of its top k, mean per-user AUC over all candidates, training seconds and validation log-loss.

    relevance: CSR aligned with ``candidates`` by row (users without test items give NaN and are skipped).
    """
    rows = []
    for name, scores in [("fused order (no ranker)", candidates.scores),
                         *((n, r.score(candidates)) for n, r in rankers.items())]:  # fmt: skip
        top = CandidateSet(candidates.users, candidates.items, scores).top(k)
        acc = accuracy_metrics(top.items, relevance, (k,))
        report = rankers[name].report if name in rankers else {}
        rows.append({
            "model": name,
            f"ndcg@{k}": float(np.nanmean(acc[("ndcg", k)])),
            f"recall@{k}": float(np.nanmean(acc[("recall", k)])),
            "auc": float(np.nanmean(candidate_auc(scores, candidates.items, relevance))),
            "fit_s": report.get("fit_s", np.nan),
            "valid_logloss": report.get("best_valid_logloss", np.nan),
        })  # fmt: skip
    return pd.DataFrame(rows)
