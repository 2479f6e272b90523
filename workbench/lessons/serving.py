"""The served recommender of notebook 08, run inside the notebook's process.

`ServingLab` owns a real Redis (Debian's redis-server, a child process stopped by its PID) and
the service on a real uvicorn thread bound to 127.0.0.1; the notebook starts and stops it, fires
bounded open-loop loads at it, reads one request's Server-Timing, and stops Redis to watch the
answers degrade and recover. A load test runs when asked (`ServingLab.load_test`, the page's button):
each run is kept as a `LoadRun` that says when, at what rate and with which cache setting it was
measured, so a page never shows an earlier run's figures as if they were live. One lab runs per process (`lab_for` stops the previous one), and
everything it started is stopped when the process exits.
"""

from __future__ import annotations

import atexit
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from workbench.serving.app import ServerThread, create_app
from workbench.serving.eventlog import SQLiteEventLog
from workbench.serving.loadtest import SERVING_BUDGET_MS, LoadResult, parse_server_timing, run_load
from workbench.serving.model import ServedModel
from workbench.serving.redis_server import RedisServer
from workbench.serving.service import RecommenderService, ServiceConfig

@dataclass(frozen=True)
class LoadRun:
    """One load test as it was run: its result, the rate, duration and cache setting it ran with, and the
    UTC time it finished."""

    result: LoadResult
    rate: float
    duration_s: float
    cache: bool
    at: datetime

    def settings_differ(self, rate: float, cache: bool) -> bool:
        """True when the page now asks for another rate or cache setting than this run measured."""
        return (float(rate), bool(cache)) != (float(self.rate), self.cache)

    def statement(self) -> str:
        """The run's figures, stating when, at what rate, for how long and with which cache they were measured."""
        s = self.result.summary()
        return (f"Open loop at {self.rate:g} req/s for {self.duration_s:g} s: p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, "
                f"max {s['max']:.1f} ms; {s['errors']} errors; {s['achieved_rps']:.0f} answers/s; cache "
                f"{'on' if self.cache else 'off'}, hits {s['cache_hit_share']:.0%} (hits p99 {s['hits_p99']:.1f} ms, "
                f"misses p99 {s['misses_p99']:.1f} ms); degraded {s['degraded_share']:.0%}. Measured at "
                f"{self.at:%H:%M:%S} UTC.")  # fmt: skip


WATERFALL_STAGES = ("cache", "features", "queue", "candidates", "ranking", "rerank", "popular", "response", "log")


