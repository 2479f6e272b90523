"""A forked loop is the loop run from day 1: `workbench.loop.fork` starts a loop of another retrain cadence at the
state a loop reached before the cadences first differ, and it must end with the same figures, versions and log as
that cadence lived from the start (the property page 09's cadence slider relies on); a fork past a day on which the
cadences differ, or with any other setting changed, is refused before anything is copied."""

import dataclasses

import pandas as pd
import pytest

from workbench.loop import Loop, LoopConfig
from workbench.loop.fork import first_difference, fork, retrains_on, snapshot
from workbench.serving.feature_store import make_client

SETTINGS = dict(small=True, days=5, features="memory", arrivals_per_day=2, arrival_days=5, epsilon=0.0)
COLS = ["request_id", "position", "event_type", "user_id", "item_id", "propensity", "event_ts"]


def test_the_days_on_which_two_cadences_first_differ():
    # by hand: every 7 retrains on days 7, 14, …; every 3 on 3, 6, …; never (0) on none
    assert [d for d in range(1, 15) if retrains_on(7, d)] == [7, 14]
    assert not any(retrains_on(0, d) for d in range(30)) and not retrains_on(3, 0)
    assert first_difference(7, 3, 30) == 3
    assert first_difference(7, 14, 30) == 7 and first_difference(0, 7, 30) == 7 and first_difference(7, 1, 30) == 1
    assert first_difference(14, 0, 30) == 14 and first_difference(7, 7, 30) == 30 and first_difference(14, 0, 10) == 10


@pytest.mark.parametrize("features", ["memory", "redis"])
def test_a_forked_cadence_ends_as_the_same_cadence_lived_from_day_one(tmp_path, base, request, features):
    url, flush = None, lambda: None
    if features == "redis":  # the page's loops keep their features in Redis: the fork rebuilds them from the log
        url = request.getfixturevalue("redis").url
        flush = make_client(url, 5_000, asyncio=False).flushall
    every2, every4 = (LoopConfig(**{**SETTINGS, "features": features}, retrain_every=n) for n in (2, 4))
    flush()
    with Loop(every2, tmp_path / "straight", base=base, redis_url=url) as loop:
        straight, straight_events = loop.run(), loop.events()
    flush()
    with Loop(every4, tmp_path / "other", base=base, redis_url=url) as loop:  # the other cadence; both first retrain on day 3
        loop.run(first_difference(2, 4, SETTINGS["days"]))
        snap = snapshot(loop, tmp_path / "snap")
        other = loop.run()
    flush()  # nothing of the other loop's features survives: the fork must rebuild its own
    assert fork(snap, tmp_path / "forked", every2) == 2
    with Loop(every2, tmp_path / "forked", base=base, redis_url=url) as loop:
        assert loop.done == 2
        forked, forked_events = loop.run(), loop.events()
    pd.testing.assert_frame_equal(straight.figures(), forked.figures())
    assert [v.key for v in straight.versions] == [v.key for v in forked.versions]
    assert len(forked.versions) == 3 and len(other.versions) == 2  # retrained on days 3 and 5, against day 5 only
    a = straight_events[COLS].sort_values(COLS[:3]).reset_index(drop=True)
    b = forked_events[COLS].sort_values(COLS[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert [(x.when, x.reason) for x in straight.alerts] == [(x.when, x.reason) for x in forked.alerts]


def test_a_fork_past_a_difference_or_with_other_settings_is_refused(tmp_path, base):
    every4 = LoopConfig(**SETTINGS, retrain_every=4)
    with Loop(every4, tmp_path / "run", base=base) as loop:
        loop.run(3)
        snap = snapshot(loop, tmp_path / "snap")
    with pytest.raises(ValueError, match=r"differ on day 3, within the 3 days"):
        fork(snap, tmp_path / "a", LoopConfig(**SETTINGS, retrain_every=2))
    with pytest.raises(ValueError, match=r"epsilon: 0\.0 → 0\.1"):
        fork(snap, tmp_path / "b", dataclasses.replace(every4, epsilon=0.1))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(FileExistsError):
        snapshot(loop, tmp_path / "snap")
    assert fork(snap, tmp_path / "c", LoopConfig(**SETTINGS, retrain_every=0)) == 3  # never: no retraining before day 4


def test_the_page_lives_every_day_when_a_snapshot_does_not_fit(tmp_path, base):
    # a snapshot left by a loop of another exploration rate: fork refuses it, and the page's loop lives from day 1
    from workbench.lessons.loop import live

    every2 = LoopConfig(**SETTINGS, retrain_every=2)
    with Loop(LoopConfig(**{**SETTINGS, "epsilon": 0.1}, retrain_every=4), tmp_path / "other", base=base) as loop:
        loop.run(first_difference(4, 2, SETTINGS["days"]))
        snapshot(loop, tmp_path / "forks" / f"day-{loop.done}")
    said = []
    result, _, _ = live(every2, tmp_path / "page", base, forks=tmp_path / "forks", default=4, progress=said.append)
    with Loop(every2, tmp_path / "straight", base=base) as loop:
        straight = loop.run()
    pd.testing.assert_frame_equal(straight.figures(), result.figures())
    assert any("living every day instead" in line for line in said), said
