"""Offline metrics: accuracy of top-k lists (P/R/MAP/NDCG/MRR/HR) and beyond-accuracy figures."""

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
from workbench.metrics.evaluate import evaluate, relevance_matrix

__all__ = [
    "ACCURACY_METRICS", "Judged", "accuracy_metrics", "average_precision_at_k", "hit_rate_at_k", "judge",
    "ndcg_at_k", "precision_at_k", "recall_at_k", "reciprocal_rank_at_k",
    "catalogue_coverage", "category_diversity", "exposure", "exposure_gini", "gini", "intra_list_diversity",
    "mean_item_age", "novelty", "personalisation", "evaluate", "relevance_matrix",
]  # fmt: skip
