"""Does interleaving find the better ranker with fewer users than an A/B test of the same users?

The readings behind notebook 07's JupyterLab panel (`workbench.viz.panel.InterleavingPanel`, which
only displays them): `interleaving_design` runs ``runs`` repeats of one interleaving design
(`workbench.lessons.lab.interleaving_readings`) and of an A/B test with the same users per day and
days (`workbench.lessons.lab.daily_readings`), and reads the first repeat on its last day (wins, ties,
the sign test's p-value, which ranker is significantly preferred) and each design's power by
simulation: the share of repeats that end significant in favour of B, the truly better ranker.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench.lessons.ab_design import RUNS
from workbench.lessons.lab import ALPHA, Lab, daily_readings, interleaving_readings


def interleaving_design(lab: Lab, lift_pct: float, users_per_day: int, days: int, method: str = "team_draft",
                        runs: int = RUNS, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """``(readings, ab, summary)`` for the lab's treatment closest to ``lift_pct``.

    readings: `interleaving_readings` (one row per repeat and day); ab: `daily_readings` of the same design
    as an A/B test. summary: ``true_lift_pct``; the first repeat's last day: ``users``, ``wins_a``,
    ``wins_b``, ``ties``, ``p_value`` and ``preferred`` ("B" or "A" when p < `ALPHA`, the ranker with more
    wins; None otherwise); ``power_interleaving``: the share of repeats ending with p < `ALPHA` and more
    wins for B; ``power_ab``: the share of A/B repeats ending with p < `ALPHA` and a positive estimate.
    """
    sigma = lab.treatment(lift_pct)
    true = lab.effects.set_index("sigma").loc[sigma]
    readings = interleaving_readings(lab, sigma, int(users_per_day), int(days), runs=runs, method=method, seed=seed)
    ab = daily_readings(lab, sigma, int(users_per_day), int(days), runs=runs, seed=seed)
    ends = readings.groupby("run").last()
    ab_ends = ab.groupby("run").last()
    first = ends.iloc[0]
    significant = bool(first["p_value"] < ALPHA)
    summary = {
        "true_lift_pct": float(true["lift_pct"]), "users": int(first["users"]), "wins_a": int(first["wins_a"]),
        "wins_b": int(first["wins_b"]), "ties": int(first["ties"]), "p_value": float(first["p_value"]),
        "preferred": ("B" if first["wins_b"] > first["wins_a"] else "A") if significant else None,
        "power_interleaving": float(((ends["p_value"] < ALPHA) & (ends["wins_b"] > ends["wins_a"])).mean()),
        "power_ab": float(((ab_ends["p_value"] < ALPHA) & (ab_ends["estimate"] > 0)).mean()),
    }  # fmt: skip
    return readings, ab, summary
