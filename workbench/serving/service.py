"""The request path of the served recommender, as the textbook draws it:

    cache check → feature fetch → candidates → ranking → reranking → response → log

`RecommenderService.recommend` runs those seven steps for one request and times each one (the
``Server-Timing`` header and the ``/metrics`` histograms carry the durations). The numeric
stages (candidates, ranking, reranking) run on one inference thread, never on the event loop,
so a slow ranking does not stop the server from accepting and answering other requests.

Dynamic batching: requests that reach stage 3 while the inference thread is busy wait (the
``queue`` stage) and then run through stages 3-5 together, as one batch of users (up to
``max_batch``): the stages are vectorised over users, so a batch of eight costs far less than
eight requests one by one. An idle thread starts at once, so batching adds no wait at low load.
Within a batch, the item features (availability, promotion, release times) are the newest any
of its requests fetched, and one exploration seed serves the batch.

What the online features change, and what they do not
-----------------------------------------------------
The feature fetch (one round trip, `FeatureStore.fetch`) returns the user's recent items and
interaction count and the whole catalogue's popularity counters, availability, promotion and
release times, all kept current by the events the service receives. The request uses them:

- **cold start**: a user unknown to the model, or with no interactions in the store, gets the
  popular answer, ranked by the *online* popularity counters (flagged ``cold_user``);
- **candidates** (stage 1): items the user interacted with since training (the online recent
  list) and items the store marks unavailable are dropped before ranking;
- **ranking** (stage 2): the request time (the body's ``context.timestamp``, default the end of
  the model's training history) and device feed the ranker's context features;
- **reranking** (stage 3): availability, promotion (pinning), item age at request time
  (freshness) and the online recent list (seen filter) all come from the store.

What only the fitted state provides, said plainly: the candidate sources score a user from
the history they were fitted on (EASE's and item-kNN's history rows, ALS and two-tower user
vectors are model state, keyed by the user's row), and the ranker's user and item statistics
(activity, genre profile, popularity, SVD vectors) are those of the training data. Online
clicks therefore move a user's answer through the filters and the cold-start and popularity
paths, not through re-scoring; a retrain (a new model version, freshly materialised features)
is what brings them into the models. Items unavailable at training time are never proposed by
stage 1 even if they become available online.

Degradation
-----------
- Redis down or slow: every Redis call has a deadline (``redis_timeout_ms``: time Redis had while
  the event loop was running; a busy machine's scheduling delays are not charged to Redis, see
  `RedisGuard._within`) and no retries;
  after a refused connection, or three deadlines missed in a row, the service stops calling
  Redis for ``redis_cooldown_s`` and then probes it again with the next request. Meanwhile
  answers come from the in-process fallback: available items by popularity, as last read from
  the store (the training data before any read), minus the user's training history; flagged
  ``feature_store``. A Redis that comes back empty (it
  persists nothing) is rebuilt in the background: the offline features, then the event log's
  clicks and conversions replayed over them (`rematerialise`). Clicks and conversions posted while
  Redis is unreachable are logged (acknowledged, ``features_updated: false``) and wait in memory
  (``workbench_event_lag``); the first request or event after Redis answers again applies them and
  drops those users' cached answers (a rebuild from the log covers them instead).
- Ranker over its budget (``ranker_budget_ms``, the ranker's own time from the end of stage 1;
  0 means every answer skips it): the answer is the top of the candidate order
  (fused stage-1 scores, after the online filters), flagged ``ranker_budget``. The late ranking
  still finishes on the inference thread (a thread cannot be interrupted); its result is dropped.
- Unknown or cold user: popular items, flagged ``cold_user``.

Why one module over 500 lines: the request path, the Redis guard it calls at every step, dynamic
batching and the application of events all share one service's state (its futures, locks, the
waiting events, the fallback); split apart, one request's seven steps would be read across modules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.ranking.features import DEVICES, Context, simulated_device
from workbench.rerank import rerank
from workbench.serving.cache import ResponseCache
from workbench.serving.eventlog import EventLog
from workbench.serving.feature_store import FeatureStore, Features, NotMaterialised, make_client
from workbench.serving.model import ServedModel
from workbench.settings import check_fields
from workbench.types import PAD, CandidateSet

STAGES = ("cache", "features", "queue", "candidates", "ranking", "rerank", "popular", "response", "log")
DEGRADED = ("feature_store", "ranker_budget", "cold_user")


@dataclass(frozen=True)
class ServiceConfig:
    """The service's knobs (the pipeline's own come from its config).

    k_max: largest slate a request may ask for (None: the pipeline's ``n_ranked``).
    cache_ttl_s / cache_enabled: the response cache.
    redis_timeout_ms: deadline of each Redis call; redis_cooldown_s: how long to skip Redis after a failure.
    ranker_budget_ms: stage 2's time budget (the textbook's model-inference p99 is 50 ms).
    exploration_rate: ε of reranking's exploration (None: the pipeline config's); each request draws
        with its own seed, so propensities describe a real randomisation.
    max_body_bytes / max_events: request size limits.
    max_batch: most requests the inference thread runs as one batch (1: no batching).
    switch_interval_ms: the interpreter's GIL switch interval, set at start-up (None: leave it; Python's
        default is 5 ms). The event loop shares the GIL with the inference thread; with 5 ms turns, a
        Redis reply can wait several turns and miss an 8 ms deadline on a busy machine.
    """

    k_max: int | None = None
    cache_ttl_s: float = 60.0
    cache_enabled: bool = True
    redis_timeout_ms: float = 8.0
    redis_cooldown_s: float = 0.5
    ranker_budget_ms: float = 50.0
    exploration_rate: float | None = None
    max_body_bytes: int = 64 * 1024
    max_events: int = 1000
    recent_n: int = 100
    switch_interval_ms: float | None = 1.0
    max_batch: int = 32

    def __post_init__(self) -> None:
        check_fields(self)  # types first (workbench.settings: no string, no bool for a number, no NaN: it passes every `<`)
        checks = {"cache_ttl_s": self.cache_ttl_s, "switch_interval_ms": self.switch_interval_ms or 1.0,
                  "max_batch": self.max_batch, "redis_timeout_ms": self.redis_timeout_ms,
                  "max_body_bytes": self.max_body_bytes, "max_events": self.max_events, "recent_n": self.recent_n}  # fmt: skip
        for name, value in checks.items():
            if not value > 0:
                raise ValueError(f"ServiceConfig.{name}={value!r}: expected a positive number")
        if self.redis_cooldown_s < 0 or self.ranker_budget_ms < 0:
            raise ValueError(f"ServiceConfig: redis_cooldown_s={self.redis_cooldown_s}, ranker_budget_ms="
                             f"{self.ranker_budget_ms}; expected numbers >= 0")  # fmt: skip
        if self.k_max is not None and self.k_max < 1:
            raise ValueError(f"ServiceConfig.k_max={self.k_max!r}: expected a positive slate length or None")
        if self.exploration_rate is not None and not 0.0 <= self.exploration_rate <= 1.0:
            raise ValueError(f"ServiceConfig.exploration_rate={self.exploration_rate!r}: expected ε in [0, 1] or None")


class RedisUnavailable(RuntimeError):
    """Redis failed, timed out, or is being skipped after a recent failure."""


class RedisGuard:
    """Deadline on every Redis call, and a short cool-down after a failure (a minimal circuit breaker)."""

    WRITE_FACTOR = 10
    OPEN_AFTER = 3  # consecutive timeouts that open the breaker (one slow reply on a busy machine does not)
    GRACE_TURNS = 3  # event-loop turns given, at the deadline, to read a reply already received (`_within`)
    LATE_SHARE = 0.25  # a deadline timer this late (share of the deadline) means the loop was not running
    MAX_EXTENSIONS = 3  # deadlines re-armed for a late loop, at most (the wait stays bounded)

    def __init__(self, timeout_ms: float, cooldown_s: float) -> None:
        self.timeout_s, self.cooldown_s = timeout_ms / 1000.0, cooldown_s
        self.down_until = 0.0
        self.last_error: str | None = None
        self.failures = self.in_a_row = 0

    @property
    def up(self) -> bool:
        return time.monotonic() >= self.down_until

    async def call(self, make: Callable[[], Any], write: bool = False) -> Any:
        """``await make()`` within the deadline. Reads on the request path trip the breaker when they fail;
        writes (cache stores, event updates: off the answer's critical path) get ``WRITE_FACTOR`` times the
        deadline and never trip it."""
        from redis.exceptions import RedisError

        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout

        if not self.up:
            raise RedisUnavailable(f"skipping Redis after a failure ({self.last_error})")
        try:
            result = await self._within(make, self.timeout_s * (self.WRITE_FACTOR if write else 1))
        except (asyncio.TimeoutError, OSError, RedisError) as exc:
            if not write:  # a refused or broken connection opens the breaker at once; timeouts when they repeat
                timeout = isinstance(exc, (TimeoutError, asyncio.TimeoutError, RedisTimeout))  # TimeoutError is an OSError
                self._fail(exc, now=not timeout and isinstance(exc, (OSError, RedisConnectionError)))
            raise RedisUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not write:
            self.down_until, self.last_error, self.in_a_row = 0.0, None, 0
        return result

    async def _within(self, make: Callable[[], Any], limit: float) -> Any:
        """``await make()``, failed with TimeoutError when Redis had ``limit`` seconds of a *running* event
        loop to answer and did not. On a busy machine the process can be off the CPU for longer than the
        deadline; Redis' reply then waits in the socket, and a plain ``asyncio.wait_for`` drops it (its
        timer and the reply become ready in the same turn of the loop). So: the clock starts in the task
        that sends the command; a deadline timer that runs late by more than ``LATE_SHARE`` of the
        deadline (the loop was not running) re-arms for one more deadline from now, at most
        ``MAX_EXTENSIONS`` times; and at the deadline the loop gets ``GRACE_TURNS`` turns (each polls the
        sockets, none waits) to read a reply already received. A Redis that does not answer while the
        loop runs still fails at the deadline."""
        loop = asyncio.get_running_loop()
        expired = loop.create_future()
        timer: list[asyncio.TimerHandle] = []

        def arm(extensions: int) -> None:
            due = loop.time() + limit
            timer[:] = [loop.call_at(due, check, due, extensions)]

        def check(due: float, extensions: int) -> None:
            if loop.time() - due > limit * self.LATE_SHARE and extensions < self.MAX_EXTENSIONS:
                arm(extensions + 1)
            elif not expired.done():
                expired.set_result(None)

        async def timed() -> Any:
            arm(0)
            try:
                return await make()
            finally:
                timer[0].cancel()

        task = loop.create_task(timed())
        try:
            await asyncio.wait((task, expired), return_when=asyncio.FIRST_COMPLETED)
            for _ in range(self.GRACE_TURNS):
                if task.done():
                    break
                await asyncio.sleep(0)
        except BaseException:  # the request itself was cancelled
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            raise asyncio.TimeoutError(f"no reply within {limit * 1e3:.1f} ms of a running event loop")
        return task.result()

    def _fail(self, exc: BaseException, now: bool) -> None:
        self.failures += 1
        self.in_a_row += 1
        self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if now or self.in_a_row >= self.OPEN_AFTER:
            self.down_until = time.monotonic() + self.cooldown_s


class ServiceMetrics:
    """prometheus-client metrics in a registry of their own (several services can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        buckets = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
        self.stage = Histogram("workbench_stage_seconds", "time spent in each stage of the request path",
                               ["stage"], buckets=buckets, registry=self.registry)  # fmt: skip
        self.total = Histogram("workbench_request_seconds", "server-side time of a /recommend request",
                               buckets=buckets, registry=self.registry)  # fmt: skip
        self.requests = Counter("workbench_requests", "HTTP requests by endpoint and status", ["endpoint", "status"],
                                registry=self.registry)  # fmt: skip
        self.cache = Counter("workbench_cache_lookups", "response-cache lookups by result", ["result"], registry=self.registry)
        self.hit_rate = Gauge("workbench_cache_hit_rate", "hits / lookups of the response cache", registry=self.registry)
        self.degraded = Counter("workbench_degraded", "degraded answers by reason", ["reason"], registry=self.registry)
        self.errors = Counter("workbench_errors", "errors by kind", ["kind"], registry=self.registry)
        self.batch = Histogram("workbench_batch_size", "requests per inference batch", registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128))  # fmt: skip
        self.events = Counter("workbench_events", "events received by type and result", ["type", "result"],
                              registry=self.registry)  # fmt: skip
        self.event_lag = Gauge("workbench_event_lag", "clicks and conversions logged but not yet applied to the "
                               "feature store (Redis unreachable)", registry=self.registry)  # fmt: skip
        for reason in DEGRADED:
            self.degraded.labels(reason)
        for result in ("hit", "miss"):
            self.cache.labels(result)

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


