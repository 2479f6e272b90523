"""Notebook 09's readings: the Student-t interval worked by hand, the summary pairs seeds, and the verdicts say
"no detectable" exactly when an interval covers zero."""

import numpy as np
import pandas as pd
import pytest

from workbench.lessons import loop as lesson


def test_interval_is_the_student_t_interval_by_hand():
    # values 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446305284263
    mean, low, high = lesson.interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * np.sqrt(5 / 3) / 2
    assert mean == 2.5 and low == pytest.approx(2.5 - half) and high == pytest.approx(2.5 + half)
    assert lesson.interval([0.3]) == (0.3, 0.3, 0.3)


def test_readings_from_a_daily_table():
    daily = pd.DataFrame({"exposure_gini": [0.9, 0.8, 0.85], "new_ever_shown": [np.nan, 0.5, 0.25],
                          "new_impression_share": [0.0, 0.1, 0.3]})  # fmt: skip
    r = lesson.readings(daily, last=2)
    assert r["gini_change"] == pytest.approx(-0.05) and r["new_ever_shown"] == 0.25
    assert r["new_impression_share"] == pytest.approx(0.2)


def _table(found0, found1, gini0, gini1):
    rows = []
    for seed, (f0, f1, g0, g1) in enumerate(zip(found0, found1, gini0, gini1)):
        rows.append({"seed": seed, "epsilon": 0.0, "gini_change": g0, "new_ever_shown": f0, "new_impression_share": 0.0})
        rows.append({"seed": seed, "epsilon": 0.1, "gini_change": g1, "new_ever_shown": f1, "new_impression_share": 0.05})
    return pd.DataFrame(rows)


def test_summary_pairs_by_seed_and_verdicts_follow_the_intervals():
    table = _table([0.0, 0.0, 0.1], [0.9, 0.8, 1.0], [0.01, 0.02, 0.015], [-0.01, 0.02, 0.0])
    summ = lesson.summary(table).set_index("reading")
    diff = np.array([0.9, 0.8, 0.9])  # paired differences of new_ever_shown
    mean, low, _ = lesson.interval(diff)
    assert summ.loc["new_ever_shown", "difference"] == pytest.approx(mean)
    assert summ.loc["new_ever_shown", "difference low"] == pytest.approx(low)
    said = lesson.verdicts(summ.reset_index())
    assert said["ε=0"].startswith("at ε = 0, the exposure Gini rose over the run (+0.0150")
    assert said["ε=0.1"].startswith("at ε = 0.1, the exposure Gini showed no detectable change")
    assert said["difference"].startswith("exploration showed more of the new items than no exploration: +86.7%")
    assert said["heading"] == "Without exploration, new items are never found"


def test_no_detectable_difference_when_the_interval_covers_zero():
    table = _table([0.5, 0.2, 0.4], [0.3, 0.5, 0.35], [0.0, 0.01, -0.01], [0.0, 0.01, -0.01])
    said = lesson.verdicts(lesson.summary(table))
    assert said["difference"].startswith("no detectable difference in the share of new items shown")
    assert said["heading"] == "The feedback loop, with and without exploration: no detectable amplification here"
