"""What the operations page shows, read from a running system: Prometheus' HTTP API and the event log.

`snapshot` returns one reading: request rate, p50/p99 per stage against the textbook's budget, cache
hit rate, degraded share by reason, error share, firing and pending alerts (from Prometheus, which
scrapes the gateway and the replicas: `workbench serve --replicas N --prometheus`), and the online
CTR per served model version (from the SQLite event log: clicks over impressions of the answers each
version served). Prometheus unreachable or the log missing: the reading says so in ``problems``
instead of failing. Loopback only.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.serving.loadtest import COMPONENT_STAGES, SERVING_BUDGET_MS, check_loopback

WINDOW = "1m"


@dataclass
class Reading:
    at: float
    request_rate: float | None = None
    cache_hit_rate: float | None = None
    error_share: float | None = None
    stages: pd.DataFrame = field(default_factory=pd.DataFrame)
    degraded: pd.DataFrame = field(default_factory=pd.DataFrame)
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    ctr: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.request_rate is None:
            return f"Operations: no reading from Prometheus ({'; '.join(self.problems)})"
        firing = int((self.alerts["state"] == "firing").sum()) if len(self.alerts) else 0
        hit = "n/a" if self.cache_hit_rate is None else f"{self.cache_hit_rate:.1%}"
        return (f"Operations: {self.request_rate:.1f} req/s over the last {WINDOW}, cache hit rate {hit}, "
                f"{firing} alert(s) firing")  # fmt: skip


def _query(http, expr: str) -> list[tuple[dict, float]]:
    body = http.get("/api/v1/query", params={"query": expr}).json()
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r}: {body.get('error')}")
    return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def _one(http, expr: str) -> float | None:
    rows = [v for _, v in _query(http, expr) if v == v]  # NaN (0/0 over an idle window) is no reading
    return rows[0] if rows else None


def ctr_by_version(log_path: str | Path) -> pd.DataFrame:
    """Impressions, clicks and CTR per model version that served the answers (the event log's served rows)."""
    with sqlite3.connect(f"file:{Path(log_path)}?mode=ro", uri=True, timeout=10) as conn:
        frame = pd.read_sql_query(
            "SELECT s.model_version AS model_version, SUM(e.event_type = 'impression') AS impressions, "
            "SUM(e.event_type = 'click') AS clicks FROM events e JOIN served s USING (request_id) GROUP BY 1 ORDER BY 1",
            conn,
        )
    conn.close()
    frame["ctr"] = frame["clicks"] / frame["impressions"].where(frame["impressions"] > 0)
    return frame


def snapshot(prometheus_url: str, event_log: str | Path | None = None, window: str = WINDOW) -> Reading:
    """One reading of the running system (module docstring)."""
    import httpx

    reading = Reading(at=time.time())
    try:
        check_loopback(prometheus_url)
        with httpx.Client(base_url=prometheus_url.rstrip("/"), timeout=5) as http:
            w = window
            reading.request_rate = _one(http, f'sum(rate(workbench_requests_total{{endpoint="/recommend"}}[{w}]))') or 0.0
            reading.cache_hit_rate = _one(http, f'sum(rate(workbench_cache_lookups_total{{result="hit"}}[{w}])) / '
                                                f"sum(rate(workbench_cache_lookups_total[{w}]))")  # fmt: skip
            reading.error_share = _one(http, f'sum(rate(workbench_requests_total{{status=~"5.."}}[{w}])) / '
                                             f"sum(rate(workbench_requests_total[{w}]))")  # fmt: skip
            rows = {}
            for q in (0.5, 0.99):
                for labels, v in _query(http, f"histogram_quantile({q}, sum by (le, stage) (rate(workbench_stage_seconds_bucket[{w}])))"):
                    rows.setdefault(labels.get("stage"), {})[f"p{int(q * 100)}_ms"] = v * 1e3
            budget = {stage: SERVING_BUDGET_MS[c][1] for c, stages in COMPONENT_STAGES.items() for stage in stages}
            reading.stages = pd.DataFrame([{"stage": s, **v, "budget_p99_ms": budget.get(s)} for s, v in sorted(rows.items())])
            total = _one(http, f'sum(rate(workbench_requests_total{{endpoint="/recommend",status="200"}}[{w}]))')
            deg = _query(http, f"sum by (reason) (rate(workbench_degraded_total[{w}]))")
            reading.degraded = pd.DataFrame([{"reason": l.get("reason"), "share": (v / total) if total else None} for l, v in deg])
            alerts = http.get("/api/v1/alerts").json()["data"]["alerts"]
            reading.alerts = pd.DataFrame([{"alert": a["labels"]["alertname"], "state": a["state"], "since": a.get("activeAt"),
                                            "summary": a.get("annotations", {}).get("summary")} for a in alerts],
                                          columns=["alert", "state", "since", "summary"])  # fmt: skip
    except (httpx.HTTPError, ValueError, RuntimeError, KeyError) as exc:
        reading.request_rate = None
        reading.problems.append(f"Prometheus at {prometheus_url} not readable: {type(exc).__name__}: {exc}")
    if event_log is not None:
        if Path(event_log).is_file():
            reading.ctr = ctr_by_version(event_log)
        else:
            reading.problems.append(f"event log {event_log}: no such file")
    return reading
