"""Offline metrics: accuracy of top-k lists (P/R/MAP/NDCG/MRR/HR) and beyond-accuracy figures.

The metrics table is ``workbench.metrics.evaluate.evaluate``: the package does not re-export the
function, so that the name ``workbench.metrics.evaluate`` stays the submodule."""

from workbench.metrics.accuracy import (
    ACCURACY_METRICS,
    Judged,
    accuracy_metrics,
    average_precision_at_k,
    hit_rate_at_k,
    judge,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from workbench.metrics.beyond import (
    catalogue_coverage,
    category_diversity,
    exposure,
    exposure_gini,
    gini,
    intra_list_diversity,
    mean_item_age,
    novelty,
    personalisation,
)
from workbench.metrics.evaluate import relevance_matrix

__all__ = [
    "ACCURACY_METRICS", "Judged", "accuracy_metrics", "average_precision_at_k", "hit_rate_at_k", "judge",
    "ndcg_at_k", "precision_at_k", "recall_at_k", "reciprocal_rank_at_k",
    "catalogue_coverage", "category_diversity", "exposure", "exposure_gini", "gini", "intra_list_diversity",
    "mean_item_age", "novelty", "personalisation", "relevance_matrix",
]  # fmt: skip
