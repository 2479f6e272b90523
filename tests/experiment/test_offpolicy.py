"""Off-policy evaluation (`workbench.experiment.ope`): agreement with Open Bandit Pipeline, exact unbiasedness by enumeration,
the simulator's truth, support and bad input."""

import itertools

import numpy as np
import pytest
from obp.ope import (
    DirectMethod,
    DoublyRobust,
    InverseProbabilityWeighting,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
    SlateIndependentIPS,
)
from statsmodels.discrete.discrete_model import Logit
from statsmodels.stats.weightstats import DescrStatsW

from workbench.data import load
from workbench.experiment.ope.estimators import (
    SupportError,
    check_log,
    clipped_ips,
    direct_method,
    doubly_robust,
    independent_ips,
    ips,
    pseudo_inverse,
    slate_gram_pinv,
    sn_doubly_robust,
    snips,
)
from workbench.experiment.ope.evaluation import evaluate
from workbench.experiment.ope.lab import impressions_needed, offpolicy_lab
from workbench.experiment.ope.logs import monte_carlo_value, true_value
from workbench.experiment.ope.policies import EpsilonMixture, ExplorationPolicy, check_support
from workbench.experiment.ope.reward_model import fit_reward_model
from workbench.experiment.simulator import SimulatorConfig, UserSimulator


@pytest.fixture(scope="module")
def bandit():
    """A logged contextual bandit: per-round random logging and target distributions over 6 actions."""
    rng = np.random.default_rng(7)
    n, a = 4000, 6
    pi_b = rng.dirichlet(np.ones(a), size=n)
    pi_e = rng.dirichlet(np.ones(a) * 0.5, size=n)
    action = (pi_b.cumsum(1) > rng.random(n)[:, None]).argmax(1)
    q_true = rng.uniform(0.1, 0.6, size=(n, a))
    reward = (rng.random(n) < q_true[np.arange(n), action]).astype(float)
    q_hat = np.clip(q_true + rng.normal(0, 0.1, size=(n, a)), 0, 1)
    rows = np.arange(n)
    return {
        "reward": reward, "action": action, "pi_b": pi_b, "pi_e": pi_e, "q_hat": q_hat,
        "pscore": pi_b[rows, action], "target": pi_e[rows, action],
        "q_logged": q_hat[rows, action], "q_target": (pi_e * q_hat).sum(1),
    }  # fmt: skip


def test_item_level_estimators_agree_with_obp(bandit):
    b = bandit
    dist, qh = b["pi_e"][:, :, None], b["q_hat"][:, :, None]
    common = {"reward": b["reward"], "action": b["action"], "pscore": b["pscore"], "action_dist": dist}
    expected = {
        "IPS": InverseProbabilityWeighting().estimate_policy_value(**common),
        "SNIPS": SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**common),
        "DM": DirectMethod().estimate_policy_value(action_dist=dist, estimated_rewards_by_reg_model=qh),
        "DR": DoublyRobust().estimate_policy_value(**common, estimated_rewards_by_reg_model=qh),
        "SNDR": SelfNormalizedDoublyRobust().estimate_policy_value(**common, estimated_rewards_by_reg_model=qh),
    }
    args = (b["reward"], b["pscore"], b["target"])
    ours = {
        "IPS": ips(*args), "SNIPS": snips(*args), "DM": direct_method(b["q_target"]),
        "DR": doubly_robust(*args, b["q_logged"], b["q_target"]),
        "SNDR": sn_doubly_robust(*args, b["q_logged"], b["q_target"]),
    }  # fmt: skip
    for name, value in expected.items():
        assert ours[name].value == pytest.approx(value, abs=1e-9), name
        assert ours[name].estimator == name


