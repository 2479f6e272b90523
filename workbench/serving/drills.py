"""Recovery drills for the served recommender, each timed (``workbench drill ...``).

- `redis_wipe`: against a running service (or its gateway), ask a set of users for their answers,
  wipe Redis (``FLUSHALL``: features, cache, everything), then time how long until every one of
  those users gets a personalised answer again, and compare the answers with those before. The
  service rebuilds the store itself (offline features, then the event log's clicks and
  conversions replayed): the answers must be equal, clicks included, when exploration is off.
- `backup_event_log` / `restore_event_log`: an *online* copy of the SQLite event log with SQLite's
  backup API (pages copied in steps while the service keeps writing; the copy is one consistent
  snapshot), and its restore to a new path; `log_counts` compares them (events per type, served rows).

All requests go to loopback only (`workbench.serving.loadtest.check_loopback`), bounded in number
and time.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class WipeDrill:
    users: int
    seconds_to_personalised: float
    equal: int
    differing: list[int] = field(default_factory=list)
    degraded_meanwhile: int = 0

    def report(self) -> str:
        return (f"Redis wiped: all {self.users} users personalised again after {self.seconds_to_personalised:.2f} s "
                f"({self.degraded_meanwhile} degraded answers meanwhile); answers equal to before for "
                f"{self.equal}/{self.users}{'' if not self.differing else f' (differ: {self.differing[:10]})'}")  # fmt: skip


def redis_wipe(url: str, redis_url: str, users: list[int], k: int = 10, headers: dict | None = None,
               timeout_s: float = 60.0) -> WipeDrill:  # fmt: skip
    """The Redis-wipe drill (module docstring) against the service at ``url``; ``headers``: e.g. an API key."""
    import httpx
    import redis as redis_lib

    from workbench.serving.loadtest import check_loopback

    check_loopback(url)
    if not users:
        raise ValueError("users: expected at least one user id")
    fresh = {"Cache-Control": "no-cache", **(headers or {})}
    with httpx.Client(base_url=url, timeout=30, headers=fresh) as http:

        def answer(user: int) -> dict:
            r = http.get("/recommend", params={"user": user, "k": k})
            r.raise_for_status()
            return r.json()

        before = {u: answer(u) for u in users}
        degraded = [u for u, a in before.items() if a["degraded"] is not None]
        if degraded:
            raise RuntimeError(f"users {degraded[:5]} get degraded answers before the wipe: pick warm users")
        client = redis_lib.Redis.from_url(redis_url, socket_timeout=5)
        try:
            client.flushall()
        finally:
            client.close()
        t0 = time.perf_counter()
        after: dict[int, dict] = {}
        meanwhile = 0
        deadline = time.monotonic() + timeout_s
        pending = list(users)
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} users still degraded {timeout_s} s after the wipe")
            a = answer(pending[0])
            if a["degraded"] is None:
                after[pending.pop(0)] = a
            else:
                meanwhile += 1
                time.sleep(0.02)
        seconds = time.perf_counter() - t0
    differing = [u for u in users if after[u]["items"] != before[u]["items"]]
    return WipeDrill(len(users), seconds, len(users) - len(differing), differing, meanwhile)


def backup_event_log(src: str | Path, dst: str | Path, pages_per_step: int = 256) -> float:
    """Copy the live SQLite log ``src`` to ``dst`` with SQLite's online backup API; returns seconds."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"event log {src}: no such file")
    if dst.exists():
        raise FileExistsError(f"backup {dst} exists: choose a new path")
    dst.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30) as source, sqlite3.connect(dst) as target:
        source.backup(target, pages=pages_per_step)
    source.close()
    target.close()
    return time.perf_counter() - t0


def restore_event_log(backup: str | Path, dst: str | Path) -> float:
    """Restore ``backup`` to a new event log ``dst`` (the backup API again, then WAL mode); returns seconds."""
    backup, dst = Path(backup), Path(dst)
    if not backup.is_file():
        raise FileNotFoundError(f"backup {backup}: no such file")
    if dst.exists():
        raise FileExistsError(f"{dst} exists: restore to a new path (the service is then started on it)")
    t0 = time.perf_counter()
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as source, sqlite3.connect(dst) as target:
        source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    source.close()
    target.close()
    return time.perf_counter() - t0


def log_counts(path: str | Path) -> dict[str, int]:
    """Rows of a (live or restored) event log: events per type and served answers."""
    with sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30) as conn:
        out = {f"events:{t}": int(n) for t, n in conn.execute("SELECT event_type, COUNT(*) FROM events GROUP BY 1 ORDER BY 1")}
        out["served"] = int(conn.execute("SELECT COUNT(*) FROM served").fetchone()[0])
    conn.close()
    return out
