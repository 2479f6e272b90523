"""Recovery drills against the real service: Redis wiped and rebuilt (answers equal to before, a logged
click included), the event log backed up online with SQLite's backup API and restored (counts equal)."""

from __future__ import annotations

import threading

import pytest

from workbench.serving.drills import backup_event_log, log_counts, redis_wipe, restore_event_log
from workbench.serving.process import event_batches
from workbench.serving.service import ServiceConfig

from .conftest import USER_SHIFT

PATIENT = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)


def test_redis_wipe_is_rebuilt_from_offline_data_and_the_log_with_equal_answers(serve):
    users = [u + USER_SHIFT for u in range(1, 9)]
    with serve(PATIENT) as s:
        first = s.client.get("/recommend", params={"user": users[0]}).json()
        click = {"type": "click", "request_id": "w1", "position": 1, "user": users[0], "item": first["items"][0]}
        assert s.client.post("/events", json={"events": [click]}).json()["features_updated"] is True
        drill = redis_wipe(s.url, s.redis.url, users, timeout_s=60)
        replayed = s.service.materialised["replayed_events"]
        after = s.client.get("/recommend", params={"user": users[0]}).json()
    assert drill.users == 8 and drill.equal == 8 and drill.differing == [], drill.report()
    assert replayed == 1 and first["items"][0] not in after["items"]  # the click came back from the log
    assert drill.seconds_to_personalised > 0 and "personalised again" in drill.report()


def test_event_log_backup_is_online_consistent_and_restores_with_equal_counts(serve, model, tmp_path):
    items = model.train.items["item_id"].tolist()
    users = model.train.users["user_id"].tolist()
    batches = event_batches(400, 5, users, items, tag="b")  # 80 batches of 5 (4 impressions, 1 click)
    with serve(PATIENT) as s:
        for b in batches[:40]:
            assert s.client.post("/events", json={"events": b}).status_code == 200
        still = [b for b in batches[40:]]
        writer = threading.Thread(target=lambda: [s.client.post("/events", json={"events": b}) for b in still])
        writer.start()  # the service keeps writing during the backup
        seconds = backup_event_log(s.log_path, tmp_path / "backup.sqlite", pages_per_step=1)
        writer.join()
        s.service.log.close()
        live = log_counts(s.log_path)
    restore_event_log(tmp_path / "backup.sqlite", tmp_path / "restored.sqlite")
    snap, restored = log_counts(tmp_path / "backup.sqlite"), log_counts(tmp_path / "restored.sqlite")
    assert restored == snap and seconds > 0
    n_snap = snap["events:impression"] + snap["events:click"]
    assert 200 <= n_snap <= 400 and n_snap % 5 == 0 and snap["events:click"] * 4 == snap["events:impression"]
    assert live["events:impression"] + live["events:click"] == 400  # nothing lost by the backup
    with pytest.raises(FileExistsError):
        restore_event_log(tmp_path / "backup.sqlite", tmp_path / "restored.sqlite")


def test_drill_commands_backup_and_restore(serve, tmp_path, capsys):
    from workbench.cli import main

    with serve(PATIENT) as s:
        s.client.get("/recommend", params={"user": 1 + USER_SHIFT})
        s.service.log.close()  # the served row is flushed
        assert main(["drill", "backup", "--event-log", str(s.log_path), "--out", str(tmp_path / "b.sqlite")]) == 0
        assert main(["drill", "restore", "--backup", str(tmp_path / "b.sqlite"), "--to", str(tmp_path / "r.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "backed up online" in out and "restored" in out and log_counts(tmp_path / "r.sqlite")["served"] == 1
    assert main(["drill", "restore", "--backup", str(tmp_path / "missing.sqlite"), "--to", str(tmp_path / "x")]) == 2
    assert main(["drill", "redis-wipe", "--url", "http://10.0.0.1:80", "--redis-url", "redis://127.0.0.1:1/0",
                 "--users", "1"]) == 2  # fmt: skip
