"""The Open Bandit protocol on the real logs of notebook 10's last section (and its benchmark).

Saito et al. (2021), "Open Bandit Dataset and Pipeline": estimate the value (click rate) of the
Bernoulli-Thompson-sampling policy (BTS) from the uniform-random policy's log with every estimator,
and compare with BTS's own on-policy click rate, measured on the log BTS collected itself. Both logs
are independent samples, so the difference between an estimate and the on-policy mean has standard
error ``sqrt(se_estimate² + se_on_policy²)``; its interval decides "detectable" or not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.experiment import real_logs as rl


def obd_protocol(campaign: str = "all", alpha: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Random → BTS on one OBD campaign: the estimates, the on-policy mean and what decides the widths."""
    log = rl.read_obd("random", campaign)
    bts = rl.read_obd("bts", campaign)
    dist = rl.target_policy("bts", log, seed=seed)
    table = rl.estimate(log, dist, alpha=alpha, seed=seed)
    mean, lo, hi = bts.on_policy(alpha)
    se_on = (hi - lo) / 2 / float(stats.norm.ppf(1 - alpha / 2))
    z = float(stats.norm.ppf(1 - alpha / 2))
    diff = table["value"] - mean
    se_diff = np.sqrt(table["se"] ** 2 + se_on**2)
    table = table.assign(
        covers=(table["ci_low"] <= mean) & (mean <= table["ci_high"]),
        diff=diff, diff_low=diff - z * se_diff, diff_high=diff + z * se_diff,
    )  # fmt: skip
    table["verdict"] = np.where((table["diff_low"] <= 0) & (0 <= table["diff_high"]), "no detectable difference",
                                np.where(diff > 0, "above the on-policy mean", "below the on-policy mean"))  # fmt: skip
    ips = table.set_index("estimator").loc["IPS"]
    # rounds for an IPS interval of ±10% of its value, at the same per-round spread (se ∝ 1/√n)
    needed = int(np.ceil(log.n * (z * ips["se"] / (0.1 * ips["value"])) ** 2)) if ips["value"] > 0 else None
    return {
        "campaign": campaign, "table": table, "on_policy": (mean, lo, hi), "n_random": log.n, "n_bts": bts.n,
        "clicks_random": int(log.reward.sum()), "clicks_bts": int(bts.reward.sum()),
        "random_rate": float(log.reward.mean()), "n_actions": log.n_actions, "len_list": log.len_list,
        "max_weight": table.attrs["max_weight"], "ess": float(ips["ess"]), "rounds_for_10pct": needed,
        "unsupported": rl.unsupported_share(log, dist), "alpha": alpha,
    }  # fmt: skip


def chart_text(result: dict[str, Any]) -> dict[str, str]:
    """Title and reading of the page's `workbench.viz.charts.estimate_intervals_chart` of ``result``."""
    mean, lo, hi = result["on_policy"]
    ips = result["table"].set_index("estimator").loc["IPS"]
    return {
        "title": f"BTS's click rate estimated from {result['n_random']:,} random rounds, against its own log",
        "reading": f"IPS {ips['value']:.4f} [{ips['ci_low']:.4f}, {ips['ci_high']:.4f}]; green band: BTS's on-policy "
                   f"{mean:.4f} [{lo:.4f}, {hi:.4f}] from {result['n_bts']:,} rounds",
        "x_title": "estimator (on the random policy's log)",
        "y_title": "click rate of BTS (clicks per round)",
    }  # fmt: skip


def difference_text(estimator: str, row: pd.Series, decimals: int = 4) -> str:
    """One estimator's difference from the on-policy rate, worded as the pages word verdicts
    ("no detectable difference ... (95% CI [lo, hi] covers 0)" when the interval covers 0)."""
    d, lo, hi = row["diff"], row["diff_low"], row["diff_high"]
    while decimals < 12 and any(v != 0 and round(v, decimals) == 0 for v in (d, lo, hi)):
        decimals += 1  # a bound that is not 0 never prints as 0
    ci = f"(95% CI [{lo:+.{decimals}f}, {hi:+.{decimals}f}]"
    if lo <= 0 <= hi:
        return f"{estimator}: no detectable difference from BTS's on-policy rate, {d:+.{decimals}f} {ci} covers 0)"
    side = "above" if d > 0 else "below"
    return f"{estimator}: {abs(d):.{decimals}f} {side} BTS's on-policy rate {ci})"


def results_table(result: dict[str, Any]) -> pd.DataFrame:
    """The table a page and RESULTS.md show: estimate, interval, difference from the on-policy mean."""
    t = result["table"]
    return pd.DataFrame({
        "estimator": t["estimator"], "estimate": t["value"], "ci_low": t["ci_low"], "ci_high": t["ci_high"],
        "covers on-policy": t["covers"], "minus on-policy": t["diff"], "diff_low": t["diff_low"],
        "diff_high": t["diff_high"], "verdict": t["verdict"], "ESS": t["ess"].round(0),
    })  # fmt: skip