def test_clipping_above_the_largest_weight_is_obp_ips_and_below_it_caps_by_hand(bandit):
    b = bandit
    w = b["target"] / b["pscore"]
    big = clipped_ips(b["reward"], b["pscore"], b["target"], clip=w.max() + 1)
    obp_ips = InverseProbabilityWeighting().estimate_policy_value(
        reward=b["reward"], action=b["action"], pscore=b["pscore"], action_dist=b["pi_e"][:, :, None])
    assert big.value == pytest.approx(obp_ips, abs=1e-9)
    cap = float(np.quantile(w, 0.9))
    small = clipped_ips(b["reward"], b["pscore"], b["target"], clip=cap)
    assert small.value == pytest.approx(np.mean(np.minimum(w, cap) * b["reward"]), abs=1e-12)
    assert small.value < big.value and small.se < big.se


def test_independent_ips_agrees_with_obp_slate_iips():
    rng = np.random.default_rng(3)
    n, k = 500, 4
    pscore = rng.uniform(0.05, 1, size=(n, k))
    target = rng.uniform(0, 1, size=(n, k))
    reward = (rng.random((n, k)) < 0.3).astype(float)
    expected = SlateIndependentIPS(len_list=k).estimate_policy_value(
        slate_id=np.repeat(np.arange(n), k), reward=reward.ravel(), position=np.tile(np.arange(k), n),
        pscore_item_position=pscore.ravel(), evaluation_policy_pscore_item_position=target.ravel())
    est = independent_ips(reward, pscore, target)
    assert est.value == pytest.approx(expected, abs=1e-9)
    assert est.estimator == "IIPS"


def test_intervals_are_wald_on_per_impression_terms_as_statsmodels(bandit):
    b = bandit
    est = ips(b["reward"], b["pscore"], b["target"], alpha=0.1)
    terms = b["reward"] * b["target"] / b["pscore"]
    lo, hi = DescrStatsW(terms).zconfint_mean(alpha=0.1)
    assert (est.ci_low, est.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    w = b["target"] / b["pscore"]
    assert est.ess == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)
    assert direct_method(b["q_target"]).ess == len(w)


def test_self_normalised_intervals_cover_at_the_nominal_rate():
    """SNIPS's and SNDR's delta-method intervals hold the true value in ~95% of 400 logs."""
    rng = np.random.default_rng(11)
    a, n, reps = 4, 1500, 400
    pi_b, pi_e = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.1, 0.1, 0.3, 0.5])
    mu = np.array([0.2, 0.3, 0.5, 0.6])
    truth = float(pi_e @ mu)
    hits = np.zeros(2)
    for _ in range(reps):
        action = rng.choice(a, size=n, p=pi_b)
        r = (rng.random(n) < mu[action]).astype(float)
        args = (r, pi_b[action], pi_e[action])
        q = np.full(n, 0.35)
        for i, est in enumerate((snips(*args), sn_doubly_robust(*args, q, np.full(n, 0.35)))):
            hits[i] += est.ci_low <= truth <= est.ci_high
    half_width = 3 * np.sqrt(0.95 * 0.05 / reps)
    assert np.all(np.abs(hits / reps - 0.95) < half_width), hits / reps


# ---------------------------------------------------------------- exact expectations by enumeration


def _all_slates(k, a):
    slates = np.array(list(itertools.permutations(range(a), k)))
    ind = np.zeros((len(slates), k * a))
    ind[np.arange(len(slates))[:, None], np.arange(k) * a + slates] = 1.0
    return slates, ind


def _slate_probs(policy, slates):
    """Exact probability of each ordered slate under an EpsilonMixture for user 0."""
    n_all = len(slates)
    det = (slates == policy.slates[0]).all(axis=1)
    return (1 - policy.epsilon) * det + policy.epsilon / n_all


def test_mixture_marginals_and_gram_match_enumeration():
    k, a = 2, 4
    slates, ind = _all_slates(k, a)
    logger = EpsilonMixture(np.array([[1, 3]]), a, 0.3)
    prob = _slate_probs(logger, slates)
    assert np.allclose(logger.gram(), ind.T @ (prob[:, None] * ind), atol=1e-15)
    assert np.allclose(logger.marginals(np.array([0])).reshape(-1), prob @ ind, atol=1e-15)


