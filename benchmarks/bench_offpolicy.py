"""Off-policy evaluation benchmarks: DR accuracy, IPS interval coverage, speed against obp.

Run: .venv/bin/python benchmarks/bench_offpolicy.py [--sections accuracy,coverage,speed] [--reps 100]
     [--coverage-reps 1000] [--impressions 100000] [--speed-impressions 1000000] [--repeats 5]

World: the default synthetic world; each user's 20 candidates in the logger ranker's order
(noisy oracle, sigma 2); slates of 10. Logger: that ranker with probability 1 − ε, a uniformly
random slate with probability ε. Target: a better ranker (sigma 1) over the same candidates,
no exploration. Truth: its exact expected clicks per impression from the simulator's click
probabilities (position model), checked against an on-policy Monte-Carlo run.

- accuracy: ``reps`` logs of ``impressions`` at ε = 0.1; median |relative error| of each
  estimator (target: DR ≤ 5%).
- coverage: ``coverage-reps`` logs; share of 95% IPS intervals holding the truth
  (target: 0.95 ± 0.02).
- speed: ``speed-impressions`` logged impressions, each estimator from prepared arrays,
  median of ``repeats`` (target ≤ 1 s), side by side with obp 0.4.1 on the same inputs:
  item-level (one slot per impression, 20 actions: obp needs the dense
  ``action_dist [N, 20, 1]``) and slates (10 slots: IIPS against obp's SlateIndependentIPS
  on the flattened cells; PI has no obp counterpart).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd

from workbench.data import load
from workbench.experiment.ope.estimators import (
    clipped_ips,
    direct_method,
    doubly_robust,
    independent_ips,
    ips,
    pseudo_inverse,
    slate_gram_pinv,
    sn_doubly_robust,
    snips,
)
from workbench.experiment.ope.evaluation import estimator_inputs, evaluate
from workbench.experiment.ope.lab import offpolicy_lab, replicate
from workbench.experiment.ope.logs import monte_carlo_value
from workbench.experiment.ope.reward_model import reward_table


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def setup(epsilon: float):
    lab = offpolicy_lab(load("synthetic", seed=0), k=10, n_candidates=20, logger_sigma=2.0, seed=0)
    return lab, lab.policy(epsilon=epsilon), lab.policy(1.0, 0.0)


def accuracy(args) -> None:
    lab, logger, target = setup(args.epsilon)
    truth = lab.truth(target)
    mc, se = monte_carlo_value(lab.sim, lab.candidates, target, lab.population, 1_000_000, 99)
    print(f"truth (exact): {truth:.5f} clicks per impression; on-policy Monte-Carlo (1M impressions): {mc:.5f} ± "
          f"{1.96 * se:.5f} (95%); logger's own value {lab.truth(logger):.5f}")  # fmt: skip
    t = time.perf_counter()
    reps = replicate(lab, logger, target, args.impressions, args.reps, seed=1)
    reps["abs_rel_error"] = (reps["error"] / truth).abs()
    summary = reps.groupby("estimator", sort=False).agg(
        median_abs_rel_error=("abs_rel_error", "median"), mean_value=("value", "mean"), sd_value=("value", "std"),
        coverage=("covered", "mean"), median_ess=("ess", "median"))  # fmt: skip
    summary["bias_pct"] = 100 * (summary["mean_value"] / truth - 1)
    print(f"\n{args.reps} logs of {args.impressions:,} impressions at ε = {args.epsilon} "
          f"({time.perf_counter() - t:.0f} s); clipped IPS caps weights at 100:")
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(summary.to_string())
    dr = summary.loc["DR", "median_abs_rel_error"]
    print(f"DR median |relative error| {dr:.2%} (target <= 5%): {'MET' if dr <= 0.05 else 'MISSED'}")


def coverage(args) -> None:
    lab, logger, target = setup(args.epsilon)
    truth = lab.truth(target)
    t = time.perf_counter()
    reps = replicate(lab, logger, target, args.impressions, args.coverage_reps, seed=2, estimators=("IPS", "SNIPS"))
    cov = reps.groupby("estimator", sort=False)["covered"].mean()
    half = 1.96 * np.sqrt(0.95 * 0.05 / args.coverage_reps)
    print(f"{args.coverage_reps} logs of {args.impressions:,} impressions at ε = {args.epsilon} "
          f"({time.perf_counter() - t:.0f} s), truth {truth:.5f}")
    for name, c in cov.items():
        print(f"  {name}: 95% interval covers the truth in {c:.3f} of logs (a perfect interval: 0.95 ± {half:.3f} by chance)")
    c = cov["IPS"]
    print(f"IPS coverage {c:.3f} (target 0.95 ± 0.02): {'MET' if abs(c - 0.95) <= 0.02 else 'MISSED'}")


def speed(args) -> None:
    try:
        from obp.ope import (
            DirectMethod,
            DoublyRobust,
            InverseProbabilityWeighting,
            SelfNormalizedDoublyRobust,
            SelfNormalizedInverseProbabilityWeighting,
            SlateIndependentIPS,
        )
    except ImportError:  # a machine without the ope-test extra: our timings only
        print("obp is not installed (pip install -e '.[ope-test]'): no side-by-side timings")
        DirectMethod = DoublyRobust = InverseProbabilityWeighting = SelfNormalizedDoublyRobust = None
        SelfNormalizedInverseProbabilityWeighting = SlateIndependentIPS = None

    n, rep = args.speed_impressions, args.repeats
    lab, logger, target = setup(args.epsilon)
    log = lab.log(logger, n, 3)
    k, a = lab.k, lab.n_candidates
    feats = lab.features()
    t0 = time.perf_counter()
    inputs = estimator_inputs(log, target, feats)  # the reward model is fitted here
    prep_s = time.perf_counter() - t0
    t_ps, q_target, q_logged = inputs["target_pscore"], inputs["q_target"], inputs["q_logged"]
    q_t, inv = inputs["marginals"], inputs["users"]
    qhat = reward_table(inputs["reward_model"], feats[inputs["distinct_users"]], k)
    r, p = log.clicks, log.pscore
    rows = []

    # item-level: slot 0 of each impression as a bandit round over the 20 candidates
    r1, p1, t1, ql1, qt1 = r[:, 0], p[:, 0], t_ps[:, 0], q_logged[:, 0], q_target[:, 0]
    action = log.slates[:, 0]
    dist = q_t[inv, 0, :, None]  # [N, A, 1]
    qh = qhat[inv, 0, :, None]
    common = {"reward": r1, "action": action, "pscore": p1, "action_dist": dist}
    item = {
        "IPS": (lambda: ips(r1, p1, t1), lambda: InverseProbabilityWeighting().estimate_policy_value(**common)),
        "SNIPS": (lambda: snips(r1, p1, t1),
                  lambda: SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**common)),
        "clipped IPS": (lambda: clipped_ips(r1, p1, t1, 100.0), None),
        "DM": (lambda: direct_method(qt1),
               lambda: DirectMethod().estimate_policy_value(action_dist=dist, estimated_rewards_by_reg_model=qh)),
        "DR": (lambda: doubly_robust(r1, p1, t1, ql1, qt1),
               lambda: DoublyRobust().estimate_policy_value(**common, estimated_rewards_by_reg_model=qh)),
        "SNDR": (lambda: sn_doubly_robust(r1, p1, t1, ql1, qt1),
                 lambda: SelfNormalizedDoublyRobust().estimate_policy_value(**common, estimated_rewards_by_reg_model=qh)),
    }  # fmt: skip
    for name, (ours, ref) in item.items():
        ref = ref if InverseProbabilityWeighting is not None else None
        mine = median_time(ours, rep)
        theirs = median_time(ref, rep) if ref else float("nan")
        same = abs(ours().value - ref()) if ref else float("nan")
        rows.append({"level": f"item (N={n:,} rounds)", "estimator": name, "ours_s": mine, "obp_s": theirs,
                     "obp/ours": theirs / mine, "|ours - obp|": same})  # fmt: skip
    del dist, qh, common

    slate_id, position = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    iips_ref = SlateIndependentIPS(len_list=k) if SlateIndependentIPS is not None else None
    g_pinv = slate_gram_pinv(logger.gram())
    slate_reward = r @ np.ones(k)  # PI's input: the slate's total reward
    slate = {
        "IIPS": (lambda: independent_ips(r, p, t_ps),
                 lambda: iips_ref.estimate_policy_value(slate_id=slate_id, reward=r.ravel(), position=position,
                                                        pscore_item_position=p.ravel(),
                                                        evaluation_policy_pscore_item_position=t_ps.ravel())),
        "SNIPS": (lambda: snips(r, p, t_ps), None),
        "clipped IPS": (lambda: clipped_ips(r, p, t_ps, 100.0), None),
        "DM": (lambda: direct_method(q_target), None),
        "DR": (lambda: doubly_robust(r, p, t_ps, q_logged, q_target), None),
        "SNDR": (lambda: sn_doubly_robust(r, p, t_ps, q_logged, q_target), None),
        "PI": (lambda: pseudo_inverse(slate_reward, log.slates, inv, q_t, g_pinv), None),
    }  # fmt: skip
    for name, (ours, ref) in slate.items():
        ref = ref if iips_ref is not None else None
        mine = median_time(ours, rep)
        theirs = median_time(ref, rep) if ref else float("nan")
        same = abs(ours().value - ref()) if ref else float("nan")
        rows.append({"level": f"slate (N={n:,} x {k} slots)", "estimator": name, "ours_s": mine, "obp_s": theirs,
                     "obp/ours": theirs / mine, "|ours - obp|": same})  # fmt: skip
    end_to_end = median_time(lambda: evaluate(log, target, features=feats), 1)
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(frame.to_string(index=False))
    worst = frame["ours_s"].max()
    print(f"slowest estimator {worst:.3f} s per {n:,} impressions (target <= 1 s): {'MET' if worst <= 1 else 'MISSED'}")
    print(f"preparing the inputs (target marginals, reward model fitted on at most 200,000 impressions): {prep_s:.2f} s; "
          f"evaluate() end to end (support check, inputs, all 7 estimators): {end_to_end:.2f} s")  # fmt: skip


SECTIONS = {"accuracy": accuracy, "coverage": coverage, "speed": speed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--epsilon", type=float, default=0.1)
    ap.add_argument("--impressions", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--coverage-reps", type=int, default=1000)
    ap.add_argument("--speed-impressions", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        import obp

        obp_version = obp.__version__
    except ImportError:
        obp_version = "absent"
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, obp {obp_version}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")  # fmt: skip
    for name in args.sections.split(","):
        if name not in SECTIONS:
            ap.error(f"unknown section {name!r}: expected some of {', '.join(SECTIONS)}")
        print(f"\n== {name}")
        SECTIONS[name](args)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
