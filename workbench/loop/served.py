"""The served loop: every session is a request to the running service, every event a ``POST /events``.

`ServedArm` runs one arm's model version as a child process (`LoopServeProcess`, the serving
package's `ServeProcess` started on a free port of 127.0.0.1 and stopped by its PID), then, for
each round of sessions, sends one ``POST /recommend`` per session (with the round's time as the
request's ``context.timestamp``) and posts the round's impressions, clicks and conversions back in
batches. The whole served path runs: the response cache, the Redis feature fetch, the three
stages, exploration with its propensities, the durable SQLite log and the feature update.

The child is ``python -m workbench.loop.served``: it rebuilds the arm's version as the loop does
(the starting artefact from the model store; a retrained version with its training data rebuilt
from the event log, `workbench.loop.versions`) and serves it with `workbench.serving`'s service and
app, exactly as ``workbench serve`` would. (``workbench serve --model`` cannot serve a retrained
version: its training data is the log's, which only the loop knows how to rebuild.) Before the
child starts, the loop materialises the version's features in Redis and replays the log over them,
so the service finds them ready and never replays the log a second time.

After each day, `ServedArm.day_metrics` reads the service's ``/metrics``: the day's p99 of the
server-side request time (the ``workbench_request_seconds`` histogram, interpolated within its
buckets as Prometheus' ``histogram_quantile`` does) and the share of answers flagged degraded
(``workbench_degraded_total`` over the requests).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.loop.config import Arm
from workbench.loop.shown import Shown
from workbench.serving.process import ServeProcess

CONCURRENCY = 16  # requests in flight at once (the service batches what arrives together)
EVENTS_PER_POST = 1000  # the service's max_events


def histogram_quantile(q: float, bounds: np.ndarray, cumulative: np.ndarray) -> float:
    """Prometheus' ``histogram_quantile``: the ``q`` quantile from cumulative bucket counts (upper ``bounds``,
    the last +Inf), linearly interpolated within the bucket that holds it; NaN without observations."""
    total = cumulative[-1]
    if total <= 0:
        return float("nan")
    rank = q * total
    b = int(np.searchsorted(cumulative, rank, side="left"))
    if b >= len(bounds) - 1:  # in the +Inf bucket: the largest finite bound
        return float(bounds[-2])
    lo = 0.0 if b == 0 else float(bounds[b - 1])
    below = 0.0 if b == 0 else float(cumulative[b - 1])
    inside = float(cumulative[b] - below)
    return lo + (float(bounds[b]) - lo) * ((rank - below) / inside if inside > 0 else 1.0)


def parse_metrics(text: str) -> dict[str, Any]:
    """From ``/metrics``: the request-time histogram (bounds, cumulative counts), requests and degraded answers."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    degraded = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "workbench_request_seconds_bucket":
                buckets[float(sample.labels["le"])] = sample.value
            elif sample.name == "workbench_degraded_total":
                degraded += sample.value
    bounds = np.array(sorted(buckets))
    cumulative = np.array([buckets[b] for b in bounds])
    return {"bounds": bounds, "cumulative": cumulative, "requests": float(cumulative[-1]) if len(cumulative) else 0.0,
            "degraded": degraded}  # fmt: skip


