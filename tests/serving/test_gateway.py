"""The nginx gateway (Debian's nginx, started by the project) in front of two real replicas over one Redis
and one event log: API keys (401/403), per-key rate limits (429), round robin, a replica going away."""

from __future__ import annotations

import os
import stat
import httpx
import pytest

from workbench.serving.gateway import ApiKeys, Gateway, find_nginx
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT

PATIENT = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)


@pytest.fixture(scope="session", autouse=True)
def nginx_installed() -> str:
    """Fails (no skip) when Debian's nginx is missing: `make test` installs it."""
    return find_nginx()


def upstreams(servers) -> list[str]:
    return [s.url.removeprefix("http://") for s in servers]


def test_keys_missing_wrong_and_without_write_scope(replicas):
    with replicas(PATIENT) as (services, servers, _):
        _keys_missing_wrong_and_without_write_scope(services, servers)


def _keys_missing_wrong_and_without_write_scope(services, servers):
    keys = ApiKeys.generate()
    admin, reader = keys.by_name("admin").key, keys.by_name("reader").key
    user = 3 + USER_SHIFT
    event = {"events": [{"type": "click", "request_id": "g1", "position": 1, "user": user, "item": 50_001}]}
    with Gateway(upstreams(servers), keys) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        none = http.get("/recommend", params={"user": user})
        wrong = http.get("/recommend", params={"user": user}, headers={"X-API-Key": "x" * 32})
        read = http.get("/recommend", params={"user": user}, headers={"X-API-Key": reader})
        write_as_reader = http.post("/events", json=event, headers={"X-API-Key": reader})
        events_no_key = http.post("/events", json=event)
        write_as_admin = http.post("/events", json=event, headers={"X-API-Key": admin})
        health = http.get("/healthz")
    for r in (none, wrong, events_no_key):
        assert r.status_code == 401 and r.json()["field"] == "X-API-Key", r.text
    assert write_as_reader.status_code == 403 and write_as_reader.json()["field"] == "X-API-Key"
    assert read.status_code == 200 and read.json()["user"] == user
    assert write_as_admin.status_code == 200 and write_as_admin.json()["accepted"] == 1
    assert health.status_code == 200
    # refused requests never reached a replica: one /recommend and one /events in all
    served = sum(s.metrics.requests.labels("/recommend", "200")._value.get() for s in services)
    logged = sum(s.metrics.requests.labels("/events", "200")._value.get() for s in services)
    assert (served, logged) == (1, 1)


def test_rate_limit_is_per_key(replicas):
    with replicas(PATIENT) as (_, servers, _):
        _rate_limit_is_per_key(servers)


def _rate_limit_is_per_key(servers):
    keys = ApiKeys.generate()
    admin, reader = keys.by_name("admin").key, keys.by_name("reader").key
    # 1 request a minute, 2 more at once: the 4th request inside the minute is refused
    with Gateway(upstreams(servers), keys, rate="1r/m", burst=2) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        codes = [http.get("/recommend", params={"user": USER_SHIFT}, headers={"X-API-Key": reader}).status_code
                 for _ in range(5)]  # fmt: skip
        other = http.get("/recommend", params={"user": USER_SHIFT}, headers={"X-API-Key": admin})
        body = http.get("/recommend", params={"user": USER_SHIFT}, headers={"X-API-Key": reader}).json()
    assert codes == [200, 200, 200, 429, 429]
    assert other.status_code == 200  # another key has its own bucket
    assert body["error"] == "rate limited" and body["field"] == "X-API-Key"


