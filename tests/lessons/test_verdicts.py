"""The verdict helper: paired differences worked by hand, and the wording against the interval."""

import math

import numpy as np
import pytest

from workbench.lessons.verdicts import Paired, contradictions, paired, paired_ratio, ratio, read, say, verdict


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


def test_another_verb_reads_naturally_and_is_read_back():
    # an age difference: B's slates are younger by 6.7 days, so "beats" would read oddly
    line = verdict(6.7, 5.9, 7.4, "decay 0", "decay 1", decimals=1, verb="gives younger slates than")
    assert line == "decay 1 gives younger slates than decay 0 by 6.7 (95% CI [5.9, 7.4])"
    # below 0 the other side is younger, worded the same way
    assert verdict(-2.0, -3.0, -1.0, "decay 0", "decay 3", decimals=1, verb="gives younger slates than") == (
        "decay 0 gives younger slates than decay 3 by 2.0 (95% CI [1.0, 3.0])")
    found = read("Mean slate age: " + line + ".")
    assert [(v["winner"], v["loser"], v["x"], v["low"], v["high"]) for v in found] == [("decay 1", "decay 0", 6.7, 5.9, 7.4)]
    assert contradictions("decay 1 gives younger slates than decay 0 by 6.7 (95% CI [-0.5, 7.4])") != []
    with pytest.raises(ValueError, match="verb='outranks'"):
        verdict(1.0, 0.5, 1.5, verb="outranks")


def test_ratio_of_means_by_hand():
    # num = [1, 2, 3], den = [2, 2, 2]: R = 2 / 2 = 1; terms (num − den) / 2 = [-0.5, 0, 0.5], sd 0.5
    # → half-width 1.959964 · 0.5 / sqrt(3) = 0.565792
    r = ratio([1, 2, 3], [2, 2, 2])
    assert r.n == 3 and r.diff == pytest.approx(1.0)
    assert (r.low, r.high) == pytest.approx((1.0 - 0.565792, 1.0 + 0.565792), abs=1e-6)


def test_paired_ratio_reduces_to_paired_with_unit_denominators():
    a, b, ones = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 3.0, 7.0], [1.0] * 4
    d, p = paired_ratio(a, ones, b, ones), paired(a, b)
    assert (d.diff, d.low, d.high, d.n) == pytest.approx((p.diff, p.low, p.high, p.n))


def test_paired_ratio_by_hand_and_refusals():
    # A: num [1, 1], den [2, 2] → R_a = 0.5, terms 0; B: num [1, 3], den [2, 2] → R_b = 1, terms (num − den)/2 = [-0.5, 0.5]
    # d = [-0.5, 0.5]: mean 0 → difference 0.5 exactly, sd sqrt(0.5) → half 1.959964 · 0.707107 / sqrt(2) = 0.979982
    d = paired_ratio([1, 1], [2, 2], [1, 3], [2, 2])
    assert d.diff == pytest.approx(0.5) and (d.low, d.high) == pytest.approx((0.5 - 0.979982, 0.5 + 0.979982), abs=1e-6)
    with pytest.raises(ValueError, match="mean is 0"):
        ratio([1, 2], [0, 0])
    with pytest.raises(ValueError, match="same users"):
        paired_ratio([1, 2], [1, 1], [1], [1])