class LoopServeProcess(ServeProcess):
    """`ServeProcess` whose child is ``python -m workbench.loop.served ARGS --port P`` (same start, stop, kill)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, log_path: str | Path | None = None) -> None:
        super().__init__([], env=env, log_path=log_path, die_with_parent=True)  # no orphan after kill -9
        self.args = [sys.executable, "-m", "workbench.loop.served", *args, "--port", str(self.port)]


class ServedArm:
    """One arm's service: start it, ask it for slates, post it events, read its metrics."""

    def __init__(self, loop: Any, arm: Arm, key: str) -> None:
        """``loop``: the `workbench.loop.engine.Loop` this arm belongs to (not imported here: the engine imports
        this module, lazily, to start its served arms)."""
        self.loop, self.arm, self.key = loop, arm, key
        version = next(v for v in loop.version_list if v.key == key)
        c = loop.config
        args = ["--data", c.data, "--seed", str(c.seed), "--base", loop.base.key, "--version", key, "--day", str(version.day),
                "--mode", version.mode, "--epsilon", repr(arm.epsilon), "--event-log", str(loop.log_path),
                "--store", str(loop.store.root), "--redis-timeout-ms", repr(c.redis_timeout_ms),
                "--ranker-budget-ms", repr(c.ranker_budget_ms)]  # fmt: skip
        if c.small:
            args.append("--small")
        if loop.pipeline_path:
            args += ["--pipeline-config", loop.pipeline_path]
        if loop.cache_dir is not None:
            args += ["--cache-dir", str(loop.cache_dir)]
        env = {"WORKBENCH_REDIS_URL": loop.redis_url}
        self.process = LoopServeProcess(args, env, loop.folder / f"service-{arm.name}.log")
        self.item_index = pd.Index(loop.item_ids)
        self._last = {"bounds": np.zeros(0), "cumulative": np.zeros(0), "requests": 0.0, "degraded": 0.0}

    @property
    def url(self) -> str:
        return self.process.url

    def start(self) -> ServedArm:
        self.process.start()
        self._last = self.metrics()
        return self

    def stop(self) -> None:
        self.process.stop()

    # --- requests -------------------------------------------------------------------------------------

    def _call(self, work):
        """Run the requests; a transport failure is reported with the service's state and the end of its log."""
        import httpx

        try:
            return asyncio.run(work)
        except httpx.HTTPError as exc:
            proc = self.process.process
            state = "running" if proc is not None and proc.poll() is None else f"exited ({None if proc is None else proc.returncode})"
            log = self.process.log_path
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"the service of arm {self.arm.name} on {self.url} failed a request "
                               f"({type(exc).__name__}: {exc}); the process is {state}; its log ends:\n{tail}") from exc  # fmt: skip

    def slates(self, rows: np.ndarray, user_ids: np.ndarray, k: int, ts: int, item_ids: np.ndarray) -> Shown:
        """One ``POST /recommend`` per session; the answers as a round's `Shown` (item rows, padded)."""
        answers = self._call(self._recommend_all(user_ids.tolist(), k, ts))
        n = len(rows)
        items = np.full((n, k), -1, np.int64)
        props = np.zeros((n, k))
        scores = np.full((n, k), np.nan)
        lengths = np.array([len(a["items"]) for a in answers], np.int64)
        r = np.repeat(np.arange(n), lengths)
        c = np.arange(len(r)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = np.concatenate([a["items"] for a in answers]).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
        items[r, c] = self.item_index.get_indexer(flat)
        props[r, c] = np.concatenate([a["propensities"] for a in answers]) if len(r) else 0.0
        degraded = np.array([a["degraded"] for a in answers], dtype=object)
        personal = np.repeat(degraded == None, lengths)  # noqa: E711 (object array)
        scores[r[personal], c[personal]] = np.concatenate([a["scores"] for a in answers])[personal] if len(r) else 0.0
        ids = np.array([a["request_id"] for a in answers], dtype=object)
        return Shown(rows, items, props, scores, ids, ts, degraded)

    async def _recommend_all(self, user_ids: list[int], k: int, ts: int) -> list[dict]:
        import httpx

        gate = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(base_url=self.url, timeout=60.0) as http:

            async def one(uid: int) -> dict:
                async with gate:
                    resp = await http.post("/recommend", json={"user": uid, "k": k, "context": {"timestamp": ts}})
                if resp.status_code != 200:
                    raise RuntimeError(f"POST /recommend for user {uid} answered {resp.status_code}: {resp.text[:300]}")
                return resp.json()

            return await asyncio.gather(*(one(u) for u in user_ids))

    def post_events(self, events: pd.DataFrame) -> None:
        """The round's events to ``POST /events`` in batches, one after another (each acknowledged after the durable
        write): a user's clicks split over two batches reach the Redis recent list in their time order."""
        body = pd.DataFrame({"type": events["event_type"], "request_id": events["request_id"],
                             "position": events["position"].astype(int), "user": events["user_id"].astype(int),
                             "item": events["item_id"].astype(int), "timestamp": events["event_ts"].astype(float),
                             "propensity": events["propensity"].astype(float)})  # fmt: skip
        impression = (body["type"] == "impression").to_numpy()  # impressions carry their propensity, the rest none
        records = body[impression].to_dict("records") + body[~impression].drop(columns="propensity").to_dict("records")
        batches = [records[i : i + EVENTS_PER_POST] for i in range(0, len(records), EVENTS_PER_POST)]
        self._call(self._post_all(batches))

    async def _post_all(self, batches: list[list[dict]]) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.url, timeout=60.0) as http:
            for batch in batches:
                resp = await http.post("/events", json={"events": batch})
                if resp.status_code != 200:
                    raise RuntimeError(f"POST /events answered {resp.status_code}: {resp.text[:300]}")

    # --- metrics --------------------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        import httpx

        return parse_metrics(httpx.get(self.url + "/metrics", timeout=30.0).text)

    def day_metrics(self, shown: list[Shown]) -> dict[str, float]:
        """The day's p99 request time (ms) and degraded-answer share from ``/metrics`` (since the last call),
        and the share of answers the loop itself saw flagged (the same figure, counted client-side)."""
        now = self.metrics()
        last = self._last
        base = last["cumulative"] if len(last["cumulative"]) == len(now["cumulative"]) else np.zeros_like(now["cumulative"])
        delta = now["cumulative"] - base
        requests = now["requests"] - last["requests"]
        self._last = now
        flags = np.concatenate([s.degraded for s in shown]) if shown else np.zeros(0, object)
        return {"requests": requests, "p99_ms": 1000.0 * histogram_quantile(0.99, now["bounds"], delta),
                "degraded_rate": (now["degraded"] - last["degraded"]) / requests if requests else math.nan,
                "degraded_answers": float(np.mean(flags != None)) if len(flags) else math.nan}  # noqa: E711


