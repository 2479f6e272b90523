"""A bad model promoted behind the gateway, then rolled back in one call, under a steady load: no failed
request during either switch, and the answers are the first model's again afterwards."""

from __future__ import annotations

import dataclasses
import threading
import time

import httpx
import numpy as np
import pytest

from workbench.pipeline import PipelineConfig
from workbench.serving.gateway import Gateway
from workbench.serving.redis_server import RedisServer, free_port
from workbench.serving.rollout import Rollout
from workbench.serving.service import ServiceConfig

PATIENT = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)


def steady_client(url: str, users, stop: threading.Event, outcomes: list) -> threading.Thread:
    """A client asking ``url`` for one user after another (cache bypassed) every 10 ms until ``stop``:
    each answer's (status, model version) or (error type, None) goes into ``outcomes``."""
    def load():
        with httpx.Client(base_url=url, timeout=30) as c:
            i = 0
            while not stop.is_set():
                try:
                    r = c.get("/recommend", params={"user": int(users[i % len(users)])}, headers={"Cache-Control": "no-cache"})
                    outcomes.append((r.status_code, r.json()["model_version"] if r.status_code == 200 else r.text[:80]))
                except httpx.HTTPError as exc:
                    outcomes.append((type(exc).__name__, None))
                i += 1
                time.sleep(0.01)

    client = threading.Thread(target=load, daemon=True)
    client.start()
    return client


@pytest.fixture(scope="module")
def bad_model(model_store, tiny_pipeline_toml):
    """Another fitted pipeline (another seed, one epoch): a different version, different answers."""
    from workbench.serving.model import load_model

    config = dataclasses.replace(PipelineConfig.from_toml(tiny_pipeline_toml), seed=1)
    return load_model("synthetic", config, seed=1, small=True)


@pytest.mark.slow
def test_bad_model_promoted_then_rolled_back_without_a_failed_request(stored_model, bad_model, tmp_path):
    from workbench.serving.app import ServerThread, create_app
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.service import RecommenderService

    assert bad_model.version != stored_model.version
    users = stored_model.train.users["user_id"].to_numpy()[:20]
    log_path = tmp_path / "events.sqlite"

    with RedisServer(dir=tmp_path / "redis") as redis:
        class Replica:
            def __init__(self, model, port):
                self.service = RecommenderService(model, redis.url, SQLiteEventLog(log_path), PATIENT)
                self.server = ServerThread(create_app(self.service), port=port).start()

            def stop(self):
                self.server.stop()
                self.service.close()

        rollout = Rollout(Replica, [free_port(), free_port()], stored_model).launch()
        try:
            with Gateway([f"127.0.0.1:{p}" for p in rollout.ports]) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
                before = {int(u): http.get("/recommend", params={"user": int(u)}).json()["items"] for u in users}
                outcomes, stop = [], threading.Event()

                client = steady_client(gw.url, users, stop, outcomes)  # through the gateway during both switches
                try:
                    promoted = rollout.promote(bad_model)
                    during_bad = {int(u): http.get("/recommend", params={"user": int(u)}).json() for u in users[:5]}
                    rolled = rollout.rollback()
                finally:
                    stop.set()
                    client.join(timeout=30)
                after = {int(u): http.get("/recommend", params={"user": int(u)}).json() for u in users}
        finally:
            rollout.stop()
    statuses = [s for s, _ in outcomes]
    versions = {v for _, v in outcomes}
    assert len(outcomes) >= 20 and set(statuses) == {200}, [o for o in outcomes if o[0] != 200][:5]
    assert versions <= {stored_model.version, bad_model.version} and bad_model.version in versions
    assert promoted["version"] == bad_model.version and rolled["version"] == stored_model.version
    assert all(a["model_version"] == bad_model.version for a in during_bad.values())
    assert all(a["model_version"] == stored_model.version for a in after.values())
    assert {u: a["items"] for u, a in after.items()} == before  # the first model's answers again
    assert np.isfinite(rolled["seconds"])


