"""An open-loop load generator for the service, and the textbook's latency-budget table from what it measured.

Open loop: request ``i`` is due at ``start + i / rate`` whether or not earlier ones have been
answered (a closed loop, which waits for each answer before sending the next, slows down
exactly when the server does and so hides its worst latencies: coordinated omission).
Each latency is measured **from the time the request was due**, not from when it went out,
so a generator that falls behind still charges the delay to the answer.

Bounded: at most ``max_requests`` requests and ``duration_s`` seconds of sending, each request
cut off after ``timeout_s`` (counted as an error). Loopback only: the URL must resolve to a
loopback address (127.0.0.0/8 or ::1); the tool refuses anything else.

The client is a minimal keep-alive HTTP/1.1 one (`_Connections`, at most ``connections`` open):
the generator shares the machine with the server, so it must cost little CPU per request.
Per request it keeps the status, the client latency, ``X-Cache`` and the ``Server-Timing``
stage durations; `LoadResult.budget_table` sets those beside the textbook's budget.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

# The textbook's latency budget for the served request: component → (target ms, p99 ms).
SERVING_BUDGET_MS = {
    "cache lookup": (1.0, 3.0),
    "feature fetch": (5.0, 15.0),
    "model inference": (20.0, 50.0),
    "reranking": (10.0, 25.0),
    "total": (50.0, 100.0),
}
# Which Server-Timing stages make up each component.
COMPONENT_STAGES = {
    "cache lookup": ("cache",),
    "feature fetch": ("features",),
    "model inference": ("queue", "candidates", "ranking"),
    "reranking": ("rerank",),
}


def check_loopback(url: str) -> tuple[str, int]:
    """``(host, port)`` of ``url`` after checking that every address it resolves to is loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http",) or not parts.hostname:
        raise ValueError(f"url={url!r}: expected http://127.0.0.1:PORT (a loopback http URL)")
    port = parts.port or 80
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ValueError(f"url={url!r}: cannot resolve {parts.hostname!r} ({exc})") from None
    addresses = {info[4][0] for info in infos}
    outside = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if outside:
        raise ValueError(f"url={url!r} resolves to {outside}: the load generator only targets loopback addresses")
    return parts.hostname, port


