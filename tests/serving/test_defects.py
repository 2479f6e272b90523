"""The serving defects of issue 23, each shown on the real service: deeply nested JSON, NaN settings,
the Redis deadline on a busy event loop, events posted while Redis is unreachable."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from workbench.serving.service import RedisGuard, RedisUnavailable, ServiceConfig

from .conftest import ITEM_SHIFT, USER_SHIFT

PATIENT = {"redis_timeout_ms": 2000.0, "ranker_budget_ms": 10_000.0}


@pytest.mark.parametrize("name", ["ranker_budget_ms", "redis_cooldown_s", "redis_timeout_ms", "cache_ttl_s",
                                  "switch_interval_ms", "exploration_rate"])  # fmt: skip
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_settings_are_refused_naming_the_key(name, value):
    with pytest.raises(ValueError, match=rf"ServiceConfig: {name}: .*: expected a finite number"):
        ServiceConfig(**{name: value})


def test_deeply_nested_json_is_a_400_naming_the_body_not_a_500(serve):
    deep = "[" * 1000 + "]" * 1000  # 2 KB
    assert len(deep) == 2000
    with serve(ServiceConfig(**PATIENT)) as s:
        answers = {
            "recommend": s.client.post("/recommend", content=deep, headers={"content-type": "application/json"}),
            "events": s.client.post("/events", content=deep, headers={"content-type": "application/json"}),
            "recommend.user": s.client.post("/recommend", content='{"user": ' + deep + "}"),
            "events.events": s.client.post("/events", content='{"events": ' + deep + "}"),
        }
        shallow = s.client.post("/recommend", content='{"user": ' + "[" * 200 + "]" * 200 + "}")
        metrics = s.client.get("/metrics").text
    for where, r in answers.items():
        assert r.status_code == 400, (where, r.status_code, r.text)
        assert r.json()["field"] == "body" and "nested" in r.json()["expected"], (where, r.json())
    # parseable but wrong: the validator names the field, and the echoed value stays short
    assert shallow.status_code == 422 and shallow.json()["field"] == "user" and len(shallow.text) < 1000
    assert 'status="500"' not in metrics


def _serve_args(tiny_pipeline_toml, tmp_path) -> list[str]:
    return ["--data", "synthetic", "--small", "--config", str(tiny_pipeline_toml), "--event-log",
            str(tmp_path / "events.sqlite"), "--redis-dir", str(tmp_path / "redis"), "--redis-timeout-ms", "2000"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_serve_stopped_by_a_signal_leaves_no_redis_running(stored_model, tiny_pipeline_toml, tmp_path, monkeypatch, how):
    """`workbench serve` starts its own redis-server; after SIGTERM or SIGINT (cleanup runs) and after
    SIGKILL (no cleanup: the kernel's parent-death signal) that redis-server is gone."""
    import signal

    from workbench.serving.children import alive, children
    from workbench.serving.process import ServeProcess

    monkeypatch.delenv("WORKBENCH_REDIS_URL", raising=False)
    server = ServeProcess(_serve_args(tiny_pipeline_toml, tmp_path), log_path=tmp_path / "serve.log", start_timeout=300)
    server.start()
    pid = server.pid
    try:
        redis = [c for c in children(pid) if "redis-server" in open(f"/proc/{c}/cmdline").read()]
        assert len(redis) == 1, children(pid)
        proc, server.process = server.process, None
        os_signal = getattr(signal, how)
        proc.send_signal(os_signal)
        status = proc.wait(timeout=60)
    finally:
        server.kill()
    deadline = time.monotonic() + 10
    while alive(redis[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(redis[0]), f"redis-server {redis[0]} outlived `workbench serve` stopped by {how}"
    # SIGINT: uvicorn shuts down and hands the signal to asyncio's runner, which may end the run normally (0)
    expected = {"SIGTERM": {143}, "SIGINT": {0, 130}, "SIGKILL": {-9}}[how]
    log = (tmp_path / "serve.log").read_text()
    assert status in expected, (status, log[-2000:])
    assert "Traceback" not in log, log[-2000:]


def test_deadline_counts_redis_not_a_busy_event_loop(redis):
    """Redis answers after 30 ms (CLIENT PAUSE); from 10 ms on, the event loop is held for 500 ms (what a
    process off the CPU sees), so the reply waits in the socket while the 100 ms deadline passes. The
    guard reads it (no RedisUnavailable, breaker closed). The old deadline (asyncio.wait_for, and a
    client socket timeout equal to the deadline) drops the same reply."""
    from workbench.serving.feature_store import make_client

    deadline_s = 0.1

    async def scenario(old: bool):
        loop = asyncio.get_running_loop()
        client = make_client(redis.url, timeout_ms=deadline_s * 1e3 if old else 5000.0)
        await client.ping()  # one open connection, reused by the call below
        guard = RedisGuard(timeout_ms=deadline_s * 1e3, cooldown_s=60.0)
        redis.pause(30)
        loop.call_later(0.01, time.sleep, 0.5)
        try:
            if old:
                return await asyncio.wait_for(client.ping(), deadline_s)
            return await guard.call(lambda: client.ping()), guard
        finally:
            await client.aclose()

    reply, guard = asyncio.run(scenario(old=False))
    assert reply is True and guard.up and guard.failures == 0
    from redis.exceptions import TimeoutError as RedisTimeout

    with pytest.raises((asyncio.TimeoutError, RedisTimeout)):
        asyncio.run(scenario(old=True))


def test_deadline_still_trips_when_redis_does_not_answer(redis):
    from workbench.serving.feature_store import make_client

    async def scenario():
        client = make_client(redis.url, timeout_ms=1000.0)
        await client.ping()
        guard = RedisGuard(timeout_ms=8.0, cooldown_s=60.0)
        redis.pause(300)
        t0 = time.perf_counter()
        try:
            with pytest.raises(RedisUnavailable, match="no reply within 8.0 ms"):
                await guard.call(lambda: client.ping())
            return time.perf_counter() - t0, guard
        finally:
            await client.aclose()

    elapsed, guard = asyncio.run(scenario())
    assert guard.failures == 1 and elapsed < 0.3  # failed at the deadline, not after the 300 ms pause


def test_event_posted_while_redis_is_unreachable_is_applied_when_it_answers(serve, model):
    """Redis frozen (CLIENT PAUSE) until the breaker opens; a click posted then is logged but cannot reach
    the store. When Redis answers again, the next request applies it first: the user's cached answer
    (which held the clicked item) is dropped and the item leaves the answer."""
    user = 5 + USER_SHIFT
    with serve(ServiceConfig(redis_timeout_ms=50.0, redis_cooldown_s=3.0, ranker_budget_ms=10_000.0)) as s:
        first = s.client.get("/recommend", params={"user": user, "k": 10}).json()
        assert first["degraded"] is None
        assert s.client.get("/recommend", params={"user": user, "k": 10}).headers["x-cache"] == "hit"
        clicked = first["items"][0]
        store = s.service.store
        before = [int(x) for x in store.sync_client.lrange(store.key("u", user, "recent"), 0, -1)]
        s.redis.pause(1000)
        while s.service.guard.up:  # three missed deadlines open the breaker (3 s cool-down)
            assert s.client.get("/recommend", params={"user": user, "k": 10}).json()["degraded"] == "feature_store"
        ack = s.client.post("/events", json={"events": [{"type": "click", "request_id": "down1", "position": 1,
                                                         "user": user, "item": clicked}]}).json()  # fmt: skip
        waiting = s.client.get("/healthz").json()["unapplied_events"]
        lag = [line for line in s.client.get("/metrics").text.splitlines() if line.startswith("workbench_event_lag ")]
        while not s.service.guard.up:
            time.sleep(0.05)
        after = s.client.get("/recommend", params={"user": user, "k": 10})
        recent = [int(x) for x in store.sync_client.lrange(store.key("u", user, "recent"), 0, -1)]
        left = s.client.get("/healthz").json()["unapplied_events"]
    assert ack == {"accepted": 1, "duplicates": 0, "durable": True, "features_updated": False}
    assert waiting == 1 and lag == ["workbench_event_lag 1.0"] and left == 0
    assert after.headers["x-cache"] == "miss" and after.json()["degraded"] is None
    assert clicked not in after.json()["items"]
    assert recent == [clicked - ITEM_SHIFT] + before[: store.recent_n - 1]  # applied once
