"""The row bandit: LinUCB by hand, Thompson and ε-greedy propensities, regret from the truth by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from workbench.casestudies.bandit import (
    BanditConfig, BanditRun, EpsilonGreedy, LinearThompson, LinUCB, RowWorld, expected_row_clicks, matched_epsilons, row_world,
    run_bandits, run_policy,
)  # fmt: skip
from workbench.experiment.simulator import SimulatorConfig, UserSimulator


class TableWorld:
    """A world whose click probabilities are a hand-written table ``[users, items]``."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)

    def true_affinity(self, users, items):
        items = np.asarray(items)
        users = np.asarray(users)
        if items.ndim == 1:
            return self.table[users][:, items]
        return np.where(items >= 0, self.table[users[:, None], np.maximum(items, 0)], 0.0)


def hand_policy():
    """Arm 0 saw x=(1,0) → 1 and x=(1,1) → 0; arm 1 saw x=(0,1) → 2 (λ = 1)."""
    p = LinUCB(n_arms=2, dim=2, alpha=1.0, ridge=1.0)
    p.update(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), np.array([0, 0, 1]), np.array([1.0, 0.0, 2.0]))
    return p


def test_linucb_closed_form_on_a_two_arm_hand_example():
    p = hand_policy()
    # A0 = I + e1e1ᵀ + (1,1)(1,1)ᵀ = [[3, 1], [1, 2]], b0 = (1, 0); A1 = diag(1, 2), b1 = (0, 2)
    np.testing.assert_allclose(p.A, [[[3, 1], [1, 2]], [[1, 0], [0, 2]]])
    np.testing.assert_allclose(p.theta(), [[0.4, -0.2], [0.0, 1.0]])  # A0⁻¹ = [[2, −1], [−1, 3]] / 5
    mean, width = p.mean_and_width(np.array([[0.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(mean, [[-0.2, 1.0], [0.4, 0.0]])
    np.testing.assert_allclose(width, [[np.sqrt(3 / 5), np.sqrt(1 / 2)], [np.sqrt(2 / 5), 1.0]])
    rng = np.random.default_rng(0)
    choice = p.choose(np.array([[0.0, 1.0], [1.0, 0.0]]), rng)
    # UCBs: (−0.2 + 0.775, 1 + 0.707) → arm 1; (0.4 + 0.632, 0 + 1) → arm 0
    assert choice.arms.tolist() == [1, 0] and choice.propensity.tolist() == [1.0, 1.0]
    assert choice.greedy.tolist() == [1, 0] and not choice.explored.any()
    p.alpha = 2.0  # (0.4 + 1.265, 0 + 2): the wider arm 1 wins, which is exploring
    choice = p.choose(np.array([[1.0, 0.0]]), rng)
    assert choice.arms.tolist() == [1] and choice.explored.tolist() == [True]


def test_thompson_propensity_matches_the_two_normal_formula():
    p = hand_policy()
    p.__class__ = LinearThompson  # same ridge state, Thompson's choice rule
    p.v, p.propensity_draws = 0.8, 20000
    x = np.array([[1.0, 0.0]] * 400)
    choice = p.choose(x, np.random.default_rng(1))
    mean, width = p.mean_and_width(x[:1])
    sd = 0.8 * width[0]
    p0 = norm.cdf((mean[0, 0] - mean[0, 1]) / np.hypot(*sd))  # P(score0 > score1)
    want = np.where(choice.arms == 0, p0, 1 - p0)
    np.testing.assert_allclose(choice.propensity, want, atol=0.015)
    assert abs((choice.arms == 0).mean() - p0) < 0.06  # the choices follow the same law


def test_epsilon_greedy_propensities_and_frequencies():
    p = EpsilonGreedy(n_arms=4, dim=1, epsilon=0.2)
    p.update(np.ones((4, 1)), np.array([0, 1, 2, 3]), np.array([0.0, 1.0, 0.0, 0.0]))  # arm 1 is greedy
    choice = p.choose(np.ones((20000, 1)), np.random.default_rng(0))
    assert (choice.greedy == 1).all()
    np.testing.assert_allclose(np.where(choice.arms == 1, choice.propensity, 0).max(), 1 - 0.2 + 0.05)
    np.testing.assert_allclose(choice.propensity[choice.arms != 1], 0.05)
    np.testing.assert_allclose(np.bincount(choice.arms, minlength=4) / 20000, [0.05, 0.85, 0.05, 0.05], atol=0.01)
    assert abs(choice.explored.mean() - 0.15) < 0.01  # ε (K − 1) / K


def tiny_world(position_exponent=1.0):
    """2 users, 4 items, rows of 2: arm 0 = items (0, 1), arm 1 = items (2, 3) for both users."""
    table = [[0.1, 0.2, 0.5, 0.4], [0.3, 0.3, 0.1, 0.0]]
    sim = UserSimulator(TableWorld(table), SimulatorConfig(activity_sigma=0.0, position_scale=1.0,
                                                           position_exponent=position_exponent))  # fmt: skip
    rows = np.array([[[0, 1], [2, 3]], [[0, 1], [2, 3]]])
    return RowWorld(sim, rows, np.eye(2), expected_row_clicks(sim, rows), ("a", "b"))


def test_expected_row_clicks_and_regret_by_hand():
    w = tiny_world()
    # examination (1 + r)^-1 = (1, 1/2): R[0] = (0.1 + 0.1, 0.5 + 0.2), R[1] = (0.3 + 0.15, 0.1 + 0)
    np.testing.assert_allclose(w.expected, [[0.2, 0.7], [0.45, 0.1]])
    np.testing.assert_allclose(w.regret(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0])), [0.5, 0.0, 0.35, 0.0])
    flat = tiny_world(position_exponent=0.0)  # every slot examined
    np.testing.assert_allclose(flat.expected, [[0.3, 0.9], [0.6, 0.1]])


def test_a_run_logs_regret_against_the_truth():
    w = tiny_world()
    sessions = [np.array([0, 1, 1]), np.array([0]), np.array([], dtype=np.int64)]
    run = run_policy(w, EpsilonGreedy(2, 2, epsilon=1.0), sessions, np.random.default_rng(0))
    log = run.log
    np.testing.assert_allclose(log["regret"], w.expected[log["user"]].max(axis=1) - w.expected[log["user"], log["arm"]])
    assert run.daily["sessions"].tolist() == [3, 1, 0]
    np.testing.assert_allclose(run.daily["cumulative_regret"].iloc[-1], log["regret"].sum())
    np.testing.assert_allclose(log["propensity"], 0.5)  # ε = 1: uniform over 2 arms


def test_matched_epsilon_gives_the_same_expected_exploration():
    run = BanditRun("thompson", pd.DataFrame(), pd.DataFrame({"explore_share": [0.5, 0.1, 0.9]}))
    np.testing.assert_allclose(matched_epsilons(run, 4), [2 / 3, 0.4 / 3, 1.0])  # share · 4/3, capped at 1


@pytest.fixture(scope="module")
def small_world():
    from workbench.candidates import EASE
    from workbench.data import load, temporal_split

    ds = load("synthetic", small=True)
    train, _ = temporal_split(ds)
    scores = EASE().fit(train)._score(np.arange(train.n_users))
    return row_world(train, ds.truth, scores, n_rows=4, row_length=5)


def test_bandit_comparison_is_seeded_and_matches_the_exploration_budget(small_world):
    cfg = BanditConfig(days=4, seed=3)
    a, b = run_bandits(small_world, cfg), run_bandits(small_world, cfg)
    assert a.summary().equals(b.summary())
    s = a.summary()
    assert set(s.index) == {"thompson", "epsilon_greedy", "linucb"}
    assert s["sessions"].nunique() == 1  # the same visits for every policy
    bandit, eps = s.loc["thompson", "exploring_sessions"], s.loc["epsilon_greedy", "exploring_sessions"]
    assert abs(eps - bandit) <= 4 * np.sqrt(bandit) + 5  # equal in expectation (binomial noise)
    c = run_bandits(small_world, BanditConfig(days=4, seed=4))
    assert not c.summary().equals(a.summary())
    assert a.curves().shape == (4, 3) and (np.diff(a.curves().to_numpy(), axis=0) >= 0).all()


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="bandit='ucb'"):
        BanditConfig(bandit="ucb")
    with pytest.raises(ValueError, match="epsilon must lie in"):
        BanditConfig(epsilon=1.5)
    with pytest.raises(ValueError, match=r"contexts must be \[n, 2\]"):
        LinUCB(2, 2).choose(np.ones((3, 5)), np.random.default_rng(0))
