"""Monitoring a living recommender: drift between windows, online metrics per day, alert rules.

- ``drift``: PSI, the two-sample KS statistic and the Jensen–Shannon distance between a
  reference window (a baseline of the same traffic) and a current window, per input feature or score;
  the share of candidates each source contributes.
- ``online``: per-day CTR, conversion, session time, catalogue coverage and exposure Gini
  from the impressions of a day (the last two from `workbench.metrics`).
- ``alerts``: threshold rules from a config dataclass; each alert says when it fired and why.

Everything is computed here with numpy and scipy. Monitoring libraries such as Evidently
and NannyML were tried and break on a fresh install of this project (with pandas 3, or
through a dependency they do not declare), so the workbench does not depend on them.
"""

from workbench.monitoring.alerts import (
    LOOP_RULES, Alert, AlertConfig, AlertRule, alert_timeline, alerts_frame, check_alerts,
)  # fmt: skip
from workbench.monitoring.drift import drift_columns, drift_table, js_distance, ks_statistic, psi, source_shares
from workbench.monitoring.online import daily_metrics

__all__ = [
    "LOOP_RULES", "Alert", "AlertConfig", "AlertRule", "alert_timeline", "alerts_frame", "check_alerts", "daily_metrics", "drift_columns", "drift_table",
    "js_distance",
    "ks_statistic", "psi", "source_shares",
]  # fmt: skip
