"""The metric table of a config, computed exactly as ``workbench evaluate`` computes it.

`metric_table` is the one call both use: ``evaluate`` lists (users with test interactions,
`evaluation_users`) against the test split, with the train split's item arrays for the
beyond-accuracy figures. `wide_row` turns its tidy table into one results row:
``ndcg@10``, ``ndcg@10_ci_low``, ``ndcg@10_ci_high`` for every metric and cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.metrics import ACCURACY_METRICS, relevance_matrix
from workbench.metrics.evaluate import evaluate

# Every metric `workbench.metrics.evaluate` reports when given train's item arrays.
BEYOND_METRICS = ("novelty_bits", "intra_list_diversity", "category_diversity", "mean_item_age_days")
CATALOGUE_METRICS = ("catalogue_coverage", "exposure_gini", "personalisation")
METRICS = (*ACCURACY_METRICS, *BEYOND_METRICS, *CATALOGUE_METRICS)


def evaluation_users(test: Dataset) -> np.ndarray:
    """The users ``workbench evaluate`` scores: those with at least one test interaction."""
    return np.flatnonzero(test.user_activity > 0)


def metric_table(recommended: np.ndarray, train: Dataset, test: Dataset, users: np.ndarray, ks: Sequence[int],
                 graded: bool = False) -> pd.DataFrame:  # fmt: skip
    """`workbench.metrics.evaluate` of ``recommended`` (row ``u`` = ``users[u]``'s list) with the
    arguments ``workbench evaluate`` passes: test relevance (binary, or ratings when ``graded``),
    train's popularity, user count, item vectors, categories and ages."""
    return evaluate(
        recommended, relevance_matrix(test, graded=graded), ks=tuple(ks),
        users=users, item_popularity=train.item_popularity, n_train_users=train.n_users,
        item_vectors=train.item_features, item_category=train.item_category,
        item_age_days=train.item_age_days, n_items=train.n_items,
    )  # fmt: skip


def column(metric: str, k: int) -> str:
    """The results column of a metric at a cut-off: ``ndcg@10``."""
    return f"{metric}@{k}"


def wide_row(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    """``{metric@k: mean, metric@k_ci_low: …, metric@k_ci_high: …}`` for ``metrics`` (rows of ``table``)."""
    keep = table[table["metric"].isin(list(metrics))]
    out: dict[str, float] = {}
    for metric, k, mean, lo, hi in keep[["metric", "k", "mean", "ci_low", "ci_high"]].itertuples(index=False):
        name = column(metric, int(k))
        out[name] = float(mean)
        out[f"{name}_ci_low"] = float(lo)
        out[f"{name}_ci_high"] = float(hi)
    return out