def test_exploration_policy_marginals_and_gram_match_its_samples():
    """ExplorationPolicy wraps workbench.rerank.exploration.explore; its marginals and Γ are checked
    against 200,000 draws of explore itself."""
    k, a = 3, 7
    pol = ExplorationPolicy(np.arange(a)[None, :], k, rate=0.67)  # m = 2 explored slots of 3
    users = np.zeros(200_000, dtype=np.int64)
    cols = pol.sample(users, np.random.default_rng(0))
    ind = np.zeros((len(cols), k * a))
    ind[np.arange(len(cols))[:, None], np.arange(k) * a + cols] = 1.0
    tol = 4 * np.sqrt(0.25 / len(cols))
    assert np.abs(ind.mean(0) - pol.marginals(np.array([0])).reshape(-1)).max() < tol
    assert np.abs(ind.T @ ind / len(cols) - pol.gram()).max() < tol


@pytest.mark.parametrize("target_eps", [0.0, 0.4])
def test_pi_and_iips_are_exactly_unbiased_for_additive_rewards(target_eps):
    """E_μ[estimate] = V(π) exactly, summing over every slate the logger can show."""
    k, a = 2, 4
    slates, ind = _all_slates(k, a)
    logger = EpsilonMixture(np.array([[0, 1]]), a, 0.5)
    target = EpsilonMixture(np.array([[2, 0]]), a, target_eps)
    phi = np.random.default_rng(0).uniform(0, 1, size=(k, a))  # reward of column j at slot p
    cell_reward = phi[np.arange(k), slates]  # [S, k]
    prob = _slate_probs(logger, slates)
    truth = float(_slate_probs(target, slates) @ cell_reward.sum(1))
    # a log holding each slate in proportion to its probability (they are multiples of 1/24)
    copies = np.rint(prob * 24 * len(slates)).astype(int)
    assert np.allclose(copies / copies.sum(), prob)
    rows = np.repeat(np.arange(len(slates)), copies)
    users = np.zeros(len(rows), dtype=np.int64)
    q_t = target.marginals(np.array([0]))
    pi = pseudo_inverse(cell_reward[rows].sum(1), slates[rows], users, q_t, slate_gram_pinv(logger.gram()))
    m_b, m_t = logger.marginals(np.array([0]))[0], q_t[0]
    ps, ts = m_b[np.arange(k), slates[rows]], m_t[np.arange(k), slates[rows]]
    iips = independent_ips(cell_reward[rows], ps, ts)
    assert pi.value == pytest.approx(truth, abs=1e-12)
    assert iips.value == pytest.approx(truth, abs=1e-12)


# ---------------------------------------------------------------- support and bad input


def test_support_share_is_the_target_mass_on_cells_the_logger_never_shows():
    # k=2 of A=4 at rate 0.5: slot 0 shows rank 0; slot 1 is explored over ranks {2, 3} (P = 2)
    logger = ExplorationPolicy(np.arange(4)[None, :], k=2, rate=0.5)
    users = np.array([0])
    keeps = EpsilonMixture(np.array([[0, 3]]), 4, 0.0)
    assert check_support(logger, keeps, users) == 0.0
    with pytest.raises(SupportError, match=r"50\.0% of its mass") as err:
        check_support(logger, EpsilonMixture(np.array([[1, 2]]), 4, 0.0), users)
    assert err.value.share == pytest.approx(0.5)
    # ε = 0.5: slot 0 loses 0.5 + 0.5·3/4, slot 1 loses 0.5·2/4 → (0.875 + 0.25) / 2
    with pytest.raises(SupportError) as err:
        check_support(logger, EpsilonMixture(np.array([[1, 2]]), 4, 0.5), users)
    assert err.value.share == pytest.approx(0.5625, abs=1e-12)


@pytest.mark.parametrize(
    "pscore, match",
    [
        (np.array([0.5, 0.0, 0.2]), r"pscore is zero or negative for 1 of 3 logged cells \(first: impression 1"),
        (np.array([0.5, np.nan, np.nan]), r"pscore is missing \(NaN\) for 2 of 3"),
        (np.array([0.5, 1.5, 0.2]), r"pscore exceeds 1"),
        (np.array([0.5, 0.2]), r"pscore has shape \(2,\) but the first array has \(3, 1\)"),
    ],
)
def test_bad_propensities_and_lengths_are_refused(pscore, match):
    with pytest.raises(ValueError, match=match):
        ips(np.array([1.0, 0.0, 1.0]), pscore, np.array([0.5, 0.5, 0.5]))


