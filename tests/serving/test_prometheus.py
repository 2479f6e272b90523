"""Debian's Prometheus, started by the project, scraping the gateway and two replicas; the alert rules
checked by promtool, and each alert CAUSED against the real services (a frozen Redis, a slow Redis, an
event log that refuses writes), seen firing and seen resolving once its cause ends.

The rules are the shipped ones (`alert_rules`, the text of configs/prometheus/serving-alerts.yml) with
their windows templated short: a 5 s rate window and a 1 s ``for`` (production: 1 m and 1 m);
Prometheus scrapes and evaluates every 0.5 s."""

from __future__ import annotations

import itertools
import sqlite3
import time
from contextlib import contextmanager

import httpx
import pytest

from workbench.serving.gateway import Gateway
from workbench.serving.prometheus_server import (
    RULES_FILE,
    PrometheusServer,
    alert_rules,
    check_rules,
)
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT


def test_rules_file_is_the_generated_text_and_passes_promtool(tmp_path):
    assert RULES_FILE.read_text() == alert_rules()
    assert "SUCCESS: 5 rules found" in check_rules(RULES_FILE)
    assert "SUCCESS: 5 rules found" in check_rules(
        _write(tmp_path / "short.yml", alert_rules("5s", "0s"))
    )
    with pytest.raises(RuntimeError, match="promtool check rules"):
        check_rules(
            _write(tmp_path / "bad.yml", alert_rules().replace("> 0.1", "> > 0.1"))
        )


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
    config = ServiceConfig(
        redis_timeout_ms=50.0, redis_cooldown_s=3.0, ranker_budget_ms=10_000.0
    )
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
            scraped = prom.query(
                'sum by (instance) (workbench_requests_total{endpoint="/recommend"})'
            )
            up = prom.query('up{job="replicas"} == 1')
            gateway = prom.query("nginx_connections_active")
            http.close()
    assert sorted(t["job"] for t in targets) == ["gateway", "replicas", "replicas"]
    assert not [
        a for a in quiet if a["name"] in ("WorkbenchEventLogLag", "WorkbenchTargetDown")
    ]
    assert (
        ack["features_updated"] is False
        and fired
        and lag[0]["value"] == 1.0
        and resolved
    )
    assert [r["metric"]["instance"] for r in scraped] == [ups[0]] and scraped[0][
        "value"
    ] >= 4
    assert {r["metric"]["instance"] for r in up} == set(ups) and len(gateway) == 1


WINDOW, FOR = "5s", "1s"


@contextmanager
def watched(replicas, config):
    """Two replicas over one Redis and one event log, the nginx gateway (and mtail's counts of its answers
    by status), and Prometheus scraping all four (every target up before it yields ``(redis, prom, client)``; the client talks to
    the gateway)."""
    with replicas(config) as (_, servers, redis):
        ups = [s.url.removeprefix("http://") for s in servers]
        with Gateway(ups) as gw, PrometheusServer(ups, gateway=gw.url.removeprefix("http://"), scrape_s=0.5,
                                                  evaluate_s=0.5, window=WINDOW, for_=FOR,
                                                  gateway_status=gw.status_target) as prom, \
                httpx.Client(base_url=gw.url, timeout=30) as client:  # fmt: skip
            wait_for(
                "4 targets up",
                lambda: (
                    len(t := prom.targets()) == 4
                    and all(x["health"] == "up" for x in t)
                ),
            )
            yield redis, prom, client


def firing(prom, name):
    return [a for a in prom.alerts() if a["name"] == name and a["state"] == "firing"]


def pending_or_firing(prom, name):
    return [a for a in prom.alerts() if a["name"] == name]


def users(n, start=0):
    return [u + USER_SHIFT for u in range(start, start + n)]


class Freezer:
    """Keeps Redis frozen in ``CLIENT PAUSE`` slices of ``slice_ms`` (a paused Redis answers no
    command, CLIENT UNPAUSE included): `keep` renews an ended slice; once `thaw` is called no slice is
    renewed and `thawed` waits for the last one to end."""

    def __init__(self, redis, slice_ms=1500):
        self.redis, self.slice_s, self.until = redis, slice_ms / 1000, 0.0

    def keep(self):
        if time.monotonic() >= self.until:
            self.redis.pause(int(self.slice_s * 1000))
            self.until = time.monotonic() + self.slice_s

    def thaw(self):
        time.sleep(max(0.0, self.until - time.monotonic()) + 0.05)


