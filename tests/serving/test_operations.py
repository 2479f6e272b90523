"""The operations page's reading against a real system: two replicas, the nginx gateway, Prometheus
scraping them, and the event log; then the page itself (notebooks/13_operations.py) run as a script."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from workbench.serving.gateway import Gateway
from workbench.serving.operations import snapshot
from workbench.serving.prometheus_server import PrometheusServer
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT

PATIENT = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)
ROOT = Path(__file__).resolve().parents[2]


def test_operations_reading_and_page(replicas, tmp_path):
    with replicas(PATIENT) as (services, servers, _):
        ups = [s.url.removeprefix("http://") for s in servers]
        with Gateway(ups) as gw, PrometheusServer(ups, gateway=gw.url.removeprefix("http://"), scrape_s=0.5,
                                                  evaluate_s=0.5) as prom, httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
            answers = [http.get("/recommend", params={"user": u + USER_SHIFT}).json() for u in range(12)]
            a = answers[0]
            events = [{"type": "impression", "request_id": a["request_id"], "position": p, "user": a["user"], "item": i,
                       "propensity": 1.0} for p, i in enumerate(a["items"][:4], 1)]  # fmt: skip
            events.append({"type": "click", "request_id": a["request_id"], "position": 2, "user": a["user"], "item": a["items"][1]})
            assert http.post("/events", json={"events": events}).json()["accepted"] == 5
            log_path = tmp_path / "events.sqlite"
            deadline = time.monotonic() + 45
            reading = snapshot(prom.url, log_path)
            while (not reading.request_rate or reading.ctr.empty or reading.stages.empty) and time.monotonic() < deadline:
                http.get("/recommend", params={"user": 1 + USER_SHIFT}, headers={"Cache-Control": "no-cache"})
                time.sleep(0.5)  # requests across scrapes: a rate needs the counter to move between two of them
                reading = snapshot(prom.url, log_path)
            env = {**os.environ, "WORKBENCH_PROMETHEUS_URL": prom.url, "WORKBENCH_EVENT_LOG": str(log_path),
                   "PYTHONPATH": str(ROOT)}  # fmt: skip
            page = subprocess.run([sys.executable, str(ROOT / "notebooks" / "13_operations.py")], capture_output=True,
                                  text=True, env=env, timeout=120)  # fmt: skip
    assert reading.problems == [] and reading.request_rate > 0, reading.problems
    assert {"features", "ranking", "rerank"} <= set(reading.stages["stage"]), reading.stages
    ranking = reading.stages.set_index("stage").loc["ranking"]
    assert 0 < ranking["p50_ms"] <= ranking["p99_ms"] and ranking["budget_p99_ms"] == 50.0
    ctr = reading.ctr.set_index("model_version").loc[a["model_version"]]
    assert (ctr["impressions"], ctr["clicks"]) == (4, 1) and ctr["ctr"] == 0.25
    assert page.returncode == 0, page.stderr[-2000:]
    assert "Operations: " in page.stdout and "req/s" in page.stdout, page.stdout