@pytest.mark.slow
def test_rollback_command_switches_the_running_replicas_back_under_load(stored_model, bad_model, tiny_pipeline_toml,
                                                                        model_store, tmp_path, monkeypatch):  # fmt: skip
    """`workbench serve --replicas 2` running; `workbench promote --model BAD` then `workbench rollback`
    (each its own process, as an operator would type it) under a steady client through the gateway:
    no failed request, the bad version served in between, the first version's answers after. A second
    rollback is refused (nothing left to go back to) and the replicas keep serving."""
    import subprocess
    import sys

    from workbench.serving.control import state_path
    from workbench.serving.process import ServeProcess
    from workbench.store.store import ModelStore

    monkeypatch.delenv("WORKBENCH_REDIS_URL", raising=False)
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path))
    bad_folder = ModelStore(model_store).path(bad_model.version)
    assert bad_folder.is_dir()
    args = ["--data", "synthetic", "--small", "--config", str(tiny_pipeline_toml), "--event-log", str(tmp_path / "ev.sqlite"),
            "--redis-dir", str(tmp_path / "redis"), "--redis-timeout-ms", "2000", "--ranker-budget-ms", "10000",
            "--exploration-rate", "0", "--replicas", "2"]  # fmt: skip
    users = [int(u) for u in stored_model.train.users["user_id"].to_numpy()[:10]]
    workbench = lambda *a: subprocess.run([sys.executable, "-m", "workbench.cli", *a], capture_output=True, text=True,  # noqa: E731
                                          timeout=300)  # fmt: skip
    server = ServeProcess(args, log_path=tmp_path / "serve.log", start_timeout=600).start()
    try:
        port = str(server.port)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            before = {u: http.get("/recommend", params={"user": u}).json() for u in users}
            outcomes, stop = [], threading.Event()

            client = steady_client(server.url, users, stop, outcomes)
            try:
                promoted = workbench("promote", "--port", port, "--model", str(bad_folder))
                during = {u: http.get("/recommend", params={"user": u}).json()["model_version"] for u in users}
                rolled = workbench("rollback", "--port", port)
            finally:
                stop.set()
                client.join(timeout=30)
            after = {u: http.get("/recommend", params={"user": u}).json() for u in users}
            again = workbench("rollback", "--port", port)
            still = http.get("/recommend", params={"user": users[0]}).json()["model_version"]
        state_during = state_path(server.port).exists()
    finally:
        server.stop()
    statuses = [s for s, _ in outcomes]
    assert promoted.returncode == 0 and f"serves {bad_model.version}" in promoted.stdout, promoted.stderr
    assert rolled.returncode == 0 and f"serves {stored_model.version}" in rolled.stdout, rolled.stderr
    assert len(outcomes) >= 20 and set(statuses) == {200}, [o for o in outcomes if o[0] != 200][:5]
    assert bad_model.version in {v for _, v in outcomes} and set(during.values()) == {bad_model.version}
    assert {u: a["model_version"] for u, a in after.items()} == dict.fromkeys(users, stored_model.version)
    assert {u: a["items"] for u, a in after.items()} == {u: a["items"] for u, a in before.items()}
    assert again.returncode == 2 and "no earlier model" in again.stderr and still == stored_model.version
    assert state_during and not state_path(server.port).exists()  # the command removes its state file


def test_promote_and_rollback_refuse_before_any_work(tmp_path, monkeypatch, capsys):
    """No running `serve --replicas` on that port, or no such artefact folder: exit status 2, naming what is wrong."""
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path))
    port = free_port()
    assert main(["rollback", "--port", str(port)]) == 2
    assert f"no `workbench serve --replicas` runs with its gateway on port {port}" in capsys.readouterr().err
    assert main(["promote", "--port", str(port), "--model", str(tmp_path / "nope")]) == 2
    assert f"--model {tmp_path / 'nope'}: no such artefact folder" in capsys.readouterr().err
    (tmp_path / f"workbench-serve-{port}.json").write_text('{"pid": 999999999}')  # a state file left by a dead command
    assert main(["rollback", "--port", str(port)]) == 2
    assert "is not running" in capsys.readouterr().err
