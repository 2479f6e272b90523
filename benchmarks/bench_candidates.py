"""Stage 1 on MovieLens-100K: each source alone, fusion recall, retrieval speed, fit times.

Protocol: per-user temporal split (each user's last 20% of interactions by time is test),
every item ranked, seen (train) items excluded, binary relevance, NDCG with log2 discount
and IDCG from the user's own test items. Side by side in one process: our ALS (numpy CG)
against the `implicit` library at equal factors and iterations; our batched retrieval against
the textbook per-user loop (score, mask seen, sort) on the same EASE model.

The pipeline's own stage 1 (`workbench.pipeline.PipelineConfig`, as `Pipeline.fit_candidates`
builds it) is measured beside the presets. The first lines name the library versions and the load.

Run: ``.venv/bin/python benchmarks/bench_candidates.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from workbench.candidates import (
    ALS, DEFAULT_WEIGHTS, EASE, SOURCES, TUNED_SOURCE_PARAMS, TUNED_WEIGHTS, ContentBased, ItemKNN, NewReleases, Popular,
    Trending, TwoTower, fuse,
)  # fmt: skip
from workbench.candidates.diagnostics import candidate_recall, evaluate_sources
from workbench.data import load_movielens_100k, temporal_split
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.provenance import package_versions


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall seconds of ``fn()`` over ``repeats`` runs (CPU seconds in ``CPU``), and its last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    CPU.append(float(np.median(cpus)))
    return float(np.median(walls)), out


CPU: list[float] = []


def textbook_retrieve(weights: np.ndarray, seen, users: np.ndarray, k: int) -> np.ndarray:
    """The per-user loop a first version would write: score one user, mask the seen items, sort."""
    out = np.empty((len(users), k), dtype=np.int64)
    for row, u in enumerate(users):
        history = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
        scores = weights[history].sum(axis=0)
        scores[history] = -np.inf
        out[row] = np.argsort(-scores)[:k]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default="data", help="MovieLens-100K cache folder")
    args = parser.parse_args()
    print("versions:", ", ".join(f"{k} {v}" for k, v in package_versions().items()))
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    train, test = temporal_split(load_movielens_100k(args.data), 0.2)
    users = np.flatnonzero(test.user_activity > 0)
    print(f"{train.name}, temporal split 0.2: {train.n_users} users, {train.n_items} items, {train.n_interactions} "
          f"train / {test.n_interactions} test interactions; {len(users)} users evaluated")  # fmt: skip
    tuned_label = {name: ", ".join(f"{k}={v:g}" for k, v in params.items()) for name, params in TUNED_SOURCE_PARAMS.items()}

    print("\n== Each source alone (NDCG@10, recall@10, recall@200; fit seconds) ==")
    sources = {
        "popular": Popular(), "trending": Trending(), "new": NewReleases(),
        "itemknn": ItemKNN(), f"itemknn {tuned_label['itemknn']}": ItemKNN(**TUNED_SOURCE_PARAMS["itemknn"]),
        "ease": EASE(), f"ease {tuned_label['ease']}": EASE(**TUNED_SOURCE_PARAMS["ease"]),
        "als (implicit)": ALS(backend="implicit"), "als (ours, numpy CG)": ALS(backend="numpy"),
        "content": ContentBased(), "two_tower": TwoTower(),
    }  # fmt: skip
    table = evaluate_sources(sources, train, test, k=10, n=200)
    print(table.round(4).to_string())
    gap = abs(table.loc["als (implicit)", "ndcg@10"] - table.loc["als (ours, numpy CG)", "ndcg@10"])
    print(f"targets: EASE NDCG@10 {table.loc['ease', 'ndcg@10']:.4f} (>= 0.19), item-kNN {table.loc['itemknn', 'ndcg@10']:.4f} "
          f"(>= 0.18), ALS ours vs implicit |diff| {gap:.4f} (<= 0.01), slowest fit {table['fit_s'].max():.1f} s (<= 30)")  # fmt: skip

    print("\n== Fusion: recall@200 of 200 fused candidates (each source proposes its own top 200) ==")
    named = {"ease": sources["ease"], "itemknn": sources["itemknn"], "als": sources["als (implicit)"],
             "content": sources["content"], "two_tower": sources["two_tower"], "trending": sources["trending"]}  # fmt: skip
    tuned = {"ease": sources[f"ease {tuned_label['ease']}"], "itemknn": sources[f"itemknn {tuned_label['itemknn']}"],
             "two_tower": sources["two_tower"]}  # fmt: skip
    available = train.item_available
    ceiling = available[test.interactions["item"].to_numpy()].mean()
    rows = []
    for label, srcs, weights, quotas in (("textbook split, quotas", named, DEFAULT_WEIGHTS, True),
                                         ("tuned: 3 sources, equal, no quotas", tuned, TUNED_WEIGHTS, False)):  # fmt: skip
        each = {name: src.retrieve(users, 200) for name, src in srcs.items()}
        for method in ("rrf", "max_score"):
            row = {"preset": label, "method": method}
            for filt, avail in (("available only", available), ("no availability filter", None)):
                fused = fuse(each, 200, weights, method, use_quotas=quotas, seen=train.matrix, available=avail)
                row[f"recall@200 {filt}"] = candidate_recall(fused, test)
            rows.append(row)
    print(pd.DataFrame(rows).round(4).to_string(index=False))
    print(f"{1 - ceiling:.1%} of test interactions are on items flagged unavailable: the filter caps recall at {ceiling:.3f}")

    config = PipelineConfig()
    start = time.perf_counter()
    stage1 = Pipeline(config).fit_candidates(train)
    fit_s = time.perf_counter() - start
    gen = stage1.generator_
    cands = stage1.candidate_stage(users)
    print(f"\n== The pipeline's stage 1 (default PipelineConfig; fit {fit_s:.1f} s) ==\n"
          f"{sorted(gen.sources)}, weights {gen.weights}, fusion {gen.method}, quotas {gen.use_quotas}, "
          f"{gen.per_source_k} per source -> {config.n_candidates}, unavailable items excluded")  # fmt: skip
    for n in (200, config.n_candidates):
        print(f"recall@{n}: {candidate_recall(cands, test, n):.4f}")

    print(f"\n== Speed: 1000 candidates for all {train.n_users} users from every source (median of {args.repeats}) ==")
    every = {name: sources[key] for name, key in (("popular", "popular"), ("trending", "trending"), ("new", "new"),
             ("itemknn", "itemknn"), ("ease", "ease"), ("als", "als (implicit)"), ("content", "content"),
             ("two_tower", "two_tower"))}  # fmt: skip
    assert set(every) == set(SOURCES) - {"sasrec"}  # SASRec: benchmarks/bench_sasrec.py
    all_users = np.arange(train.n_users)
    per_source = {}
    lists = {}
    for name, src in every.items():
        per_source[name], lists[name] = median_time(lambda s=src: s.retrieve(all_users, 1000), args.repeats)
    cpu_per_source = dict(zip(every, CPU[-len(every):]))
    total, _ = median_time(lambda: [s.retrieve(all_users, 1000) for s in every.values()], args.repeats)
    total_cpu = CPU[-1]
    weights = dict.fromkeys(every, 1.0)
    fuse_s, fused = median_time(lambda: fuse(lists, 1000, weights, seen=train.matrix, available=available), args.repeats)
    print(pd.DataFrame({"wall ms": per_source, "CPU ms": cpu_per_source}).mul(1000).round(1).to_string())
    print(f"all 8 sources: wall {total * 1000:.0f} ms, CPU {total_cpu * 1000:.0f} ms (target <= 1000 ms); fusing their "
          f"8 × 1000 lists into 1000: wall {fuse_s * 1000:.0f} ms, CPU {CPU[-1] * 1000:.0f} ms")  # fmt: skip

    ease = every["ease"]
    ours_s, ours = median_time(lambda: ease.retrieve(all_users, 1000), args.repeats)
    ref_s, ref = median_time(lambda: textbook_retrieve(ease.weights_, train.matrix, all_users, 1000), args.repeats)
    same = np.mean([len(np.intersect1d(a, b)) / 1000 for a, b in zip(ours.items[:, :100], ref[:, :100])]) * 10
    print(f"EASE top-1000 for {train.n_users} users: ours (batched) {ours_s * 1000:.0f} ms, textbook per-user loop "
          f"{ref_s * 1000:.0f} ms, ratio {ref_s / ours_s:.1f}×; top-100 agreement {same:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