@pytest.mark.slow  # about 20 s: Prometheus' 5 s window must fill and then empty
def test_p99_over_budget_alert_fires_while_redis_is_slow_and_resolves(replicas):
    """Redis frozen while the breaker never opens (cool-down 0): every Redis read waits out its
    150 ms deadline, so each /recommend takes over 150 ms server-side, and the p99 of
    ``workbench_request_seconds`` passes the 100 ms budget: WorkbenchP99OverBudget fires. Redis
    answers again; once the 5 s window holds only fast requests the alert resolves."""
    config = ServiceConfig(
        redis_timeout_ms=150.0, redis_cooldown_s=0.0, ranker_budget_ms=10_000.0
    )
    with watched(replicas, config) as (redis, prom, client):
        warm = itertools.cycle(users(20))

        def normal_requests():
            for _ in range(5):
                assert client.get("/recommend", params={"user": next(warm)}).status_code == 200
            return not pending_or_firing(prom, "WorkbenchP99OverBudget")

        # fresh replicas' first answers can pass the budget on a loaded machine: start from a quiet alert
        wait_for("WorkbenchP99OverBudget quiet while Redis answers", normal_requests)
        freezer = Freezer(redis)
        slow = iter(users(200, start=20))
        took = []

        def slow_requests():
            freezer.keep()
            t0 = time.perf_counter()
            answer = client.get("/recommend", params={"user": next(slow)})
            took.append(time.perf_counter() - t0)
            assert answer.status_code == 200
            return firing(prom, "WorkbenchP99OverBudget")

        fired = wait_for("WorkbenchP99OverBudget firing", slow_requests)
        p99_slow = prom.query(
            f"histogram_quantile(0.99, sum by (le) (rate(workbench_request_seconds_bucket[{WINDOW}])))"
        )
        freezer.thaw()
        fast = itertools.cycle(users(200, start=20))

        def fast_requests():
            for _ in range(5):
                assert (
                    client.get("/recommend", params={"user": next(fast)}).status_code
                    == 200
                )
            return not pending_or_firing(prom, "WorkbenchP99OverBudget")

        resolved = wait_for("WorkbenchP99OverBudget resolved", fast_requests)
    assert fired and resolved  # and the alert was quiet before (wait_for above)
    assert p99_slow[0]["value"] > 0.1 and sorted(took)[len(took) // 2] > 0.15


@pytest.mark.slow  # about 20 s
def test_degraded_share_alert_fires_while_redis_is_frozen_and_resolves(replicas):
    """Redis frozen: reads miss their 50 ms deadline, the breaker opens and answers come from the
    fallback, flagged ``feature_store``; more than 5% of 200s are degraded and WorkbenchDegradedShare
    fires. Redis answers again; after the breaker's 1 s cool-down answers are personalised again and
    the alert resolves once the window has forgotten the degraded ones."""
    config = ServiceConfig(
        redis_timeout_ms=50.0, redis_cooldown_s=1.0, ranker_budget_ms=10_000.0
    )
    with watched(replicas, config) as (redis, prom, client):
        for u in users(20):
            assert (
                client.get("/recommend", params={"user": u}).json()["degraded"] is None
            )
        quiet = pending_or_firing(prom, "WorkbenchDegradedShare")
        freezer = Freezer(redis)
        flags = []
        some = iter(users(400, start=20))

        def frozen_requests():
            freezer.keep()
            flags.append(
                client.get("/recommend", params={"user": next(some)}).json()["degraded"]
            )
            return firing(prom, "WorkbenchDegradedShare")

        fired = wait_for("WorkbenchDegradedShare firing", frozen_requests)
        share = prom.query('sum(workbench_degraded_total{reason="feature_store"})')
        freezer.thaw()
        after = []

        def thawed_requests():
            after.append(
                client.get("/recommend", params={"user": next(some)}).json()["degraded"]
            )
            return after[-1] is None and not pending_or_firing(
                prom, "WorkbenchDegradedShare"
            )

        resolved = wait_for("WorkbenchDegradedShare resolved", thawed_requests)
    assert quiet == [] and fired and resolved
    assert "feature_store" in flags and share[0]["value"] >= 1


@pytest.mark.slow  # about 15 s
def test_error_rate_alert_fires_while_the_event_log_refuses_writes_and_resolves(
    replicas, tmp_path
):
    """The event log refuses every new event (a trigger on its table, put there by another SQLite
    connection, as a full disk or a broken migration would): each POST /events answers 500 and more
    than 1% of requests are 5xx, so WorkbenchErrorRate fires. The trigger dropped, events are
    acknowledged again and the alert resolves once the window holds no 5xx."""
    config = ServiceConfig(ranker_budget_ms=10_000.0)
    with watched(replicas, config) as (_, prom, client):
        user = USER_SHIFT + 3
        item = client.get("/recommend", params={"user": user}).json()["items"][0]
        n = iter(range(10_000))

        def post():
            return client.post("/events", json={"events": [{"type": "click", "request_id": f"e{next(n)}",
                                                            "position": 1, "user": user, "item": item}]})  # fmt: skip

        assert post().status_code == 200
        quiet = pending_or_firing(prom, "WorkbenchErrorRate")
        log = sqlite3.connect(tmp_path / "events.sqlite")
        log.execute("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'event log refuses "
                    "writes'); END")  # fmt: skip
        failed = []

        def failing_posts():
            answer = post()
            failed.append((answer.status_code, answer.json().get("detail", "")))
            return firing(prom, "WorkbenchErrorRate")

        fired = wait_for("WorkbenchErrorRate firing", failing_posts)
        errors = wait_for("every 500 scraped", lambda: (r := prom.query(
            'sum(workbench_requests_total{endpoint="/events",status="500"})')) and r[0]["value"] == len(failed))  # fmt: skip
        at_gateway = wait_for("the gateway's 500s scraped (nginx's log through mtail)", lambda: (r := prom.query(
            'sum(workbench_gateway_requests_total{endpoint="/events",status="500"})')) and r[0]["value"] == len(failed))  # fmt: skip
        log.execute("DROP TRIGGER refuse")
        log.close()
        acked = []

        def working_posts():
            acked.append(post().status_code)
            return not pending_or_firing(prom, "WorkbenchErrorRate")

        resolved = wait_for("WorkbenchErrorRate resolved", working_posts)
    assert quiet == [] and fired and resolved
    assert {code for code, _ in failed} == {500} and all(
        "refuses writes" in d for _, d in failed
    )
    assert errors and at_gateway and set(acked) == {200}
