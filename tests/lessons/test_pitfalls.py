"""The textbook's pitfalls: each demonstrated difference is real (workbench.lessons.pitfalls)."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from workbench.candidates.ease import EASE
from workbench.data import load, temporal_split
from workbench.experiment.ab import assign
from workbench.experiment.interleaving import TEAM_DRAFT_RULES, team_draft
from workbench.experiment.simulator import SimulatorConfig, UserSimulator
from workbench.lessons import pitfalls as pf
from workbench.lessons.lab import make_lab
from workbench.lessons.whatif import WhatIf
from workbench.rerank import STEPS

ALPHA = 0.05


@pytest.fixture(scope="module")
def small_world():
    return load("synthetic", small=True)


@pytest.fixture(scope="module")
def lab(small_world):
    return make_lab(small_world, sigmas=(2.0, 1.5))


@pytest.fixture(scope="module")
def arms():
    return pf.process_arms(np.arange(1, 1001), experiment="exp-1", control_pct=50, hash_seeds=(1, 2))


# --- 1. hash(str(user_id)) % 100 ------------------------------------------------------------------------


def test_builtin_hash_moves_users_between_processes_and_the_stable_hash_moves_none(arms):
    share = arms.switched("builtin")
    assert share > 0
    # two independent fair splits disagree on a user with probability 1/2: Binomial(1000, 1/2) at 99.9%
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 1000, 0.5) / 1000
    assert lo <= share <= hi
    assert arms.switched("stable") == 0.0
    # the stable arms are workbench.experiment.ab.assign's, computed here in this process
    np.testing.assert_array_equal(arms.stable[0], assign(np.arange(1, 1001), "exp-1", (0.5, 0.5)))


def test_control_pct_sets_the_share_of_users_in_a():
    ids = np.arange(2000)
    got = pf.process_arms(ids, experiment="x", control_pct=20)
    np.testing.assert_array_equal(got.stable[1], assign(ids, "x", (0.2, 0.8)))
    for row in (*got.builtin, *got.stable):  # 20 of 100 buckets: Binomial(2000, 0.2) users in A, 99.9% band
        lo, hi = stats.binom.ppf([0.0005, 0.9995], 2000, 0.2)
        assert lo <= (row == 0).sum() <= hi


BAD_ARMS = [dict(user_ids=np.array([], dtype=int)), dict(user_ids=np.array(["a", "b"])), dict(control_pct=0),
            dict(control_pct=100), dict(control_pct=True), dict(hash_seeds=(3, 3)), dict(hash_seeds=(1,)),
            dict(hash_seeds=(-1, 2))]  # fmt: skip


@pytest.mark.parametrize("kwargs", BAD_ARMS)
def test_process_arms_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        pf.process_arms(**{"user_ids": np.arange(10), **kwargs})


def test_diluted_lift_by_hand():
    # A-users 0, 1 (user 1 switches), B-users 2, 3 (user 3 switches): s_A = s_B = 1/2, d = 0.1
    d = pf.diluted_lift(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0]), 0.2, 0.3, second_share=0.5)
    assert d["switch_a"] == d["switch_b"] == 0.5
    assert d["ctr_a"] == pytest.approx(0.2 + 0.5 * 0.5 * 0.1) and d["ctr_b"] == pytest.approx(0.3 - 0.5 * 0.5 * 0.1)
    assert d["lift_pct"] == pytest.approx(100 * (0.275 / 0.225 - 1)) and d["true_lift_pct"] == pytest.approx(50.0)
    assert d["kept"] == pytest.approx(0.5)
    same = pf.diluted_lift(np.array([0, 1]), np.array([0, 1]), 0.2, 0.3)
    assert same["kept"] == 1.0 and same["lift_pct"] == pytest.approx(50.0)
    with pytest.raises(ValueError):
        pf.diluted_lift(np.array([0, 0]), np.array([0, 1]), 0.2, 0.3)  # no user in B
    with pytest.raises(ValueError):
        pf.diluted_lift(np.array([0, 1]), np.array([0, 1]), 0.2, 0.3, second_share=1.5)


class ItemWorld:
    """Affinity by item only (items < 50: 0.2, others 0.4), so every user has the same expected CTR per list."""

    def true_affinity(self, users, items):
        return np.where(np.asarray(items) < 50, 0.2, 0.4) * np.ones((len(users), 1))


def test_diluted_lift_matches_the_simulators_exact_expectation_on_the_real_arms(arms):
    # Users with no between-user differences (activity_sigma = 0): each user's expected CTR is the
    # mix of the two lists they saw, computed by the simulator; grouped by the logged (first) arm.
    sim = UserSimulator(ItemWorld(), SimulatorConfig(activity_sigma=0.0))
    n = arms.builtin.shape[1]
    lists = {0: np.tile(np.arange(10), (n, 1)), 1: np.tile(np.arange(50, 60), (n, 1))}
    users = np.arange(n)
    ctr = {arm: sim.expected_ctr(users, lists[arm])[0] for arm in (0, 1)}
    first, second = arms.builtin
    mixed = 0.5 * np.where(first == 1, ctr[1], ctr[0]) + 0.5 * np.where(second == 1, ctr[1], ctr[0])
    d = pf.diluted_lift(first, second, float(ctr[0][0]), float(ctr[1][0]), second_share=0.5)
    assert d["ctr_a"] == pytest.approx(mixed[first == 0].mean())
    assert d["ctr_b"] == pytest.approx(mixed[first == 1].mean())
    assert d["lift_pct"] < d["true_lift_pct"] and d["kept"] < 1  # the treatment is diluted
    stable = pf.diluted_lift(arms.stable[0], arms.stable[1], float(ctr[0][0]), float(ctr[1][0]))
    assert stable["kept"] == 1.0 and stable["lift_pct"] == pytest.approx(stable["true_lift_pct"])


# --- 2. team draft: who picks first ---------------------------------------------------------------------


def test_one_coin_per_list_alternates_from_a_random_start():
    lists = np.tile(np.arange(10), (4000, 1))
    r = team_draft(lists, lists, 3, rule="one_coin")
    a_start = np.tile([0, 1] * 5, (4000, 1))
    starts_a = (r.team == a_start).all(axis=1)
    assert (starts_a | (r.team == 1 - a_start).all(axis=1)).all()  # strict alternation after the coin
    assert stats.binomtest(int(starts_a.sum()), 4000).pvalue > 0.001
    assert (team_draft(lists, lists, 3, rule="a_first").team == a_start).all()
    with pytest.raises(ValueError, match="rule='fair'"):
        team_draft(lists, lists, 3, rule="fair")


def test_a_first_collects_more_than_half_and_the_coin_rules_half(lab):
    control = lab.lists[lab.control_sigma]
    race = pf.credit_race(lab.sim, control, control, lab.population, 30_000, seed=0, alpha=ALPHA)
    end = race[race["impressions"] == 30_000].set_index("rule")
    assert set(end.index) == set(TEAM_DRAFT_RULES)
    for rule, row in end.iterrows():
        test = stats.binomtest(int(row["wins_a"]), int(row["decided"]))
        ci = test.proportion_ci(0.99)
        assert row["share_a"] == pytest.approx(row["wins_a"] / row["decided"])
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(tuple(test.proportion_ci(1 - ALPHA)), rel=1e-6)
        assert row["p_value"] == pytest.approx(test.pvalue, rel=1e-6)
        if rule == "a_first":
            assert ci.low > 0.5 and row["click_share_a"] > 0.5  # A holds the top slot of every list
        else:
            assert ci.low <= 0.5 <= ci.high, rule
    assert (race.groupby("rule")["impressions"].apply(lambda s: s.is_monotonic_increasing)).all()


def test_credit_race_rejects_bad_input(lab):
    control = lab.lists[lab.control_sigma]
    with pytest.raises(ValueError, match="rules"):
        pf.credit_race(lab.sim, control, control, lab.population, 100, rules=("fair",))
    with pytest.raises(ValueError, match="n_impressions"):
        pf.credit_race(lab.sim, control, control, lab.population, 0)
    with pytest.raises(ValueError, match="one row per user"):
        pf.credit_race(lab.sim, control[:5], control, lab.population, 100)


# --- 3 and 4. reranking ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def whatif(small_world):
    train, test = temporal_split(small_world)
    ranked = EASE().fit(train).retrieve(np.arange(train.n_users), 100)
    return WhatIf(ranked, train, test)


def test_docstring_lambda_costs_accuracy_and_buys_diversity(whatif):
    runs = pf.lambda_readings(whatif, whatif.knobs)
    passed, meant = runs["as passed"], runs["as meant"]
    assert (passed.knobs.lam, meant.knobs.lam) == (0.3, 0.7)
    p, m = passed.headline(), meant.headline()
    assert p["ndcg"] < m["ndcg"] and p["intra_list_diversity"] > m["intra_list_diversity"]
    frame = pf.headline_frame(runs)
    assert frame.set_index(["setting", "metric"]).loc[("as passed", "NDCG@10"), "value"] == p["ndcg"]


def test_lambda_readings_take_runs_already_made_and_refuse_others(whatif):
    knobs = dataclasses.replace(whatif.knobs, k=8)
    _, kept = whatif.frontier_runs(knobs, lams=(0.0, 1.0), keep=pf.LAMBDAS)
    taken = pf.lambda_readings(whatif, knobs, have=kept)
    assert taken["as passed"] is kept[0.3] and taken["as meant"] is kept[0.7]
    fresh = pf.lambda_readings(whatif, knobs)
    assert {n: r.headline() for n, r in taken.items()} == {n: r.headline() for n, r in fresh.items()}
    with pytest.raises(ValueError, match="was run at"):
        pf.lambda_readings(whatif, dataclasses.replace(knobs, k=9), have=kept)


def test_textbook_order_moves_freshness_after_mmr():
    assert pf.textbook_order(STEPS) == ("filter", "mmr", "freshness", "pins", "cap", "explore")
    assert pf.textbook_order(("mmr", "freshness")) == ("mmr", "freshness")
    assert pf.textbook_order(("freshness", "pins")) == ("freshness", "pins")


def test_textbook_order_loses_diversity_at_the_top_of_the_slate(whatif):
    runs = pf.order_readings(whatif, dataclasses.replace(whatif.knobs, lam=0.5))
    assert runs["textbook"].knobs.order == pf.textbook_order(STEPS) and runs["workbench"].knobs.order == STEPS
    curves = pf.prefix_diversity({n: r.slate.items for n, r in runs.items()}, whatif.train.item_features)
    ild = curves.pivot(index="m", columns="setting", values="ild")
    assert ild.loc[3, "textbook"] < ild.loc[3, "workbench"]
    assert ild.loc[10, "textbook"] < ild.loc[10, "workbench"]
    assert ild.loc[10, "workbench"] == pytest.approx(runs["workbench"].headline()["intra_list_diversity"])


def test_prefix_diversity_by_hand():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    out = pf.prefix_diversity({"s": np.array([[0, 2, 1]])}, vectors)
    assert out["m"].tolist() == [2, 3]
    assert out["ild"].tolist() == pytest.approx([0.0, 2 / 3])  # pairs (0,2): 0; (0,1), (2,1): 1 each
    with pytest.raises(ValueError, match="k >= 2"):
        pf.prefix_diversity({"s": np.array([[0]])}, vectors)


# --- 5. CTR per impression -------------------------------------------------------------------------------


def test_per_impression_ctr_test_rejects_far_more_than_alpha_and_per_user_about_alpha(lab):
    control = lab.lists[lab.control_sigma]
    out = pf.unit_study(lab.sim, control, lab.population, (1, 8), n_tests=300, n_users=200, alpha=ALPHA, seed=0)
    rows = out.set_index(["sessions", "test"])
    for s in (1, 8):
        user = rows.loc[(s, pf.UNIT_TESTS["ctr"])]
        ci = stats.binomtest(int(user["rejected"]), 300).proportion_ci(0.99)
        assert ci.low <= ALPHA <= ci.high
    imp1, imp8 = (rows.loc[(s, pf.UNIT_TESTS["ctr_per_impression"])] for s in (1, 8))
    assert imp8["ci_low"] > 2 * ALPHA and imp8["rate"] > imp1["rate"]  # worse with more sessions per user
    with pytest.raises(ValueError, match="n_users"):
        pf.unit_study(lab.sim, control, lab.population, (1,), n_users=len(lab.population) + 1)
    with pytest.raises(ValueError, match="sessions"):
        pf.unit_study(lab.sim, control, lab.population, (0,))
