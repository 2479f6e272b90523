"""SIGKILL of a real `workbench serve` process while events stream in: no acknowledged event lost,
none logged twice, and clients that retry everything after a restart are not counted twice."""

from __future__ import annotations

import httpx
import pytest

from workbench.serving.eventlog import read_events
from workbench.serving.process import ServeProcess, check_log, event_batches, kill_during_events
from workbench.serving.redis_server import RedisServer


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_event(stored_model, tiny_pipeline_toml, tmp_path):
    log_path = tmp_path / "events.sqlite"
    args = ["--data", "synthetic", "--small", "--config", str(tiny_pipeline_toml), "--event-log", str(log_path),
            "--redis-timeout-ms", "2000"]  # fmt: skip
    items = stored_model.train.items["item_id"].tolist()
    users = stored_model.train.users["user_id"].tolist()
    batches = event_batches(3000, 10, users, items)
    with RedisServer(dir=tmp_path / "redis") as redis:
        env = {"WORKBENCH_REDIS_URL": redis.url}
        server = ServeProcess(args, env, log_path=tmp_path / "serve.log", start_timeout=900).start()
        pid = server.pid
        run = kill_during_events(server, batches, kill_after_acked=60, threads=4)
        assert server.process is None  # killed by PID
        crashed = check_log(read_events(log_path), batches, run.acked)
        assert len(run.acked) >= 60 and crashed["lost"] == 0 and crashed["duplicates"] == 0, crashed

        # restart on the same log; the clients retry every batch they attempted, acknowledged or not
        attempted = sorted(run.acked + run.unanswered)
        with ServeProcess(args, env, log_path=tmp_path / "serve.log", start_timeout=900) as again:
            assert again.pid != pid
            with httpx.Client(base_url=again.url, timeout=30) as http:
                acks = [http.post("/events", json={"events": batches[b]}).json() for b in attempted]
    final = check_log(read_events(log_path), batches, attempted)
    assert final["lost"] == 0 and final["duplicates"] == 0
    assert final["logged"] == sum(len(batches[b]) for b in attempted)
    dup_by_batch = dict(zip(attempted, (a["duplicates"] for a in acks)))
    assert all(dup_by_batch[b] == len(batches[b]) for b in run.acked)  # acknowledged before: all duplicates
    assert sum(a["accepted"] for a in acks) == final["logged"] - crashed["logged"]
