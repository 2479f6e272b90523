"""Online-experiment benchmarks: simulation speed, A/A validity, power, team-draft fairness, sensitivity.

Run: .venv/bin/python benchmarks/bench_experiment.py [--repeats 5] [--reps 400] [--sections speed,validity,...]

Speed: the vectorised simulator and team draft against per-impression Python loops
(the textbook way) on a subset, extrapolated per impression; medians and ratios.
Quality: the figures the experimentation issue targets, on the default synthetic world.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from workbench.data import make_synthetic
from workbench.experiment.interleaving import credit, team_draft
from workbench.experiment.rankers import noisy_oracle_ranker
from workbench.experiment.sensitivity import SensitivityConfig, sensitivity_study
from workbench.experiment.simulator import SimulatorConfig, UserSimulator
from workbench.experiment.studies import aa_study, peeking_study, power_study


CPU: list[float] = []


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls; the median CPU time (process_time) goes to ``CPU[-1]``."""
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU.append(statistics.median(cpu))
    return statistics.median(times)


def loop_simulate(world, cfg: SimulatorConfig, users, items, activity, rng) -> list[tuple[int, int, float]]:
    """Textbook per-impression, per-position simulation (position model), one world call per impression."""
    out = []
    for u, slate, m in zip(users, items, activity):
        probs = world.true_affinity(np.array([u]), slate[None, :])[0]
        clicks = conversions = 0
        seconds = 0.0
        for r, item in enumerate(slate):
            e = min(1.0, (1.0 + r / cfg.position_scale) ** -cfg.position_exponent * m)
            x = rng.random()
            if x < e:
                seconds += cfg.browse_seconds
                if x < e * probs[r]:
                    clicks += 1
                    seconds += rng.exponential(cfg.watch_seconds)
                    conversions += rng.random() < min(1.0, cfg.conversion_scale * probs[r])
        out.append((clicks, conversions, seconds))
    return out


def loop_team_draft(a, b, k, rng):
    """Textbook per-impression team draft (Radlinski et al. 2008, Algorithm 1)."""
    out_items, out_team = [], []
    for row_a, row_b in zip(a.tolist(), b.tolist()):
        items, team, ta, tb = [], [], 0, 0
        shown = set()
        ia = ib = 0
        while len(items) < k:
            while ia < len(row_a) and row_a[ia] in shown:
                ia += 1
            while ib < len(row_b) and row_b[ib] in shown:
                ib += 1
            if ia == len(row_a) and ib == len(row_b):
                break
            a_turn = ta < tb or (ta == tb and rng.random() < 0.5)
            if ib == len(row_b) or (a_turn and ia < len(row_a)):
                items.append(row_a[ia]), team.append(0)
                ta += 1
            else:
                items.append(row_b[ib]), team.append(1)
                tb += 1
            shown.add(items[-1])
        out_items.append(items), out_team.append(team)
    return out_items, out_team


