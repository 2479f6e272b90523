"""Run a sweep on ``dask.distributed``: a LocalCluster by default, any scheduler by address, one code path.

`run_sweep` plans on the client, before any task runs:

1. the configs still to do: those without a successful row in the results folder computed
   from the artefact this run would use (a row from an older artefact, fitted by code that has
   changed since, is done again); ``limit`` caps how many this run takes on;
2. per seed, the data split (`workbench.store.DataSpec`) and the evaluation users, scattered
   once to every worker (`Client.scatter`, ``broadcast=True``), not pickled into each task;
3. per distinct upstream config (its artefact key: everything but the serving knobs
   ``rerank``, ``k`` and ``n_ranked``), the stored artefact, or one fit task that trains
   and stores it (`workbench.store`); the configs sharing it wait for that task;
4. per artefact × seed × ``n_ranked``, one task running stages 1-2 for the evaluation users
   (`workbench.sweep.tasks.rank_upstream`): computed once, its ranked candidates copied by
   Dask once to each worker that needs them;
5. one task per group of configs × seed (`workbench.sweep.tasks.pipeline_trials`, up to
   `MAX_CONFIGS_PER_TASK` configs, about four tasks per worker: `configs_per_task`): stage 3
   and the metrics of each config over those shared ranked candidates, one row per config.

Rows are written to the results folder as they arrive (`workbench.sweep.results`); a
config that fails is a row with its error; an interruption (Ctrl-C) keeps what was
written, and a re-run does only the rest. Study sweeps (``study = ...``) run
`workbench.sweep.studies` the same way.

``connect`` yields a `distributed.Client`: on a new ``LocalCluster`` (one single-threaded
worker process per core, on 127.0.0.1) when ``scheduler`` is None, or on the scheduler at
that address (``tcp://host:8786``). Everything after it is the same code. A remote
cluster's workers need this package installed, and the model store and data cache at the
same paths (a shared file system).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.provenance import git_commit, package_versions, thread_settings
from workbench.sweep.progress import Silent
from workbench.sweep.results import ResultStore
from workbench.sweep.spec import SweepSpec, Trial
from workbench.sweep.tasks import EvalInputs, failure, fit_upstream, pipeline_trials, rank_upstream, study_trial

MAX_CONFIGS_PER_TASK = 25
_ADDRESS = re.compile(r"^((tcp|tls|ws|wss|inproc|ucx)://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


def check_scheduler(address: str | None, workers: int | None = None) -> None:
    """ValueError unless ``address`` looks like ``tcp://host:port`` (or ``host:port``); ``workers``
    only with the LocalCluster."""
    if address is not None and not _ADDRESS.match(address):
        raise ValueError(f"--scheduler {address!r}: expected a Dask scheduler address such as tcp://host:8786")
    if address is not None and workers is not None:
        raise ValueError(f"--workers {workers} with --scheduler {address}: the scheduler's cluster has its own "
                         "workers; --workers sizes the LocalCluster only")  # fmt: skip
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"--workers {workers!r}: expected a positive number of worker processes")


# How often the LocalCluster's processes wake when nothing happens (see `connect`).
QUIET_INTERVALS = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s",
                   "distributed.worker.memory.monitor-interval": "1s",
                   "distributed.scheduler.work-stealing-interval": "1s"}  # fmt: skip


# glibc's malloc in each LocalCluster worker (environment variables read at its start; see `connect`):
# arrays up to 32 MB come from the heap, and up to 128 MB of freed heap is kept for the next config
# instead of being handed back to the kernel and faulted in again.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(128 << 20)}


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None, client: Any = None) -> Iterator[Any]:
    """A `distributed.Client`: ``client`` as given, else on ``scheduler``, else on a new LocalCluster
    with ``workers`` single-threaded processes (default: one per core), closed on exit."""
    if client is not None:
        yield client
        return
    check_scheduler(scheduler, workers)
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            c = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise RuntimeError(f"--scheduler {scheduler}: no Dask scheduler answered there ({exc})") from None
        with c:
            yield c
        return
    import dask

    n = workers or os.cpu_count() or 1
    nanny = logging.getLogger("distributed.nanny")
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which also fixes glibc's mmap threshold:
    # every numpy array over 128 KB is then mapped and unmapped anew, and stage 3 + metrics took twice the
    # CPU time (measured: benchmarks/RESULTS.md, "Sweeps on Dask"). glibc's default is no cure either: a
    # worker runs its tasks in a thread of its own, whose freed memory glibc handed back to the kernel, so
    # each config faulted in 13-16 MB anew (3,300-4,000 minor page faults per config against 2 in a plain
    # loop, and 53-57 ms of CPU per config against 41-45: benchmarks/RESULTS.md, "The sweep's in-task cost,
    # third session"). The workers get `WORKER_MALLOC` instead: 2.4 faults and 41-44 ms per config. Nor do
    # they sample their own stacks every 10 ms for a dashboard this cluster does not serve. Nor do the
    # processes wake every 20 ms (event-loop tick), 100 ms (memory monitor, work stealing) and 500 ms (system
    # monitor): those cost 35-38 ms of CPU a second in the client with the scheduler and 16-18 in each worker,
    # idle, against 7 and 3 at the intervals below (benchmarks/RESULTS.md, "Sweep overhead, issue 24").
    quiet = {**{f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()},
             "distributed.worker.profile.enabled": False, **QUIET_INTERVALS}  # fmt: skip
    # The nanny lets a variable already in this process's environment win over its config, and every nanny
    # writes its pre-spawn variables into this process's environment: after any earlier cluster here (Dask's
    # defaults) the config alone would leave MALLOC_TRIM_THRESHOLD_=65536. So they are set here too while the
    # workers start, and the environment is put back as it was once they are up.
    saved = {k: os.environ.get(k) for k in WORKER_MALLOC}
    with dask.config.set(quiet), contextlib.ExitStack() as stack:
        os.environ.update(WORKER_MALLOC)
        try:
            cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                       host="127.0.0.1", dashboard_address="127.0.0.1:0"))  # fmt: skip
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        try:
            with Client(cluster) as c:
                yield c
        finally:  # on a busy machine closing workers takes longer than the nanny's 4 s: it kills them, and says so
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)


@dataclass
class SweepRun:
    """What one `run_sweep` call did."""

    out: Path
    total: int  # configs × seeds in the sweep
    skipped: int  # already done before this run
    computed: int  # rows written by this run (failures included)
    failed: int
    fits: int  # upstream configs trained by this run
    seconds: float
    scheduler: str
    workers: int
    table: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def describe(self) -> str:
        left = self.total - self.skipped - self.computed
        return (f"{self.computed} config(s) computed ({self.failed} failed), {self.skipped} already done"
                + (f", {left} left for a later run" if left else "")
                + f"; {self.fits} upstream fit(s); {self.seconds:.1f} s on {self.workers} worker(s) at {self.scheduler}")  # fmt: skip


def _point_id(values: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(values, sort_keys=True, default=repr).encode(), digest_size=8).hexdigest()


def _provenance() -> dict[str, Any]:
    from importlib import metadata

    from workbench.store import code_version

    return {"code_version": code_version(), "commit": git_commit(), "dask": metadata.version("distributed")}


def run_sweep(spec: SweepSpec, out: str | Path, *, scheduler: str | None = None, workers: int | None = None,
              client: Any = None, store: str | Path | None = None, cache_dir: str | Path = "data",
              progress: Any = None, limit: int | None = None, flush_every: int = 50,
              flush_seconds: float = 2.0, model: str | Path | None = None) -> SweepRun:  # fmt: skip
    """Run the configs of ``spec`` not yet done in ``out``; see the module docstring.

    ``model``: one artefact folder every config is served from (as ``workbench serve --model``),
    instead of the store's artefact for each upstream config; every config must share its
    fitted config (only ``rerank``, ``k`` and ``n_ranked`` may differ), checked before any work."""
    t0 = time.perf_counter()
    check_scheduler(scheduler, workers)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit={limit!r}: expected a non-negative number of configs")
    trials = spec.trials()
    if model is not None:
        if spec.study is not None:
            raise ValueError(f"model={model}: a {spec.study} study sweep has no pipeline to serve")
        check_model(model, trials)
    results = ResultStore(out)
    cache_dir = str(Path(cache_dir).resolve())
    plan = _plan_pipeline(spec, trials, store, cache_dir, model) if spec.study is None else None
    done = _done(results.read(), plan)
    todo = [t for t in trials if t.config_id not in done]
    skipped = len(trials) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    progress = progress or Silent()
    if not todo:
        return SweepRun(results.folder, len(trials), skipped, 0, 0, 0, time.perf_counter() - t0, "-", 0,
                        results.read())  # fmt: skip
    order = {t.config_id: i for i, t in enumerate(trials)}
    prov = _provenance()
    started = datetime.now(timezone.utc).isoformat(timespec="microseconds")  # a run stamp: two runs in one second differ
    _write_meta(results.folder, spec, prov, started)

    with connect(scheduler, workers, client) as c:
        address = c.scheduler_info().get("address", str(scheduler))
        n_workers = len(c.scheduler_info().get("workers", {}))
        if plan is not None:
            per_task = configs_per_task(len(todo), n_workers)
            futures, fit_futures = _submit_pipeline(c, spec, todo, plan, cache_dir, per_task)
        else:
            futures, fit_futures = _submit_studies(c, spec, todo, cache_dir), []
        by_key = {f.key: ts for f, ts in futures}
        common = {"sweep": spec.name, "data": spec.data, "small": spec.small, "split": spec.split,
                  "scheduler": address, "started": started, **prov}  # fmt: skip
        computed = failed = 0
        buffer: list[dict[str, Any]] = []
        last = time.perf_counter()
        progress.start(len(todo), f"sweep {spec.name}")
        try:
            from distributed import as_completed

            for fut in as_completed([f for f, _ in futures]):
                ts = by_key[fut.key]
                for row, t in zip(_rows(fut, ts), ts):
                    row |= _trial_columns(t, order[t.config_id]) | common
                    buffer.append(row)
                    computed += 1
                    failed += row["status"] != "ok"
                    progress.update(row)
                fut.release()
                if len(buffer) >= flush_every or time.perf_counter() - last >= flush_seconds:
                    results.append(buffer)
                    buffer, last = [], time.perf_counter()
        finally:
            results.append(buffer)  # what arrived before an interruption is kept
            progress.close()
            for f, _ in futures:
                if not f.done():
                    f.cancel()
        fits = sum(1 for f in fit_futures if f.status == "finished" and f.result().get("trained"))
    return SweepRun(results.folder, len(trials), skipped, computed, failed, fits, time.perf_counter() - t0, address,
                    n_workers, results.read())  # fmt: skip


def configs_per_task(n_configs: int, n_workers: int) -> int:
    """Configs scored in one task: about four tasks per worker, at most `MAX_CONFIGS_PER_TASK`
    (a task's configs share its per-task costs; enough tasks remain to balance the workers)."""
    return max(1, min(MAX_CONFIGS_PER_TASK, n_configs // (4 * max(1, n_workers))))


def _rows(fut: Any, ts: list[Trial]) -> list[dict[str, Any]]:
    """The task's rows (one per trial), or failure rows when the task itself (or what it waited for) raised."""
    if fut.status == "finished":
        out = fut.result()
        return out if isinstance(out, list) else [out]
    try:
        exc = fut.exception()
    except BaseException as err:  # cancelled
        exc = err
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return [{"config_id": t.config_id, **failure(exc), "finished": when} for t in ts]


def _trial_columns(t: Trial, order: int) -> dict[str, Any]:
    cols = {"order": order, "point_id": _point_id(t.values), "label": t.label, "seed": t.seed, **t.values}
    if t.config is not None:
        cols["config"] = json.dumps(t.config_dict)
    else:
        cols["params"] = json.dumps(t.params, sort_keys=True)
    return cols


def _write_meta(folder: Path, spec: SweepSpec, prov: dict[str, Any], started: str) -> None:

    folder.mkdir(parents=True, exist_ok=True)
    meta = {"source": spec.source, "evaluation": spec.evaluation(), "grid": spec.grid, "random": spec.random,
            "samples": spec.samples, "sample_seed": spec.sample_seed, "seeds": list(spec.seeds), "base": spec.base,
            "started": started, **prov, "versions": package_versions(), "client_threads": thread_settings()}  # fmt: skip
    (folder / "sweep.json").write_text(json.dumps(meta, indent=2, default=repr), encoding="utf-8")


def check_model(model: str | Path, trials: list[Trial]) -> dict[str, Any]:
    """The manifest of artefact folder ``model`` after checking it and that every trial shares its fitted config."""
    from workbench.pipeline import PipelineConfig
    from workbench.store import ArtefactError, verify
    from workbench.store.store import fit_config

    folder = Path(model)
    if not folder.is_dir():
        raise FileNotFoundError(f"--model {model}: no such artefact folder (`workbench models` lists the store)")
    try:
        manifest = verify(folder)
        stored = fit_config(PipelineConfig.from_dict(json.loads((folder / "config.json").read_text()),
                                                     source=str(folder / "config.json")))  # fmt: skip
    except (ArtefactError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"--model {model}: not a sound pipeline artefact ({exc})") from None
    for t in trials:
        mine = fit_config(t.config)
        differ = sorted(k for k in mine if mine[k] != stored.get(k))
        if differ:
            raise ValueError(f"--model {model}: config {t.label} (seed {t.seed}) differs from the artefact's fitted "
                             f"config in {differ}; only rerank, k and n_ranked may vary over one artefact")  # fmt: skip
    return manifest


@dataclass
class _Plan:
    """What the client works out before submitting a pipeline sweep: each seed's data, each config's artefact."""

    specs: dict[int, Any]  # seed → DataSpec
    splits: dict[int, tuple[Any, Any]]  # seed → (train, test)
    keys: dict[str, str]  # config id → artefact key
    folders: dict[str, str]  # artefact key → folder, for the artefacts that exist and are sound
    store_root: str


def _plan_pipeline(spec: SweepSpec, trials: list[Trial], store: str | Path | None, cache_dir: str,
                   model: str | Path | None) -> _Plan:  # fmt: skip
    """Load each seed's split and work out every config's artefact key (the given ``model``'s, or the
    store's for its upstream config) and which of those artefacts are already stored."""
    from workbench.store import ArtefactError, DataSpec, ModelStore, artefact_key, code_version, verify
    from workbench.store.store import loaded

    store = ModelStore(store)
    specs, splits = {}, {}
    for seed in sorted({t.seed for t in trials}):
        specs[seed] = DataSpec(spec.data, seed, spec.small, spec.split)
        splits[seed] = loaded(specs[seed], cache_dir)  # once per process: page 04's sweep reads the page's split
    if model is not None:
        manifest = verify(model)
        prints = sorted({train.fingerprint for train, _ in splits.values()})
        if prints != [manifest["fingerprint"]]:
            raise ValueError(f"--model {model} was fitted on data with fingerprint {manifest['fingerprint']}, not on "
                             f"this sweep's {spec.data} train split (fingerprint(s) {prints})")  # fmt: skip
        key = manifest["key"]
        return _Plan(specs, splits, {t.config_id: key for t in trials}, {key: str(Path(model).resolve())},
                     str(store.root.resolve()))  # fmt: skip
    code = code_version()
    keys = {t.config_id: artefact_key(specs[t.seed], splits[t.seed][0].fingerprint, t.config, code) for t in trials}
    folders = {}
    for key in dict.fromkeys(keys.values()):
        try:
            verify(store.path(key))
            folders[key] = str(store.path(key))
        except ArtefactError:
            pass
    return _Plan(specs, splits, keys, folders, str(store.root.resolve()))


def _done(table: pd.DataFrame, plan: _Plan | None) -> set[str]:
    """Config ids with a successful row, computed from the artefact this run would use (pipeline sweeps):
    a row from another artefact (the fitting code or the given model changed since) is done again."""
    if table.empty:
        return set()
    ok = table[table["status"] == "ok"]
    if plan is None:
        return set(ok["config_id"])
    arts = ok["artefact"] if "artefact" in ok.columns else pd.Series(None, index=ok.index)
    return {cid for cid, art in zip(ok["config_id"], arts) if plan.keys.get(cid) == art}


def _submit_pipeline(c: Any, spec: SweepSpec, todo: list[Trial], plan: _Plan, cache_dir: str, per_task: int = 1):
    """Scatter each seed's inputs, one fit task per missing upstream artefact, one stages 1-2 task per
    artefact × seed × ``n_ranked``, one task per ``per_task`` configs × seed sharing those."""
    from workbench.sweep.evaluation import evaluation_users

    inputs = {}
    for seed in sorted({t.seed for t in todo}):
        train, test = plan.splits[seed]
        inputs[seed] = c.scatter(EvalInputs(train, test, evaluation_users(test)), broadcast=True)
    groups: dict[str, list[Trial]] = {}
    for t in todo:
        groups.setdefault(plan.keys[t.config_id], []).append(t)
    futures, fit_futures = [], []
    for key, members in groups.items():  # one artefact (fit) per distinct upstream config
        if key in plan.folders:
            artefact: Any = {"path": plan.folders[key], "key": key, "trained": False}
        else:
            first = members[0]
            artefact = c.submit(fit_upstream, dataclasses.asdict(plan.specs[first.seed]), first.config_dict,
                                plan.store_root, cache_dir, key=f"fit-{key}-{os.urandom(4).hex()}")  # fmt: skip
            fit_futures.append(artefact)
        shared: dict[tuple[int, int], list[Trial]] = {}  # (seed, n_ranked) → the configs sharing its stages 1-2
        for t in members:
            shared.setdefault((t.seed, t.config.n_ranked), []).append(t)
        for (seed, n_ranked), group in shared.items():
            upstream = c.submit(rank_upstream, group[0].config_dict, inputs[seed], artefact,
                                key=f"rank-{key}-{seed}-{n_ranked}-{os.urandom(4).hex()}")  # fmt: skip
            for lo in range(0, len(group), per_task):
                chunk = group[lo : lo + per_task]
                payloads = [{"config_id": t.config_id, "config": t.config_dict, "ks": list(spec.ks(t.config.k)),
                             "graded": spec.graded, "metrics": list(spec.metrics)} for t in chunk]  # fmt: skip
                fut = c.submit(pipeline_trials, payloads, inputs[seed], upstream,
                               key=f"trials-{chunk[0].config_id}-{len(chunk)}-{os.urandom(4).hex()}")  # fmt: skip
                futures.append((fut, chunk))
    return futures, fit_futures


def _submit_studies(c: Any, spec: SweepSpec, todo: list[Trial], cache_dir: str):
    """Scatter each seed's (data set, world), one task per parameters × seed."""
    from workbench.sweep.studies import study_inputs

    inputs = {seed: c.scatter(study_inputs(spec.data, seed, spec.small, cache_dir), broadcast=True)
              for seed in sorted({t.seed for t in todo})}  # fmt: skip
    futures = []
    for t in todo:
        payload = {"config_id": t.config_id, "study": spec.study, "params": t.params, "seed": t.seed}
        fut = c.submit(study_trial, payload, inputs[t.seed], key=f"study-{t.config_id}-{os.urandom(4).hex()}")
        futures.append((fut, [t]))
    return futures

