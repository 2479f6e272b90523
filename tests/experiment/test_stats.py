import math
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

from workbench.experiment.stats import (
    power_curve,
    power_means,
    power_proportions,
    relative_ci,
    sample_size_curve,
    sample_size_means,
    sample_size_proportions,
    srm_test,
    two_proportion_ztest,
    welch_arrays,
    welch_ttest,
)


def test_welch_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.exponential(2.0, 40), rng.exponential(2.6, 75)
    ours = welch_ttest(a, b, alpha=0.1)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_ztest_matches_statsmodels():
    ours = two_proportion_ztest(100, 1000, 130, 1100)
    z, p = proportions_ztest([130, 100], [1100, 1000])
    assert ours.statistic == pytest.approx(z, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-10)
    low, high = confint_proportions_2indep(130, 1100, 100, 1000, method="wald", compare="diff")
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), rel=1e-8)


def test_relative_ci_covers_true_ratio_about_95_percent():
    rng = np.random.default_rng(1)
    n, reps = 400, 4000
    a = rng.exponential(1.0, (reps, n))
    b = rng.exponential(1.1, (reps, n))
    se = lambda x: x.std(axis=1, ddof=1) / np.sqrt(n)  # noqa: E731
    _, lo, hi = relative_ci(a.mean(1), se(a), b.mean(1), se(b))
    coverage = ((lo <= 0.1) & (0.1 <= hi)).mean()
    assert 0.935 < coverage < 0.965


def test_sample_size_means_matches_statsmodels():
    for es, ratio in ((0.1, 1.0), (0.25, 2.0)):
        ours = sample_size_means(mde=es * 3.0, sd_a=3.0, alpha=0.05, power=0.8, ratio=ratio)
        ref = NormalIndPower().solve_power(effect_size=es, alpha=0.05, power=0.8, ratio=ratio)
        assert abs(ours - ref) <= 1.0


def test_sample_size_proportions_by_hand():
    # Fleiss eq. 4.14: p1 = .10, p2 = .12, pbar = .11:
    # (1.959964·sqrt(2·.11·.89) + 0.841621·sqrt(.09 + .1056))² / .02² = 3840.6 -> 3841
    assert sample_size_proportions(0.10, 0.02) == 3841
    arcsine = NormalIndPower().solve_power(proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8)
    assert abs(3841 / arcsine - 1) < 0.01


def test_power_at_planned_n_reaches_target():
    n = sample_size_means(0.05, 0.4, power=0.8)
    assert power_means(0.05, 0.4, n) >= 0.8 > power_means(0.05, 0.4, n - 2)
    n = sample_size_proportions(0.2, -0.03, power=0.9)
    assert power_proportions(0.2, -0.03, n) >= 0.9 > power_proportions(0.2, -0.03, n - 3)
    curve = power_curve([100, 1000, 10_000], mde=0.05, sd=0.4)
    assert curve["power"].is_monotonic_increasing
    sizes = sample_size_curve([0.01, 0.02, 0.04], p_a=0.1)
    assert sizes["n_per_arm"].is_monotonic_decreasing


def test_srm_by_hand():
    chi2, p = srm_test([5000, 4800], [0.5, 0.5])
    assert chi2 == pytest.approx(2 * 100**2 / 4900)
    assert p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))  # χ² with 1 df
    with pytest.raises(ValueError, match="2 arm counts but a split over 3"):
        srm_test([1, 2], [0.2, 0.3, 0.5])


def test_zero_variance_has_defined_answers():
    same = welch_ttest([2.0, 2.0, 2.0], [2.0, 2.0])
    assert same.p_value == 1.0 and not same.significant and "same constant" in same.note
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        assert np.isnan(stats.ttest_ind([2.0, 2.0, 2.0], [2.0, 2.0], equal_var=False).pvalue)  # what scipy says
    apart = welch_ttest([1.0, 1.0], [3.0, 3.0, 3.0])
    assert apart.p_value == 0.0 and apart.diff == 2.0 and "different constants" in apart.note
    none = two_proportion_ztest(0, 50, 0, 60)
    assert none.p_value == 1.0 and "zero variance" in none.note
    assert np.isnan(none.rel_diff) and "undefined" in none.note
    vec = welch_arrays([1.0, 1.0], [0.0, 1.0], [5, 5], [1.0, 2.0], [0.0, 1.0], [5, 5])
    assert vec["p"][0] == 1.0 and np.isfinite(vec["p"]).all()


def test_bad_arms_are_clear_errors():
    with pytest.raises(ValueError, match="arm A has 1 users"):
        welch_ttest([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="arm B has 0 users"):
        welch_ttest([1.0, 2.0], [])
    with pytest.raises(ValueError, match="arm B has n=0"):
        two_proportion_ztest(3, 10, 0, 0)
    with pytest.raises(ValueError, match="non-finite"):
        welch_ttest([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="mde=0"):
        sample_size_means(0.0, 1.0)


def test_decisions_are_worded_correctly():
    flat = two_proportion_ztest(100, 1000, 104, 1000)
    text = flat.decision()
    assert text.startswith("no significant difference") and "does not show the arms are equal" in text
    sig = two_proportion_ztest(100, 1000, 160, 1000)
    assert sig.decision().startswith("B is significantly higher than A")
