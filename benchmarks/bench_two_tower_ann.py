"""Two-tower serving: one user's top-100 from 1,000,000 items, HNSW against exact FAISS search, one core.

Item and query vectors are drawn from Gaussians fitted to the item and user vectors of a
two-tower model trained on MovieLens-100K (same dimension, mean and covariance), then
L2-normalised like the tower's output. ``--isotropic`` also runs isotropic Gaussian vectors
(the hardest case for a graph index: no low-dimensional structure) on ``--iso-items`` items.
Latency: ``faiss.omp_set_num_threads(1)``, one query at a time, median over the queries.
Recall@100 of each efSearch against exact inner-product search over the same queries.

Run: ``.venv/bin/python benchmarks/bench_two_tower_ann.py [--items 1000000] [--isotropic]``
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from workbench.candidates import AnnConfig, TwoTower, build_index, recall_vs_exact
from workbench.candidates.ann import search
from workbench.data import load_movielens_100k, temporal_split

K = 100


def gaussian_like(vectors: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.multivariate_normal(vectors.mean(0), np.cov(vectors.T), size=n).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def per_query_ms(index: faiss.Index, queries: np.ndarray) -> tuple[float, np.ndarray]:
    faiss.omp_set_num_threads(1)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        items, _ = search(index, q[None, :], K)
        times.append(time.perf_counter() - start)
        found.append(items[0])
    return float(np.median(times) * 1000), np.array(found)


def run(items: np.ndarray, queries: np.ndarray, ef_values: list[int], exact_queries: int) -> None:
    n, d = items.shape
    exact = build_index(items)
    exact_ms, _ = per_query_ms(exact, queries[:exact_queries])
    faiss.omp_set_num_threads(2)
    truth, _ = search(exact, queries, K)
    start = time.perf_counter()
    hnsw = build_index(items, AnnConfig("hnsw"))
    build_s = time.perf_counter() - start
    cfg = AnnConfig("hnsw")
    print(f"{n:,} items × d={d}; exact IndexFlatIP: {exact_ms:.1f} ms/query (median of {exact_queries}, 1 thread); "
          f"HNSW M={cfg.hnsw_m} efConstruction={cfg.ef_construction} built in {build_s:.0f} s on 2 threads")  # fmt: skip
    print(f"{'efSearch':>8} {'ms/query':>9} {'recall@100':>11} {'speed-up':>9}")
    for ef in ef_values:
        hnsw.hnsw.efSearch = ef
        ms, found = per_query_ms(hnsw, queries)
        print(f"{ef:>8} {ms:>9.2f} {recall_vs_exact(found, truth):>11.4f} {exact_ms / ms:>8.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--isotropic", action="store_true")
    parser.add_argument("--iso-items", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    train, _ = temporal_split(load_movielens_100k("data"))
    tower = TwoTower(seed=0).fit(train)
    print(f"two-tower fitted on MovieLens-100K in {time.perf_counter() - start:.0f} s (d={tower.dim})")
    items = gaussian_like(tower.item_vectors_, args.items, rng)
    queries = gaussian_like(tower.user_vectors_, args.queries, rng)
    run(items, queries, [100, 200, 400, 800], exact_queries=50)
    if args.isotropic:
        iso = rng.normal(size=(args.iso_items, tower.dim)).astype(np.float32)
        iso /= np.linalg.norm(iso, axis=1, keepdims=True)
        q = rng.normal(size=(args.queries, tower.dim)).astype(np.float32)
        print("\nisotropic Gaussian vectors:")
        run(iso, q / np.linalg.norm(q, axis=1, keepdims=True), [100, 200, 400, 800, 1600], exact_queries=50)


if __name__ == "__main__":
    main()