@dataclass(eq=False)
class _Job:
    """One request's stages 3-5, handed to the inference thread; its futures resolve on the event loop."""

    row: int
    feats: Features
    ts: float
    device: int | None
    k: int
    seed: int
    loop: asyncio.AbstractEventLoop
    cands: asyncio.Future
    ranked: asyncio.Future
    slate: asyncio.Future
    enqueued: float
    started: float = 0.0
    cands_ready: float = 0.0  # perf_counter when stage 1 ended (the ranker's budget starts there)

    def resolve(self, fut: asyncio.Future, value: Any = None, exc: BaseException | None = None) -> None:
        """Set ``fut`` from the inference thread (ignored when the request stopped waiting for it)."""

        def settle() -> None:
            if not fut.done():
                fut.set_exception(exc) if exc is not None else fut.set_result(value)

        self.loop.call_soon_threadsafe(settle)


@dataclass
class Answer:
    """One served answer: the JSON body, the stage timings and what the app needs for headers."""

    body: dict[str, Any]
    timings_ms: dict[str, float]

    def server_timing(self) -> str:
        return ", ".join(f"{name};dur={ms:.3f}" for name, ms in self.timings_ms.items())


def drop_cells(cands: CandidateSet, drop: np.ndarray) -> CandidateSet:
    """``cands`` without the ``drop`` cells: kept items move forward in order, the row ends are padding."""
    keep = ~drop & cands.mask
    order = np.argsort(~keep, axis=1, kind="stable")
    out = cands.take(order)
    tail = np.arange(cands.n)[None, :] >= keep.sum(axis=1)[:, None]
    out.items[tail], out.scores[tail], out.sources[tail] = PAD, -np.inf, 0
    if out.source_ranks is not None:
        out.source_ranks[tail] = -1
    if out.source_scores is not None:
        out.source_scores[tail] = np.nan
    return out