def check_service(url: str, timeout_s: float = 2.0) -> None:
    """ValueError within ``timeout_s`` unless the service at ``url`` answers ``GET /healthz``
    (so a load test against nothing says so before loading any data)."""
    import urllib.error
    import urllib.request

    health = url.rstrip("/") + "/healthz"
    try:
        with urllib.request.urlopen(health, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:  # a 503 is a service that answers, in a degraded state: load it and see
            return
        raise ValueError(f"url={url!r}: GET {health} answered {exc.code}; expected the workbench service "
                         "(start it with `workbench serve`)") from None  # fmt: skip
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ValueError(f"url={url!r}: no service answers there ({reason}); start one with `workbench serve "
                         f"--port {urlsplit(url).port or 80}` first") from None  # fmt: skip


def parse_server_timing(header: str | None) -> dict[str, float]:
    """``{"cache": 0.31, ...}`` (milliseconds) from a ``Server-Timing`` header."""
    out: dict[str, float] = {}
    for entry in (header or "").split(","):
        name, _, params = entry.strip().partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "dur" and name:
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
    return out


@dataclass
class LoadResult:
    """What one load run measured (one row per request in ``requests``)."""

    rate: float
    duration_s: float
    requests: pd.DataFrame  # due_s, latency_ms, status, cache, degraded, error, then ms_<stage> per Server-Timing entry
    wall_s: float
    notes: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.requests)

    @property
    def errors(self) -> int:
        r = self.requests
        return int(((r["status"] < 200) | (r["status"] >= 300)).sum())

    @property
    def server_errors(self) -> int:
        return int((self.requests["status"] >= 500).sum())

    @property
    def achieved_rps(self) -> float:
        """Answered requests per second of the run (first due time to last answer)."""
        ok = self.requests[self.requests["status"] == 200]
        if len(ok) < 2:
            return 0.0
        span = float((ok["due_s"] + ok["latency_ms"] / 1e3).max() - self.requests["due_s"].min())
        return len(ok) / span if span > 0 else 0.0

    def percentiles(self, mask: np.ndarray | None = None) -> dict[str, float]:
        lat = self.requests["latency_ms"].to_numpy()
        ok = (self.requests["status"] == 200).to_numpy()
        sel = lat[ok & (True if mask is None else mask)]
        if not len(sel):
            return {"n": 0, "p50": np.nan, "p95": np.nan, "p99": np.nan, "max": np.nan}
        p50, p95, p99 = np.percentile(sel, [50, 95, 99])
        return {"n": int(len(sel)), "p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(sel.max())}

    def summary(self) -> dict:
        r = self.requests
        hits = (r["cache"] == "hit").to_numpy()
        out = {"rate": self.rate, "duration_s": self.duration_s, "sent": self.n, "errors": self.errors,
               "5xx": self.server_errors, "achieved_rps": round(self.achieved_rps, 1), **self.percentiles(),
               "cache_hit_share": float(hits.mean()) if len(r) else 0.0,
               "degraded_share": float(r["degraded"].notna().mean()) if len(r) else 0.0}  # fmt: skip
        out["hits_p99"] = self.percentiles(hits)["p99"]
        out["misses_p99"] = self.percentiles(~hits)["p99"]
        return out

    def budget_table(self) -> pd.DataFrame:
        """The textbook's budget beside the measured p50/p99 of each component (over requests that ran it)."""
        r = self.requests[self.requests["status"] == 200]
        rows = []
        for comp, (target, p99_budget) in SERVING_BUDGET_MS.items():
            if comp == "total":
                values = r["latency_ms"].to_numpy()
            else:
                cols = [f"ms_{c}" for c in COMPONENT_STAGES[comp] if f"ms_{c}" in r.columns]
                present = r[cols].notna().all(axis=1).to_numpy() if cols else np.zeros(len(r), bool)
                values = r.loc[present, cols].sum(axis=1).to_numpy() if cols else np.zeros(0)
            p50 = float(np.percentile(values, 50)) if len(values) else np.nan
            p99 = float(np.percentile(values, 99)) if len(values) else np.nan
            rows.append({"component": comp, "target_ms": target, "budget_p99_ms": p99_budget, "measured_p50_ms": p50,
                         "measured_p99_ms": p99, "requests": int(len(values)),
                         "p99_within_budget": bool(p99 <= p99_budget) if len(values) else None})  # fmt: skip
        return pd.DataFrame(rows)

    def report(self) -> str:
        s = self.summary()
        lines = [
            f"open loop: {s['rate']:g} req/s for {s['duration_s']:g} s → {s['sent']} sent, "
            f"{s['achieved_rps']:.1f} answered/s, {s['errors']} errors ({s['5xx']} 5xx); "
            f"{self.notes.get('stale_retries', 0)} requests resent after the server closed an idle connection",
            f"latency from the due time (ms): p50 {s['p50']:.2f}  p95 {s['p95']:.2f}  p99 {s['p99']:.2f}  max {s['max']:.2f}",
            f"cache hits {s['cache_hit_share']:.1%} (p99 {s['hits_p99']:.2f} ms), misses p99 {s['misses_p99']:.2f} ms; "
            f"degraded answers {s['degraded_share']:.1%}",
            "",
            "latency budget (textbook) vs measured; model inference = queue + candidates + ranking, total = client latency",
        ]
        table = self.budget_table()
        with pd.option_context("display.width", 160, "display.float_format", "{:.2f}".format):
            lines.append(table.to_string(index=False))
        return "\n".join(lines)


class _Connections:
    """Keep-alive HTTP/1.1 connections to one loopback server, at most ``limit`` open; a minimal client
    (GET with a Content-Length answer), because the generator shares the machine with the server and
    must cost little CPU per request. A request waits for a free connection when all are busy; its
    latency still counts from its due time.

    A server closes keep-alive connections that sat idle (uvicorn: after 5 s), and a request written on
    such a connection fails with no answer: the generator's own error, not the server's. So an idle
    connection older than ``max_idle_s`` is closed instead of reused, and a request that gets no byte
    of answer on a *reused* connection is sent once more on a fresh one (`stale_retries` counts them).
    A request on a fresh connection is never retried: its failure is the server's.
    """

    def __init__(self, host: str, port: int, limit: int, max_idle_s: float = 2.0) -> None:
        self.host, self.port, self.limit, self.max_idle_s = host, port, limit, max_idle_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0
        self.stale_retries = 0
        self.freed = asyncio.Condition()

    async def acquire(self, fresh: bool = False) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """``(reader, writer, reused)``: an idle connection young enough (unless ``fresh``), else a new one."""
        now = time.monotonic()
        async with self.freed:
            while True:
                while self.idle and (fresh or now - self.idle[-1][2] > self.max_idle_s):
                    self.idle.pop()[1].close()
                    self.opened -= 1
                if self.idle or self.opened < self.limit:
                    break
                await self.freed.wait()
                now = time.monotonic()
            if self.idle:
                reader, writer, _ = self.idle.pop()
                return reader, writer, True
            self.opened += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except BaseException:
            await self.discard(None)
            raise
        return reader, writer, False

    async def release(self, conn) -> None:
        async with self.freed:
            self.idle.append((conn[0], conn[1], time.monotonic()))
            self.freed.notify()

    async def discard(self, conn) -> None:
        if conn is not None:
            conn[1].close()
        async with self.freed:
            self.opened -= 1
            self.freed.notify()

    async def get(self, target: str, headers: str) -> tuple[int, dict[str, str], bytes]:
        """``(status, headers, body)`` of ``GET target``; the connection is dropped on any error."""
        try:
            return await self._get(target, headers, fresh=False)
        except _Stale:
            self.stale_retries += 1
            return await self._get(target, headers, fresh=True)

    async def _get(self, target: str, headers: str, fresh: bool) -> tuple[int, dict[str, str], bytes]:
        conn = await self.acquire(fresh)
        reader, writer, reused = conn
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}\r\n".encode())
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                partial = getattr(exc, "partial", b"")
                if reused and not partial:  # closed by the server while idle: no byte of answer came
                    raise _Stale from exc
                raise
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    fields[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(fields.get("content-length", 0)))
        except BaseException:
            await self.discard(conn)
            raise
        if fields.get("connection", "").lower() == "close":
            await self.discard(conn)
        else:
            await self.release(conn)
        return status, fields, body

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


