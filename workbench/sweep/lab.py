"""The sweep behind notebook 04's "sweep the whole grid": a small grid on Dask, or a big sweep's results.

`whatif_sweep` returns the per-config table and the accuracy–diversity frontier of the
pipeline a page has loaded. When the results folder of a big sweep (``workbench sweep
configs/sweep_rerank.toml``, default ``data/sweeps/rerank``) holds rows for the same data,
seed and artefact, it reads them; otherwise it runs a small grid over λ, freshness decay
and ε (`SMALL_GRID`) with `run_sweep` on a LocalCluster of two workers, every config served
from the page's artefact. Both are resumable: a second visit reads what the first wrote.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.sweep.frontier import frontier, summarise
from workbench.sweep.results import read_results
from workbench.sweep.spec import SweepSpec

ROOT = Path(__file__).resolve().parents[2]
BIG = ROOT / "data" / "sweeps" / "rerank"
WORKERS = 2  # the LocalCluster's worker processes for the small grid
SMALL_GRID = {
    "rerank.lam": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "rerank.freshness_decay": [0.0, 0.1, 1.0],
    "rerank.exploration_rate": [0.0, 0.1],
}


@dataclass
class SweepView:
    """What the page shows: every config (means over seeds), the frontier, and where they came from."""

    summary: pd.DataFrame
    frontier: pd.DataFrame
    x: str  # column of the x axis (diversity)
    y: str  # column of the y axis (accuracy)
    k: int
    source: str  # "loaded" or "ran"
    folder: Path
    seconds: float
    workers: int
    grid: dict[str, list[Any]]


def small_spec(data: str, seed: int, small: bool, config: Any, grid: dict[str, list[Any]] = SMALL_GRID) -> SweepSpec:
    """The small sweep: ``grid`` over ``config`` (the page's pipeline config) on the page's data and seed."""
    name = f"notebook-04-{data}-seed{seed}" + ("-small" if small else "")
    base = json.loads(json.dumps(config.to_dict()))
    return SweepSpec(data=data, small=small, seeds=(seed,), base=base, grid={p: list(v) for p, v in grid.items()},
                     name=name, source="notebook 04")  # fmt: skip


def _matching(folder: Path, data: str, seed: int, small: bool, artefact: str) -> pd.DataFrame:
    table = read_results(folder)
    if table.empty or "artefact" not in table.columns:
        return table.iloc[0:0]
    keep = (table["status"] == "ok") & (table["data"] == data) & (table["seed"] == seed) & (table["small"] == small)
    return table[keep & (table["artefact"] == artefact)]


def whatif_sweep(data: str, seed: int, small: bool, config: Any, model: str | Path, *, big: str | Path = BIG,
                 out: str | Path | None = None, workers: int = WORKERS, progress: Any = None) -> SweepView:  # fmt: skip
    """The frontier of the artefact at ``model`` (fitted with ``config``): a big sweep's rows when ``big``
    holds some for this data, seed and artefact, else the small grid run now (or read back)."""
    from workbench.store import verify
    from workbench.sweep.runner import run_sweep

    key = verify(model)["key"]
    t0 = time.perf_counter()
    spec = small_spec(data, seed, small, config)
    table = _matching(Path(big), data, seed, small, key)
    if len(table) >= 2:
        source, folder, n_workers, grid = "loaded", Path(big), 0, {}
    else:
        folder = Path(out) if out is not None else ROOT / "data" / "sweeps" / spec.name
        run = run_sweep(spec, folder, workers=workers, model=model, progress=progress)
        table = _matching(folder, data, seed, small, key)
        source, n_workers, grid = "ran", run.workers, spec.grid
        if run.computed == 0:
            source = "loaded"
    k = int(config.k)
    x, y = f"intra_list_diversity@{k}", f"ndcg@{k}"
    summary = summarise(table)
    return SweepView(summary, frontier(summary, [y, x], summarised=True), x, y, k, source, folder,
                     time.perf_counter() - t0, n_workers, grid)  # fmt: skip


def current_point(whatif: Any, knobs: Any, k: int) -> dict[str, float]:
    """The sliders' position as the sweep measures a config: stage 3 at the sweep's ``k`` over the users with
    test items (from the page's cached ranking), then `workbench.sweep.metric_table`, as one results row
    (plus ``users``, how many were scored)."""
    from workbench.sweep.evaluation import evaluation_users, metric_table, wide_row

    users = evaluation_users(whatif.test)
    rows = np.searchsorted(whatif.ranked.users, users)
    if not np.array_equal(whatif.ranked.users[np.minimum(rows, len(whatif.ranked.users) - 1)], users):
        raise ValueError("the page's ranking lacks some users with test items")
    slate = whatif.pipeline.rerank_stage(whatif.ranked.select_users(rows), k, knobs.config())
    return {**wide_row(metric_table(slate.items, whatif.train, whatif.test, users, (k,))), "users": len(users)}


def beaten_by(view: SweepView, point: dict[str, float]) -> pd.DataFrame:
    """The configs of the sweep at least as good as ``point`` on both axes and better on one."""
    s = view.summary
    ge = (s[view.x] >= point[view.x]) & (s[view.y] >= point[view.y])
    gt = (s[view.x] > point[view.x]) | (s[view.y] > point[view.y])
    return s[ge & gt]
