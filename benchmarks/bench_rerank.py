"""Reranking speed: vectorised MMR and the full `rerank` against the textbook per-item MMR.

Inputs have MovieLens-100K's shapes: 943 users × 100 ranked candidates → 20, a
1682-item catalogue with random d=32 vectors and 19 categories, random relevance.
The textbook MMR (per user, per position, per remaining candidate: the max over the
picked items of a Python-level cosine) runs on a subset of users and is extrapolated
linearly to all users; both are given the same min-max normalised relevance and the
same similarity, and must pick the same items.

    .venv/bin/python benchmarks/bench_rerank.py [--repeats 15] [--textbook-users 6]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import scipy.sparse as sp

from workbench.rerank import RerankConfig, minmax_normalise, rerank
from workbench.rerank.mmr import mmr
from workbench.types import CandidateSet

N_USERS, N_CANDIDATES, K, N_ITEMS, DIM, N_CATEGORIES = 943, 100, 20, 1682, 32, 19
LAM, ALPHA = 0.7, 0.3


def make_inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    items = np.argsort(rng.random((N_USERS, N_ITEMS)), axis=1)[:, :N_CANDIDATES]
    scores = -np.sort(-rng.normal(size=(N_USERS, N_CANDIDATES)), axis=1).astype(np.float32)
    return {
        "ranked": CandidateSet(users=np.arange(N_USERS), items=items, scores=scores),
        "item_vectors": rng.normal(size=(N_ITEMS, DIM)).astype(np.float32),
        "item_category": rng.integers(0, N_CATEGORIES, N_ITEMS),
        "item_age_days": rng.exponential(365.0, N_ITEMS),
        "item_available": rng.random(N_ITEMS) > 0.05,
        "item_promoted": rng.random(N_ITEMS) < 0.03,
        "seen": sp.random(N_USERS, N_ITEMS, density=0.063, format="csr", random_state=seed),  # ML-100K density
    }


def textbook_mmr(relevance: list[float], vectors: list[list[float]], categories: list[int], k: int) -> list[int]:
    """One user, the textbook way: for each slot, for each remaining candidate, its max
    similarity to every picked item, each similarity a Python cosine."""

    def cosine(a: list[float], b: list[float]) -> float:
        dot = sum(x * y for x, y in zip(a, b))
        return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    picked: list[int] = []
    remaining = sorted(range(len(relevance)), key=lambda j: -relevance[j])
    while remaining and len(picked) < k:
        best, best_value = None, -math.inf
        for j in remaining:
            max_sim = 0.0
            if picked:
                max_sim = max(
                    ALPHA * (categories[j] == categories[p]) + (1 - ALPHA) * cosine(vectors[j], vectors[p]) for p in picked
                )
            value = LAM * relevance[j] - (1 - LAM) * max_sim
            if value > best_value:
                best, best_value = j, value
        picked.append(best)
        remaining.remove(best)
    return picked


def median_ms(fn, repeats: int) -> tuple[float, float, float]:
    """Median wall time, median and fastest CPU time of this process (ms); on a shared
    machine the CPU time leaves out the time spent waiting for a core."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--textbook-users", type=int, default=6)
    args = parser.parse_args()
    data = make_inputs()
    ranked = data["ranked"]
    vec, cat = data["item_vectors"], data["item_category"]

    ours_mmr = median_ms(lambda: mmr(ranked.scores, ranked.items, vec, cat, K, lam=LAM, alpha=ALPHA), args.repeats)
    result = mmr(ranked.scores, ranked.items, vec, cat, K, lam=LAM, alpha=ALPHA)

    rel = minmax_normalise(ranked.scores, ranked.mask)
    users = np.linspace(0, N_USERS - 1, args.textbook_users).astype(int)
    t0, c0 = time.perf_counter(), time.process_time()
    textbook = [
        textbook_mmr(rel[u].tolist(), vec[ranked.items[u]].tolist(), cat[ranked.items[u]].tolist(), K) for u in users
    ]
    textbook_ms = ((time.perf_counter() - t0) * 1e3 * N_USERS / len(users), (time.process_time() - c0) * 1e3 * N_USERS / len(users))
    same = sum(result.order[u].tolist() == picks for u, picks in zip(users, textbook))

    configs = {
        "default (filter, freshness, mmr, 1 pin)": RerankConfig(),
        "+ category cap 3, exploration 0.1": RerankConfig(category_cap=3, exploration_rate=0.1),
    }
    full = {}
    for name, config in configs.items():
        steps: list[dict] = []

        def run(config=config, steps=steps):
            steps.append(rerank(ranked, K, **{k: v for k, v in data.items() if k != "ranked"}, config=config).meta["rerank_step_ms"])

        full[name] = (median_ms(run, args.repeats), {s: statistics.median(d[s] for d in steps) for s in steps[0]})

    print(f"reranking {N_USERS} users x {N_CANDIDATES} candidates -> {K} (d={DIM}, {N_ITEMS} items, {N_CATEGORIES} categories)")
    print("                                           wall ms      CPU ms   (medians)")
    print(
        f"MMR, vectorised (ours), all users:      {ours_mmr[0]:10.1f}  {ours_mmr[1]:10.1f}   "
        f"({args.repeats} runs; fastest {ours_mmr[2]:.1f} ms CPU)"
    )
    print(
        f"MMR, textbook per-item Python:          {textbook_ms[0]:10.0f}  {textbook_ms[1]:10.0f}   "
        f"(timed on {len(users)} users, extrapolated x{N_USERS / len(users):.0f})"
    )
    print(f"ratio textbook / ours:                  {textbook_ms[0] / ours_mmr[0]:10.0f}x {textbook_ms[1] / ours_mmr[1]:10.0f}x")
    print(f"same picks as the textbook:             {same}/{len(users)} users")
    for name, ((wall, cpu, fastest), steps) in full.items():
        detail = ", ".join(f"{s} {ms:.1f}" for s, ms in steps.items())
        print(f"rerank() {name}:\n    median {wall:.1f} ms wall, {cpu:.1f} ms CPU (fastest {fastest:.1f}); wall per step: {detail}")


if __name__ == "__main__":
    main()
