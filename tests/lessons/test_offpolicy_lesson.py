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