def test_other_bad_input():
    r, p = np.ones(3), np.full(3, 0.5)
    with pytest.raises(ValueError, match=r"target_pscore has shape \(4,\)"):
        snips(r, p, np.ones(4))
    with pytest.raises(ValueError, match="target_pscore is outside"):
        ips(r, p, np.array([0.1, 2.0, 0.1]))
    with pytest.raises(ValueError, match="clip=0"):
        clipped_ips(r, p, p, clip=0)
    with pytest.raises(ValueError, match="q_logged has shape"):
        doubly_robust(r, p, p, np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="every logged cell of slot 0"):
        snips(r, p, np.zeros(3))
    with pytest.raises(ValueError, match="alpha=1.5"):
        ips(r, p, p, alpha=1.5)
    # padding cells (shown=False) are skipped, not refused
    est = ips(np.array([[1.0, 0.0]] * 2), np.array([[0.5, 0.0]] * 2), np.array([[1.0, 1.0]] * 2),
              shown=np.array([[True, False]] * 2))  # fmt: skip
    assert est.value == 2.0
    r2, p2, t2, m2 = check_log(np.ones(2), np.ones(2), np.ones(2))
    assert r2.shape == p2.shape == t2.shape == (2, 1) and m2 is None  # every cell real
    # padding cells come back weightless: reward 0, pscore 1, target 0
    r3, p3, t3, m3 = check_log([[1.0, 5.0]] * 2, [[0.5, 0.0]] * 2, [[1.0, 1.0]] * 2, shown=[[True, False]] * 2)
    assert (r3[:, 1] == 0).all() and (p3[:, 1] == 1).all() and (t3[:, 1] == 0).all() and not m3[:, 1].any()


# ---------------------------------------------------------------- the reward model


def test_reward_model_matches_statsmodels_logit_without_penalty():
    rng = np.random.default_rng(5)
    n, k, d = 3000, 3, 2
    x = rng.normal(size=(n, k, d))
    eta = np.array([-1.0, -0.5, 0.2])[None, :] + x @ np.array([0.8, -0.4])
    y = (rng.random((n, k)) < 1 / (1 + np.exp(-eta))).astype(float)
    model = fit_reward_model(x, y, l2=0.0)
    design = np.concatenate([np.tile(np.eye(k), (n, 1)), ((x - model.mean) / model.scale).reshape(-1, d)], axis=1)
    ref = Logit(y.reshape(-1), design).fit(disp=0, tol=1e-12).params
    assert np.allclose(np.r_[model.slot_bias, model.coef], ref, atol=1e-6)
    assert np.allclose(model.predict(x), 1 / (1 + np.exp(-(design @ ref))).reshape(n, k), atol=1e-6)


# ---------------------------------------------------------------- the simulator's truth


class ItemWorld:
    """a(u, i) = (i + 1) / 10 for items 0..8."""

    def true_affinity(self, users, items):
        items = np.asarray(items)
        return np.broadcast_to((items + 1) / 10.0, (len(users), items.shape[-1])).astype(float)


def test_true_value_by_hand_and_against_monte_carlo():
    sim = UserSimulator(ItemWorld(), SimulatorConfig(activity_sigma=0.0, position_scale=1.0, position_exponent=1.0))
    candidates = np.array([[0, 4, 8], [2, 3, 5]])
    policy = EpsilonMixture(np.array([[2, 0], [1, 2]]), 3, 0.5)
    e = np.array([1.0, 0.5])  # (1 + r)^-1
    a = (candidates + 1) / 10
    by_hand = []
    for u in range(2):
        det = e @ a[u, policy.slates[u]]
        uniform = e.sum() * a[u].mean()
        by_hand.append(0.5 * det + 0.5 * uniform)
    truth = true_value(sim, candidates, policy, np.arange(2))
    assert truth == pytest.approx(np.mean(by_hand), abs=1e-12)
    mc, se = monte_carlo_value(sim, candidates, policy, np.arange(2), 200_000, 0)
    assert abs(mc - truth) < 4 * se
    with pytest.raises(ValueError, match="position click model"):
        true_value(UserSimulator(ItemWorld(), SimulatorConfig(click_model="cascade")), candidates, policy, np.arange(2))


