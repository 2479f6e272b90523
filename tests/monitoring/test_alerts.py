"""Alert rules: when they fire, why, and that every config field changes the outcome."""

import numpy as np
import pandas as pd
import pytest

from workbench.monitoring import AlertConfig, AlertRule, alert_timeline, alerts_frame, check_alerts

TABLE = pd.DataFrame({
    "day": [1, 2, 3, 4, 5, 6],
    "ctr": [0.10, 0.10, 0.10, 0.095, 0.085, 0.080],
    "psi:score": [0.05, 0.10, 0.30, 0.40, 0.10, 0.25],
    "psi:age": [0.0, 0.0, 0.0, 0.0, 0.0, 0.5],
})  # fmt: skip


def test_absolute_rule_fires_at_each_onset_with_its_reason():
    cfg = AlertConfig(rules=(AlertRule("psi:score", above=0.2),))
    alerts = check_alerts(TABLE, cfg)
    assert [a.when for a in alerts] == [3, 6]  # day 4 continues the breach that began on day 3
    assert alerts[0].value == 0.30 and alerts[0].threshold == 0.2
    assert alerts[0].reason == "psi:score = 0.3, above the threshold 0.2"
    repeat = check_alerts(TABLE, AlertConfig(rules=cfg.rules, repeat=True))
    assert [a.when for a in repeat] == [3, 4, 6]


def test_patterns_match_every_column_and_alerts_come_in_time_order():
    alerts = check_alerts(TABLE, AlertConfig(rules=(AlertRule("psi:*", above=0.2, name="drift"),)))
    # by day, then rule, then the table's column order
    assert [(a.when, a.metric) for a in alerts] == [(3, "psi:score"), (6, "psi:score"), (6, "psi:age")]
    frame = alerts_frame(alerts)
    assert list(frame.columns) == ["when", "rule", "metric", "state", "value", "threshold", "reason"] and len(frame) == 3


def test_relative_rule_against_the_baseline_and_its_window():
    rule = AlertRule("ctr", below=-0.1, relative=True, name="CTR drop")
    [alert] = check_alerts(TABLE, AlertConfig(rules=(rule,), baseline_days=3))
    assert alert.when == 5 and alert.value == pytest.approx(-0.15)
    assert "ctr = -15.0% against its baseline 0.1 (mean of the first 3 rows), below the threshold -10.0%" in alert.reason
    # a baseline of the first 4 days (mean 0.09875) moves the change on day 5 to −13.9%
    [alert4] = check_alerts(TABLE, AlertConfig(rules=(rule,), baseline_days=4))
    assert alert4.value == pytest.approx(0.085 / 0.09875 - 1)
    assert check_alerts(TABLE, AlertConfig(rules=(AlertRule("ctr", below=-0.25, relative=True),))) == []


def test_default_rules_and_config_from_a_toml_table():
    table = TABLE.assign(**{"ks:score": 0.0, "coverage": 0.5, "exposure_gini": 0.4})
    assert {a.rule for a in check_alerts(table)} == {"feature drift (PSI)", "CTR drop"}
    cfg = AlertConfig.from_dict({"baseline_days": 2, "rules": [{"metric": "ctr", "below": 0.09}]})
    assert cfg.baseline_days == 2 and [a.when for a in check_alerts(TABLE, cfg)] == [5]


def test_bad_rules_and_tables():
    with pytest.raises(ValueError, match="expected a threshold"):
        AlertRule("ctr")
    with pytest.raises(ValueError, match="no column matches 'latency'"):
        check_alerts(TABLE, AlertConfig(rules=(AlertRule("latency", above=1.0),)))
    with pytest.raises(ValueError, match="no 'day' column"):
        check_alerts(TABLE.drop(columns="day"))
    with pytest.raises(ValueError, match=r"window: unknown alert setting\(s\) \[.window.\]"):
        AlertConfig.from_dict({"window": 3})
    with pytest.raises(ValueError, match=r"rules\[0\]\.over: unknown setting\(s\) \[.over.\]; expected some of \[.above., .below., .metric."):
        AlertConfig.from_dict({"rules": [{"metric": "ctr", "over": 1}]})
    with pytest.raises(ValueError, match="non-zero baseline"):
        check_alerts(TABLE.assign(ctr=0.0), AlertConfig(rules=(AlertRule("ctr", below=-0.1, relative=True),)))


