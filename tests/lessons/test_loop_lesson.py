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
                          "new_impression_share": [0.0, 0.1, 0.3], "version": ["v0", "v0", "v1"]})  # fmt: skip
    r = lesson.readings(daily, last=2)
    assert r["gini_change"] == pytest.approx(-0.05) and r["new_ever_shown"] == 0.25
    assert r["gini_first_version"] == pytest.approx(-0.1)  # day 2 (the starting model's last) minus day 1
    assert r["new_impression_share"] == pytest.approx(0.2)


def _table(found0, found1, gini0, gini1):
    rows = []
    for seed, (f0, f1, g0, g1) in enumerate(zip(found0, found1, gini0, gini1)):
        rows.append({"seed": seed, "epsilon": 0.0, "gini_change": g0, "gini_first_version": g0 / 2, "new_ever_shown": f0,
                     "new_impression_share": 0.0})  # fmt: skip
        rows.append({"seed": seed, "epsilon": 0.1, "gini_change": g1, "gini_first_version": g1 / 2, "new_ever_shown": f1,
                     "new_impression_share": 0.05})  # fmt: skip
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


def test_the_gini_sentence_names_the_fall_and_where_it_came_from():
    # ε = 0 falls by −0.08, −0.07, −0.09 (mean −0.08); before any retraining −0.04, −0.035, −0.045 (half of it)
    table = _table([0.0, 0.02, 0.01], [0.9, 0.95, 0.92], [-0.08, -0.07, -0.09], [-0.08, -0.07, -0.09])
    said = lesson.verdicts(lesson.summary(table))
    assert said["gini"].startswith("at ε = 0 the exposure Gini fell over the run (-0.0800 [")
    assert "before any retraining it fell (-0.0400 [" in said["gini"] and "the seen filter" in said["gini"]
    # a flat first version: the fall came with the retrainings
    flat = table.assign(gini_first_version=[0.01, -0.01, 0.0, 0.0, -0.01, 0.01])
    assert "so the fall came with the retrainings" in lesson.verdicts(lesson.summary(flat))["gini"]
    rising = _table([0.0, 0.02, 0.01], [0.9, 0.95, 0.92], [0.08, 0.07, 0.09], [0.0, 0.01, -0.01])
    assert lesson.verdicts(lesson.summary(rising))["gini"].startswith("at ε = 0 exposure concentrated")


def test_one_runs_figures_and_sentence():
    a = pd.DataFrame({"exposure_gini": [0.9, 0.95], "new_ever_shown": [np.nan, 0.1]})
    b = pd.DataFrame({"exposure_gini": [0.9, 0.8], "new_ever_shown": [np.nan, 0.75]})
    assert lesson.run_figures(a) == {"days": 2, "gini_first": 0.9, "gini_last": 0.95, "moved": "rose", "new_ever_shown": 0.1}
    text = lesson.run_sentence({"ε = 0": a, "ε = 0.1": b})
    assert "at ε = 0: 0.9000 on day 1, 0.9500 on day 2 (rose)" in text and "0.9000 → 0.8000 (fell)" in text
    assert "ε = 0 had shown 10.0% of the arrived items and ε = 0.1 75.0%" in text
    assert lesson.trend([1.0, 3.0, 1.0]) == "stayed"


def test_switch_days_and_the_item_exploration_found():
    assert lesson.switch_days(pd.Series(["a", "a", "b", "b", "c"])) == [2, 4]
    tot0 = pd.DataFrame({"impressions": [0, 5, 0, 0], "clicks": [0, 1, 0, 0]}, index=["n1", "n2", "n3", "old"])
    tot1 = pd.DataFrame({"impressions": [9, 3, 4, 50], "clicks": [2, 3, 2, 9]}, index=["n1", "n2", "n3", "old"])
    # n2 was shown without exploration; of n1 and n3 (2 clicks each), n1 had more impressions
    assert lesson.found_by_exploration(tot0, tot1, ["n1", "n2", "n3"]) == "n1"
    assert lesson.found_by_exploration(tot0, tot1.assign(clicks=[0, 3, 0, 9]), ["n1", "n2", "n3"]) is None


def test_monitoring_readings_and_sentence():
    from workbench.monitoring import Alert

    daily = pd.DataFrame({"ctr": [0.2, 0.19, 0.15], "psi:score": [np.nan, 0.01, 0.5]})
    alerts = [Alert("feature drift (PSI)", "psi:score", ("A", 2), 0.5, 0.2, "psi:score = 0.5, above the threshold 0.2"),
              Alert("CTR drop", "ctr", ("A", 2), -0.2, -0.1, "ctr = -20.0%, below the threshold -10.0%"),
              Alert("feature drift (PSI)", "psi:score", ("A", 3), 0.01, 0.2, "back", "resolved")]  # fmt: skip
    m = lesson.monitoring_readings(daily, alerts)
    assert (m["fired"], m["resolved"], m["no_baseline_days"], m["days"]) == (2, 1, 1, 3)
    assert m["first"] is alerts[0] and m["ctr_alert"] is alerts[1]
    text = lesson.monitoring_sentence(m, "ε = 0")
    assert text.startswith("At ε = 0, 2 alerts fired and 1 resolved (1 day, each the first of a version")
    assert "CTR went from 0.2000 on day 1 to 0.1500 on day 3 (-25.0%)" in text and "the CTR rule fired on day 3" in text
    assert lesson.last_week(daily.assign(exposure_gini=[0.1, 0.2, 0.4]), 2) == pytest.approx({"gini": 0.3, "ctr": 0.17})


def test_seed_study_in_two_processes_is_the_study_in_one(model_store, tiny_pipeline_toml):
    """The seeds spread over processes: every reading the same, row for row (each loop is seeded by its settings)."""
    from workbench.loop import LoopConfig

    config = LoopConfig(small=True, days=4, retrain_every=2, features="memory", arrivals_per_day=2, arrival_days=4)
    one = lesson.seed_study(config, [0, 1], (0.0, 0.5), pipeline_config=tiny_pipeline_toml)
    said = []
    two = lesson.seed_study(config, [0, 1], (0.0, 0.5), pipeline_config=tiny_pipeline_toml, workers=2, progress=said.append)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert one[["seed", "epsilon"]].values.tolist() == [[0, 0.0], [0, 0.5], [1, 0.0], [1, 0.5]]
    assert one["new_ever_shown"].between(0, 1).all() and one["new_ever_shown"].nunique() > 1  # readings, not a constant
    assert said[0] == "2 seeds in 2 processes at once" and {s.split(" done")[0] for s in said[1:]} == {"seed 0", "seed 1"}
    with pytest.raises(ValueError, match=r"workers=0: expected a positive integer"):
        lesson.seed_study(config, [0, 1], (0.0,), workers=0)
