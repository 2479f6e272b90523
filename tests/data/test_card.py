"""The data card: every figure worked out by hand on a file the test writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import load
from workbench.data.card import card_for, card_lines, popularity_gini
from workbench.metrics.beyond import gini

# users a (4 interactions), b (2), c (1), d (1); items 1 (4), 2 (2), 3 (1), 4 (1); days 0..9
LOG = pd.DataFrame({
    "user": ["a", "a", "a", "a", "b", "b", "c", "d"],
    "item": [1, 2, 3, 4, 1, 2, 1, 1],
    "timestamp": np.array([0, 1, 2, 9, 3, 8, 4, 5]) * 86_400 + 1_600_000_000,
})  # fmt: skip


@pytest.fixture
def ds(tmp_path):
    path = tmp_path / "log.csv"
    LOG.to_csv(path, index=False)
    return load(str(path))


def test_card_counts_density_span_and_quantiles(ds):
    card = card_for(ds, "leave-last-out")
    assert (card["users"], card["items"], card["interactions"]) == (4, 4, 8)
    assert card["density"] == pytest.approx(8 / 16)
    assert card["span_days"] == pytest.approx(9.0)
    assert card["first"] == "2020-09-13"  # 1,600,000,000 s is 2020-09-13T12:26:40Z
    assert card["per_user"]["min"] == 1 and card["per_user"]["max"] == 4 and card["per_user"]["p50"] == 1.5
    assert card["per_item"]["p50"] == 1.5 and card["per_item"]["max"] == 4


def test_gini_matches_the_metrics_gini_and_a_hand_value(ds):
    # counts 1, 1, 2, 4 (sum 8, n 4): sum (2i - 5) x_i = -3 - 1 + 2 + 12 = 10 -> 10 / 32
    assert card_for(ds)["popularity_gini"] == pytest.approx(10 / 32)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 50, 200)
    assert popularity_gini(x) == pytest.approx(gini(x))


def test_cold_items_of_the_leave_last_out_split(ds):
    # leave-last-out: a's last is item 4 (day 9), b's last is item 2 (day 8); c and d keep their only one.
    # test items {4, 2}: item 4 has no train interaction (cold), item 2 has a's day-1 one.
    card = card_for(ds, "leave-last-out")
    assert (card["train_interactions"], card["test_interactions"], card["test_users"]) == (6, 2, 2)
    assert card["cold_item_share"] == pytest.approx(0.5)
    assert card["cold_interaction_share"] == pytest.approx(0.5)
    assert any("50.0% of its distinct items" in line for line in card_lines(card))


def test_workbench_data_prints_the_card(tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "log.tsv"
    LOG.rename(columns={"user": "uid"}).to_csv(path, index=False, sep="\t")
    assert main(["data", str(path), "--columns", "user=uid", "--split", "leave-last-out"]) == 0
    out = capsys.readouterr().out
    assert "users 4, items 4, interactions 8, density 0.50000" in out
    assert "popularity Gini of the items: 0.312" in out


def test_page_header_line_carries_the_cards_figures(ds):
    from workbench.data import split
    from workbench.data.card import card_markdown, data_card
    from workbench.lessons import kit

    train, test = split(ds, "leave-last-out")
    line = card_markdown(data_card(train, test, "leave-last-out"))
    assert "4 users, 4 items, 8 interactions (density 0.5000), 2020-09-13 to 2020-09-22" in line
    assert "popularity Gini 0.31; leave-last-out split, 50.0% of test items cold" in line
    assert kit.plain(line) in kit.plain(kit.data_header(train, test, "leave-last-out").text)