class _Stale(Exception):
    """A reused keep-alive connection that the server had closed (no byte of answer)."""


async def _run(url: str, rate: float, duration_s: float, max_requests: int, users: np.ndarray, k: int,
               no_cache: bool, timeout_s: float, seed: int, connections: int) -> tuple[list[dict], float, int]:  # fmt: skip
    import json

    host, port = check_loopback(url)
    n = int(min(max_requests, np.floor(rate * duration_s)))
    rng = np.random.default_rng(seed)
    picks = users[rng.integers(0, len(users), size=n)] if n else np.zeros(0, np.int64)
    headers = "Cache-Control: no-cache\r\n" if no_cache else ""
    results: list[dict] = [None] * n  # type: ignore[list-item]
    pool = _Connections(host, port, connections)
    status, _, _ = await asyncio.wait_for(pool.get("/healthz", ""), timeout_s)  # one warm connection first
    if status != 200:
        raise RuntimeError(f"{url}/healthz answered {status}: is the service up?")
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    wall0 = time.perf_counter()

    async def fire(i: int, due: float) -> None:
        rec = {"due_s": due - start, "status": 0, "cache": None, "degraded": None, "error": None}
        try:
            status, fields, body = await asyncio.wait_for(pool.get(f"/recommend?user={int(picks[i])}&k={k}", headers),
                                                          timeout_s)  # fmt: skip
            rec["status"], rec["cache"] = status, fields.get("x-cache")
            rec.update({f"ms_{name}": v for name, v in parse_server_timing(fields.get("server-timing")).items()})
            if status == 200:
                rec["degraded"] = json.loads(body).get("degraded")
        except asyncio.TimeoutError:
            rec["error"] = "timeout"
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            rec["error"] = type(exc).__name__
        rec["latency_ms"] = (loop.time() - due) * 1e3
        results[i] = rec

    tasks = []
    for i in range(n):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, due)))
    await asyncio.gather(*tasks)
    pool.close()
    return results, time.perf_counter() - wall0, pool.stale_retries


def run_load(url: str, rate: float, duration_s: float, users: np.ndarray | list[int], k: int = 10,
             max_requests: int = 100_000, no_cache: bool = False, timeout_s: float = 2.0, seed: int = 0,
             connections: int = 64) -> LoadResult:  # fmt: skip
    """Fire ``rate`` GET /recommend per second at ``url`` for ``duration_s`` seconds (open loop), users drawn
    uniformly from ``users`` with ``seed``; ``no_cache`` sends ``Cache-Control: no-cache``; at most
    ``connections`` keep-alive connections (a request due while all are busy waits, on its clock)."""
    check_loopback(url)
    if not rate > 0 or not duration_s > 0:
        raise ValueError(f"rate={rate!r}, duration_s={duration_s!r}: expected positive numbers")
    if max_requests < 1 or not timeout_s > 0 or connections < 1:
        raise ValueError(f"max_requests={max_requests!r}, timeout_s={timeout_s!r}, connections={connections!r}: "
                         "expected positive numbers")
    users = np.asarray(users)
    if users.ndim != 1 or len(users) == 0:
        raise ValueError("users: expected a non-empty list of user ids")
    job = _run(url.rstrip("/"), float(rate), float(duration_s), int(max_requests), users, int(k), no_cache,
               float(timeout_s), seed, int(connections))  # fmt: skip
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread: run one here
        results, wall, stale = asyncio.run(job)
    else:  # called from async code (a notebook kernel): its own loop on a thread of its own
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="loadtest") as pool:
            results, wall, stale = pool.submit(asyncio.run, job).result()
    frame = pd.DataFrame(results)
    for col in ("due_s", "latency_ms", "status", "cache", "degraded", "error"):
        if col not in frame:
            frame[col] = pd.Series(dtype=object)
    frame["status"] = frame["status"].fillna(0).astype(int)
    return LoadResult(float(rate), float(duration_s), frame, wall, notes={"stale_retries": stale})
