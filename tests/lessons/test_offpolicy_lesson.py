"""Notebook 10's back-end: the study's rows, its summary by hand, the sizes table."""

import numpy as np
import pandas as pd
import pytest

from workbench.data import load
from workbench.lessons import offpolicy as lesson


@pytest.fixture(scope="module")
def lab():
    return lesson.make_lab(load("synthetic", small=True))


def test_summary_by_hand():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b"], "value": [1.0, 3.0, 2.0, 2.0], "error": [-1.0, 1.0, 0.0, 0.0],
                          "covered": [True, False, True, True], "ess": [5.0, 7.0, 1.0, 3.0]})  # fmt: skip
    s = lesson.summary(frame, ["g"]).set_index("g")
    assert s.loc["a", "bias"] == 0.0 and s.loc["a", "sd"] == pytest.approx(np.sqrt(2)) and s.loc["a", "rmse"] == 1.0
    assert s.loc["a", "coverage"] == 0.5 and s.loc["a", "ess"] == 6.0 and s.loc["b", "sd"] == 0.0


def test_study_rows_truth_and_clipping(lab):
    est, clipped = lesson.study(lab, epsilons=(0.1, 0.5), n_impressions=800, reps=2, seed=3, clips=(5.0, 1e9))
    truth = lab.truth(lab.policy(lesson.TARGET_SIGMA, 0.0))
    assert len(est) == 2 * 2 * len(lesson.ESTIMATORS) and set(est["estimator"]) == set(lesson.ESTIMATORS)
    assert (est["truth"] == truth).all() and np.allclose(est["error"], est["value"] - truth)
    assert (est["covered"] == ((est["ci_low"] <= truth) & (truth <= est["ci_high"]))).all()
    # a cap above every weight is plain IPS on the same log
    ips = est[est["estimator"] == "IPS"].set_index(["epsilon", "rep"])["value"]
    uncapped = clipped[clipped["clip"] == 1e9].set_index(["epsilon", "rep"])["value"]
    assert np.allclose(ips.sort_index(), uncapped.sort_index())
    capped = clipped[clipped["clip"] == 5.0].set_index(["epsilon", "rep"])["value"]
    assert (capped.sort_index() < uncapped.sort_index()).all()
    again, _ = lesson.study(lab, epsilons=(0.1, 0.5), n_impressions=800, reps=2, seed=3, clips=(5.0, 1e9))
    assert again.equals(est)


def test_sizes_has_one_row_per_epsilon(lab):
    sizes = lesson.sizes(lab, epsilons=(0.2, 0.5), pilot=3000)
    assert list(sizes["epsilon"]) == [0.2, 0.5]
    assert (sizes["ope_dr"] > 0).all() and (sizes["ab_users"] > 0).all()
    assert (sizes["v_logger"] < sizes["v_control"]).all()  # exploring costs clicks


def test_coverage_reading_worked_by_hand():
    from workbench.lessons.offpolicy import coverage_reading

    truth = 1.0
    rows = pd.DataFrame({"value": [1.0, 0.9, 1.1, 0.5], "se": [0.1, 0.1, 0.1, 0.05],
                         "ci_low": [0.8, 0.7, 0.9, 0.4], "ci_high": [1.2, 1.1, 1.3, 0.6]})  # fmt: skip
    rows["truth"] = truth
    rows["covered"] = (rows["ci_low"] <= truth) & (truth <= rows["ci_high"])
    r = coverage_reading(rows)
    # 3 of 4 held the truth; Wilson at z = 1.96: centre (0.75 + 1.9208/4) / (1 + 3.8415/4) = 0.62753,
    # half-width 1.96 · sqrt(0.75 · 0.25 / 4 + 3.8415 / 64) / 1.96036 = 0.32689
    assert r["coverage"] == 0.75 and r["logs"] == 4 and r["misses"] == 1
    assert (r["low"], r["high"]) == pytest.approx((0.62753 - 0.32689, 0.62753 + 0.32689), abs=1e-4)
    assert not r["short"]  # 95% lies inside [0.30, 0.95]: no detectable shortfall from 4 logs
    assert (r["below"], r["above"]) == (1, 0)
    assert r["median"] == pytest.approx(0.95)
    # median se 0.1 over the sd of [1, .9, 1.1, .5]: mean .875, squared deviations sum .2075, sd sqrt(.2075 / 3)
    assert r["se_ratio"] == pytest.approx(0.1 / 0.262996, abs=1e-5)
