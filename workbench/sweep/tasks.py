"""What runs on a Dask worker: fit an upstream config once, then score configs from a per-worker cache.

A worker keeps, per process, the fitted pipelines it has loaded (keyed by artefact key)
and the ranked candidates of the evaluation users (keyed by artefact key and
``n_ranked``) in `workbench.sweep.cache`: a rerank-only sweep loads its artefact and runs
stages 1-2 once per worker, then each task runs only stage 3 and the metrics.

Every function here returns plain data (a results row), and catches a config's own
failure into the row (``status = "failed"``, ``error``), so that one bad config never
stops the others.
"""

from __future__ import annotations

import copy
import os
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from workbench.sweep.cache import cache_stats, cached, count
from workbench.sweep.studies import STUDIES


@dataclass(frozen=True)
class EvalInputs:
    """What every config of one seed is judged on (scattered once to each worker)."""

    train: Any  # Dataset
    test: Any  # Dataset
    users: np.ndarray  # evaluation users (those with test interactions)


def where() -> dict[str, Any]:
    """Provenance of the worker running a task: address, host, process."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "local"
    return {"worker": address, "host": socket.gethostname(), "pid": os.getpid()}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def failure(exc: BaseException) -> dict[str, Any]:
    """The row fields of a failed config: its error, one line, and the traceback's last frames."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": tb[-2000:]}


# ---- stage 1 and 2: fit once per distinct upstream config


def fit_upstream(spec: dict[str, Any], config: dict[str, Any], store_root: str, cache_dir: str) -> dict[str, Any]:
    """Load or fit (and store) the pipeline of ``config`` on ``spec``'s data; the artefact's folder and timing.

    Runs as one task per distinct upstream config; the configs sharing it wait for it."""
    from workbench.pipeline import PipelineConfig
    from workbench.store import DataSpec, ModelStore

    t0 = time.perf_counter()
    trained = ModelStore(store_root).load_or_train(DataSpec(**spec), PipelineConfig.from_dict(config), None, cache_dir)
    return {"path": str(trained.path), "key": trained.key, "trained": not trained.loaded,
            "fit_seconds": time.perf_counter() - t0, **where()}  # fmt: skip


def _pipeline(artefact: dict[str, Any], inputs: EvalInputs):
    from workbench.store import load_pipeline

    def load():
        count("loads")
        return load_pipeline(artefact["path"], inputs.train)

    return cached(("pipeline", artefact["key"]), load)


def _ranked(artefact: dict[str, Any], pipe, inputs: EvalInputs):
    key = ("ranked", artefact["key"], pipe.config.n_ranked, inputs.users.tobytes())

    def rank():
        count("ranks")
        return pipe.rank_stage(inputs.users)

    return cached(key, rank)


def pipeline_trial(trial: dict[str, Any], inputs: EvalInputs, artefact: dict[str, Any]) -> dict[str, Any]:
    """One config × seed: stage 3 over the worker's cached ranked candidates, then the metric table.

    ``trial``: config (dict), ks, graded, metrics. The figures are those of
    ``workbench evaluate --model pipeline --config <config>``: the same users, the same
    lists (``recommend`` = stages 1-2, then stage 3 to the largest cut-off), the same
    `workbench.sweep.evaluation.metric_table`.
    """
    from workbench.pipeline import PipelineConfig
    from workbench.sweep.evaluation import metric_table, wide_row

    row: dict[str, Any] = {"config_id": trial["config_id"], "artefact": artefact.get("key"),
                           "artefact_trained": bool(artefact.get("trained")), **where()}  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        config = PipelineConfig.from_dict(trial["config"])
        before = cache_stats()
        base = _pipeline(artefact, inputs)
        pipe = copy.copy(base)  # shares the fitted stages; serving knobs (rerank, k, n_ranked) from this config
        pipe.config = config
        ranked = _ranked(artefact, pipe, inputs)
        t1, c1 = time.perf_counter(), time.process_time()
        ks = trial["ks"]
        slate = pipe.rerank_stage(ranked, ks[-1])
        table = metric_table(slate.items, inputs.train, inputs.test, inputs.users, ks, trial["graded"])
        after = cache_stats()
        row |= wide_row(table, trial["metrics"])
        row |= {"status": "ok", "error": "", "traceback": "", "users": int(len(inputs.users)),
                "setup_seconds": t1 - t0, "seconds": time.perf_counter() - t1, "cpu_seconds": time.process_time() - c1,
                "setup_cpu_seconds": c1 - c0,
                "loaded_pipeline": after["loads"] > before["loads"], "ranked_now": after["ranks"] > before["ranks"]}  # fmt: skip
    except Exception as exc:  # recorded in the row; the sweep goes on
        row |= failure(exc) | {"seconds": time.perf_counter() - t0}
    row["finished"] = now()
    return row


# ---- simulation studies


def study_trial(trial: dict[str, Any], inputs: Any) -> dict[str, Any]:
    """One study run (parameters × seed) on the scattered ``(Dataset, world)`` of its seed."""
    row: dict[str, Any] = {"config_id": trial["config_id"], **where()}
    t0 = time.perf_counter()
    try:
        row |= STUDIES[trial["study"]].run(trial["params"], trial["seed"], inputs)
        row |= {"status": "ok", "error": "", "traceback": ""}
    except Exception as exc:  # recorded in the row; the sweep goes on
        row |= failure(exc)
    row["seconds"] = time.perf_counter() - t0
    row["finished"] = now()
    return row
