"""Online metrics per simulated (or served) day, from the impressions of each day.

For day ``d``: ``impressions``, ``users`` (distinct), ``ctr`` = clicks / items shown,
``conversion`` = share of that day's users with at least one conversion (as in
`workbench.experiment.ab`), ``session_time`` = mean seconds per impression (session),
``coverage`` = share of the catalogue shown at least once that day and ``exposure_gini`` =
Gini coefficient of how often each catalogue item was shown that day
(`workbench.metrics.catalogue_coverage` and `exposure_gini`; never-shown items count as 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.metrics import catalogue_coverage, exposure_gini

COLUMNS = ("day", "impressions", "users", "ctr", "conversion", "session_time", "coverage", "exposure_gini")


def daily_metrics(day, users, items, clicks, conversions, seconds, n_items: int) -> pd.DataFrame:
    """One row per day present in ``day [N]`` (sorted), over impressions ``N``.

    ``users [N]``; ``items``, ``clicks``, ``conversions`` ``[N, k]`` (``-1`` padding in ``items``);
    ``seconds [N]`` the session time. Accepts the simulator's ``Impressions`` arrays as they are.
    """
    day = np.asarray(day, dtype=np.int64).reshape(-1)
    users = np.asarray(users, dtype=np.int64).reshape(-1)
    items = np.asarray(items, dtype=np.int64)
    clicks, conversions = np.asarray(clicks, dtype=np.float64), np.asarray(conversions, dtype=np.float64)
    seconds = np.asarray(seconds, dtype=np.float64).reshape(-1)
    n = len(day)
    if n == 0:
        raise ValueError("no impressions: expected at least one")
    if items.ndim != 2 or items.shape[0] != n:
        raise ValueError(f"items has shape {items.shape}, expected [N={n}, k] (one row per impression in day)")
    for name, arr, want in (("users", users, (n,)), ("seconds", seconds, (n,)), ("clicks", clicks, items.shape),
                            ("conversions", conversions, items.shape)):  # fmt: skip
        if arr.shape != want:
            raise ValueError(f"{name} has shape {arr.shape}, expected {want} (day has {n} impressions)")
    if items.max() >= n_items:
        raise ValueError(f"items hold id {items.max()}, expected ids below n_items={n_items}")
    days, inv = np.unique(day, return_inverse=True)
    slots = np.bincount(inv, (items >= 0).sum(axis=1), len(days))
    n_clicks = np.bincount(inv, clicks.sum(axis=1), len(days))
    imps = np.bincount(inv, minlength=len(days))
    pair, pair_inv = np.unique(inv * (users.max() + 1) + users, return_inverse=True)
    pair_day = pair // (users.max() + 1)
    converted = np.bincount(pair_inv, conversions.sum(axis=1), len(pair)) > 0
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(days) + 1))
    shown = [items[order[bounds[d] : bounds[d + 1]]] for d in range(len(days))]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "day": days,
            "impressions": imps,
            "users": np.bincount(pair_day, minlength=len(days)),
            "ctr": np.where(slots > 0, n_clicks / slots, np.nan),
            "conversion": np.bincount(pair_day, converted, len(days)) / np.bincount(pair_day, minlength=len(days)),
            "session_time": np.bincount(inv, seconds, len(days)) / imps,
            "coverage": [catalogue_coverage(s, n_items) for s in shown],
            "exposure_gini": [exposure_gini(s, n_items) for s in shown],
        })  # fmt: skip
