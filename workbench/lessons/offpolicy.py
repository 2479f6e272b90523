"""Notebook 10's back-end: off-policy evaluation on the simulator, studied over many logs.

The set-up (`workbench.experiment.ope.lab.OffPolicyLab`): each user's ``CANDIDATES``
candidates in the order of a noisy ranker (``LOGGER_SIGMA``); the logger shows that ranker's
top ``K`` except, with probability ε per impression, a uniformly random slate of candidates.
The target is a better ranker (``TARGET_SIGMA``) over the same candidates, without
exploration. Every study draws ``reps`` independent logs and compares each estimate with the
target's exact value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.experiment.ope.estimators import (
    clipped_ips,
    direct_method,
    doubly_robust,
    ips,
    pseudo_inverse,
    slate_gram_pinv,
    sn_doubly_robust,
    snips,
)
from workbench.experiment.ope.evaluation import estimator_inputs
from workbench.experiment.ope.lab import OffPolicyLab, decision_sizes, offpolicy_lab

K = 10
CANDIDATES = 20
LOGGER_SIGMA = 2.0
TARGET_SIGMA = 1.0
EPSILONS = (0.02, 0.05, 0.1, 0.2, 0.5)
CLIPS = (2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)
ESTIMATORS = ("IPS", "SNIPS", "DM", "DR", "SNDR", "PI")


def make_lab(ds: Dataset, seed: int = 0) -> OffPolicyLab:
    """The lesson's lab on ``ds``'s world (synthetic truth or the MovieLens oracle)."""
    return offpolicy_lab(ds, k=K, n_candidates=CANDIDATES, logger_sigma=LOGGER_SIGMA, seed=seed)


def study(lab: OffPolicyLab, epsilons=EPSILONS, n_impressions: int = 20_000, reps: int = 40, seed: int = 0,
          target_sigma: float = TARGET_SIGMA, clips=CLIPS, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """``reps`` logs of ``n_impressions`` at each logger ε, every estimator of the target on each.

    DM/DR/SNDR use one reward model per ε, fitted on a separate log of the same size (so the
    model never saw the log it corrects: cross-fitting, and one fit instead of ``reps``).

    Returns ``(estimates, clipped)``: one row per (epsilon, rep, estimator) with ``value``,
    ``se``, ``ci_low``, ``ci_high``, ``ess``, ``truth``, ``error``, ``covered``; and one row per
    (epsilon, rep, clip) with clipped IPS's ``value`` and ``error`` (the same logs).
    """
    target = lab.policy(target_sigma, 0.0)
    truth = lab.truth(target)
    feats = lab.features()
    rng = np.random.default_rng(seed)
    rows, clipped = [], []
    for eps in epsilons:
        logger = lab.policy(epsilon=eps)
        g_pinv = slate_gram_pinv(logger.gram())
        model = estimator_inputs(lab.log(logger, n_impressions, rng), target, feats)["reward_model"]
        for rep in range(reps):
            log = lab.log(logger, n_impressions, rng)
            x = estimator_inputs(log, target, feats, model)
            r, p, t = log.clicks, log.pscore, x["target_pscore"]
            found = [ips(r, p, t, alpha=alpha), snips(r, p, t, alpha=alpha),
                     direct_method(x["q_target"], alpha=alpha),
                     doubly_robust(r, p, t, x["q_logged"], x["q_target"], alpha=alpha),
                     sn_doubly_robust(r, p, t, x["q_logged"], x["q_target"], alpha=alpha),
                     pseudo_inverse(r.sum(axis=1), log.slates, x["users"], x["marginals"], g_pinv, alpha=alpha)]  # fmt: skip
            rows += [{"epsilon": eps, "rep": rep, **e.to_dict()} for e in found]
            clipped += [{"epsilon": eps, "rep": rep, "clip": c, "value": clipped_ips(r, p, t, c).value} for c in clips]
    out, clip_frame = pd.DataFrame(rows), pd.DataFrame(clipped)
    for frame in (out, clip_frame):
        frame["truth"] = truth
        frame["error"] = frame["value"] - truth
    out["covered"] = (out["ci_low"] <= truth) & (truth <= out["ci_high"])
    return out, clip_frame


def summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group: ``bias`` (mean error), ``sd`` (of the estimates), ``rmse`` and, where the frame has
    intervals, ``coverage`` (share of intervals holding the truth) and the median ``ess``."""
    g = frame.groupby(by, sort=False)
    out = pd.DataFrame({"bias": g["error"].mean(), "sd": g["value"].std(ddof=1),
                        "rmse": g["error"].apply(lambda e: float(np.sqrt(np.mean(e**2))))})  # fmt: skip
    if "covered" in frame:
        out["coverage"] = g["covered"].mean()
        out["ess"] = g["ess"].median()
    return out.reset_index()


def sizes(lab: OffPolicyLab, epsilons=EPSILONS, pilot: int = 50_000, seed: int = 0,
          target_sigma: float = TARGET_SIGMA, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:  # fmt: skip
    """`workbench.experiment.ope.lab.decision_sizes` at each logger ε: one row per ε."""
    return pd.DataFrame([decision_sizes(lab, e, target_sigma, pilot, seed, alpha, power) for e in epsilons])


def coverage_reading(rows: pd.DataFrame, alpha: float = 0.05) -> dict:
    """How often one estimator's intervals held the truth over independent logs, with the 95% Wilson
    interval of that share, and how the misses fell. ``rows``: one row per log (``value``, ``ci_low``,
    ``ci_high``, ``se``, ``truth``, ``covered``). Returns ``coverage``, ``low``, ``high``, ``logs``,
    ``nominal`` (1 − alpha), ``short`` (the Wilson interval lies wholly below nominal), ``misses``,
    ``below`` (intervals wholly below the truth), ``above``, ``median`` (the median estimate), ``truth``,
    and ``se_ratio``: the median reported standard error over the sd of the estimates across logs (the
    spread each log's interval assumes against the spread there is; < 1: intervals too narrow)."""
    from scipy.stats import binomtest

    n, hit = len(rows), int(rows["covered"].sum())
    if n < 2:
        raise ValueError(f"coverage_reading: {n} logs; expected at least 2")
    ci = binomtest(hit, n).proportion_ci(confidence_level=0.95, method="wilson")
    truth = float(rows["truth"].iloc[0])
    return {"coverage": hit / n, "low": float(ci.low), "high": float(ci.high), "logs": n, "nominal": 1 - alpha,
            "short": bool(ci.high < 1 - alpha), "misses": n - hit, "below": int((rows["ci_high"] < truth).sum()),
            "above": int((rows["ci_low"] > truth).sum()), "median": float(rows["value"].median()), "truth": truth,
            "se_ratio": float(rows["se"].median() / rows["value"].std(ddof=1))}  # fmt: skip
