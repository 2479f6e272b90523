"""Alert rules over a monitored table (one row per day): thresholds from a config dataclass.

A rule names a column (or an ``fnmatch`` pattern such as ``"psi:*"``, one alert per
matching column) and a threshold: the value must stay ``≤ above`` and ``≥ below``. With
``relative=True`` the value compared is the relative change against the baseline, the mean
of the first ``baseline_days`` rows (so ``below=-0.1`` reads "CTR fell more than 10%"), or with
``baseline_window = N`` the mean of the previous N rows (rolling: a slow trend is no breach, a sudden
change is; the first row has no baseline and cannot breach).
Each (rule, column) is an alert with states, as an on-call pager shows them: it **fires** once
the value has breached for ``for_days`` days in a row (1: on the first breaching day), stays
firing while the breach lasts, is **resolved** on the first day without a breach, and fires
**again** at the next breach, so a later drift is reported even after an earlier one.
`check_alerts` returns the firings (each records the day, the value, the threshold and a
sentence saying why; ``repeat=True``: every breaching day while firing); `alert_timeline`
returns the firings and the resolutions, each with its ``state``. A missing value (NaN: e.g.
a drift figure inside its reference window) is no breach. Alerts come by day, then in rule
order, then in the table's column order.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.settings import check_fields, load


@dataclass(frozen=True)
class AlertRule:
    """``metric`` (column or pattern) must stay ≤ ``above`` and ≥ ``below``."""

    metric: str
    above: float | None = None
    below: float | None = None
    relative: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        if self.above is None and self.below is None:
            raise ValueError(f"AlertRule({self.metric!r}): expected a threshold, above= or below=")
        if self.above is not None and self.below is not None and self.below > self.above:
            raise ValueError(f"AlertRule({self.metric!r}): below={self.below} exceeds above={self.above}; no value passes")

    @property
    def label(self) -> str:
        return self.name or self.metric


DEFAULT_RULES = (
    AlertRule("psi:*", above=0.2, name="feature drift (PSI)"),
    AlertRule("ks:*", above=0.1, name="feature drift (KS)"),
    AlertRule("ctr", below=-0.1, relative=True, name="CTR drop"),
    AlertRule("coverage", below=-0.2, relative=True, name="coverage drop"),
    AlertRule("exposure_gini", above=0.1, relative=True, name="exposure concentrating"),
)


# The feedback loop's rules (`workbench.loop.LoopConfig.alerts`, configs/loop.toml), tuned on seeds 0-1 of the small world's
# stable and shifted runs and measured on other seeds by benchmarks/bench_loop.py --sections monitoring (RESULTS.md):
# the served items' popularity and age move by a PSI of about 0.01-0.04 (KS up to 0.09) from one day to the next on a
# stable world and by 0.06-0.14 (KS 0.11-0.15) on the day of an injected shift; the scores shown by up to 0.06 (KS 0.12)
# against 0.44-0.48 (KS 0.30). CTR and coverage are compared with their previous 3 days (baseline_window): a stable small
# world's daily CTR falls up to 16% below its previous 3 days by chance (about 250 clicks a day), hence −20% (a pushed
# ranker with negated scores, `workbench.loop.incidents`, takes it 21-24% below them on seeds 0-1, but only 5-26% on seeds
# 5-8, where the rule misses it and fires falsely 1.25 times per 30 days: RESULTS.md). The served items' age
# has its own PSI threshold: the ε push moves it less than their popularity (0.061-0.092 on seeds 0-1 against a stable
# 0.021-0.025), so 0.04 rather than popularity's 0.05 (RESULTS.md, "the feedback loop's incidents").
LOOP_RULES = (
    AlertRule("psi:item_popularity", above=0.05, name="served items drift (PSI)"),
    AlertRule("psi:item_age_days", above=0.04, name="served items drift (PSI)"),
    AlertRule("ks:item_*", above=0.08, name="served items drift (KS)"),
    AlertRule("psi:score", above=0.2, name="score drift (PSI)"),
    AlertRule("ks:score", above=0.15, name="score drift (KS)"),
    AlertRule("ctr", below=-0.2, relative=True, name="CTR drop"),
    AlertRule("coverage", below=-0.2, relative=True, name="coverage drop"),
    AlertRule("exposure_gini", above=0.1, relative=True, name="exposure concentrating"),
)


@dataclass(frozen=True)
class AlertConfig:
    """The rules, the baseline for relative rules (the first ``baseline_days`` rows, or with ``baseline_window = N``
    the previous N rows), and whether a lasting breach re-fires daily."""

    rules: tuple[AlertRule, ...] = DEFAULT_RULES
    baseline_days: int = 3
    repeat: bool = False
    for_days: int = 1
    baseline_window: int = 0

    def __post_init__(self) -> None:
        check_fields(self)  # types, as a file's values are checked (workbench.settings)
        if self.for_days < 1:
            raise ValueError(f"AlertConfig.for_days={self.for_days!r}: expected an integer >= 1 (days a breach lasts "
                             "before the alert fires)")  # fmt: skip
        if self.baseline_window < 0:
            raise ValueError(f"AlertConfig.baseline_window={self.baseline_window!r}: expected an integer >= 0 (0: the first "
                             "baseline_days rows; N: the previous N rows)")  # fmt: skip
        if self.baseline_days < 1:
            raise ValueError(f"AlertConfig.baseline_days={self.baseline_days!r}: expected >= 1")
        if not self.rules:
            raise ValueError("AlertConfig.rules is empty: expected at least one rule")

    @classmethod
    def from_dict(cls, raw: Mapping, source: str = "alert settings", prefix: str = "") -> AlertConfig:
        """From a TOML-style table: ``{"baseline_days": 3, "rules": [{"metric": "ctr", "below": -0.1, "relative": true}]}``,
        read strictly (`workbench.settings.load`: unknown keys and wrong types refused, naming the dotted key)."""
        return load(cls, raw, source, prefix, "alert setting(s)")


@dataclass(frozen=True)
class Alert:
    """A rule's alert changing state: ``when`` (the row's day), the metric column, its value, the threshold, why,
    and the ``state`` it entered: "firing" or "resolved"."""

    rule: str
    metric: str
    when: object
    value: float
    threshold: float
    reason: str
    state: str = "firing"


def check_alerts(table: pd.DataFrame, config: AlertConfig | None = None, when: str = "day") -> list[Alert]:
    """Apply ``config``'s rules to ``table`` (rows in time order, a ``when`` column); the firings in time order."""
    return [a for a in alert_timeline(table, config, when) if a.state == "firing"]


