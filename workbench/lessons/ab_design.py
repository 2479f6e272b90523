"""What does one A/B test design read, and how often does it find the true lift?

The readings behind notebook 06's JupyterLab panel (`workbench.viz.panel.ABPanel`, which only
displays them): `ab_design` runs ``runs`` repeats of the same design (`workbench.lessons.lab.daily_readings`)
and reads the first repeat on its last day (estimate, 95% interval, p-value), the share of repeats that
end significant (the design's power, by simulation), the users per arm it has and the users per arm
`workbench.experiment.stats.sample_size_means` says it needs for `POWER`; `power_curves` gives the
formula's power against users per arm, one curve per true lift of the lab.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.experiment.stats import power_curve, sample_size_means
from workbench.lessons.lab import ALPHA, SPLIT, Lab, daily_readings

POWER = 0.8  # the power an A/B test is planned for
RUNS = 12  # repeats of one experiment design: the spread of its p-values, its power by simulation
CURVE_USERS = (20, 200_000)  # the range of users per arm the power curves span (log-spaced)


def ab_design(lab: Lab, lift_pct: float, users_per_day: int, days: int, runs: int = RUNS, seed: int = 0,
              power: float = POWER) -> tuple[pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """``(readings, summary)`` of ``runs`` repeats of an A/B test of the lab's treatment closest to ``lift_pct``
    with ``users_per_day`` new users a day for ``days`` days.

    readings: `daily_readings` (one row per repeat and day). summary: ``true_lift_pct``; the first repeat's
    last-day ``estimate_pct`` with ``low_pct``/``high_pct`` (95%), ``p_value``, ``users`` and ``significant``
    (p < `ALPHA`); ``power_simulated``, the share of repeats whose last-day p-value is below `ALPHA`;
    ``users_per_arm`` (arm A's share `SPLIT` of every user) and ``users_per_arm_needed`` for ``power``
    (NaN when the true lift is 0: an A/A test, where any significant result is a false positive).
    """
    sigma = lab.treatment(lift_pct)
    true = lab.effects.set_index("sigma").loc[sigma]
    readings = daily_readings(lab, sigma, int(users_per_day), int(days), runs=runs, seed=seed)
    last = readings[readings["run"] == 0].iloc[-1]
    ends = readings.groupby("run")["p_value"].last()
    needed = (sample_size_means(true["mde"], true["sd_a"], alpha=ALPHA, power=power, sd_b=true["sd_b"])
              if true["mde"] > 0 else float("nan"))  # fmt: skip
    summary = {"true_lift_pct": float(true["lift_pct"]), "estimate_pct": float(last["estimate"]),
               "low_pct": float(last["low"]), "high_pct": float(last["high"]), "p_value": float(last["p_value"]),
               "significant": bool(last["p_value"] < ALPHA), "users": int(last["users"]),
               "power_simulated": float((ends < ALPHA).mean()),
               "users_per_arm": int(users_per_day) * int(days) * SPLIT[0], "users_per_arm_needed": needed}  # fmt: skip
    return readings, summary


def power_curves(lab: Lab, points: int = 40) -> pd.DataFrame:
    """The formula's power (`power_curve`, at `ALPHA`) against users per arm, ``points`` log-spaced counts over
    `CURVE_USERS`, one curve per treatment of non-zero true lift (column ``lift (%)``)."""
    grid = np.unique(np.geomspace(*CURVE_USERS, points).astype(int))
    return pd.concat([power_curve(grid, r.mde, sd=r.sd_a, alpha=ALPHA).assign(**{"lift (%)": round(r.lift_pct, 1)})
                      for r in lab.effects.itertuples() if r.mde > 0], ignore_index=True)  # fmt: skip
