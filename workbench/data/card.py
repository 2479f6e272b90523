"""The data card: what a data set holds, before any model sees it.

Users, items, interactions, density, time span, interactions per user and per item (quantiles),
the popularity Gini of the items, and, for the split used, the test share and the share of cold
items (test items with no train interaction, which no collaborative model can score). Printed by
``workbench data PATH`` and shown at the top of the pages (`workbench.lessons.kit.data_header`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.data.splits import split

QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def popularity_gini(counts: np.ndarray) -> float:
    """Gini of non-negative counts: sum_i (2i - n - 1) x_(i) / (n sum x), x ascending (the formula of
    `workbench.metrics.beyond.gini`, not imported: the data package stays below the metrics package)."""
    x = np.sort(np.asarray(counts, np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return float("nan")
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


def _counts(values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(values, minlength=n)


def _quantiles(counts: np.ndarray) -> dict[str, float]:
    q = np.quantile(counts, QUANTILES) if len(counts) else np.full(len(QUANTILES), np.nan)
    names = {0.0: "min", 1.0: "max"}
    return {names.get(p, f"p{int(p * 100)}"): float(v) for p, v in zip(QUANTILES, q, strict=True)}


def _date(ts: int) -> str:
    return pd.Timestamp(int(ts), unit="s", tz="UTC").strftime("%Y-%m-%d")


def data_card(train: Dataset, test: Dataset, split_name: str = "temporal") -> dict[str, Any]:
    """The card of a data set from its ``(train, test)`` split (which share users and items)."""
    inter = pd.concat([train.interactions, test.interactions], ignore_index=True)
    n_users, n_items = train.n_users, train.n_items
    per_user = _counts(inter["user"].to_numpy(), n_users)
    per_item = _counts(inter["item"].to_numpy(), n_items)
    pairs = len(inter.drop_duplicates(["user", "item"]))
    ts = inter["timestamp"].to_numpy()
    train_items = _counts(train.interactions["item"].to_numpy(), n_items) > 0
    test_items = test.interactions["item"].to_numpy()
    distinct_test = np.unique(test_items)
    cold = ~train_items[distinct_test]
    return {
        "data set": train.name.split(":")[0],
        "users": n_users,
        "items": n_items,
        "interactions": len(inter),
        "density": pairs / max(1, n_users * n_items),
        "first": _date(ts.min()) if len(ts) else "",
        "last": _date(ts.max()) if len(ts) else "",
        "span_days": float((ts.max() - ts.min()) / 86_400) if len(ts) else 0.0,
        "per_user": _quantiles(per_user),
        "per_item": _quantiles(per_item),
        "items_without_interactions": int((per_item == 0).sum()),
        "popularity_gini": popularity_gini(per_item),
        "split": split_name,
        "train_interactions": train.n_interactions,
        "test_interactions": test.n_interactions,
        "test_users": int(np.unique(test.interactions["user"].to_numpy()).size),
        "cold_item_share": float(cold.mean()) if len(distinct_test) else float("nan"),
        "cold_interaction_share": float((~train_items[test_items]).mean()) if len(test_items) else float("nan"),
    }


def card_for(ds: Dataset, split_name: str = "temporal", seed: int = 0) -> dict[str, Any]:
    """The card of ``ds`` under the named split (`workbench.data.SPLITS`)."""
    train, test = split(ds, split_name, **({"seed": seed} if split_name == "random" else {}))
    return data_card(train, test, split_name)


def _q(q: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.0f}" for k, v in q.items())


def card_lines(card: dict[str, Any]) -> list[str]:
    """The card as plain lines (``workbench data``)."""
    return [
        f"data set: {card['data set']}",
        (f"users {card['users']:,}, items {card['items']:,}, interactions {card['interactions']:,}, "
         f"density {card['density']:.5f}"),
        f"time span: {card['first']} to {card['last']} ({card['span_days']:,.0f} days)",
        f"interactions per user: {_q(card['per_user'])}",
        f"interactions per item: {_q(card['per_item'])} ({card['items_without_interactions']:,} items without any)",
        f"popularity Gini of the items: {card['popularity_gini']:.3f} (0: every item equally popular; 1: one item has all)",
        (f"split: {card['split']}: {card['train_interactions']:,} train / {card['test_interactions']:,} test "
         f"interactions, {card['test_users']:,} test users"),
        (f"cold items in the test split: {card['cold_item_share']:.1%} of its distinct items "
         f"({card['cold_interaction_share']:.1%} of its interactions) have no train interaction"),
    ]


def card_markdown(card: dict[str, Any]) -> str:
    """One summary line (for the top of a page)."""
    return (f"**Data: {card['data set']}**: {card['users']:,} users, {card['items']:,} items, "
            f"{card['interactions']:,} interactions (density {card['density']:.4f}), {card['first']} to {card['last']}; "
            f"median {card['per_user']['p50']:,.0f} per user and {card['per_item']['p50']:,.0f} per item; popularity "
            f"Gini {card['popularity_gini']:.2f}; {card['split']} split, {card['cold_item_share']:.1%} of test items cold")  # fmt: skip
