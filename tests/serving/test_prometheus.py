"""Debian's Prometheus, started by the project, scraping the gateway and two replicas; the alert rules
checked by promtool, and one alert caused, seen firing and seen resolving."""

from __future__ import annotations

import time

import httpx
import pytest

from workbench.serving.gateway import Gateway
from workbench.serving.prometheus_server import RULES_FILE, PrometheusServer, alert_rules, check_rules
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT


def test_rules_file_is_the_generated_text_and_passes_promtool(tmp_path):
    assert RULES_FILE.read_text() == alert_rules()
    assert "SUCCESS: 5 rules found" in check_rules(RULES_FILE)
    assert "SUCCESS: 5 rules found" in check_rules(_write(tmp_path / "short.yml", alert_rules("5s", "0s")))
    with pytest.raises(RuntimeError, match="promtool check rules"):
        check_rules(_write(tmp_path / "bad.yml", alert_rules().replace("> 0.1", "> > 0.1")))


def _write(path, text):
    path.write_text(text)
    return path


def wait_for(what, predicate, timeout=45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_event_log_lag_alert_fires_and_resolves(replicas):
    """Redis frozen until replica 1's breaker opens; a click posted to it cannot reach the store
    (workbench_event_lag 1): WorkbenchEventLogLag fires. Redis answers again and a request applies the
    click (lag 0): the alert resolves. Prometheus scrapes every 0.5 s and evaluates every 0.5 s."""
    config = ServiceConfig(redis_timeout_ms=50.0, redis_cooldown_s=3.0, ranker_budget_ms=10_000.0)
    with replicas(config) as (services, servers, redis):
        ups = [s.url.removeprefix("http://") for s in servers]
        with Gateway(ups) as gw, PrometheusServer(ups, gateway=gw.url.removeprefix("http://"), scrape_s=0.5,
                                                  evaluate_s=0.5, window="5s", for_="0s") as prom:  # fmt: skip
            targets = wait_for("3 targets up", lambda: (t := prom.targets()) and all(x["health"] == "up" for x in t)
                               and len(t) == 3 and t)  # fmt: skip
            http = httpx.Client(base_url=servers[0].url, timeout=30)
            user = 4 + USER_SHIFT
            first = http.get("/recommend", params={"user": user}).json()
            quiet = prom.alerts()
            redis.pause(1000)
            while services[0].guard.up:
                http.get("/recommend", params={"user": user})
            ack = http.post("/events", json={"events": [{"type": "click", "request_id": "p1", "position": 1,
                                                         "user": user, "item": first["items"][0]}]}).json()  # fmt: skip
            fired = wait_for("WorkbenchEventLogLag firing", lambda: [a for a in prom.alerts()
                             if a["name"] == "WorkbenchEventLogLag" and a["state"] == "firing"])  # fmt: skip
            lag = prom.query("max(workbench_event_lag)")
            wait_for("Redis back for replica 1", lambda: services[0].guard.up)
            http.get("/recommend", params={"user": user})  # applies the waiting click
            resolved = wait_for("WorkbenchEventLogLag resolved", lambda: not [a for a in prom.alerts()
                                if a["name"] == "WorkbenchEventLogLag"] and prom.query("max(workbench_event_lag)")[0]["value"] == 0)  # fmt: skip
            scraped = prom.query('sum by (instance) (workbench_requests_total{endpoint="/recommend"})')
            up = prom.query('up{job="replicas"} == 1')
            gateway = prom.query("nginx_connections_active")
            http.close()
    assert sorted(t["job"] for t in targets) == ["gateway", "replicas", "replicas"]
    assert not [a for a in quiet if a["name"] in ("WorkbenchEventLogLag", "WorkbenchTargetDown")]
    assert ack["features_updated"] is False and fired and lag[0]["value"] == 1.0 and resolved
    assert [r["metric"]["instance"] for r in scraped] == [ups[0]] and scraped[0]["value"] >= 4
    assert {r["metric"]["instance"] for r in up} == set(ups) and len(gateway) == 1
