"""Stage 1 and recommend at a MovieLens-20M-shaped catalogue (26,744 items): CPU per user, side by side.

    .venv/bin/python benchmarks/bench_stage1_scale.py [--interactions 100000] [--pipeline FILE.pkl]

The default pipeline (`PipelineConfig()`) is fitted on the MovieLens-20M-shaped synthetic world of
`bench_scale.py` (``ml20m_world``: a uniform sample of its users, the whole 26,744-item catalogue) at
``--interactions`` (default 100,000: 692 users; about 5-10 minutes of fit, not timed), or read from
``--pipeline`` (a pickle this benchmark wrote: it is written there after a fit when the file is missing).
Then, all in CPU time of this process per user (every user of the world, in the pipeline's batches; best of
``--repeats``):

- ``recommend``: stages 1, 2 and 3 (`Pipeline.recommend`; issue 24's target: ≤ 1 ms per user), and stage 1
  alone (`Pipeline.candidate_stage`), each source alone at ``per_source_k`` and fusion alone;
- side by side, the way stage 1 now takes at a wide catalogue against the way it took before, in one run:
  (1) the top-k of each dense source's score table: `best_columns` (grouped) against one `np.argpartition`;
  (2) fusion choosing among the proposed cells against choosing over the dense ``[users × items]`` table
  (`fusion.WIDE` forced each way); (3) exact two-tower by one matrix product and `top_k` against FAISS's
  flat search. Each line says whether the two ways gave the same items (they may differ only in which of
  tied cells is kept) and the same scores.

The first line gives the versions and the load average; a loaded machine's figures are not final.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from workbench.provenance import package_versions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import ml20m_world  # the world's shape is bench_scale's


def cpu_per_user(fn, n_users: int, repeats: int):
    """Best CPU milliseconds per user of ``fn()`` over ``repeats`` runs, and its last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best / n_users * 1e3, out


