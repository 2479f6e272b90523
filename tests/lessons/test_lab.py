"""Treatments of known lift, a test read day by day, one interleaved impression."""

import numpy as np
import pandas as pd
import pytest

from workbench.data import make_synthetic
from workbench.experiment.ab import METRICS
from workbench.lessons.lab import daily_readings, example_impression, make_lab, online_metrics


@pytest.fixture(scope="module")
def lab():
    return make_lab(make_synthetic(seed=1, n_users=150, n_items=100, impressions_per_user=50), k=5,
                    sigmas=(2.0, 1.5, 0.5))  # fmt: skip


def test_control_against_itself_has_zero_lift_and_less_noise_helps(lab):
    eff = lab.effects.set_index("sigma")
    assert eff.loc[2.0, "lift_pct"] == 0.0
    assert eff.loc[0.5, "lift_pct"] > eff.loc[1.5, "lift_pct"] > 0
    assert lab.treatment(eff.loc[1.5, "lift_pct"] + 0.01) == 1.5


def test_daily_readings_count_arrivals_and_aa_tests_reject_about_alpha(lab):
    r = daily_readings(lab, 2.0, users_per_day=20, days=3, runs=300, seed=4)
    assert r.groupby("day")["users"].min().tolist() == [20, 40, 60]
    assert r.groupby("day")["users"].max().tolist() == [20, 40, 60]
    last = r[r["day"] == 3]
    rate = (last["p_value"] < 0.05).mean()
    assert 0.02 < rate < 0.09  # binomial(300, 0.05): mean 15, sd 3.8 → 6..27 rejections
    inside = ((last["low"] <= 0) & (last["high"] >= 0)).mean()
    assert inside > 0.9


def test_a_large_true_lift_is_found(lab):
    r = daily_readings(lab, 0.5, users_per_day=400, days=2, runs=5, seed=0)
    true = lab.effects.set_index("sigma").loc[0.5, "lift_pct"]
    last = r[r["day"] == 2]
    assert (last["p_value"] < 0.05).all()
    assert ((last["low"] < true) & (true < last["high"])).mean() >= 0.8


@pytest.mark.parametrize("method", ["team_draft", "balanced"])
def test_example_impression_merges_both_lists(lab, method):
    rows, ca, cb = example_impression(lab, 0.5, user=3, method=method, seed=2)
    a, b = lab.lists[2.0][3], lab.lists[0.5][3]
    assert rows["item"].is_unique and len(rows) == 5
    assert set(rows["item"]) <= set(a) | set(b)
    # ranks count from 1; an item absent from A's list has no rank (<NA>, shown as "–")
    assert rows["rank_a"].tolist() == [list(a).index(i) + 1 if i in a else pd.NA for i in rows["item"]]
    assert rows["rank_b"].tolist() == [list(b).index(i) + 1 if i in b else pd.NA for i in rows["item"]]
    if method == "team_draft":
        assert ca == int((rows["clicked"] & (rows["team"] == "A")).sum())
        assert cb == int((rows["clicked"] & (rows["team"] == "B")).sum())
        assert abs((rows["team"] == "A").sum() - (rows["team"] == "B").sum()) <= 1
    assert ca + cb >= rows["clicked"].sum()  # every click earns credit (balanced: possibly for both)


def test_bad_user_is_named(lab):
    with pytest.raises(ValueError, match="user=150"):
        example_impression(lab, 0.5, user=150)


def test_online_metrics_read_every_online_metric_with_intervals_and_the_holm_note(lab):
    frame, notes = online_metrics(lab, 0.5, n_users=10_000, days=10, seed=3)
    assert list(frame["metric"]) == list(METRICS)  # capped at the 150 users of the population
    assert (frame["n_a"] + frame["n_b"]).max() <= 150
    assert ((frame["ci_low"] <= frame["diff"]) & (frame["diff"] <= frame["ci_high"])).all()
    assert (frame["p_holm"] >= frame["p_value"]).all()
    assert notes[1].startswith("Multiple testing: 6 comparisons read at once")
    _, short = online_metrics(lab, 0.5, n_users=100, days=5, seed=3)
    assert "Not measured: d7_retention (needs 8 days of data, the test has 5)." in short
    again, _ = online_metrics(lab, 0.5, n_users=10_000, days=10, seed=3)
    pd.testing.assert_frame_equal(frame, again)  # same seed, same numbers