def gateway_counts(gw) -> dict:
    """``{(endpoint, status): count}`` from mtail's /metrics (the gateway's access log)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://{gw.status_target}/metrics", timeout=10).text
    return {(s.labels["endpoint"], s.labels["status"]): s.value for f in text_string_to_metric_families(text)
            if f.name == "workbench_gateway_requests" for s in f.samples if s.name.endswith("_total")}  # fmt: skip


def test_request_counts_by_status_include_the_gateways_own_answers(replicas):
    """Answers the gateway gives itself (401, 403, 429) never reach a replica; mtail over nginx's access
    log counts every answer by endpoint and status: exactly what the client received."""
    import collections
    import time

    keys = ApiKeys.generate()
    admin, reader = keys.by_name("admin").key, keys.by_name("reader").key
    event = {"events": [{"type": "click", "request_id": "c1", "position": 1, "user": USER_SHIFT, "item": 50_001}]}
    with replicas(PATIENT) as (_, servers, _):
        with Gateway(upstreams(servers), keys, rate="1r/m", burst=3) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
            seen = collections.Counter()
            for r in [http.get("/recommend", params={"user": USER_SHIFT}, headers={"X-API-Key": reader}) for _ in range(6)]:
                seen["/recommend", str(r.status_code)] += 1  # 4 within the burst, then 429
            for r in (http.get("/recommend", params={"user": USER_SHIFT}), http.post("/events", json=event),
                      http.post("/events", json=event, headers={"X-API-Key": reader}),
                      http.post("/events", json=event, headers={"X-API-Key": admin}),
                      http.get("/healthz"), http.get("/nowhere/" + "x" * 40)):  # fmt: skip
                path = r.request.url.path
                seen[path if path in ("/recommend", "/events", "/healthz") else "other", str(r.status_code)] += 1
            deadline = time.monotonic() + 15  # the access log is flushed every second
            while (counts := gateway_counts(gw)) != seen and time.monotonic() < deadline:
                time.sleep(0.2)
    assert seen == {("/recommend", "200"): 4, ("/recommend", "429"): 2, ("/recommend", "401"): 1,
                    ("/events", "401"): 1, ("/events", "403"): 1, ("/events", "200"): 1, ("/healthz", "200"): 1,
                    ("other", "404"): 1}  # fmt: skip
    assert counts == seen


def test_round_robin_and_a_replica_going_away(replicas):
    with replicas(PATIENT) as (services, servers, _):
        _round_robin_and_a_replica_going_away(services, servers)


def _round_robin_and_a_replica_going_away(services, servers):
    with Gateway(upstreams(servers)) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
        first = [http.get("/recommend", params={"user": u + USER_SHIFT}, headers={"Cache-Control": "no-cache"})
                 for u in range(6)]  # fmt: skip
        per_replica = [s.metrics.requests.labels("/recommend", "200")._value.get() for s in services]
        servers[0].stop()  # replica 1 goes away: nginx skips it (connection refused) and retries on replica 2
        after = [http.get("/recommend", params={"user": u + USER_SHIFT}) for u in range(6)]
    assert all(r.status_code == 200 for r in first + after)
    assert per_replica == [3, 3]
    assert [r.json()["items"] for r in after] == [r.json()["items"] for r in first]  # the same model, the same answers


def test_keys_file_is_generated_once_private_and_checked(tmp_path, monkeypatch):
    path = tmp_path / "gw" / "keys.txt"
    monkeypatch.setenv("WORKBENCH_API_KEYS", str(path))
    keys, created = ApiKeys.load_or_create()
    again, created_again = ApiKeys.load_or_create()
    assert created and not created_again and keys.path == path
    assert [(k.name, k.scope) for k in keys] == [("admin", "write"), ("reader", "read")]
    assert [k.key for k in again] == [k.key for k in keys]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\nalice write " + "a" * 20 + "\nbob admin " + "b" * 20 + "\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: scope 'admin'"):
        ApiKeys.load(bad)
    bad.write_text("alice write short\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: key of 'alice'"):
        ApiKeys.load(bad)
    with pytest.raises(ValueError, match="loopback"):
        Gateway(["10.0.0.1:80"])
    with pytest.raises(ValueError, match="rate="):
        Gateway(["127.0.0.1:80"], rate="fast")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_serve_replicas_auth_runs_and_stops_without_orphans(stored_model, tiny_pipeline_toml, tmp_path, monkeypatch, how):
    """`workbench serve --replicas 2 --auth`: a generated keys file, keys enforced, and after SIGTERM or
    SIGINT no child (redis-server, both replicas, nginx) is left."""
    import signal
    import time

    from workbench.serving.children import alive, children
    from workbench.serving.process import ServeProcess

    monkeypatch.delenv("WORKBENCH_REDIS_URL", raising=False)
    keys_path = tmp_path / "secret" / "keys.txt"
    args = ["--data", "synthetic", "--small", "--config", str(tiny_pipeline_toml), "--event-log", str(tmp_path / "ev.sqlite"),
            "--redis-dir", str(tmp_path / "redis"), "--redis-timeout-ms", "2000", "--replicas", "2", "--auth",
            "--keys", str(keys_path), "--prometheus"]  # fmt: skip
    server = ServeProcess(args, log_path=tmp_path / "serve.log", start_timeout=600).start()
    try:
        deadline = time.monotonic() + 60  # the gateway answers before Prometheus is up: wait for every child
        while True:
            kids = children(server.pid)
            names = sorted(open(f"/proc/{c}/comm").read().strip() for c in kids if alive(c))
            if {"nginx", "mtail", "redis-server", "prometheus"} <= set(names) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        running = [alive(k) for k in kids]
        keys = ApiKeys.load(keys_path)
        user = 2 + USER_SHIFT - USER_SHIFT  # the CLI serves the model's own ids
        no_key = httpx.get(server.url + "/recommend", params={"user": user}, timeout=30)
        ok = httpx.get(server.url + "/recommend", params={"user": user}, headers={"X-API-Key": keys.by_name("reader").key},
                       timeout=30)  # fmt: skip
        proc, server.process = server.process, None
        proc.send_signal(getattr(signal, how))
        status = proc.wait(timeout=60)
    finally:
        server.kill()
    deadline = time.monotonic() + 10
    while any(alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert names.count("nginx") == 1 and names.count("redis-server") == 1 and names.count("prometheus") == 1, names
    assert names.count("mtail") == 1, names  # the gateway's counts by status
    assert names.count("python") >= 2 and all(running), (names, running)  # both replicas (and any helper of the command)
    assert no_key.status_code == 401 and ok.status_code == 200
    assert not [k for k in kids if alive(k)], "children outlived `workbench serve --replicas 2`"
    log = (tmp_path / "serve.log").read_text()
    assert status in {"SIGTERM": {143}, "SIGINT": {130}}[how] and "Traceback" not in log, (status, log[-2000:])