def fitted(interactions: int, path: str | None):
    """``(pipeline, train)``: read from ``path`` when it exists, else fitted (and written there when given)."""
    if path and Path(path).exists():
        with open(path, "rb") as f:
            saved = pickle.load(f)
        return saved["pipe"], saved["train"]
    from workbench.data import make_synthetic, temporal_split
    from workbench.pipeline import Pipeline, PipelineConfig

    train, _ = temporal_split(make_synthetic(**ml20m_world(interactions)), 0.2)
    t0 = time.perf_counter()
    pipe = Pipeline(PipelineConfig()).fit(train)
    print(f"fitted the default pipeline in {time.perf_counter() - t0:.0f} s (not timed below)")
    if path:
        with open(path, "wb") as f:
            pickle.dump({"pipe": pipe, "train": train}, f, protocol=5)
    return pipe, train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=100_000, help="size of the MovieLens-20M-shaped world")
    ap.add_argument("--pipeline", help="a pickle of the fitted pipeline: read when present, else written after the fit")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.interactions < 1_000 or args.repeats < 1:
        raise SystemExit("--interactions: at least 1,000; --repeats: at least 1")
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions(("numpy", "scipy", "faiss-cpu", "torch")).items()),
          f"| load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")  # fmt: skip

    from workbench.candidates import fusion
    from workbench.candidates.ann import search
    from workbench.candidates.base import BATCH_CELLS, best_columns
    from workbench.pipeline import STAGES

    pipe, train = fitted(args.interactions, args.pipeline)
    gen = pipe.generator_
    users = np.arange(train.n_users)
    n, k, r = len(users), gen.per_source_k or pipe.config.n_candidates, args.repeats
    print(f"MovieLens-20M-shaped world: {train.n_users:,} users, {train.n_items:,} items, "
          f"{train.n_interactions:,} train interactions; per_source_k {k}, n_candidates {pipe.config.n_candidates}\n")

    def recommend():
        spent = dict.fromkeys(STAGES, 0.0)
        for lo in range(0, n, 256):
            slate = pipe.recommend(users[lo : lo + 256])
            for s in STAGES:
                spent[s] += float(slate.timings_ms[s].sum())
        return spent

    rec, spent = cpu_per_user(recommend, n, r)
    print(f"recommend (stages 1-3, batches of 256 users): {rec:.3f} ms CPU per user (target ≤ 1 ms); wall per "
          "stage, last run: " + ", ".join(f"{s} {v / n:.3f}" for s, v in spent.items()) + " ms per user")
    stage1, _ = cpu_per_user(lambda: pipe.candidate_stage(users), n, r)
    parts = {name: cpu_per_user(lambda s=src: s.retrieve(users, k), n, r)[0] for name, src in gen.sources.items()}
    each = gen.retrieve_each(users, k)

    def fuse_all():
        return fusion.fuse(each, pipe.config.n_candidates, gen.weights, gen.method, gen.rrf_k, gen.use_quotas,
                           seen=gen.seen_, available=gen.available_ if gen.exclude_unavailable else None)  # fmt: skip

    parts["fusion"], fused = cpu_per_user(fuse_all, n, r)
    print(f"stage 1: {stage1:.3f} ms CPU per user; alone: "
          + ", ".join(f"{name} {v:.3f}" for name, v in parts.items()) + " ms per user\n")

    print("side by side (ms CPU per user; ratio = before / now):")

    def line(what, now, before, same_items, same_scores):
        print(f"  {what}: now {now:.3f}, before {before:.3f}: {before / now:.2f}×; same items {same_items}, "
              f"same scores {same_scores}")

    step = max(1, BATCH_CELLS // train.n_items)
    for name, src in gen.sources.items():  # (1) the dense sources' top-k
        if name not in ("itemknn", "als", "two_tower"):
            continue
        tables = [np.asarray(src._score(users[lo : lo + step]), dtype=np.float32) for lo in range(0, n, step)]
        grouped, a = cpu_per_user(lambda ts=tables: [best_columns(-t, k) for t in ts], n, r)
        plain, b = cpu_per_user(lambda ts=tables: [np.argpartition(-t, k - 1, axis=1)[:, :k] for t in ts], n, r)
        vals = [np.sort(np.take_along_axis(t, x, axis=1), axis=1) for t, x in zip(tables, a)]
        ref = [np.sort(np.take_along_axis(t, x, axis=1), axis=1) for t, x in zip(tables, b)]
        same_set = all(np.array_equal(np.sort(x, 1), np.sort(y, 1)) for x, y in zip(a, b))
        line(f"(1) top-{k} of {name}'s [users × {train.n_items:,}] scores, grouped vs np.argpartition", grouped, plain,
             same_set, all(np.array_equal(x, y) for x, y in zip(vals, ref)))  # fmt: skip

    wide = fusion.WIDE
    try:  # (2) fusion
        fusion.WIDE = 10**9
        dense, old = cpu_per_user(fuse_all, n, r)
    finally:
        fusion.WIDE = wide
    line("(2) fusion among the proposed cells vs over the dense table", parts["fusion"], dense,
         np.array_equal(fused.items, old.items), np.array_equal(fused.scores, old.scores))  # fmt: skip

    if "two_tower" in gen.sources:  # (3) exact two-tower
        tt = gen.sources["two_tower"]
        width = min(train.n_items, k + int(np.diff(tt.seen_.indptr).max()))

        def by_faiss():
            items, scores = search(tt.index_, tt._user_vectors(users), width)
            return tt._top_unseen(users, items, scores, k, True)

        flat, (fi, fs) = cpu_per_user(by_faiss, n, r)
        dense_tt, (di, ds) = cpu_per_user(lambda: tt._retrieve_warm(users, k, True), n, r)
        line(f"(3) exact two-tower, matrix product + top_k vs FAISS flat search ({width} wide)", dense_tt, flat,
             np.array_equal(di, fi), bool(np.allclose(ds, fs, atol=1e-5)))  # fmt: skip
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
