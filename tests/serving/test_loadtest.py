"""The open-loop load generator against the real service: schedule, bounds, no coordinated omission,
loopback only, percentiles and the budget table."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from workbench.serving.loadtest import SERVING_BUDGET_MS, LoadResult, check_loopback, parse_server_timing, run_load
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT

PATIENT = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0)


def test_server_timing_parsing():
    header = "cache;dur=0.25, features;dur=1.5, ranking;desc=\"x\";dur=12, bogus, total;dur=14.0"
    assert parse_server_timing(header) == {"cache": 0.25, "features": 1.5, "ranking": 12.0, "total": 14.0}
    assert parse_server_timing(None) == {}


def test_only_loopback_urls(monkeypatch):
    assert check_loopback("http://127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert check_loopback("http://localhost:9/")[1] == 9
    for url in ("http://10.1.2.3:80", "https://127.0.0.1:8000", "ftp://127.0.0.1", "127.0.0.1:8000"):
        with pytest.raises(ValueError, match="loopback|expected"):
            check_loopback(url)
    with pytest.raises(ValueError, match="positive"):
        run_load("http://127.0.0.1:9", rate=0, duration_s=1, users=[1])
    with pytest.raises(ValueError, match="users"):
        run_load("http://127.0.0.1:9", rate=1, duration_s=1, users=[])


def test_open_loop_schedule_bounds_and_budget_table(serve, model):
    users = model.train.users["user_id"].to_numpy()
    with serve(PATIENT) as s:
        result = run_load(s.url, rate=40, duration_s=1.0, users=users, k=5, seed=3, timeout_s=60)
        capped = run_load(s.url, rate=40, duration_s=10.0, users=users, max_requests=12, no_cache=True, timeout_s=60)
    r = result.requests
    assert result.n == 40 and capped.n == 12  # bounded by time (rate × duration) and by count
    assert np.allclose(np.diff(r["due_s"].to_numpy()), 1 / 40)  # constant arrival rate
    assert result.errors == 0 and (r["status"] == 200).all() and (r["latency_ms"] > 0).all()
    assert set(capped.requests["cache"]) == {"bypass"}
    table = result.budget_table()
    assert table["component"].tolist() == list(SERVING_BUDGET_MS)
    assert table["requests"].iloc[-1] == 40 and table["measured_p99_ms"].notna().all()
    cache_row = table.set_index("component").loc["cache lookup"]
    assert cache_row["requests"] == 40 and cache_row["target_ms"] == 1.0 and cache_row["budget_p99_ms"] == 3.0
    assert "latency budget" in result.report() and "model inference" in result.report()


def test_latency_counts_from_the_due_time_not_the_send_time(serve, model):
    """While the inference thread is stalled for 2 s, requests due during the stall are charged the wait
    (a closed loop would have sent fewer of them and timed each from its late send)."""
    users = np.arange(20) + USER_SHIFT
    with serve(PATIENT) as s:
        s.service.executor.submit(time.sleep, 2.0)
        result = run_load(s.url, rate=20, duration_s=1.0, users=users, no_cache=True, timeout_s=30)
    r = result.requests
    early = r[r["due_s"] < 0.5]
    assert result.n == 20 and len(early) == 10 and result.errors == 0
    assert (early["latency_ms"] >= 900).all(), early["latency_ms"].tolist()


def test_percentiles_and_rates_by_hand():
    frame = pd.DataFrame({"due_s": [0.0, 0.1, 0.2, 0.3, 0.4], "latency_ms": [10.0, 20.0, 30.0, 40.0, 1000.0],
                          "status": [200, 200, 200, 200, 500], "cache": ["hit", "miss", "miss", "hit", None],
                          "degraded": [None, None, "cold_user", None, None], "error": [None] * 5})  # fmt: skip
    result = LoadResult(10.0, 0.5, frame, 0.5)
    p = result.percentiles()
    assert p["n"] == 4 and p["p50"] == 25.0 and p["max"] == 40.0
    assert p["p99"] == pytest.approx(30 + 0.97 * 10)  # numpy's linear rule: rank 0.99·3 = 2.97
    assert result.errors == 1 and result.server_errors == 1
    assert result.achieved_rps == pytest.approx(4 / 0.34)  # 4 answers from the first due time to the last answer
    s = result.summary()
    assert s["hits_p99"] == pytest.approx(10 + 0.99 * 30) and s["cache_hit_share"] == 0.4


def test_runs_from_inside_a_running_event_loop(serve, model):
    """A notebook kernel already runs an event loop: run_load then drives its own on a thread."""
    import asyncio

    async def inside() -> LoadResult:
        return run_load(s.url, rate=20, duration_s=0.5, users=model.train.users["user_id"].to_numpy(), timeout_s=60)

    with serve(PATIENT) as s:
        result = asyncio.run(inside())
    assert result.n == 10 and result.errors == 0


def test_keep_alive_connections_closed_by_the_server_are_not_counted_as_errors(model, tmp_path):
    """uvicorn closes a keep-alive connection idle for ``keep_alive_s`` (here 0.3 s): a request written on it
    gets no answer. The generator resends it once on a fresh connection (counted), so every request of
    a run with 0.5 s gaps is answered."""
    import asyncio

    import httpx

    from workbench.serving.app import ServerThread, create_app
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.loadtest import _Connections
    from workbench.serving.redis_server import RedisServer
    from workbench.serving.service import RecommenderService

    async def two_gets(url: str, max_idle_s: float):
        host, port = url.removeprefix("http://").split(":")
        pool = _Connections(host, int(port), limit=4, max_idle_s=max_idle_s)
        first = await pool.get("/healthz", "")
        await asyncio.sleep(0.8)  # the server closes the idle connection meanwhile
        second = await pool.get("/healthz", "")
        pool.close()
        return first[0], second[0], pool.stale_retries

    with RedisServer() as redis:
        service = RecommenderService(model, redis.url, SQLiteEventLog(tmp_path / "events.sqlite"), PATIENT)
        try:
            with ServerThread(create_app(service), keep_alive_s=0.3) as server:
                assert httpx.get(server.url + "/healthz").status_code == 200
                retried = asyncio.run(two_gets(server.url, max_idle_s=60.0))  # reuse it: the retry path
                aged = asyncio.run(two_gets(server.url, max_idle_s=0.2))  # too old to reuse: a fresh one
                users = model.train.users["user_id"].to_numpy()
                run = run_load(server.url, rate=2.0, duration_s=2.0, users=users, timeout_s=30, connections=1)
        finally:
            service.close()
    assert retried == (200, 200, 1) and aged == (200, 200, 0)
    assert run.n == 4 and run.errors == 0 and run.notes["stale_retries"] >= 3  # 3 gaps of 0.5 s (4 if the first one came late)

