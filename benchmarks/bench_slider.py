"""What one slider move in notebook 04 costs, next to the cached stages it skips.

The reranking what-if (`workbench.viz.whatif.WhatIf.run`) reranks every user and
recomputes the whole metrics table; target: <= 200 ms on MovieLens-100K (943 users).
The reference is what a notebook without cached stages would redo on every move:
retrieval and ranking (stages 1–2, `workbench.viz.whatif.prepare`) and then the same
rerank + metrics. Each slider move cycles through λ, decay and ε values so that no
result can be reused.

    .venv/bin/python benchmarks/bench_slider.py [--data movielens-100k] [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

from workbench.report import NotebookSettings
from workbench.viz.whatif import Knobs, prepare

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
    parser.add_argument("--full-repeats", type=int, default=3, help="full recomputations timed")
    args = parser.parse_args()
    settings = NotebookSettings(data=args.data)

    whatif, _ = prepare(settings)
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

    full_ms, stages_ms = [], []
    for knobs in moves(args.full_repeats):
        t0 = time.perf_counter()
        w, _ = prepare(settings)
        t1 = time.perf_counter()
        w.run(knobs)
        full_ms.append((time.perf_counter() - t0) * 1e3)
        stages_ms.append((t1 - t0) * 1e3)

    med = statistics.median
    users, n = whatif.ranked.n_users, whatif.ranked.n
    print(f"data: {args.data}, {users} users x {n} ranked candidates -> k=10; medians over {args.repeats} moves "
          f"and {args.full_repeats} full recomputations")  # fmt: skip
    print(f"  slider move (rerank + metrics, every user): {med(move_ms):8.1f} ms  "
          f"(rerank {med(rerank_ms):.1f} ms, metrics {med(metrics_ms):.1f} ms; max {max(move_ms):.1f} ms)")
    print(f"  cached stages 1-2 it skips:                 {med(stages_ms):8.1f} ms")
    print(f"  full recomputation (stages 1-3 + metrics):   {med(full_ms):8.1f} ms")
    print(f"  ratio full / slider move:                    {med(full_ms) / med(move_ms):8.1f}x")
    verdict = "PASS" if med(move_ms) <= TARGET_MS else "FAIL"
    print(f"  target slider move <= {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
