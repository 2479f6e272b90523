"""Stage 2 compared (notebook 03): the four rankers over the pipeline's own candidates.

Each ranker is a whole pipeline that differs from the configured one only in ``ranker``
(``dataclasses.replace(config, ranker=name)``), so it comes from the model store like any
other (`workbench.lessons.kit.trained`): trained once, loaded afterwards. All of them score
the same candidates, those of the configured pipeline's stage 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.metrics import accuracy_metrics
from workbench.metrics.ranking import candidate_auc
from workbench.ranking import Ranker
from workbench.types import CandidateSet

# How a page names each ranker of `workbench.ranking.RANKERS` (the config says which one runs).
RANKER_NAMES = {
    "deepfm": "DeepFM",
    "wide_deep": "Wide & Deep",
    "ncf": "NCF / NeuMF",
    "gbdt": "LightGBM LambdaMART",
}
# What each ranker is, for a page that introduces them (keyed like RANKERS).
RANKER_NOTES = {
    "deepfm": "factorisation-machine pairwise interactions + a deep network (Guo et al. 2017)",
    "wide_deep": 'a linear "memorising" part + a deep "generalising" part (Cheng et al. 2016)',
    "ncf": "user and item embeddings through matrix factorisation and an MLP (He et al. 2017)",
    "gbdt": "boosted trees that optimise a ranking objective directly (LightGBM's LambdaMART)",
}
NO_RANKER = "fused order (no ranker)"


def ranker_name(name: str) -> str:
    """The display name of a ranker (its config name when it has none)."""
    return RANKER_NAMES.get(name, name)


def compare_rankers(rankers: dict[str, Ranker], candidates: CandidateSet, relevance: sp.csr_matrix,
                    k: int = 10) -> pd.DataFrame:  # fmt: skip
    """One row per ranker, plus the fused candidate order as a no-ranker baseline: NDCG@k and recall@k
    of its top k, mean per-user AUC over all candidates, training seconds and validation log-loss.

    relevance: CSR aligned with ``candidates`` by row (users without test items give NaN and are skipped).
    """
    return compare_rankers_per_user(rankers, candidates, relevance, k)[0]


def score_rankers(rankers: dict[str, Ranker], candidates: CandidateSet,
                  relevance: sp.csr_matrix) -> dict[str, tuple[np.ndarray, float]]:  # fmt: skip
    """What does not depend on the cut-off k, per model (the fused order first): its scores of ``candidates``
    and its mean per-user AUC. A page scores once and re-cuts at each k (`compare_rankers_per_user`'s ``scored``)."""
    out = {}
    for name, scores in [(NO_RANKER, candidates.scores), *((n, r.score(candidates)) for n, r in rankers.items())]:
        out[name] = (scores, float(np.nanmean(candidate_auc(scores, candidates.items, relevance))))
    return out


def compare_rankers_per_user(rankers: dict[str, Ranker], candidates: CandidateSet, relevance: sp.csr_matrix,
                             k: int = 10, scored: dict[str, tuple[np.ndarray, float]] | None = None,
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """`compare_rankers`'s table, and each row's per-user NDCG@k (one column per model, one row per
    user of ``candidates``, NaN without test items) for paired comparisons (`workbench.lessons.verdicts`).
    ``scored``: `score_rankers` of the same rankers, candidates and relevance (else scored here)."""
    rows, per_user = [], {}
    scored = score_rankers(rankers, candidates, relevance) if scored is None else scored
    for name, (scores, auc) in scored.items():
        top = CandidateSet(candidates.users, candidates.items, scores).top(k)
        acc = accuracy_metrics(top.items, relevance, (k,))
        report = rankers[name].report_ if name in rankers else {}
        per_user[name] = acc[("ndcg", k)]
        rows.append({
            "model": name,
            f"ndcg@{k}": float(np.nanmean(acc[("ndcg", k)])),
            f"recall@{k}": float(np.nanmean(acc[("recall", k)])),
            "auc": auc,
            "fit_s": report.get("fit_s", np.nan),
            "valid_logloss": report.get("best_valid_logloss", np.nan),
        })  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(per_user, index=candidates.users)


def candidate_recall(candidates: CandidateSet, relevance: sp.csr_matrix) -> float:
    """Share of each user's held-out items that are among its candidates (mean over users with any):
    the ceiling of every later stage, which can only reorder what stage 1 found."""
    return float(np.nanmean(candidate_recall_per_user(candidates, relevance)))


def candidate_recall_per_user(candidates: CandidateSet, relevance: sp.csr_matrix) -> np.ndarray:
    """`candidate_recall` per user (NaN for users without held-out items)."""
    n = candidates.items.shape[1]
    return accuracy_metrics(candidates.items, relevance, (n,))[("recall", n)]
