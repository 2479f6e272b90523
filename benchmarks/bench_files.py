"""Loading your own interaction files: a 1M-row Parquet file (target ≤ 3 s) and a 20M-row file in
ML-20M's CSV format (target ≤ 90 s and ≤ 4 GB peak RSS), each generated here.

    .venv/bin/python benchmarks/bench_files.py [--repeats 3] [--rows 1000000] [--big-rows 20000000]
    nice -n 19 .venv/bin/python benchmarks/bench_files.py --big   # also the 20M-row CSV (minutes)

Side by side with a reference: the bare read of the same file (``pyarrow`` for Parquet, ``pandas.read_csv``
with the pyarrow engine for the CSV), so the ratio is what the checks, the re-indexing and the sort cost
on top of reading. Every load runs in a fresh process (no cache shared between repeats); the 20M-row
load's peak RSS is that process's ``ru_maxrss``. The load average is printed first: figures taken under
load are not a target met. CPU seconds (``time.process_time``, all threads) are printed beside the wall
time: a ``nice -n 19`` run on a busy machine waits most of its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, resource, sys, time
import pandas as pd
import pyarrow.parquet as pq
from workbench.data import load
kind, path = sys.argv[1], sys.argv[2]
t, c = time.perf_counter(), time.process_time()  # imports done: the time is the read alone
if kind == "load":
    size = load(path).n_interactions
elif kind == "parquet":
    size = len(pq.read_table(path).to_pandas())
else:
    size = len(pd.read_csv(path, engine="pyarrow"))
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c, "rows": size,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def interactions(rows: int, n_users: int, n_items: int, seed: int = 0) -> pd.DataFrame:
    """ML-shaped interactions: Zipf-ish item popularity, ratings in half stars, 20 years of timestamps;
    exact duplicate rows removed (the loader refuses them by default)."""
    rng = np.random.default_rng(seed)
    item = np.minimum(rng.zipf(1.3, rows) - 1, n_items - 1)
    frame = pd.DataFrame({
        "userId": rng.integers(1, n_users + 1, rows),
        "movieId": item + 1,
        "rating": rng.integers(1, 11, rows) / 2.0,
        "timestamp": rng.integers(789_652_009, 1_427_784_002, rows),
    })  # fmt: skip
    return frame.drop_duplicates(ignore_index=True)


def write_csv_in_chunks(path: Path, rows: int, n_users: int, n_items: int, chunk: int = 2_000_000) -> int:
    """ML-20M's ratings.csv format, written chunk by chunk (bounded memory); returns the rows written."""
    import pyarrow as pa
    import pyarrow.csv as pc

    written = 0
    with pc.CSVWriter(str(path), pa.schema([("userId", pa.int64()), ("movieId", pa.int64()), ("rating", pa.float64()),
                                            ("timestamp", pa.int64())])) as out:  # fmt: skip
        for i, start in enumerate(range(0, rows, chunk)):
            part = interactions(min(chunk, rows - start), n_users, n_items, seed=i)
            # the same (user, item, time, rating) can repeat across chunks: users differ per chunk to avoid it
            part["userId"] = part["userId"] + i * n_users
            out.write_table(pa.Table.from_pandas(part, preserve_index=False))
            written += len(part)
    return written


def child(kind: str, path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    run = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, env=env,
                         timeout=1800, check=False)  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(run.stderr[-2000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


def median(kind: str, path: Path, repeats: int) -> dict:
    runs = [child(kind, path) for _ in range(repeats)]
    return {"seconds": float(np.median([r["seconds"] for r in runs])), "rows": runs[0]["rows"],
            "cpu_seconds": float(np.median([r["cpu_seconds"] for r in runs])),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big", action="store_true", help="also the 20M-row ML-20M-format CSV (minutes; run with nice)")
    ap.add_argument("--big-rows", type=int, default=20_000_000)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"({os.cpu_count()} cores)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        pq_path = Path(tmp) / "interactions.parquet"
        frame = interactions(int(args.rows * 1.001) + 10, 100_000, 30_000)
        frame = frame.iloc[: args.rows]
        frame.to_parquet(pq_path)
        bare = median("parquet", pq_path, args.repeats)
        ours = median("load", pq_path, args.repeats)
        print(f"\n{ours['rows']:,}-row Parquet ({pq_path.stat().st_size / 1e6:.0f} MB), median of {args.repeats} fresh processes")
        print("| what | median wall s | median CPU s | target | ratio |")
        print("|---|---|---|---|---|")
        print(f"| `workbench.data.load(PATH)`: read, every check, re-index, sort | {ours['seconds']:.2f} | "
              f"{ours['cpu_seconds']:.2f} | ≤ 3 s | {ours['seconds'] / 3:.2f} of the target (wall) |")
        print(f"| reference: bare `pyarrow.parquet.read_table(...).to_pandas()` | {bare['seconds']:.2f} | "
              f"{bare['cpu_seconds']:.2f} | | ours ÷ bare = {ours['seconds'] / bare['seconds']:.1f}× (wall) |")
        print(f"peak RSS of the load process: {ours['peak_rss_mb']:,.0f} MB")
        if args.big:
            csv_path = Path(tmp) / "ratings.csv"
            t = time.perf_counter()
            n = write_csv_in_chunks(csv_path, args.big_rows, 140_000, 27_000)
            print(f"\nwrote {n:,} rows in ML-20M's ratings.csv format ({csv_path.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - t:.0f} s; load average now {os.getloadavg()[0]:.2f}")  # fmt: skip
            big = child("load", csv_path)
            bare_big = child("csv", csv_path)
            print("| what | wall s | CPU s | peak RSS MB | target |")
            print("|---|---|---|---|---|")
            print(f"| `workbench.data.load(PATH)` | {big['seconds']:.1f} | {big['cpu_seconds']:.1f} | "
                  f"{big['peak_rss_mb']:,.0f} | ≤ 90 s, ≤ 4,096 MB |")
            print(f"| reference: bare `pandas.read_csv(engine='pyarrow')` | {bare_big['seconds']:.1f} | "
                  f"{bare_big['cpu_seconds']:.1f} | {bare_big['peak_rss_mb']:,.0f} | ours ÷ bare = "
                  f"{big['seconds'] / bare_big['seconds']:.1f}× (wall) |")
            print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