@pytest.fixture(scope="module")
def lab():
    return offpolicy_lab(load("synthetic", small=True), k=5, n_candidates=10)


def test_estimates_on_the_simulator_bracket_the_truth(lab):
    logger, target = lab.policy(epsilon=0.2), lab.policy(0.5, 0.0)
    truth = lab.truth(target)
    table = evaluate(lab.log(logger, 30_000, 1), target, features=lab.features(), clip=1e9).set_index("estimator")
    assert list(table.index) == ["IPS", "SNIPS", "clipped IPS", "DM", "DR", "SNDR", "PI"]
    for name in ("IPS", "SNIPS", "DR", "SNDR", "PI"):
        assert abs(table.loc[name, "value"] - truth) < 4 * table.loc[name, "se"], name
    assert table.loc["clipped IPS", "value"] == table.loc["IPS", "value"]  # clip above every weight
    assert table.loc["DR", "se"] < table.loc["IPS", "se"]
    # the same seed gives the same numbers
    again = evaluate(lab.log(logger, 30_000, 1), target, features=lab.features(), clip=1e9).set_index("estimator")
    assert again.equals(table)


def test_evaluating_the_logger_itself_gives_the_logged_mean(lab):
    logger = lab.policy(epsilon=0.3)
    log = lab.log(logger, 5_000, 2)
    table = evaluate(log, logger, estimators=("IPS", "SNIPS")).set_index("estimator")
    assert table.loc["IPS", "value"] == pytest.approx(log.clicks.sum(1).mean(), abs=1e-12)
    assert table.loc["IPS", "ess"] == pytest.approx(log.n)


def test_the_workbench_exploration_log_supports_only_targets_keeping_its_fixed_slots(lab):
    logger = lab.policy(epsilon=0.2, kind="explore")  # 1 explored slot of 5
    log = lab.log(logger, 2_000, 0)
    with pytest.raises(SupportError) as err:
        evaluate(log, lab.policy(0.5, 0.0))
    assert 0 < err.value.share < 1
    assert "of its mass on (slot, candidate) cells the logger never shows" in str(err.value)
    # the logger shows ranks 0, 1, (pool), 2, 3; the same ranking without exploration shows ranks 0-4:
    # slot 2 holds rank 2 (never there in the log) and slots 3-4 shift, so 3 of 5 slots lack support
    with pytest.raises(SupportError) as err:
        evaluate(log, lab.policy(epsilon=0.0, kind="explore"))
    assert err.value.share == pytest.approx(3 / 5)


def test_mixture_log_needs_exploration_for_support(lab):
    log = lab.log(lab.policy(epsilon=0.0), 1_000, 0)
    with pytest.raises(SupportError):
        evaluate(log, lab.policy(0.5, 0.0))


def test_ips_variance_grows_as_epsilon_shrinks(lab):
    target = lab.policy(0.5, 0.0)
    se = [evaluate(lab.log(lab.policy(epsilon=e), 20_000, 3), target, estimators=("IPS",))["se"].iloc[0]
          for e in (0.4, 0.1, 0.025)]  # fmt: skip
    assert se[0] < se[1] < se[2]


def test_impressions_needed_by_the_z_test_formula():
    # (1.959964 + 0.841621)^2 · 2^2 / 0.1^2 = 3139.5 → 3140
    assert impressions_needed(0.1, 2.0) == 3140
    with pytest.raises(ValueError):
        impressions_needed(0.0, 1.0)


# ---------------------------------------------------------------- `workbench ope`


