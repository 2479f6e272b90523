"""Data loading speed: the synthetic world (target ≤ 2 s) and MovieLens-100K from cache (target ≤ 1 s).

    .venv/bin/python benchmarks/bench_data.py [--repeats 5]

Side by side with a reference: for MovieLens, a bare ``pandas.read_csv`` of the three cached
files (no validation, no re-indexing); for the synthetic world, the target itself.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data import fetch_movielens_100k, load_movielens_100k, make_synthetic


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bare_read(root: Path) -> None:
    for name in sorted(root.iterdir()):
        pd.read_csv(name, sep="\t", encoding="latin-1", dtype=str)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    root = fetch_movielens_100k("data")
    syn = median_time(make_synthetic, args.repeats)
    ml = median_time(lambda: load_movielens_100k("data"), args.repeats)
    ref = median_time(lambda: bare_read(root), args.repeats)
    ds = make_synthetic()
    print(f"synthetic world ({ds.n_users} users, {ds.n_items} items, {ds.n_interactions} interactions): "
          f"median {syn:.3f} s; target 2 s; ratio {syn / 2:.2f}")  # fmt: skip
    print(f"MovieLens-100K from cache ({root}): median {ml:.3f} s; target 1 s; ratio {ml / 1:.2f}; "
          f"bare pandas.read_csv of the same files {ref:.3f} s (ours / bare = {ml / ref:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
