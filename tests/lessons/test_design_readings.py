"""The JupyterLab panels' readings, moved into lessons (the panels only display them): an A/B design's
reading and its power, an interleaving design's wins and power, the reranking what-if's rows."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.data import make_synthetic
from workbench.lessons.ab_design import POWER, ab_design, power_curves
from workbench.lessons.interleaving_design import interleaving_design
from workbench.lessons.kit import ABSENT, ranks
from workbench.lessons.lab import daily_readings, make_lab
from workbench.lessons.slate_readings import metric_rows, slate_rows


@pytest.fixture(scope="module")
def lab():
    return make_lab(make_synthetic(seed=1, n_users=150, n_items=100, impressions_per_user=50), k=5,
                    sigmas=(2.0, 1.5, 0.5))  # fmt: skip


def lift(lab, sigma):
    return float(lab.effects.set_index("sigma").loc[sigma, "lift_pct"])


def test_ab_design_plans_users_by_the_formula_and_reads_the_first_repeat(lab):
    readings, s = ab_design(lab, lift(lab, 1.5), users_per_day=40, days=3, runs=4, seed=2)
    true = lab.effects.set_index("sigma").loc[1.5]
    # n per arm = (z_{0.975} + z_{0.8})² (σ_A² + σ_B²) / mde², rounded up, worked out here with scipy's quantiles
    z = stats.norm.ppf(0.975) + stats.norm.ppf(POWER)
    assert s["users_per_arm_needed"] == math.ceil(z**2 * (true["sd_a"] ** 2 + true["sd_b"] ** 2) / true["mde"] ** 2)
    assert s["users_per_arm"] == 40 * 3 / 2 and s["users"] == 120  # each arriving user has one session, half in A
    assert s["true_lift_pct"] == pytest.approx(true["lift_pct"])
    assert s["low_pct"] < s["estimate_pct"] < s["high_pct"] and s["significant"] == (s["p_value"] < 0.05)
    pd.testing.assert_frame_equal(readings, daily_readings(lab, 1.5, 40, 3, runs=4, seed=2))
    ends = [readings[readings["run"] == r]["p_value"].iloc[-1] for r in range(4)]
    assert s["power_simulated"] == sum(p < 0.05 for p in ends) / 4


def test_an_aa_design_needs_no_plan_and_a_large_lift_is_found_every_time(lab):
    _, aa = ab_design(lab, 0.0, users_per_day=40, days=2, runs=3)
    assert math.isnan(aa["users_per_arm_needed"]) and aa["true_lift_pct"] == 0.0
    _, big = ab_design(lab, lift(lab, 0.5), users_per_day=400, days=2, runs=5, seed=0)
    assert big["significant"] and big["power_simulated"] == 1.0


def test_power_curves_one_per_true_lift_rising_with_users(lab):
    curves = power_curves(lab)
    lifts = sorted(round(x, 1) for x in lab.effects.loc[lab.effects["mde"] > 0, "lift_pct"])
    assert sorted(curves["lift (%)"].unique()) == lifts
    for _, curve in curves.groupby("lift (%)"):
        power = curve.sort_values("n_per_arm")["power"].to_numpy()
        assert np.all(np.diff(power) >= 0) and power[0] < POWER < power[-1] <= 1.0


def test_interleaving_identical_rankers_tie_everywhere(lab):
    # lift 0 is the control against itself: identical lists, every user a tie, the sign test's p = 1
    _, _, s = interleaving_design(lab, 0.0, users_per_day=30, days=2, runs=3)
    assert (s["wins_a"], s["wins_b"], s["ties"], s["users"]) == (0, 0, 60, 60)
    assert s["p_value"] == 1.0 and s["preferred"] is None and s["power_interleaving"] == 0.0


def test_interleaving_finds_the_better_ranker_and_counts_add_up(lab):
    readings, ab, s = interleaving_design(lab, lift(lab, 0.5), users_per_day=200, days=2, runs=4, seed=1)
    assert s["wins_a"] + s["wins_b"] + s["ties"] == s["users"] == 400
    ends = readings.groupby("run").last()
    assert s["power_interleaving"] == ((ends["p_value"] < 0.05) & (ends["wins_b"] > ends["wins_a"])).mean()
    ab_ends = ab.groupby("run").last()
    assert s["power_ab"] == ((ab_ends["p_value"] < 0.05) & (ab_ends["estimate"] > 0)).mean()
    assert s["power_interleaving"] == 1.0 and s["preferred"] == "B"


def test_metric_rows_are_value_and_signed_change_against_the_ranking_order():
    rows = metric_rows({"ndcg": 0.31234, "intra_list_diversity": 0.5}, {"ndcg": 0.3, "intra_list_diversity": 0.75}, 10)
    assert rows == [{"metric": "NDCG@10", "value": 0.3123, "change": "+0.0123"},
                    {"metric": "intra-list diversity@10", "value": 0.5, "change": "-0.2500"}]  # fmt: skip


def test_slate_rows_say_why_each_item_is_there_first_reason_first():
    after = pd.DataFrame({
        "position": [1, 2, 3, 4], "title": ["a", "b", "c", "d"],
        "ranked_position": ranks([3, 0, 1, 7]),  # 0: not in the ranked list
        "explored": [True, False, False, False], "pinned": [True, True, False, False],
        "in_test": [True, True, True, False],
    })  # fmt: skip
    rows = slate_rows(after)
    assert [r["note"] for r in rows] == ["explored", "pinned", "watched later", ""]
    assert [r["ranked_position"] for r in rows] == ["3", ABSENT, "1", "7"]
    assert [r["in_test"] for r in rows] == [True, True, True, False] and rows[0]["title"] == "a"
