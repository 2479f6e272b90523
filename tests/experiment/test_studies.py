"""Vectorised studies: A/A validity, the unit of analysis, peeking, power and sensitivity."""

import numpy as np
import pytest
from scipy import stats

from workbench.data import make_synthetic
from workbench.experiment.ab import run_abtest
from workbench.experiment.interleaving import run_interleave
from workbench.experiment.rankers import noisy_oracle_ranker
from workbench.experiment.sensitivity import SensitivityConfig, sensitivity_study, users_needed
from workbench.experiment.simulator import UserSimulator
from workbench.experiment.studies import aa_study, hashed_arms, p_values, peeking_study, power_study, simulate_replicates


@pytest.fixture(scope="module")
def setup():
    ds = make_synthetic(n_users=600, n_items=400, impressions_per_user=60, seed=5)
    pop = np.arange(ds.n_users)
    lists = {s: noisy_oracle_ranker(ds.truth, ds.n_users, ds.n_items, 10, s, 0)(pop) for s in (1.5, 2.0)}
    return UserSimulator(ds.truth), pop, lists


def test_aa_tests_reject_about_alpha_per_user_but_not_per_impression(setup):
    sim, pop, lists = setup
    res = aa_study(sim, lists[2.0], pop, n_tests=2000, n_users=1000, days=1).set_index("metric")
    for metric in ("ctr", "session_time", "conversion"):
        assert 0.035 <= res.loc[metric, "rejection_rate"] <= 0.065, res
    assert res.loc["ctr_per_impression", "rejection_rate"] > 0.1  # correlated impressions inflate it


def test_peeking_inflates_false_positives(setup):
    sim, pop, lists = setup
    res = peeking_study(sim, lists[2.0], pop, n_tests=1000, n_users=300, days=7)
    assert res["reject_at_day"].between(0.025, 0.075).all()
    assert res["reject_by_day"].is_monotonic_increasing
    assert res["reject_by_day"].iloc[-1] > 0.1
    assert (res["active_users"].diff().dropna() > 0).all()


def test_p_values_of_some_metrics_are_those_of_all(setup):
    sim, pop, lists = setup
    arms = hashed_arms(50, 200, (0.5, 0.5), "some")
    totals = simulate_replicates(sim, [lists[2.0], lists[1.5]], pop, arms, 3, np.random.default_rng(1))
    every = p_values(totals, arms, 2)
    for some in (("ctr",), ("ctr_per_impression", "session_time")):
        got = p_values(totals, arms, 2, metrics=some)
        assert sorted(got) == sorted(some)
        for m in some:
            np.testing.assert_array_equal(got[m], every[m])
    # arm B's ranker is better (σ 1.5 against 2.0): CTR per user differs in some of the 50 tests
    assert (every["ctr"] < 0.05).any() and ((every["ctr"] >= 0) & (every["ctr"] <= 1)).all()
    with pytest.raises(ValueError, match="metrics="):
        p_values(totals, arms, 2, metrics=("ctr", "clicks"))


def test_simulated_power_matches_the_plan(setup):
    sim, pop, lists = setup
    res = power_study(sim, lists[2.0], lists[1.5], pop, n_tests=1000, seed=3)
    assert 300 < res["n_per_arm"] < 2000
    assert abs(res["simulated_power"] - 0.8) <= 0.05


def test_users_needed_recovers_a_known_curve():
    n = np.array([100, 200, 400, 800, 1600, 3200])
    p = stats.norm.cdf(0.1 * np.sqrt(n) - stats.norm.ppf(0.975))
    # Φ(c√N − z_.975) = .95  <=>  N = ((z_.975 + z_.95) / c)² = (3.6049 / 0.1)² ≈ 1299.5
    assert users_needed(n, p) == pytest.approx(1299.5, rel=1e-3)


def test_interleaving_needs_far_fewer_users_than_ab(setup):
    sim, pop, lists = setup
    res = sensitivity_study(sim, lists[2.0], lists[1.5], pop, SensitivityConfig(reps=100, sessions_per_user=3))
    assert res.true_ctr_b > res.true_ctr_a
    assert res.users_ab == pytest.approx(res.predicted_ab, rel=0.2)
    assert res.ratio >= 5
    ab = res.curves[res.curves["method"] == "A/B"]
    assert ab["p_correct"].iloc[-1] >= 0.99 and ab["p_correct"].iloc[0] < 0.1
    with pytest.raises(ValueError, match="same expected CTR"):
        sensitivity_study(sim, lists[2.0], lists[2.0], pop)


def test_run_abtest_and_run_interleave_entry_points():
    text, frame = run_abtest(n_users=800, days=3, seed=1)
    assert "Sample-ratio check" in text and "Decisions" in text
    # users who can leave by default: every online metric but D7 retention, which needs 8 days
    assert set(frame["metric"]) == {"ctr", "conversion", "session_time", "revenue_per_user", "return_rate"}
    assert "Not measured: d7_retention (needs 8 days of data, the test has 3)" in text
    text, frame = run_abtest(n_users=800, days=3, seed=1, users_leave=False)
    assert set(frame["metric"]) == {"ctr", "conversion", "session_time"}
    assert frame["p_value"].between(0, 1).all()
    with pytest.raises(ValueError, match="n_users=1"):
        run_abtest(n_users=1)
    text, frame = run_interleave(n_users=500, days=3, a="noisy:1.5", b="noisy:1.5")
    assert (frame["p_value"] == 1.0).all() and (frame["winner"] == "tie").all()
    text, frame = run_interleave(n_users=500, days=3, a="random", b="oracle", methods=("team_draft",))
    assert frame.loc[0, "winner"] == "B" and "significantly preferred" in text
