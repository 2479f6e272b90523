"""The event log: every impression, click and conversion, written durably before it is acknowledged.

`EventLog` is the small interface the service writes through; `SQLiteEventLog` implements it
on one machine:

- SQLite in WAL mode with ``synchronous=FULL``: a commit returns only after the write-ahead
  log is fsynced, so an acknowledged event survives a crash of the process (and of the OS).
- One writer thread owns the connection. Callers put submissions on a queue and wait on a
  future; the writer takes everything that queued up while it was busy and commits it in
  **one** transaction (group commit: one fsync for many requests, so throughput grows with
  load instead of paying an fsync per request).
- Idempotent on ``(request_id, position, event_type)`` (a UNIQUE constraint and
  ``ON CONFLICT DO NOTHING``): a client that retries a POST whose answer it lost is not counted twice.
  The future tells which rows were new, so only those update the feature store.
- Served answers (the request path's "log" step) go through the same writer without waiting:
  they are not acknowledged to anyone, gather for up to ``served_delay_s`` so that many share
  a commit, and a crash may lose the last group of them.

The log is the input of the feedback-loop and off-policy work: impressions carry the
propensity each item was shown with. Beyond one machine, the log a system moves to is Kafka
(a replicated, partitioned, append-only log; idempotent producers and keyed compaction give
the same no-loss, no-duplicate contract); this interface is where such a writer would plug in.
No fake Kafka is provided.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

EVENT_TYPES = ("impression", "click", "conversion")
EVENT_COLUMNS = ("request_id", "position", "event_type", "user_id", "item_id", "propensity", "event_ts")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type IN ('impression', 'click', 'conversion')),
    user_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    propensity REAL,
    event_ts REAL NOT NULL,
    received_at REAL NOT NULL,
    batch_index INTEGER NOT NULL,
    UNIQUE (request_id, position, event_type)
);
CREATE TABLE IF NOT EXISTS served (
    request_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    k INTEGER NOT NULL,
    items TEXT NOT NULL,
    scores TEXT NOT NULL,
    propensities TEXT NOT NULL,
    model_version TEXT NOT NULL,
    degraded TEXT,
    cache TEXT NOT NULL,
    served_at REAL NOT NULL
);
"""
# ON CONFLICT on the key only: a duplicate is skipped, any other broken constraint fails the write
# (INSERT OR IGNORE would silently drop a row that breaks a CHECK too).
_INSERT_EVENT = (
    "INSERT INTO events (request_id, position, event_type, user_id, item_id, propensity, event_ts, "
    "received_at, batch_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (request_id, position, event_type) DO NOTHING"
)
_INSERT_SERVED = "INSERT OR IGNORE INTO served VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_STOP = object()


class EventLog(Protocol):
    """What the service needs from a log (see the module docstring)."""

    def append(self, events: pd.DataFrame) -> Future:
        """Durably append ``events`` (columns `EVENT_COLUMNS`); the future resolves, after the write
        is durable, to a bool array: True where the row was new (False: a duplicate)."""

    def log_served(self, record: dict) -> None:
        """Record a served answer without waiting."""

    def close(self) -> None:
        """Write what is queued and release the log."""

    def read(self) -> pd.DataFrame:
        """Every event logged so far (columns `EVENT_COLUMNS` and ``received_at``), in write order."""


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in WAL mode with ``synchronous=FULL`` and the schema in place."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"SQLite at {path} refused WAL mode (journal_mode={mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    return conn


class SQLiteEventLog:
    """`EventLog` on SQLite with one group-committing writer thread.

    path: the database file (created with its folder); max_batch: submissions per transaction at most;
    served_delay_s: how long served records (never waited for) may gather before their commit.
    ``commits`` and ``committed_submissions`` count transactions and what they carried (their ratio
    is the group size).
    """

    def __init__(self, path: str | Path, max_batch: int = 512, served_delay_s: float = 0.2) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch={max_batch!r}: expected a positive number of submissions per commit")
        if served_delay_s < 0:
            raise ValueError(f"served_delay_s={served_delay_s!r}: expected a number of seconds >= 0")
        self.served_delay_s = float(served_delay_s)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_batch = int(max_batch)
        self._conn = connect(self.path)
        self._queue: queue.Queue = queue.Queue()
        self.commits = self.committed_submissions = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="event-log-writer", daemon=True)
        self._thread.start()

    # --- producers ------------------------------------------------------------------
    def append(self, events: pd.DataFrame) -> Future:
        missing = [c for c in EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise ValueError(f"events lack columns {missing}; expected {EVENT_COLUMNS}")
        if self._closed:
            raise RuntimeError(f"the event log at {self.path} is closed")
        now = time.time()
        frame = events.loc[:, list(EVENT_COLUMNS)].copy()
        frame["propensity"] = frame["propensity"].astype(object).where(frame["propensity"].notna(), None)
        rows = list(zip(*(frame[c].tolist() for c in EVENT_COLUMNS), [now] * len(frame), range(len(frame))))
        future: Future = Future()
        self._queue.put(("events", rows, future))
        return future

    def log_served(self, record: dict) -> None:
        if self._closed:
            return
        row = (record["request_id"], int(record["user_id"]), int(record["k"]), json.dumps(record["items"]),
               json.dumps(record["scores"]), json.dumps(record["propensities"]), record["model_version"],
               record["degraded"], record["cache"], time.time())  # fmt: skip
        self._queue.put(("served", [row], None))

    def read(self) -> pd.DataFrame:
        return read_events(self.path)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self._conn.close()

    # --- the writer -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = [first], False
            # Served records alone may wait up to served_delay_s for company (one commit for many);
            # an event submission ends the wait at once: it is acknowledged only after its commit.
            deadline = time.monotonic() + (self.served_delay_s if first[0] == "served" else 0.0)
            while len(batch) < self.max_batch:
                waiting = batch[-1][0] == "served" and all(kind == "served" for kind, _, _ in batch)
                remaining = deadline - time.monotonic() if waiting else 0.0
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list) -> None:
        conn = self._conn
        results = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for kind, rows, future in batch:  # one statement per submission, not per event
                if kind == "served":
                    conn.executemany(_INSERT_SERVED, rows)
                    continue
                before = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
                conn.executemany(_INSERT_EVENT, rows)
                new = np.zeros(len(rows), dtype=bool)
                idx = [r[0] for r in conn.execute("SELECT batch_index FROM events WHERE id > ?", (before,))]
                new[idx] = True
                results.append((future, new))
            conn.execute("COMMIT")
        except Exception as exc:  # the whole group failed: nothing of it is acknowledged
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for kind, _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(exc)
            return
        self.commits += 1
        self.committed_submissions += len(batch)
        for future, new in results:
            future.set_result(new)


def read_events(path: str | Path) -> pd.DataFrame:
    """Every logged event, in write order (opening the database replays a WAL left by a crash)."""
    conn = sqlite3.connect(str(path))
    try:
        return pd.read_sql_query(f"SELECT {', '.join(EVENT_COLUMNS)}, received_at FROM events ORDER BY id", conn)
    finally:
        conn.close()


def read_served(path: str | Path) -> pd.DataFrame:
    """Every logged served answer, in write order."""
    conn = sqlite3.connect(str(path))
    try:
        return pd.read_sql_query("SELECT * FROM served ORDER BY served_at", conn)
    finally:
        conn.close()