def popular_order(popularity: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most popular eligible item rows (ties by row)."""
    key = np.where(eligible, np.asarray(popularity, dtype=np.float64), -np.inf)
    order = np.argsort(-key, kind="stable")[:k]
    return order[np.isfinite(key[order])]


class RecommenderService:
    """The served pipeline: model, feature store, cache, event log, fallback and metrics (module docstring)."""

    def __init__(self, model: ServedModel, redis_url: str, event_log: EventLog, config: ServiceConfig | None = None) -> None:
        self.model, self.redis_url, self.log = model, redis_url, event_log
        self.config = cfg = config or ServiceConfig()
        pipe, train = model.pipeline, model.train
        pipe.check_fitted()
        self.pipeline, self.train, self.version = pipe, train, model.version
        self.k_max = int(cfg.k_max or pipe.config.n_ranked)
        if self.k_max > pipe.config.n_ranked:
            raise ValueError(f"k_max={self.k_max} exceeds the pipeline's n_ranked={pipe.config.n_ranked} (its ranked pool)")
        self.user_ids = train.users["user_id"].to_numpy()
        self.user_rows = dict(zip(self.user_ids.tolist(), range(len(self.user_ids))))
        self.item_ids = train.items["item_id"].to_numpy()
        self.item_index = pd.Index(self.item_ids)
        self.now = float(pipe.ranker_.features_.now_)  # the model's "now": the end of its training history
        rate = pipe.config.rerank.exploration_rate if cfg.exploration_rate is None else cfg.exploration_rate
        self.rerank_config = dataclasses.replace(pipe.config.rerank, exploration_rate=rate)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self.guard = RedisGuard(cfg.redis_timeout_ms, cfg.redis_cooldown_s)
        self.metrics = ServiceMetrics()
        self.metrics.event_lag.set_function(lambda: self.unapplied_events)
        self.cache = ResponseCache(self.version, None, cfg.cache_ttl_s, cfg.cache_enabled)
        self.store = FeatureStore(self.version, train.n_items, None, None, cfg.recent_n)
        # The in-process fallback: popularity and availability as last read from the store.
        self.fallback_popularity = train.item_popularity.astype(np.int64)
        self.fallback_available = train.item_available.copy()
        self.started_at = time.time()
        self.materialised: dict[str, float] = {}
        self._remat_lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._pending: list[_Job] = []
        self._draining = False
        self._remat_thread: threading.Thread | None = None
        # clicks/conversions logged but not yet in Redis (it was unreachable): applied when it answers again
        self._unapplied: list[pd.DataFrame] = []
        self._unapplied_lock = threading.Lock()
        self._applying: asyncio.Lock | None = None

    # --- lifecycle ------------------------------------------------------------------
    async def astartup(self, connections: int = 8) -> None:
        """`startup`, then open ``connections`` connections to Redis (so that no request pays for a connect)."""
        if self.config.switch_interval_ms is not None:
            sys.setswitchinterval(self.config.switch_interval_ms / 1000.0)
        self.startup()
        for _ in range(5):  # a connect slower than the deadline (a loaded machine) is simply tried again
            done = await asyncio.gather(*(self.store.client.ping() for _ in range(connections)), return_exceptions=True)
            if all(r is True for r in done):
                break

    def startup(self) -> None:
        """Connect to Redis and materialise this version's features (Redis must be up to start)."""
        sync = make_client(self.redis_url, timeout_ms=5_000, asyncio=False)
        try:
            sync.ping()
        except Exception as exc:
            raise RuntimeError(f"Redis at {self.redis_url} is not reachable ({exc}); the service materialises "
                               "its features there at start (`workbench serve` starts one; or set "
                               "WORKBENCH_REDIS_URL)") from exc  # fmt: skip
        self.store.sync_client = sync
        if not self.store.materialised():
            self.rematerialise()
        # The socket timeout is only a backstop: the guard enforces the deadline, measured from the send
        client = make_client(self.redis_url, timeout_ms=self.config.redis_timeout_ms * RedisGuard.WRITE_FACTOR, asyncio=True)
        self.store.client = self.cache.client = client

    def rematerialise(self) -> dict[str, float]:
        """Write the offline features of this version, then replay the event log's clicks and conversions
        over them: the store is rebuilt from the log, its source of truth (e.g. after Redis restarted empty)."""
        t0 = time.perf_counter()
        out = self.store.materialise(self.train, force=True, ready=False)
        events = self.log.read()
        logged = set(_event_keys(events["request_id"], events["position"], events["event_type"]))
        with self._unapplied_lock:  # what the log replay below covers is no longer waiting
            self._unapplied = [f for f in (f[~f["key"].isin(logged)] for f in self._unapplied) if len(f)]
        inter = events[events["event_type"] != "impression"]
        rows = self.item_index.get_indexer(inter["item_id"].to_numpy())
        frame = pd.DataFrame({"user_id": inter["user_id"].to_numpy(), "type": inter["event_type"].to_numpy(),
                              "item_row": rows, "ts": inter["event_ts"].to_numpy()})[rows >= 0]  # fmt: skip
        out["replayed_events"] = float(self.store.replay(frame))
        self.store.mark_ready()
        out["seconds"] = time.perf_counter() - t0
        self.materialised = out
        return out

    def _rematerialise_in_background(self) -> None:
        """Start `rematerialise` on a thread unless one is running (answers stay degraded meanwhile)."""
        with self._remat_lock:
            if self._remat_thread is not None and self._remat_thread.is_alive():
                return

            def job() -> None:
                try:
                    # one rebuild across the replicas sharing this Redis: the others answer from the
                    # fallback until the winner writes the ready key (two replays would count events twice)
                    lock = f"wb-rebuilding:{self.version}"  # outside the store prefix, which a rebuild clears
                    if not self.store.sync_client.set(lock, self.started_at, nx=True, ex=300):
                        return
                    try:
                        self.rematerialise()
                    finally:
                        self.store.sync_client.delete(lock)
                except Exception as exc:  # Redis went away again: the next request retries
                    self.metrics.errors.labels("rematerialise").inc()
                    self.guard.last_error = f"re-materialising failed: {exc}"

            self._remat_thread = threading.Thread(target=job, name="rematerialise", daemon=True)
            self._remat_thread.start()

    async def aclose(self) -> None:
        if self.store.client is not None:
            await self.store.client.aclose()

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self.store.sync_client is not None:
            self.store.sync_client.close()
        self.log.close()

    # --- helpers --------------------------------------------------------------------
    def parse_device(self, device: str | None) -> int | None:
        return None if device is None else DEVICES.index(device)

    # --- stages 3-5 on the inference thread, in dynamic batches ------------------------
    def _submit(self, job: _Job) -> None:
        """Queue ``job`` for the inference thread; start draining unless a drain is already running."""
        with self._batch_lock:
            self._pending.append(job)
            start, self._draining = not self._draining, True
        if start:
            self.executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._batch_lock:
                if not self._pending:
                    self._draining = False
                    return
                batch = self._pending[: self.config.max_batch]
                del self._pending[: len(batch)]
            try:
                self._run_batch(batch)
            except BaseException as exc:  # a bug in a stage: every request of the batch fails (a 500)
                for job in batch:
                    for fut in (job.cands, job.ranked, job.slate):
                        job.resolve(fut, exc=exc)

    def _run_batch(self, jobs: list[_Job]) -> None:
        """Candidates, ranking and reranking for every job at once; each job's futures resolve as its stages end."""
        t0 = time.perf_counter()
        self.metrics.batch.observe(len(jobs))
        n_items, newest = self.train.n_items, jobs[-1].feats
        rows = np.array([j.row for j in jobs], dtype=np.int64)
        recent = np.zeros((len(jobs), n_items), dtype=bool)  # each job's online history, as a dense mask
        for i, job in enumerate(jobs):  # one assignment per request of the batch
            r = job.feats.recent
            recent[i, r[(r >= 0) & (r < n_items)]] = True
        # 3. candidates, minus what the user saw since training and what is unavailable now
        cands = self.pipeline.candidate_stage(rows)
        cells = np.maximum(cands.items, 0)
        drop = cands.mask & (~newest.available[cells] | np.take_along_axis(recent, cells, axis=1))
        cands = drop_cells(cands, drop) if drop.any() else cands
        cands_ready = time.perf_counter()
        for i, job in enumerate(jobs):
            job.started, job.cands_ready = t0, cands_ready
            job.resolve(job.cands, cands.select_users([i]))
        # 4. ranking, with each request's time and device
        ts = np.array([j.ts for j in jobs])
        device = np.array([j.device if j.device is not None else -1 for j in jobs])
        if (device < 0).any():
            shares = self.pipeline.ranker_.features_.config.device_shares
            device = np.where(device < 0, simulated_device(rows, ts, shares), device)
        ranked = self.pipeline.rank_stage(rows, Context(timestamp=ts, device=device), candidates=cands)
        ranked_at = time.perf_counter()
        for i, job in enumerate(jobs):
            job.resolve(job.ranked, ranked_at)
        # 5. reranking with the online item features; one call per distinct (k, request time)
        users, cols = np.nonzero(recent)
        seen = sp.csr_matrix((np.ones(len(users), np.float32), (rows[users], cols)), shape=(self.train.n_users, n_items))
        train = self.train
        groups: dict[tuple[int, float], list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault((job.k, job.ts), []).append(i)
        for (k, at), members in groups.items():
            config = dataclasses.replace(self.rerank_config, seed=jobs[members[0]].seed)
            slate = rerank(
                ranked.select_users(members), k, item_vectors=train.item_features, item_category=train.item_category,
                item_age_days=newest.age_days(at), item_available=newest.available, item_promoted=newest.promoted,
                seen=seen, config=config,
            )  # fmt: skip
            for j, i in enumerate(members):
                keep = slate.items[j] >= 0
                jobs[i].resolve(jobs[i].slate, (slate.items[j][keep], slate.scores[j][keep], slate.propensities[j][keep]))

    # --- the request path -------------------------------------------------------------
    async def recommend(self, user_id: int, k: int, device: str | None = None, timestamp: float | None = None,
                        use_cache: bool = True) -> Answer:  # fmt: skip
        """One request through the seven steps; ``use_cache`` False bypasses the cache (``Cache-Control: no-cache``)."""
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        mark = [t_start]

        def lap(stage: str, until: float | None = None) -> None:
            now = time.perf_counter() if until is None else until
            timings[stage] = (now - mark[0]) * 1e3
            mark[0] = now

        request_id = uuid.uuid4().hex
        row = self.user_rows.get(user_id)
        ts = self.now if timestamp is None else float(timestamp)
        context_key = () if device is None and timestamp is None else (device or "", "" if timestamp is None else timestamp)
        field = ResponseCache.field(k, context_key)
        cache_state = "off" if not self.cache.enabled else ("bypass" if not use_cache else "miss")
        redis_failed = False

        if self._unapplied and self.guard.up:  # Redis answers again: apply the events it missed first
            await self._apply_unapplied()

        # 1. cache check
        cached = None
        if cache_state == "miss":
            try:
                cached = await self.guard.call(lambda: self.cache.get(user_id, field))
            except RedisUnavailable:
                redis_failed = True
            lap("cache")
            if cached is not None:
                cache_state = "hit"
                self.metrics.cache.labels("hit").inc()
            elif not redis_failed:
                self.metrics.cache.labels("miss").inc()
            self.metrics.hit_rate.set(self.cache.hit_rate)

        degraded = None
        if cached is not None:
            core = json.loads(cached)
        else:
            # 2. feature fetch (one round trip)
            feats = None
            if not redis_failed:
                mark[0] = time.perf_counter()
                try:
                    feats = await self.guard.call(lambda: self.store.fetch(user_id))
                except RedisUnavailable:
                    pass
                except NotMaterialised:  # Redis is back but empty: rebuild it, answer from the fallback meanwhile
                    self._rematerialise_in_background()
                lap("features")
            if feats is None:
                degraded = "feature_store"
                core = self._popular(row, k, self.fallback_popularity, self.fallback_available, None)
                lap("popular")
            else:
                self.fallback_popularity, self.fallback_available = feats.popularity, feats.available
                if row is None or feats.cold:
                    degraded = "cold_user"
                    core = self._popular(None, k, feats.popularity, feats.available, feats.recent)
                    lap("popular")
                else:
                    core, degraded = await self._personalised(row, k, feats, ts, device, request_id, lap)

        # 6. response
        body = {"request_id": request_id, "user": user_id, "k": k, **core, "model_version": self.version,
                "degraded": degraded, "cache": cache_state}  # fmt: skip
        if cache_state == "miss" and degraded is None:
            payload = json.dumps(core).encode()
            asyncio.get_running_loop().create_task(self._cache_put(user_id, field, payload))
        lap("response")

        # 7. log
        self.log.log_served({"request_id": request_id, "user_id": user_id, **body})
        lap("log")
        timings["total"] = (time.perf_counter() - t_start) * 1e3
        for stage, ms in timings.items():
            if stage != "total":
                self.metrics.stage.labels(stage).observe(ms / 1e3)
        self.metrics.total.observe(timings["total"] / 1e3)
        if degraded:
            self.metrics.degraded.labels(degraded).inc()
        body["timings_ms"] = {s: round(v, 3) for s, v in timings.items()}
        return Answer(body, timings)

    async def _personalised(self, row: int, k: int, feats: Features, ts: float, device: str | None,
                            request_id: str, lap: Callable[[str], None]) -> tuple[dict, str | None]:  # fmt: skip
        loop = asyncio.get_running_loop()
        job = _Job(row, feats, ts, self.parse_device(device), k, int(request_id[:12], 16), loop,
                   loop.create_future(), loop.create_future(), loop.create_future(), time.perf_counter())  # fmt: skip
        self._submit(job)
        # 3. candidates (after waiting for the inference thread: the "queue" stage)
        cands = await job.cands
        lap("queue", until=job.started)
        lap("candidates")
        # 4. ranking, within its budget: the ranker's own time, from the end of stage 1 in the inference
        # thread (a ranking that finished before the event loop looked still counts its full time)
        budget = self.config.ranker_budget_ms / 1000.0
        try:
            left = job.cands_ready + budget - time.perf_counter()
            ranked_at = await asyncio.wait_for(asyncio.shield(job.ranked), max(left, 0.0))
            if ranked_at - job.cands_ready > budget:
                raise asyncio.TimeoutError
        except asyncio.TimeoutError:
            lap("ranking")
            keep = cands.items[0] >= 0
            items = cands.items[0][keep][:k]
            return self._core(items, cands.scores[0][keep][:k], np.ones(len(items))), "ranker_budget"
        lap("ranking")
        # 5. reranking
        items, scores, propensities = await job.slate
        lap("rerank")
        return self._core(items, scores, propensities), None

    def _popular(self, row: int | None, k: int, popularity: np.ndarray, available: np.ndarray,
                 recent: np.ndarray | None) -> dict:  # fmt: skip
        eligible = np.asarray(available, dtype=bool).copy()
        if row is not None:  # the fallback knows the training history of known users
            m = self.train.matrix  # CSR: the row's items without scipy's slow row slicing
            eligible[m.indices[m.indptr[row] : m.indptr[row + 1]]] = False
        if recent is not None and len(recent):
            eligible[recent[(recent >= 0) & (recent < len(eligible))]] = False
        items = popular_order(popularity, eligible, k)
        return self._core(items, np.asarray(popularity, dtype=np.float64)[items], np.ones(len(items)))

    def _core(self, items: np.ndarray, scores: np.ndarray, propensities: np.ndarray) -> dict:
        return {"items": self.item_ids[items].tolist(), "scores": np.round(np.asarray(scores, np.float64), 6).tolist(),
                "propensities": np.round(np.asarray(propensities, np.float64), 6).tolist()}  # fmt: skip

    async def _cache_put(self, user_id: int, field: str, payload: bytes) -> None:
        try:
            await self.guard.call(lambda: self.cache.put(user_id, field, payload), write=True)
        except RedisUnavailable:
            self.metrics.errors.labels("cache_store").inc()

    # --- events ---------------------------------------------------------------------
    async def ingest(self, events: pd.DataFrame) -> dict[str, Any]:
        """Log ``events`` durably (acknowledged only after the commit), then apply the new clicks and
        conversions to the feature store and drop those users' cached answers."""
        new = await asyncio.wrap_future(self.log.append(events))
        for (kind, is_new), n in events.assign(new=new).groupby(["event_type", "new"]).size().items():
            self.metrics.events.labels(kind, "new" if is_new else "duplicate").inc(int(n))
        fresh = events[new & (events["event_type"] != "impression").to_numpy()]
        updated = True
        if len(fresh):
            frame = pd.DataFrame({"user_id": fresh["user_id"].to_numpy(), "type": fresh["event_type"].to_numpy(),
                                  "item_row": self.item_index.get_indexer(fresh["item_id"].to_numpy()),
                                  "ts": fresh["event_ts"].to_numpy(),
                                  "key": _event_keys(fresh["request_id"], fresh["position"], fresh["event_type"])})  # fmt: skip
            with self._unapplied_lock:
                self._unapplied.append(frame)
            updated = await self._apply_unapplied()
            if not updated:
                self.metrics.errors.labels("feature_update").inc()
        return {"accepted": int(new.sum()), "duplicates": int((~new).sum()), "durable": True,
                "features_updated": updated}  # fmt: skip

    async def _apply_unapplied(self) -> bool:
        """Apply every waiting click/conversion to the feature store and drop those users' cached answers,
        in one round trip; True when nothing is left waiting. One application at a time (an asyncio lock),
        so no event is applied twice; a Redis that came back empty is left to `rematerialise`."""
        if self._applying is None:
            self._applying = asyncio.Lock()
        async with self._applying:
            with self._unapplied_lock:
                pending = list(self._unapplied)
            if not pending:
                return True
            frame = pd.concat(pending, ignore_index=True)
            keys = [self.cache.key(u) for u in np.unique(frame["user_id"].to_numpy()).tolist()]
            try:
                await self.guard.call(lambda: self.store.record_if_ready(frame, invalidate=keys), write=True)
            except NotMaterialised:
                self._rematerialise_in_background()
                return False
            except RedisUnavailable:
                return False
            with self._unapplied_lock:
                self._unapplied = [f for f in self._unapplied if not any(f is p for p in pending)]
                return not self._unapplied

    @property
    def unapplied_events(self) -> int:
        """Clicks and conversions logged but not yet applied to the feature store."""
        with self._unapplied_lock:
            return sum(len(f) for f in self._unapplied)

    def health(self) -> dict[str, Any]:
        return {"status": "ok" if self.guard.up else "degraded", "model_version": self.version,
                "redis": "up" if self.guard.up else f"down ({self.guard.last_error})",
                "unapplied_events": self.unapplied_events,
                "cache_hit_rate": round(self.cache.hit_rate, 4), "uptime_s": round(time.time() - self.started_at, 1),
                "model": self.model.description}  # fmt: skip


def _event_keys(request_id: pd.Series, position: pd.Series, event_type: pd.Series) -> np.ndarray:
    """The event log's identity of each event (request id, position, type) as one string."""
    return (request_id.astype(str) + "|" + position.astype(np.int64).astype(str) + "|" + event_type.astype(str)).to_numpy()


def event_frame(events: list[dict], now: float) -> pd.DataFrame:
    """Validated events (dicts with type, request_id, position, user, item, propensity, timestamp) as the
    log's columns; a missing timestamp becomes ``now``."""
    frame = pd.DataFrame(events)
    return pd.DataFrame({
        "request_id": frame["request_id"].astype(str), "position": frame["position"].astype(np.int64),
        "event_type": frame["type"].astype(str), "user_id": frame["user"].astype(np.int64),
        "item_id": frame["item"].astype(np.int64),
        "propensity": pd.to_numeric(frame.get("propensity", pd.Series([None] * len(frame))), errors="coerce"),
        "event_ts": pd.to_numeric(frame.get("timestamp", pd.Series([None] * len(frame))), errors="coerce").fillna(now),
    })  # fmt: skip


def default_event_log_path(version: str, root: str | Path = "data/events") -> Path:
    return Path(root) / f"{version}.sqlite"
