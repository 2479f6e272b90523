"""The model store, cold against warm, side by side in one run.

Parts (all by default; ``--parts`` picks some):

* ``load``: for each data set's default pipeline, the fit that a cold store pays
  (``load_or_train`` into an empty store) against ``load_pipeline`` from the artefact it
  wrote (median of ``--repeats`` loads), with the ratio; target: load <= 2 s on MovieLens-100K.
* ``size``: the store's size holding both data sets' defaults; target <= 200 MB.
* ``notebooks``: every notebook run as a script (``python notebooks/NN_x.py``) against an
  empty store, then again against the store it filled; target: warm <= 10 s each on synthetic.
* ``report``: ``workbench report`` with the warm store; target <= 60 s.

Each part uses its own temporary store (``WORKBENCH_MODEL_STORE``), so the user's
``data/models`` is never touched. Torch and BLAS run as the notebooks run them.

    .venv/bin/python benchmarks/bench_store.py [--parts load size notebooks report] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"load_movielens_s": 2.0, "store_mb": 200.0, "notebook_warm_s": 10.0, "report_warm_s": 60.0}


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def part_load(store: Path, repeats: int) -> list[dict]:
    from workbench.store import ModelStore, load_or_train, load_pipeline

    rows = []
    for data in ("synthetic", "movielens-100k"):
        cold = load_or_train(data, store=ModelStore(store))
        assert not cold.loaded, "the store was expected to be empty"
        loads = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            load_pipeline(cold.path)
            loads.append(time.perf_counter() - t0)
        warm = load_or_train(data, store=ModelStore(store))
        assert warm.loaded
        med = statistics.median(loads)
        rows.append({"data": data, "cold fit+store s": round(cold.seconds, 1), "load_pipeline median s": round(med, 2),
                     "load_or_train warm s": round(warm.seconds, 2), "ratio cold/load": round(cold.seconds / med, 1),
                     "artefact MB": round(_size_mb(cold.path), 1)})  # fmt: skip
    return rows


def _run_notebook(path: Path, env: dict) -> float:
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"{path.name} failed:\n{run.stderr[-2000:]}")
    return elapsed


def part_notebooks(store: Path) -> list[dict]:
    env = {**os.environ, "WORKBENCH_MODEL_STORE": str(store)}
    rows = []
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        cold = _run_notebook(nb, env)
        warm = _run_notebook(nb, env)
        rows.append({"notebook": nb.stem, "cold store s": round(cold, 1), "warm store s": round(warm, 1),
                     "ratio": round(cold / warm, 1), "warm within 10 s": warm <= TARGETS["notebook_warm_s"]})  # fmt: skip
    return rows


def part_report(store: Path) -> dict:
    env = {**os.environ, "WORKBENCH_MODEL_STORE": str(store)}
    out = Path(tempfile.mkdtemp(prefix="bench-report-"))
    cmd = [str(Path(sys.executable).with_name("workbench")), "report", "--out", str(out)]
    times = []
    for _ in range(2):  # the first fills the store (cold), the second is what a warm store costs
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
        times.append(time.perf_counter() - t0)
    return {"report cold s": round(times[0], 1), "report warm s": round(times[1], 1),
            "warm within 60 s": times[1] <= TARGETS["report_warm_s"]}  # fmt: skip


def main() -> None:
    import pandas as pd

    from workbench.provenance import package_versions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["load", "size", "notebooks", "report"],
                        choices=["load", "size", "notebooks", "report"])  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5, help="timed load_pipeline calls per data set")
    args = parser.parse_args()
    v = package_versions()
    print(f"protocol: default PipelineConfig, temporal split (last 20% of each user's history is test); "
          f"python {v['python']}, torch {v['torch']}, numpy {v['numpy']}, faiss {v['faiss-cpu']}, "
          f"lightgbm {v['lightgbm']}, marimo {v['marimo']}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        store = Path(tmp) / "models"
        if "load" in args.parts or "size" in args.parts:
            rows = part_load(store, args.repeats)
            if "load" in args.parts:
                print("\n== cold fit against load_pipeline")
                print(pd.DataFrame(rows).to_string(index=False))
                ml = next(r for r in rows if r["data"] == "movielens-100k")
                print(f"load_pipeline on movielens-100k: {ml['load_pipeline median s']} s "
                      f"(target <= {TARGETS['load_movielens_s']} s)")  # fmt: skip
            if "size" in args.parts:
                mb = _size_mb(store)
                print(f"\n== store size with both defaults: {mb:.1f} MB (target <= {TARGETS['store_mb']:.0f} MB)")
        if "notebooks" in args.parts:
            nb_store = Path(tmp) / "notebooks"
            print("\n== every notebook as a script, cold store then warm store (synthetic)")
            print(pd.DataFrame(part_notebooks(nb_store)).to_string(index=False))
        if "report" in args.parts:
            print("\n== workbench report (synthetic), cold store then warm store")
            print(part_report(Path(tmp) / "report"))


if __name__ == "__main__":
    main()
