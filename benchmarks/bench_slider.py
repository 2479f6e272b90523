"""What one slider move in notebook 04 costs, next to the cached stages it skips.

A slider move (`workbench.lessons.whatif.WhatIf.run`) reranks every user through
`Pipeline.rerank_stage` and recomputes the whole metrics table; target: <= 200 ms on
MovieLens-100K (943 users). The reference is what the notebook would redo on every move
without its cached ranked candidates: `Pipeline.rank_stage` for every user (candidate
retrieval from six sources, fusion, DeepFM scoring), then the same rerank + metrics.
Fitting the pipeline is cached in both cases and reported for scale only. Each slider
move cycles through λ, decay and ε values so that no result can be reused.

    .venv/bin/python benchmarks/bench_slider.py [--data movielens-100k] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from workbench.lessons.kit import NotebookSettings, trained
from workbench.lessons.whatif import Knobs, prepare

TARGET_MS = 200.0


def moves(n: int) -> list[Knobs]:
    """A sequence of distinct slider positions (λ sweeps, decay and ε change every few moves)."""
    lams = [round(0.05 * i, 2) for i in range(21)]
    decays = [0.0, 0.01, 0.1, 1.0]
    rates = [0.0, 0.1, 0.2]
    return [Knobs(lam=lams[i % 21], freshness_decay=decays[(i // 5) % 4], exploration_rate=rates[(i // 7) % 3])
            for i in range(n)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k", choices=("synthetic", "movielens-100k"))
    parser.add_argument("--repeats", type=int, default=15, help="slider moves timed")
    parser.add_argument("--rank-repeats", type=int, default=5, help="rank_stage runs timed")
    args = parser.parse_args()

    t0 = time.perf_counter()
    whatif, _ = prepare(trained(NotebookSettings(data=args.data)))
    fit_s = time.perf_counter() - t0
    pipe, users = whatif.pipeline, whatif.ranked.users
    whatif.run(Knobs())  # warm-up
    rerank_ms, metrics_ms, move_ms = [], [], []
    for knobs in moves(args.repeats):
        t0 = time.perf_counter()
        slate = whatif.slate(knobs)
        t1 = time.perf_counter()
        whatif.metrics(slate)
        t2 = time.perf_counter()
        rerank_ms.append((t1 - t0) * 1e3)
        metrics_ms.append((t2 - t1) * 1e3)
        move_ms.append((t2 - t0) * 1e3)

    rank_ms = []
    for _ in range(args.rank_repeats):
        t0 = time.perf_counter()
        pipe.rank_stage(np.asarray(users))
        rank_ms.append((time.perf_counter() - t0) * 1e3)

    med = statistics.median
    move, rank = med(move_ms), med(rank_ms)
    print(f"data: {args.data}, {len(users)} users x {whatif.ranked.n} ranked candidates -> k=10; medians over "
          f"{args.repeats} slider moves and {args.rank_repeats} rank_stage runs")  # fmt: skip
    print(f"  slider move (rerank_stage + metrics, every user): {move:9.1f} ms  "
          f"(rerank {med(rerank_ms):.1f} ms, metrics {med(metrics_ms):.1f} ms; max {max(move_ms):.1f} ms)")
    print(f"  cached rank_stage it skips (stages 1-2):          {rank:9.1f} ms")
    print(f"  move without the cache (rank_stage + move):       {rank + move:9.1f} ms")
    print(f"  ratio uncached / cached move:                     {(rank + move) / move:9.1f}x")
    print(f"  (fitting the pipeline, cached once per data set:  {fit_s:9.1f} s)")
    print(f"  target slider move <= {TARGET_MS:.0f} ms: {'PASS' if move <= TARGET_MS else 'FAIL'}")


if __name__ == "__main__":
    main()