class ServingLab:
    """Redis + the service on uvicorn, for one trained pipeline (``trained``: a `workbench.store.Trained`)."""

    def __init__(self, trained: Any, config: ServiceConfig | None = None) -> None:
        self.model = ServedModel(trained.pipeline, trained.train, trained.key, trained.describe())
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-serving-lab-"))
        # dies with the notebook's process even when that process is killed and runs no atexit (a served
        # page's kernel stopped with its server left this Redis running)
        self.redis = RedisServer(dir=self.folder / "redis", die_with_parent=True).start()
        self.service = RecommenderService(self.model, self.redis.url, SQLiteEventLog(self.folder / "events.sqlite"),
                                          config or ServiceConfig())  # fmt: skip
        self.app = create_app(self.service)
        self.server: ServerThread | None = None
        self.users = self.model.train.users["user_id"].to_numpy()
        self.closed = False
        self.last_load: LoadRun | None = None  # the latest `load_test`, kept to be shown with its time and rate
        atexit.register(self.close)

    # --- start and stop -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the service is stopped: start it first")
        return self.server.url

    def start(self) -> ServingLab:
        if self.server is None:
            self.server = ServerThread(self.app).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        """Stop uvicorn, the service's threads and Redis (also run at exit)."""
        if self.closed:
            return
        self.closed = True
        self.stop()
        self.service.close()
        self.redis.stop(remove_dir=True)

    # --- what the notebook does with it ---------------------------------------------------------
    def request(self, user: int, k: int = 10, no_cache: bool = False) -> tuple[dict, pd.DataFrame, float]:
        """One GET /recommend: the JSON answer, its Server-Timing as a waterfall table (stage, start_ms,
        ms, end_ms) and the client's latency in ms."""
        headers = {"Cache-Control": "no-cache"} if no_cache else {}
        t0 = time.perf_counter()
        resp = httpx.get(self.url + "/recommend", params={"user": int(user), "k": k}, headers=headers, timeout=10)
        latency = (time.perf_counter() - t0) * 1e3
        resp.raise_for_status()
        return resp.json(), waterfall(resp.headers.get("server-timing")), latency

    def fire(self, rate: float, duration_s: float, no_cache: bool = False, seed: int = 0) -> LoadResult:
        """A bounded open-loop load (`workbench.serving.loadtest.run_load`) over the data set's users."""
        return run_load(self.url, rate, duration_s, self.users, no_cache=no_cache, seed=seed)

    def load_test(self, rate: float, duration_s: float, cache: bool = True, seed: int = 0) -> LoadRun:
        """Set the response cache on or off, fire one bounded open-loop load (`fire`) and keep it as
        ``last_load``, stamped with the time it finished."""
        self.service.cache.enabled = bool(cache)
        result = self.fire(rate, duration_s, seed=seed)
        self.last_load = LoadRun(result, float(rate), float(duration_s), bool(cache), datetime.now(UTC))
        return self.last_load

    def break_redis(self, user: int, n: int = 20, recover_within_s: float = 30.0) -> tuple[pd.DataFrame, float]:
        """Stop Redis, send ``n`` requests for ``user``, start Redis again (empty) and wait until the answers
        are personalised again. Returns one row per answer (phase, status, degraded, latency_ms) and the
        seconds from the restart to the first undegraded answer (NaN if none within ``recover_within_s``)."""
        rows = []
        with httpx.Client(base_url=self.url, timeout=10, headers={"Cache-Control": "no-cache"}) as http:

            def ask(phase: str) -> dict:
                t0 = time.perf_counter()
                resp = http.get("/recommend", params={"user": int(user), "k": 10})
                body = resp.json() if resp.status_code == 200 else {}
                row = {"phase": phase, "status": resp.status_code, "degraded": body.get("degraded") or "no",
                       "latency_ms": (time.perf_counter() - t0) * 1e3}  # fmt: skip
                rows.append(row)
                return row

            ask("Redis up")
            self.redis.stop()
            for _ in range(n):
                ask("Redis stopped")
            self.redis.start()
            t0 = time.perf_counter()
            recovered = float("nan")
            while time.perf_counter() - t0 < recover_within_s:
                if ask("Redis restarted")["degraded"] == "no":
                    recovered = time.perf_counter() - t0
                    break
                time.sleep(0.05)
        return pd.DataFrame(rows), recovered


def waterfall(header: str | None) -> pd.DataFrame:
    """A Server-Timing header as consecutive stages: stage, start_ms, ms, end_ms (``total`` left out)."""
    timing = parse_server_timing(header)
    stages = [s for s in timing if s != "total"]
    ms = np.array([timing[s] for s in stages], dtype=np.float64)
    start = np.concatenate([[0.0], np.cumsum(ms)[:-1]]) if len(ms) else ms
    return pd.DataFrame({"stage": stages, "start_ms": start, "ms": ms, "end_ms": start + ms})


def budget_for_chart(result: LoadResult) -> pd.DataFrame:
    """`LoadResult.budget_table` in the columns of `workbench.viz.serving.budget_chart` (budget = the textbook's p99)."""
    table = result.budget_table()
    return pd.DataFrame({"stage": table["component"], "p50_ms": table["measured_p50_ms"].fillna(0.0),
                         "p99_ms": table["measured_p99_ms"].fillna(0.0), "budget_ms": table["budget_p99_ms"]})  # fmt: skip


_current: dict[str, ServingLab] = {}


def lab_for(trained: Any, config: ServiceConfig | None = None) -> ServingLab:
    """The process's lab for ``trained``, started: the same one again for the same artefact, else a new
    one (the previous lab is closed first)."""
    lab = _current.get("lab")
    if lab is not None and (lab.closed or lab.model.version != trained.key):
        lab.close()
        lab = None
    if lab is None:
        lab = _current["lab"] = ServingLab(trained, config)
    return lab.start()


__all__ = ["SERVING_BUDGET_MS", "WATERFALL_STAGES", "LoadRun", "ServingLab", "budget_for_chart", "lab_for", "waterfall"]
