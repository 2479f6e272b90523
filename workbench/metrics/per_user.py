"""Per-user figures of a slate's top k, and the paired difference of two configs over the same users
(`workbench.report.comparison`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def per_user_figures(pipe: Any, slate: Any, relevance: Any, k: int) -> dict[str, np.ndarray]:
    """Per-user figures of the top ``k`` of ``slate`` (accuracy over users with test items; NaN elsewhere)."""
    from workbench.metrics import beyond
    from workbench.metrics.accuracy import ACCURACY_METRICS, accuracy_metrics

    ds = pipe.train_
    items = slate.items[:, :k]
    acc = accuracy_metrics(items, relevance[slate.users], (k,))
    out = {name: acc[(name, k)] for name in ACCURACY_METRICS}
    out["novelty_bits"] = beyond.novelty(items, ds.item_popularity, ds.n_users)
    out["intra_list_diversity"] = beyond.intra_list_diversity(items, ds.item_features)
    if ds.item_category is not None:
        out["category_diversity"] = beyond.category_diversity(items, ds.item_category)
    if ds.item_age_days is not None:
        out["mean_item_age_days"] = beyond.mean_item_age(items, ds.item_age_days)
    return out


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, int] | None:
    """Mean of the per-user differences ``b − a`` (users where both are defined) with its 95% interval,
    mean ± 1.96·sd/√n, and ``n``; None with fewer than 2 such users."""
    from workbench.metrics.evaluate import Z_95

    d = b - a
    d = d[~np.isnan(d)]
    if d.size < 2:
        return None
    half = Z_95 * float(d.std(ddof=1)) / np.sqrt(d.size)
    return float(d.mean()), float(d.mean()) - half, float(d.mean()) + half, int(d.size)
