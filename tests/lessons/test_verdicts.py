"""The verdict helper: paired differences worked by hand, and the wording against the interval."""

import math

import numpy as np
import pytest

from workbench.lessons.verdicts import Paired, contradictions, paired, read, say, verdict


def test_paired_difference_worked_by_hand():
    # d = B − A = [1, 2, 0, 3]: mean 1.5; sample variance ((.5² + .5² + 1.5² + 1.5²) / 3) = 5/3;
    # half-width 1.959964 · sqrt(5/3) / 2 = 1.959964 · 0.645497 = 1.265151
    d = paired([1, 2, 3, 4], [2, 4, 3, 7])
    assert d.n == 4
    assert d.diff == pytest.approx(1.5)
    assert d.low == pytest.approx(1.5 - 1.265151, abs=1e-6)
    assert d.high == pytest.approx(1.5 + 1.265151, abs=1e-6)
    assert d.detectable


def test_paired_leaves_out_users_missing_either_figure():
    # the NaN users drop out: d = [1, -1, 2, -2], mean 0, sd sqrt(10/3) → half 1.959964 · 1.825742 / 2 = 1.789194
    d = paired([0, 0, np.nan, 0, 0, 5], [1, -1, 3, 2, -2, np.nan])
    assert d.n == 4 and d.diff == pytest.approx(0.0)
    assert (d.low, d.high) == pytest.approx((-1.789194, 1.789194), abs=1e-6)
    assert not d.detectable


def test_paired_refuses_users_that_do_not_line_up():
    with pytest.raises(ValueError, match="A has 3 users and B 2"):
        paired([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="1 users have both"):
        paired([1, np.nan], [2, 3])


def test_verdict_wording_follows_the_interval():
    assert verdict(0.0025, 0.0010, 0.0040, "deepfm", "gbdt") == "gbdt beats deepfm by 0.0025 (95% CI [0.0010, 0.0040])"
    # below 0: A wins, and the interval is restated as A − B
    assert verdict(-0.0025, -0.0040, -0.0010, "deepfm", "gbdt") == "deepfm beats gbdt by 0.0025 (95% CI [0.0010, 0.0040])"
    assert verdict(0.0025, -0.0015, 0.0065, "deepfm", "gbdt") == (
        "no detectable difference between gbdt and deepfm (95% CI [-0.0015, 0.0065] covers 0)")


def test_a_bound_that_is_not_zero_never_prints_as_zero():
    # 0.00004 at 4 decimals would print 0.0000 and read as "covers 0": one more decimal until it shows
    assert verdict(0.0003, 0.00004, 0.00056) == "B beats A by 0.00030 (95% CI [0.00004, 0.00056])"


def test_percent_figures():
    assert verdict(-0.044, -0.061, -0.027, "RRF", "max of raw scores", decimals=1, percent=True) == (
        "RRF beats max of raw scores by 4.4% (95% CI [2.7%, 6.1%])")


def test_verdict_refuses_an_interval_that_does_not_hold_the_difference():
    with pytest.raises(ValueError, match="outside its interval"):
        verdict(0.5, 0.6, 0.9)
    with pytest.raises(ValueError, match="finite"):
        verdict(math.nan, 0.0, 1.0)


def test_read_back_and_contradictions():
    text = "\n".join([
        "NDCG@10: " + say(Paired(0.0025, 0.0010, 0.0040, 500), "deepfm", "gbdt") + ".",
        say(Paired(0.001, -0.002, 0.004, 500), "a", "b"),
        "x beats y by 0.0025 (95% CI [-0.0010, 0.0040])",  # a claim inside the noise
        "no detectable difference (95% CI [0.0010, 0.0040] covers 0)",  # an interval that does not cover 0
    ])  # fmt: skip
    found = read(text)
    assert [v["kind"] for v in found] == ["beats", "none", "beats", "none"]
    assert found[0]["winner"] == "gbdt" and found[0]["loser"] == "deepfm" and found[0]["x"] == 0.0025
    assert contradictions(text) == [found[2]["text"], found[3]["text"]]