# --- the child process ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Serve one loop version (see the module docstring); blocks until SIGTERM."""
    p = argparse.ArgumentParser(prog="python -m workbench.loop.served", description="serve one model version of a loop")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--small", action="store_true")
    p.add_argument("--pipeline-config")
    p.add_argument("--store")
    p.add_argument("--cache-dir")
    p.add_argument("--base", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--day", type=int, required=True)
    p.add_argument("--mode", required=True)
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--event-log", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis-timeout-ms", type=float, default=8.0)
    p.add_argument("--ranker-budget-ms", type=float, default=50.0)
    args = p.parse_args(argv)

    import threadpoolctl
    import torch
    import uvicorn

    from workbench.loop.versions import Version, Versions, load_base
    from workbench.serving.app import create_app
    from workbench.serving.eventlog import SQLiteEventLog, read_events
    from workbench.serving.model import ServedModel
    from workbench.serving.redis_server import ENV_URL
    from workbench.serving.service import RecommenderService, ServiceConfig
    from workbench.store import ModelStore

    threadpoolctl.threadpool_limits(1)  # one inference thread, as `workbench serve` runs it
    torch.set_num_threads(1)
    store = ModelStore(args.store)
    say = lambda msg: print(f"  {msg}", file=sys.stderr)  # noqa: E731
    base = load_base(args.data, args.seed, args.small, args.pipeline_config, store, args.cache_dir, say, key=args.base)
    versions = Versions(base, store, say)
    if args.version != base.key:
        versions.reopen(Version(args.version, args.day, args.mode), read_events(args.event_log))
    model = ServedModel(versions.pipeline(args.version), versions.train(args.version), args.version,
                        f"loop version {args.version} ({args.mode}, day {args.day})")  # fmt: skip
    log = SQLiteEventLog(args.event_log)
    service = RecommenderService(model, os.environ[ENV_URL], log, ServiceConfig(
        exploration_rate=args.epsilon, redis_timeout_ms=args.redis_timeout_ms, ranker_budget_ms=args.ranker_budget_ms))
    print(f"serving loop version {args.version} on http://127.0.0.1:{args.port}", file=sys.stderr)
    try:
        uvicorn.run(create_app(service), host="127.0.0.1", port=args.port, workers=1, log_level="warning", access_log=False)
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
