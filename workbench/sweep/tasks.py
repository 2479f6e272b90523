"""What runs on a Dask worker: fit an upstream config once, then score configs from a per-worker cache.

Stages 1-2 run once per (artefact, seed, ``n_ranked``) in one `rank_upstream` task, whose
ranked candidates every config sharing them receives (Dask copies the result once to each
worker that needs it); each `pipeline_trial` then runs only stage 3 and the metrics. A
worker keeps the fitted pipelines it loaded in `workbench.sweep.cache`.

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

from workbench.sweep.cache import cached, count
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


def rank_upstream(config: dict[str, Any], inputs: EvalInputs, artefact: dict[str, Any]) -> dict[str, Any]:
    """Stages 1-2 of one artefact for a seed's evaluation users, once for every config that shares them.

    One task per (artefact, seed, ``n_ranked``): it loads the stored pipeline (``config``: the
    first config of the group, whose fitted fields are the artefact's), ranks the evaluation
    users' candidates and returns them. Dask copies the result once to each worker whose
    `pipeline_trial` tasks need it, so no trial loads the pipeline or runs stages 1-2."""
    from workbench.pipeline import PipelineConfig

    t0, c0 = time.perf_counter(), time.process_time()
    pipe = copy.copy(_pipeline(artefact, inputs))  # shares the fitted stages; n_ranked from this config
    pipe.config = PipelineConfig.from_dict(config)
    count("ranks")
    ranked = pipe.rank_stage(inputs.users)
    return {"ranked": ranked, "key": artefact["key"], "trained": bool(artefact.get("trained")),
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "where": where()["worker"]}  # fmt: skip


def pipeline_trial(trial: dict[str, Any], inputs: EvalInputs, upstream: dict[str, Any]) -> dict[str, Any]:
    """One config × seed: stage 3 over the shared ranked candidates (`rank_upstream`), then the metric table.

    ``trial``: config (dict), ks, graded, metrics. The figures are those of
    ``workbench evaluate --model pipeline --config <config>``: the same users, the same
    lists (``recommend`` = stages 1-2, then stage 3 to the largest cut-off), the same
    `workbench.sweep.evaluation.metric_table`.
    """
    from workbench.pipeline import PipelineConfig, rerank_ranked
    from workbench.sweep.evaluation import metric_table, wide_row

    row: dict[str, Any] = {"config_id": trial["config_id"], "artefact": upstream.get("key"),
                           "artefact_trained": bool(upstream.get("trained")), **where()}  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        config = PipelineConfig.from_dict(trial["config"])
        ranked, ks = upstream["ranked"], trial["ks"]
        if not 1 <= ks[-1] <= ranked.n:
            raise ValueError(f"k={ks[-1]}: expected an integer in [1, {ranked.n}] (the ranked pool holds {ranked.n} per user)")
        slate = rerank_ranked(config, inputs.train, ranked, ks[-1])
        table = metric_table(slate.items, inputs.train, inputs.test, inputs.users, ks, trial["graded"])
        row |= wide_row(table, trial["metrics"])
        row |= {"status": "ok", "error": "", "traceback": "", "users": len(inputs.users),
                "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                "upstream_seconds": upstream["seconds"], "upstream_cpu_seconds": upstream["cpu_seconds"],
                "upstream_worker": upstream["where"]}  # fmt: skip
    except Exception as exc:  # recorded in the row; the sweep goes on
        row |= failure(exc) | {"seconds": time.perf_counter() - t0}
    row["finished"] = now()
    return row


def pipeline_trials(trials: list[dict[str, Any]], inputs: EvalInputs, upstream: dict[str, Any]) -> list[dict[str, Any]]:
    """Several configs sharing one upstream in one task (`pipeline_trial` for each, in order): Dask's
    per-task costs (scheduling, a result message, a row batch on the client) are paid once for all."""
    return [pipeline_trial(t, inputs, upstream) for t in trials]


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