def bench_speed(ds, repeats: int) -> None:
    n, k, subset = 1_000_000, 10, 20_000
    rng = np.random.default_rng(0)
    users = rng.integers(0, ds.n_users, n)
    items = np.argsort(rng.random((4096, ds.n_items)), axis=1)[:, :k][rng.integers(0, 4096, n)]
    print(f"\n== Simulating {n:,} impressions of {k} items ({ds.n_users} users x {ds.n_items} items world) ==")
    for model in ("position", "cascade"):
        sim = UserSimulator(ds.truth, SimulatorConfig(click_model=model))
        t = median_time(lambda: sim.simulate(users, items, 1), repeats)
        print(f"vectorised, {model:<8} : median {t:.3f} s wall, {CPU[-1]:.3f} s CPU over {repeats} runs")
    sim = UserSimulator(ds.truth)
    attract, examine = sim.attractiveness(users, items), sim.examination(users, k)
    t = median_time(lambda: sim.simulate(users, items, 1, attract=attract, examine=examine), repeats)
    print(f"vectorised, position, attractiveness precomputed (repeat sessions, the A/B path): "
          f"median {t:.3f} s wall, {CPU[-1]:.3f} s CPU")  # fmt: skip
    act = sim.activity(users[:subset])
    t_loop = median_time(lambda: loop_simulate(ds.truth, sim.config, users[:subset], items[:subset], act,
                                                np.random.default_rng(2)), max(1, repeats // 2))  # fmt: skip
    cpu_loop = CPU[-1]
    t_vec = median_time(lambda: sim.simulate(users, items, 1), repeats)
    per_loop, per_vec = t_loop / subset, t_vec / n
    print(f"per-impression loop     : median {t_loop:.3f} s for {subset:,} impressions -> "
          f"{per_loop * n:.1f} s extrapolated to {n:,}")  # fmt: skip
    print(f"ratio loop / vectorised (per impression): {per_loop / per_vec:.0f}x wall, "
          f"{(cpu_loop / subset) / (CPU[-1] / n):.0f}x CPU")  # fmt: skip

    a = items
    b = np.roll(items, 3, axis=1)
    b[:, 0] = (b[:, 0] + 7) % ds.n_items
    t_vec = median_time(lambda: team_draft(a, b, 3, k), repeats)
    cpu_vec = CPU[-1]
    t_loop = median_time(lambda: loop_team_draft(a[:subset], b[:subset], k, np.random.default_rng(4)), max(1, repeats // 2))
    print(f"\n== Team draft of {n:,} impressions ==")
    print(f"vectorised (loop over {k} slots): median {t_vec:.3f} s wall, {cpu_vec:.3f} s CPU")
    print(f"per-impression loop: median {t_loop:.3f} s for {subset:,} -> {t_loop / subset * n:.1f} s extrapolated")
    print(f"ratio loop / vectorised (per impression): {(t_loop / subset) / (t_vec / n):.0f}x")


def bench_team_draft_fairness(ds) -> None:
    n = 1_000_000
    pop = np.arange(ds.n_users)
    lists = noisy_oracle_ranker(ds.truth, ds.n_users, ds.n_items, 10, 1.5, 0)(pop)
    users = np.random.default_rng(5).integers(0, ds.n_users, n)
    a = lists[users]
    r = team_draft(a, a, 6)
    clicks = UserSimulator(ds.truth).simulate(users, r.items, 7).clicks
    ca, cb = credit(r, clicks, a, a)
    share = ca.sum() / (ca.sum() + cb.sum())
    s = np.sort(r.items, axis=1)
    dups = int((s[:, 1:] == s[:, :-1]).any(axis=1).sum())
    r0 = team_draft(a, a, 6, rule="a_first")
    ca0, cb0 = credit(r0, UserSimulator(ds.truth).simulate(users, r0.items, 7).clicks, a, a)
    print(f"\n== Team draft with two identical rankers, {n:,} impressions ==")
    print(f"team A share of credited clicks: {share:.4f} (target 0.5 +- 0.01); rows with duplicates: {dups}")
    print(f"textbook strict alternation (A first): team A share {ca0.sum() / (ca0.sum() + cb0.sum()):.4f} (biased)")


def bench_validity(ds, reps: int) -> None:
    pop = np.arange(ds.n_users)
    sim = UserSimulator(ds.truth)
    lists_a = noisy_oracle_ranker(ds.truth, ds.n_users, ds.n_items, 10, 2.0, 0)(pop)
    lists_b = noisy_oracle_ranker(ds.truth, ds.n_users, ds.n_items, 10, 1.5, 0)(pop)
    print("\n== A/A validity: 2000 A/A tests, 1000 users each, 1 day, alpha = 0.05 ==")
    t = time.perf_counter()
    res = aa_study(sim, lists_a, pop, n_tests=2000, n_users=1000, days=1)
    print(res.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"({time.perf_counter() - t:.1f} s)")
    print("\n== A/A over 14 days (returning users): the per-impression test gets worse ==")
    res = aa_study(sim, lists_a, pop, n_tests=1000, n_users=1000, days=14)
    print(res.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("\n== Peeking: 1000 A/A tests, 600 users, checked daily for 14 days (CTR, Welch) ==")
    res = peeking_study(sim, lists_a, pop, n_tests=1000, n_users=600, days=14)
    print(res.iloc[[0, 2, 6, 13]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print("\n== Power at the planned sample size: noisy oracle sigma 2.0 (A) vs 1.5 (B), one session per user ==")
    res = power_study(sim, lists_a, lists_b, pop, n_tests=2000, seed=1)
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()})
    print("\n== Sensitivity: users for 95% correct decisions at alpha = 0.05, same pair ==")
    for sessions in (5, 1):
        t = time.perf_counter()
        sens = sensitivity_study(sim, lists_a, lists_b, pop, SensitivityConfig(reps=reps, sessions_per_user=sessions))
        print(sens.report())
        print(f"({time.perf_counter() - t:.1f} s)")
    lists_c = noisy_oracle_ranker(ds.truth, ds.n_users, ds.n_items, 10, 1.75, 0)(pop)
    sens = sensitivity_study(sim, lists_a, lists_c, pop, SensitivityConfig(reps=min(reps, 200)))
    print("smaller difference, sigma 2.0 vs 1.75:\n" + sens.report())
    casc = UserSimulator(ds.truth, SimulatorConfig(click_model="cascade"))
    sens = sensitivity_study(casc, lists_a, lists_b, pop, SensitivityConfig(reps=reps))
    print("cascade click model:\n" + sens.report())


def bench_movielens(reps: int) -> None:
    from workbench.data import load_movielens_100k
    from workbench.experiment.oracle import fit_oracle

    if not (Path("data") / "ml-100k").exists():
        print("\n(MovieLens-100K not cached under data/: skipped)")
        return
    ds = load_movielens_100k("data")
    t = time.perf_counter()
    oracle = fit_oracle(ds)
    print(f"\n== MovieLens-100K semi-synthetic oracle (fitted in {time.perf_counter() - t:.2f} s) ==")
    pop = np.arange(ds.n_users)
    sim = UserSimulator(oracle)
    lists_a = noisy_oracle_ranker(oracle, ds.n_users, ds.n_items, 10, 1.0, 0)(pop)
    lists_b = noisy_oracle_ranker(oracle, ds.n_users, ds.n_items, 10, 0.75, 0)(pop)
    print("A/A, 2000 tests x 1000 users (drawn with replacement from the 943), 1 day:")
    res = aa_study(sim, lists_a, pop, n_tests=2000, n_users=1000, days=1)
    print(res[["metric", "rejection_rate", "ci_low", "ci_high"]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("Sensitivity, noisy oracle sigma 1.0 (A) vs 0.75 (B):")
    print(sensitivity_study(sim, lists_a, lists_b, pop, SensitivityConfig(reps=reps)).report())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--reps", type=int, default=400, help="runs per grid point in the sensitivity study")
    ap.add_argument("--sections", default="speed,fairness,validity,movielens",
                    help="comma-separated subset of speed, fairness, validity, movielens")  # fmt: skip
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    ds = make_synthetic()
    print(f"(load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    if "speed" in sections:
        bench_speed(ds, args.repeats)
    if "fairness" in sections:
        bench_team_draft_fairness(ds)
    if "validity" in sections:
        bench_validity(ds, args.reps)
    if "movielens" in sections:
        bench_movielens(args.reps)


if __name__ == "__main__":
    main()