def test_an_alert_fires_resolves_and_fires_again():
    # psi:score breaches on days 3-4 and 6 (above 0.2): firing on 3, resolved on 5 (0.10), firing again on 6
    timeline = alert_timeline(TABLE, AlertConfig(rules=(AlertRule("psi:score", above=0.2),)))
    assert [(a.when, a.state) for a in timeline] == [(3, "firing"), (5, "resolved"), (6, "firing")]
    assert timeline[1].reason == "psi:score = 0.1, back within the threshold"
    assert [a.when for a in check_alerts(TABLE, AlertConfig(rules=(AlertRule("psi:score", above=0.2),)))] == [3, 6]


def test_a_later_drift_is_reported_after_an_earlier_one_ended():
    table = pd.DataFrame({"day": range(1, 31), "psi:x": [0.5, 0.5] + [0.01] * 12 + [0.6] * 16})
    timeline = alert_timeline(table, AlertConfig(rules=(AlertRule("psi:*", above=0.2),)))
    assert [(a.when, a.state) for a in timeline] == [(1, "firing"), (3, "resolved"), (15, "firing")]


def test_for_days_waits_for_a_lasting_breach_and_nan_is_no_breach():
    table = pd.DataFrame({"day": range(1, 9), "psi:x": [float("nan"), 0.3, 0.1, 0.3, 0.3, 0.3, float("nan"), 0.3]})
    rule = (AlertRule("psi:x", above=0.2),)
    # one day in a row is enough by default: days 2, 4 (and 8, after the NaN on day 7 ended the breach)
    assert [(a.when, a.state) for a in alert_timeline(table, AlertConfig(rules=rule))] == [
        (2, "firing"), (3, "resolved"), (4, "firing"), (7, "resolved"), (8, "firing")]
    # for_days=2: the single-day breach on day 2 never fires; days 4-5 fire on day 5
    assert [(a.when, a.state) for a in alert_timeline(table, AlertConfig(rules=rule, for_days=2))] == [
        (5, "firing"), (7, "resolved")]
    assert [a.when for a in check_alerts(table, AlertConfig(rules=rule, for_days=2, repeat=True))] == [5, 6]
    with pytest.raises(ValueError, match="for_days=0: expected an integer >= 1"):
        AlertConfig(for_days=0)
    assert AlertConfig.from_dict({"for_days": 3}).for_days == 3


def test_a_rolling_baseline_compares_each_row_with_the_rows_before():
    # ctr 0.10, 0.10, 0.10, 0.095, 0.085, 0.080: against the previous 2 rows, day 5 is 0.085 / 0.0975 − 1 = −12.8%,
    # day 6 is 0.080 / 0.090 − 1 = −11.1%: one breach from day 5 on (the fixed baseline of 0.1 gives the same days);
    # a slow fall of 2% a day never breaches against the previous rows, while the fixed baseline fires on day 7
    rule = AlertRule("ctr", below=-0.1, relative=True, name="CTR drop")
    [alert] = check_alerts(TABLE, AlertConfig(rules=(rule,), baseline_window=2))
    assert alert.when == 5 and alert.value == pytest.approx(0.085 / 0.0975 - 1)
    assert "against its baseline 0.0975 (mean of the previous 2 rows)" in alert.reason
    slow = pd.DataFrame({"day": range(1, 9), "ctr": 0.1 * 0.98 ** np.arange(8)})
    assert check_alerts(slow, AlertConfig(rules=(rule,), baseline_window=2)) == []
    assert [a.when for a in check_alerts(slow, AlertConfig(rules=(rule,), baseline_days=1))] == [7]
    with pytest.raises(ValueError, match="baseline_window=-1"):
        AlertConfig(baseline_window=-1)
    assert AlertConfig.from_dict({"baseline_window": 3}).baseline_window == 3