def _ope(capsys, *args):
    from workbench.cli import main

    code = main(["ope", "--small", "--impressions", "3000", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _row(out, name):
    import re

    m = re.search(rf"^\s*{re.escape(name)}\s+(-?[\d.]+)", out, re.MULTILINE)
    assert m, f"no {name} row in:\n{out}"
    return float(m.group(1))


def test_cli_ope_prints_the_truth_and_every_estimator(capsys):
    import re

    code, out, _ = _ope(capsys)
    assert code == 0
    lab = offpolicy_lab(load("synthetic", small=True))
    truth = float(re.search(r"truth \(exact, clicks per impression\): ([\d.]+)", out).group(1))
    assert truth == pytest.approx(lab.truth(lab.policy(1.0, 0.0)), abs=5e-5)
    for name in ("IPS", "SNIPS", "clipped IPS", "DM", "DR", "SNDR", "PI"):
        _row(out, name)
    assert "3,000 logged impressions" in out and "10 slots from 20 candidates" in out
    assert _ope(capsys)[1] == out  # same seed, same numbers


def test_cli_ope_options_reach_the_code(capsys):
    base = _ope(capsys)[1]
    ips, clipped = _row(base, "IPS"), _row(base, "clipped IPS")
    assert _row(_ope(capsys, "--clip", "5")[1], "clipped IPS") < clipped and _row(_ope(capsys, "--clip", "5")[1], "IPS") == ips
    assert "truth (exact, clicks per impression): " + base.split("truth (exact, clicks per impression): ")[1][:6] \
        not in _ope(capsys, "--target-sigma", "0.5")[1]  # fmt: skip
    eps = _ope(capsys, "--epsilon", "0.3")[1]
    assert "mixture ε=0.3" in eps and _row(eps, "IPS") != ips
    assert "target: sigma=1, mixture ε=0.2" in _ope(capsys, "--target-epsilon", "0.2")[1]
    assert "sigma=1.5, mixture" in _ope(capsys, "--logger-sigma", "1.5")[1]
    assert "5 slots from 8 candidates" in _ope(capsys, "--k", "5", "--candidates", "8")[1]
    assert "intervals at 90%" in _ope(capsys, "--alpha", "0.1")[1]
    assert _row(_ope(capsys, "--seed", "1")[1], "IPS") != ips
    cascade = _ope(capsys, "--click-model", "cascade")[1]
    assert "truth (exact" not in cascade and "on-policy Monte-Carlo" in cascade
    code, _, err = _ope(capsys, "--logger", "explore")
    assert code == 2 and "of its mass on (slot, candidate) cells the logger never shows" in err


@pytest.mark.parametrize("args, message", [
    (["--candidates", "5"], "--candidates 5: expected more than --k 10"),
    (["--candidates", "400"], "--candidates 400: expected at most the 300 items"),
    (["--logger-sigma", "-1"], "--logger-sigma -1.0: expected a noise level >= 0"),
    (["--clip", "0"], "expected clip > 0"),
    (["--epsilon", "1.5"], "expected an exploration rate in [0, 1]"),
    (["--impressions", "1"], "expected at least 2 impressions"),
])  # fmt: skip
def test_cli_ope_refuses_bad_arguments_before_loading(capsys, args, message):
    code, _, err = _ope(capsys, *args)
    assert code == 2 and message in err


def test_planned_log_size_gives_the_planned_power(lab):
    """At the planned number of logged impressions, the DR difference test detects the better
    ranker in ~80% of 150 fresh logs (the plan's variance comes from one pilot log)."""
    from workbench.experiment.ope.lab import decision_sizes, difference_terms

    plan = decision_sizes(lab, 0.5, 0.5, pilot=20_000, seed=0)
    logger, target, control = lab.policy(epsilon=0.5), lab.policy(0.5, 0.0), lab.policy(epsilon=0.0)
    rng = np.random.default_rng(1)
    feats, model, hits, reps = lab.features(), None, 0, 150
    for _ in range(reps):
        log = lab.log(logger, plan["ope_dr"], rng)
        _, dr, model = difference_terms(log, target, control, feats, model)
        hits += dr.mean() / (dr.std(ddof=1) / np.sqrt(len(dr))) > 1.959964
    assert abs(hits / reps - 0.8) < 3 * np.sqrt(0.16 / reps), hits / reps
    assert plan["v_target"] > plan["v_control"] and plan["ab_users"] > 0
