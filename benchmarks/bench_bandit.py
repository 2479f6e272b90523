"""The row bandit against ε-greedy at the same exploration budget: cumulative regret over 30 simulated days.

World: the synthetic world (its true click probabilities are the truth) or MovieLens-100K with the
calibrated oracle (``--data movielens-100k``); the arms are the 8 largest genres' rows, each a
user's 10 best unseen items of the genre by EASE fitted on the temporal train split; the context is
the user's genre profile; a session's reward is its clicks on the top row (the workbench simulator,
position model); regret per session is ``max_a R[u, a] − R[u, chosen]`` from the exact expected
clicks. ε-greedy gets, each day, the bandit's number of exploring sessions in expectation
(`workbench.casestudies.bandit`). Several seeds (visits, choices, clicks); both curves reported.

Run: ``.venv/bin/python benchmarks/bench_bandit.py [--seeds 5] [--days 30] [--bandit thompson] [--small]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from workbench.candidates import EASE
from workbench.casestudies.bandit import BanditConfig, row_world, run_bandits
from workbench.data import load, temporal_split
from workbench.experiment.oracle import world_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--bandit", default="thompson", choices=("thompson", "linucb"))
    args = parser.parse_args()
    load_avg = lambda: " / ".join(f"{x:.1f}" for x in os.getloadavg())  # noqa: E731
    ds = load(args.data, small=args.small)
    train, _ = temporal_split(ds)
    world = row_world(train, world_for(ds), EASE().fit(train)._score(np.arange(train.n_users)))
    print(f"{ds.name}: {train.n_users} users, arms {world.arm_names}; mean expected clicks per arm "
          f"{np.round(world.expected.mean(axis=0), 3).tolist()}; python {platform.python_version()}, numpy "
          f"{np.__version__}, pandas {pd.__version__}; load average {load_avg()}")  # fmt: skip

    rows, curves = [], []
    start = time.perf_counter()
    for seed in range(args.seeds):
        cmp = run_bandits(world, BanditConfig(days=args.days, bandit=args.bandit, seed=seed))
        s = cmp.summary()
        rows.append(s.assign(seed=seed).reset_index())
        curves.append(cmp.curves())
    took = time.perf_counter() - start
    table = pd.concat(rows, ignore_index=True)
    wide = table.pivot(index="seed", columns="policy", values="cumulative_regret")
    print(f"\n== Cumulative regret after {args.days} days, per seed ({args.seeds} seeds, {took:.0f} s) ==")
    print(wide.round(1).to_string())
    explore = table.pivot(index="seed", columns="policy", values="exploring_sessions")
    print("\nexploring sessions (ε-greedy matched to the bandit):")
    print(explore.to_string())
    wins = int((wide[args.bandit] < wide["epsilon_greedy"]).sum())
    print(f"\n{args.bandit} below ε-greedy in {wins} of {args.seeds} seeds; mean regret "
          f"{wide[args.bandit].mean():.1f} vs {wide['epsilon_greedy'].mean():.1f} "
          f"(ratio {wide[args.bandit].mean() / wide['epsilon_greedy'].mean():.3f}); sessions per run "
          f"{int(table['sessions'].iloc[0])}")  # fmt: skip
    mean_curve = sum(curves) / len(curves)
    days = [d for d in (1, 2, 5, 10, 15, 20, 25, 30) if d <= args.days]
    print("\nmean cumulative regret by day (the curves):")
    print(mean_curve.loc[days].round(1).to_string())
    print(f"\nregret per session: {(table.groupby('policy')['regret_per_session'].mean()).round(4).to_dict()}; "
          f"load average {load_avg()}")


if __name__ == "__main__":
    main()
