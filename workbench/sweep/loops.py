"""The feedback loop's days for many seeds: in this process, or on a Dask cluster, by the same code path.

One task per seed (`loop_seed`) runs `workbench.loop.Loop` for all its days in the seed's own state
folder under a shared root, and writes the daily table to ``<root>/seed<S>/daily.parquet``.
`run_loops` runs the tasks one after another in this process (``client=None``), or submits them to
a `distributed.Client` (a LocalCluster, or ``--scheduler ADDRESS``); either way it reads the tables
back from their files. The same task on the same settings draws the same numbers wherever it runs
(every draw of a loop is seeded by its seed, day, arm and round), so both give the same table
(``tests/sweep/test_loops.py``).

What travels, and what is read from shared storage (paths that must be the same on every machine):

- client → worker: the loop settings (a dict), the seed and paths; never data.
- the data: the loop's ``data`` is read by the worker itself: your own interactions file (a Parquet
  file written once, read by path: `workbench.data.files`; the client takes the digest of its bytes
  and every task checks it before any work, so a file changed under a running study is refused),
  MovieLens from the data cache
  (``cache_dir``), or the synthetic world regenerated from its seed.
- the starting model: fitted once per seed into the model store (``store``) by the task that needs
  it, or loaded from it when present.
- worker → client: the daily table's path; the client reads the Parquet file.

Loops are independent, so seeds scale out; a loop's days are not: day ``d`` reads the log of the days
before it, so one loop stays in one process.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

DAILY_FILE = "daily.parquet"


def seed_folder(root: str | Path, seed: int) -> Path:
    return Path(root) / f"seed{int(seed)}"


def check_seeds(seeds: Any) -> list[int]:
    """``seeds`` as a list of distinct non-negative ints; ValueError naming the bad value."""
    out = []
    for s in list(seeds):
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"seed {s!r}: expected a non-negative integer")
        out.append(int(s))
    if not out:
        raise ValueError("seeds: expected at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds {out}: a seed is listed twice (each seed is one loop with its own state folder)")
    return out


def data_digest(data: str) -> str:
    """The digest of an interactions file's bytes (`workbench.data.files.FileSource.digest`); "" for a built-in data set."""
    from workbench.data import is_file
    from workbench.data.files import FileSource

    return FileSource.parse(data).digest() if is_file(data) else ""


def loop_seed(config: dict[str, Any], seed: int, root: str, pipeline_config: str | None = None,
              store: str | None = None, cache_dir: str | None = None, digest: str = "") -> dict[str, Any]:  # fmt: skip
    """On a worker (or here): the loop of ``config`` with ``seed``, all its days, in ``<root>/seed<seed>``
    (resumed when it holds a loop); its daily table written to ``daily.parquet`` there. Returns the path
    and the task's wall and CPU seconds. ``digest``: the data file's digest when the study started
    (`data_digest`); ValueError, before any work, when the file's bytes differ now."""
    from workbench.loop import Loop, LoopConfig
    from workbench.sweep.tasks import where

    t0, c0 = time.perf_counter(), time.process_time()
    cfg = dataclasses.replace(LoopConfig.from_dict(config), seed=int(seed))
    now = data_digest(cfg.data)
    if now != digest:
        raise ValueError(f"{cfg.data}: the data changed since the study started (content digest {now or 'none'}, "
                         f"expected {digest or 'none'}); every seed must see the same data")  # fmt: skip
    folder = seed_folder(root, seed)
    with Loop(cfg, folder, pipeline_config=pipeline_config, store=store, cache_dir=cache_dir) as loop:
        daily = loop.run().daily
    path = folder / DAILY_FILE
    tmp = path.with_suffix(".tmp")
    daily.assign(seed=int(seed)).to_parquet(tmp, index=False)
    os.replace(tmp, path)  # written whole or not at all
    return {"seed": int(seed), "daily": str(path), "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, **where()}  # fmt: skip


def run_loops(config: Any, seeds: Any, root: str | Path, *, client: Any = None, pipeline_config: str | Path | None = None,
              store: str | Path | None = None, cache_dir: str | Path | None = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:  # fmt: skip
    """The loops of ``config`` (a `workbench.loop.LoopConfig`) for each of ``seeds``: their daily tables
    in one frame (a ``seed`` column, seeds in the order given) and each task's record (`loop_seed`).

    ``client=None``: one seed after another in this process; with a `distributed.Client`, one task per
    seed on its workers. ``root``, ``store``, ``cache_dir`` and ``pipeline_config`` are paths every worker
    must see at the same place (a shared file system)."""
    seeds = check_seeds(seeds)
    if pipeline_config is not None and not Path(pipeline_config).is_file():
        raise ValueError(f"pipeline config {pipeline_config}: no such file; expected a pipeline TOML")
    absolute = lambda p: None if p is None else str(Path(p).resolve())  # noqa: E731
    args = (config.to_dict(), absolute(root), absolute(pipeline_config), absolute(store), absolute(cache_dir),
            data_digest(config.data))  # fmt: skip
    Path(args[1]).mkdir(parents=True, exist_ok=True)
    if client is None:
        records = [loop_seed(args[0], s, *args[1:]) for s in seeds]
    else:
        futures = [client.submit(loop_seed, args[0], s, *args[1:], pure=False, key=f"loop-seed{s}-{time.time_ns()}")
                   for s in seeds]  # fmt: skip
        records = client.gather(futures)
    daily = pd.concat([pd.read_parquet(r["daily"]) for r in records], ignore_index=True)
    return daily, records


def figures(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily tables without wall times (what must not depend on the machine or on where a loop ran)."""
    return daily.drop(columns=[c for c in ("seconds", "retrain_seconds") if c in daily]).reset_index(drop=True)
