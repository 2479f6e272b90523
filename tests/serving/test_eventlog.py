"""The SQLite event log: WAL + synchronous=FULL, group commit from one writer, idempotence."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest

from workbench.serving.eventlog import EVENT_COLUMNS, SQLiteEventLog, read_events, read_served


def frame(request_id: str, positions, kind="impression", propensity=0.5) -> pd.DataFrame:
    positions = list(positions)
    return pd.DataFrame({"request_id": request_id, "position": positions, "event_type": kind,
                         "user_id": 1, "item_id": [100 + p for p in positions],
                         "propensity": propensity, "event_ts": 1.0e9})  # fmt: skip


def test_wal_and_full_sync_on_the_writer_connection(tmp_path):
    log = SQLiteEventLog(tmp_path / "sub" / "log.sqlite")
    try:
        assert log._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL
    finally:
        log.close()
    assert sqlite3.connect(tmp_path / "sub" / "log.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_rows_and_duplicates_are_told_apart(tmp_path):
    log = SQLiteEventLog(tmp_path / "log.sqlite")
    try:
        first = log.append(frame("r1", [1, 2, 3])).result(timeout=10)
        # a retry of positions 2-3, a new position 4, and position 4 twice within one submission
        second = log.append(frame("r1", [2, 3, 4, 4])).result(timeout=10)
        click = log.append(frame("r1", [2], kind="click", propensity=None)).result(timeout=10)
    finally:
        log.close()
    assert first.tolist() == [True, True, True]
    assert second.tolist() == [False, False, True, False]
    assert click.tolist() == [True]  # same request and position, another event type
    logged = read_events(tmp_path / "log.sqlite")
    assert list(logged.columns[: len(EVENT_COLUMNS)]) == list(EVENT_COLUMNS)
    assert len(logged) == 5 and logged["propensity"].isna().sum() == 1


def test_concurrent_submissions_share_commits(tmp_path):
    """64 threads × 20 submissions: every future resolves with its own rows, in fewer commits than submissions."""
    log = SQLiteEventLog(tmp_path / "log.sqlite")
    results: dict[tuple[int, int], np.ndarray] = {}
    barrier = threading.Barrier(64)

    def worker(t: int) -> None:
        barrier.wait()
        for s in range(20):
            results[t, s] = log.append(frame(f"t{t}-{s}", [1, 2])).result(timeout=60)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(64)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    commits, submissions = log.commits, log.committed_submissions
    log.close()
    assert len(results) == 64 * 20 and all(r.tolist() == [True, True] for r in results.values())
    assert submissions == 64 * 20 and commits < submissions
    assert len(read_events(tmp_path / "log.sqlite")) == 64 * 20 * 2


def test_served_records_are_written_without_waiting(tmp_path):
    log = SQLiteEventLog(tmp_path / "log.sqlite")
    log.log_served({"request_id": "abc", "user_id": 7, "k": 2, "items": [5, 6], "scores": [0.5, 0.25],
                    "propensities": [1.0, 0.1], "model_version": "v1", "degraded": None, "cache": "miss"})  # fmt: skip
    log.close()  # close writes what is queued
    served = read_served(tmp_path / "log.sqlite")
    assert served.loc[0, "request_id"] == "abc" and served.loc[0, "items"] == "[5, 6]"
    assert served.loc[0, "propensities"] == "[1.0, 0.1]" and served.loc[0, "degraded"] is None


def test_bad_submissions_are_refused(tmp_path):
    log = SQLiteEventLog(tmp_path / "log.sqlite")
    with pytest.raises(ValueError, match="lack columns"):
        log.append(frame("r", [1]).drop(columns=["position"]))
    bad = frame("r", [1], kind="like")
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK constraint fails the whole group
        log.append(bad).result(timeout=10)
    log.close()
    with pytest.raises(RuntimeError, match="closed"):
        log.append(frame("r", [1]))
    with pytest.raises(ValueError, match="max_batch"):
        SQLiteEventLog(tmp_path / "x.sqlite", max_batch=0)


def test_served_records_share_commits_and_never_delay_an_event(tmp_path):
    record = {"request_id": "r", "user_id": 1, "k": 1, "items": [1], "scores": [0.5], "propensities": [1.0],
              "model_version": "v", "degraded": None, "cache": "miss"}  # fmt: skip
    log = SQLiteEventLog(tmp_path / "a.sqlite", served_delay_s=30.0)
    for i in range(10):
        log.log_served({**record, "request_id": f"s{i}"})
    # an event arriving while served records wait is committed (with them) at once, not after 30 s
    assert log.append(frame("e1", [1])).result(timeout=10).tolist() == [True]
    assert log.commits == 1 and log.committed_submissions == 11
    log.close()
    assert len(read_served(tmp_path / "a.sqlite")) == 10
    with pytest.raises(ValueError, match="served_delay_s"):
        SQLiteEventLog(tmp_path / "b.sqlite", served_delay_s=-1)
