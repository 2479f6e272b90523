"""Does the loop ever find a brand-new item? Its exposure, day by day, read from the event log.

A recommender learns about an item only from the interactions it logs, and logs interactions
only with what it shows. An item nobody has interacted with in the training data is brand-new
to the model: the collaborative sources (EASE, item-kNN, ALS, popularity) have nothing to score
it with, so unless another source proposes it or exploration picks it, it is never shown, never
clicked, and never enters the next version's training data. `new_items` finds such items (with
their true appeal, which the simulator knows and the model does not); `exposure_by_day` counts,
from the log, how often each was shown (and how often by exploration) and clicked, day by day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset


def new_items(train: Dataset, world, n: int = 5, pool: np.ndarray | None = None) -> pd.DataFrame:
    """The ``n`` brand-new items with the highest true appeal: items without a training interaction (the
    least-interacted ones when every item has some), or, with ``pool`` (item rows, e.g. a living catalogue's
    arrivals, `workbench.loop.arrivals`), the items of ``pool``. Columns: ``item`` (row), ``item_id``, ``title``,
    ``train_interactions``, ``appeal`` (the mean over all users of the true click probability once
    examined) and ``appeal_rank`` (1 = the catalogue's most appealing item)."""
    if n < 1:
        raise ValueError(f"n={n!r}: expected a positive number of items")
    pop = train.item_popularity
    if pool is None:
        pool = np.flatnonzero(pop == pop.min()) if (pop == 0).any() else np.argsort(pop, kind="stable")[:n]
    pool = np.asarray(pool, np.int64)
    appeal = np.asarray(world.true_affinity(np.arange(train.n_users), np.arange(train.n_items))).mean(axis=0)
    rank = np.empty(train.n_items, np.int64)
    rank[np.argsort(-appeal, kind="stable")] = np.arange(1, train.n_items + 1)
    chosen = pool[np.argsort(-appeal[pool], kind="stable")[:n]]
    return pd.DataFrame({"item": chosen, "item_id": train.items["item_id"].to_numpy()[chosen],
                         "title": train.items["title"].to_numpy()[chosen], "train_interactions": pop[chosen],
                         "appeal": appeal[chosen], "appeal_rank": rank[chosen]})  # fmt: skip


def exposure_by_day(events: pd.DataFrame, start_ts: float, items: pd.DataFrame, days: int) -> pd.DataFrame:
    """One row per (day, item of ``items``): ``impressions``, ``explored`` (impressions with propensity < 1)
    and ``clicks`` that day, from the event log, and their running totals (``*_so_far``). Day 0 starts at
    ``start_ts`` (the loop's clock: its training data's "now")."""
    ids = items["item_id"].to_numpy()
    ev = events[np.isin(events["item_id"].to_numpy(), ids)]
    day = ((ev["event_ts"].to_numpy(np.float64) - float(start_ts)) // SECONDS_PER_DAY).astype(np.int64)
    col = pd.Index(ids).get_indexer(ev["item_id"].to_numpy())
    kind = ev["event_type"].to_numpy()
    explored = (kind == "impression") & (ev["propensity"].to_numpy(np.float64) < 1.0)
    shape = (days, len(ids))
    keep = (day >= 0) & (day < days)

    def count(mask: np.ndarray) -> np.ndarray:
        m = mask & keep
        out = np.zeros(shape, np.int64)
        np.add.at(out, (day[m], col[m]), 1)
        return out

    grids = {"impressions": count(kind == "impression"), "explored": count(explored), "clicks": count(kind == "click")}
    frame = pd.DataFrame({"day": np.repeat(np.arange(days), len(ids)), "item_id": np.tile(ids, days)})
    for name, grid in grids.items():
        frame[name] = grid.ravel()
        frame[f"{name}_so_far"] = np.cumsum(grid, axis=0).ravel()
    return frame