def _states(breach: np.ndarray, for_days: int, repeat: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(fire, resolve)`` bool arrays: the days an alert fires (after ``for_days`` breaching days in a row; with
    ``repeat`` every such day) and the days it resolves (the first day without a breach after firing)."""
    run = np.zeros(len(breach), np.int64)  # breaching days in a row, up to each day
    for i, b in enumerate(breach):  # one pass over the days of one column (days, not items)
        run[i] = run[i - 1] + 1 if b and i else int(b)
    active = run >= for_days
    fire = active if repeat else active & (run == for_days)
    resolve = ~breach & np.r_[False, active[:-1]]
    return fire, resolve


def alert_timeline(table: pd.DataFrame, config: AlertConfig | None = None, when: str = "day") -> list[Alert]:
    """Every state change of ``config``'s alerts over ``table``: firings and resolutions (`Alert.state`), in time order."""
    config = config or AlertConfig()
    if when not in table.columns:
        raise ValueError(f"the table has no {when!r} column (columns: {list(table.columns)})")
    columns = [c for c in table.columns if c != when]
    found = []
    for rule in config.rules:
        matched = fnmatch.filter(columns, rule.metric)
        if not matched:
            raise ValueError(f"alert rule {rule.label!r}: no column matches {rule.metric!r} (columns: {columns})")
        for col in matched:
            raw = table[col].to_numpy(dtype=np.float64)
            rolling = rule.relative and config.baseline_window > 0
            if rolling:  # each row against the mean of the previous baseline_window rows (NaN on the first: no breach)
                bases = pd.Series(raw).shift(1).rolling(config.baseline_window, min_periods=1).mean().to_numpy()
                bases = np.where(bases == 0, np.nan, bases)
                base = np.nan
            else:
                base = float(np.nanmean(raw[: config.baseline_days])) if rule.relative else 0.0
                bases = np.full(len(raw), base)
            if rule.relative and not rolling and (not np.isfinite(base) or base == 0):
                raise ValueError(f"alert rule {rule.label!r}: the baseline of {col!r} is {base}; a relative rule needs "
                                 "a finite, non-zero baseline")  # fmt: skip
            value = raw / bases - 1.0 if rule.relative else raw
            high = value > rule.above if rule.above is not None else np.zeros(len(value), dtype=bool)
            low = value < rule.below if rule.below is not None else np.zeros(len(value), dtype=bool)
            breach = high | low
            fire, resolve = _states(breach, config.for_days, config.repeat)
            for i in np.flatnonzero(resolve):
                stamp = table[when].iloc[i]
                stamp = stamp.item() if hasattr(stamp, "item") else stamp
                limit = rule.above if rule.above is not None else rule.below
                found.append((i, Alert(rule.label, col, stamp, float(value[i]), float(limit),
                                       f"{col} = {value[i]:.4g}, back within the threshold", "resolved")))  # fmt: skip
            for i in np.flatnonzero(fire):
                threshold = rule.above if high[i] else rule.below
                if rule.relative:
                    window = (f"the previous {config.baseline_window} rows" if rolling
                              else f"the first {config.baseline_days} rows")  # fmt: skip
                    shown = f"{value[i]:+.1%} against its baseline {bases[i]:.4g} (mean of {window})"
                    limit = f"{threshold:+.1%}"
                else:
                    shown, limit = f"{value[i]:.4g}", f"{threshold:g}"
                reason = f"{col} = {shown}, {'above' if high[i] else 'below'} the threshold {limit}"
                stamp = table[when].iloc[i]
                stamp = stamp.item() if hasattr(stamp, "item") else stamp
                found.append((i, Alert(rule.label, col, stamp, float(value[i]), float(threshold), reason)))
    return [a for _, a in sorted(found, key=lambda pair: pair[0])]


def alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """The alerts as a table (one row each), for display."""
    cols = ["when", "rule", "metric", "state", "value", "threshold", "reason"]
    return pd.DataFrame([{c: getattr(a, c) for c in cols} for a in alerts], columns=cols)
