"""The in-process loop on the small world, against a real Redis: the log holds exactly what the simulated
users did, the daily figures are those of the log (recomputed here by hand), every setting reaches the
output, and a loop interrupted (mid-day) and resumed ends with the figures of one run straight through."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench.experiment.ab import assign
from workbench.loop import Loop, LoopConfig
from workbench.loop.engine import LoopResult
from workbench.monitoring import AlertConfig, AlertRule, psi
from workbench.serving.feature_store import make_client

SMALL = dict(small=True, days=2, retrain_every=0, alerts=AlertConfig(baseline_days=1), drift_window=0)  # drift: day 1 the baseline


def run(folder, base, redis, **settings) -> tuple[LoopResult, pd.DataFrame, Loop]:
    config = LoopConfig(**{**SMALL, **settings})
    loop = Loop(config, folder, base=base, redis_url=redis.url)
    try:
        result = loop.run()
        events = loop.events()
    finally:
        loop.close()
    return result, events, loop


def _day(events, base):
    return ((events["event_ts"] - base.train.reference_ts) // 86_400).astype(int)


def _gini(counts: np.ndarray) -> float:
    """Gini by its definition: mean absolute difference over all pairs / (2 · mean)."""
    x = np.asarray(counts, dtype=np.float64)
    return float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))


def test_the_log_holds_every_impression_click_and_conversion(tmp_path, base, redis):
    result, events, loop = run(tmp_path, base, redis, epsilon=0.2)
    imp = events[events["event_type"] == "impression"]
    assert len(imp) == loop.totals["slots"].sum() > 0
    assert (events["event_type"] == "click").sum() == loop.totals["clicks"].sum() > 0
    assert (events["event_type"] == "conversion").sum() == loop.totals["conversions"].sum()
    assert imp.groupby("request_id").size().max() == loop.k == 10
    assert imp["request_id"].nunique() == loop.totals["sessions"].sum()
    # ε = 0.2 of 10 slots: positions 3 and 8 explored (propensity 1/pool < 1), the others shown for sure
    explored = imp["position"].isin([3, 8]).to_numpy()
    assert (imp["propensity"].to_numpy()[~explored] == 1.0).all()
    assert (imp["propensity"].to_numpy()[explored] < 1.0).all()
    # a click is on an item that was shown, in that slot
    keys = set(zip(imp["request_id"], imp["position"], imp["item_id"]))
    clicks = events[events["event_type"] == "click"]
    assert set(zip(clicks["request_id"], clicks["position"], clicks["item_id"])) <= keys


def test_daily_figures_are_the_logs(tmp_path, base, redis):
    result, events, loop = run(tmp_path, base, redis, epsilon=0.1, days=3)
    daily = result.daily.set_index("day")
    n_items = base.train.n_items
    day = _day(events, base)
    for d in range(3):
        ev = events[day == d]
        imp, clicks = ev[ev["event_type"] == "impression"], ev[ev["event_type"] == "click"]
        assert daily.loc[d, "ctr"] == pytest.approx(len(clicks) / len(imp), rel=1e-12)
        assert daily.loc[d, "impressions"] == imp["request_id"].nunique()
        assert daily.loc[d, "users"] == imp["user_id"].nunique()
        shown = np.bincount(pd.Index(base.train.items["item_id"]).get_indexer(imp["item_id"]), minlength=n_items)
        assert daily.loc[d, "coverage"] == pytest.approx((shown > 0).mean(), rel=1e-12)
        assert daily.loc[d, "exposure_gini"] == pytest.approx(_gini(shown), rel=1e-9)
        conv = ev[ev["event_type"] == "conversion"].groupby("user_id").size()
        assert daily.loc[d, "conversion"] == pytest.approx(len(conv) / imp["user_id"].nunique(), rel=1e-12)
    # drift of the served items' age (on the loop's first day) and popularity against the baseline window (day 1's
    # impressions), recomputed from the log
    train = base.train
    release = train.items["release_ts"].to_numpy(np.float64)

    def served(d):
        imp = events[(day == d) & (events["event_type"] == "impression")]
        return pd.Index(train.items["item_id"]).get_indexer(imp["item_id"])

    def ages(d):
        return (float(train.reference_ts) - release[served(d)]) / 86_400  # the clock's ageing is no drift

    def pops(d):
        return np.log1p(train.item_popularity[served(d)].astype(np.float64))

    assert np.isnan(daily.loc[0, "psi:item_age_days"])  # the baseline day itself
    for d in (1, 2):
        assert daily.loc[d, "psi:item_age_days"] == pytest.approx(psi(ages(0), ages(d)), rel=1e-9)
        assert daily.loc[d, "psi:item_popularity"] == pytest.approx(psi(pops(0), pops(d)), rel=1e-9)
    assert {"share:ease", "share:itemknn", "share:popular"} <= set(daily.columns)


def test_interrupted_mid_day_and_resumed_gives_the_straight_runs_figures(tmp_path, base, redis, monkeypatch):
    settings = dict(days=4, retrain_every=2, ab_epsilon=0.2, epsilon=0.0)
    straight, straight_events, straight_loop = run(tmp_path / "straight", base, redis, **settings)

    config = LoopConfig(**{**SMALL, **settings})
    first = Loop(config, tmp_path / "resumed", base=base, redis_url=redis.url)
    first.run(2)
    first.close()
    client = make_client(redis.url, 5_000, asyncio=False)
    client.flushall()  # Redis keeps nothing: the features must come back from the log
    second = Loop(config, tmp_path / "resumed", base=base, redis_url=redis.url)
    assert second.done == 2 and len(second.version_list) == 1  # day 3 retrains first, then runs
    calls = {"n": 0}
    real = Loop._checkpoint

    def crash(self):
        calls["n"] += 1
        raise KeyboardInterrupt("killed after the day's events were logged, before the day was recorded")

    monkeypatch.setattr(Loop, "_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        second.step()
    second.close()
    monkeypatch.setattr(Loop, "_checkpoint", real)
    partial = second.events()
    assert (_day(partial, base) == 2).any()  # day 3's events are in the log, the day is not recorded
    client.flushall()
    third = Loop(config, tmp_path / "resumed", base=base, redis_url=redis.url)
    assert third.done == 2 and calls["n"] == 1
    resumed = third.run()
    resumed_events = third.events()
    third.close()
    client.close()

    pd.testing.assert_frame_equal(straight.figures(), resumed.figures())
    assert [v.key for v in straight.versions] == [v.key for v in resumed.versions]
    assert resumed.versions[1].loaded  # published before the crash, found in the store on resume
    cols = ["request_id", "position", "event_type", "user_id", "item_id", "propensity", "event_ts"]
    a = straight_events[cols].sort_values(cols[:3]).reset_index(drop=True)
    b = resumed_events[cols].sort_values(cols[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)  # nothing logged twice, nothing lost
    pd.testing.assert_frame_equal(straight.ab.analyse(), resumed.ab.analyse())
    assert [(a.when, a.reason) for a in straight.alerts] == [(a.when, a.reason) for a in resumed.alerts]


def test_a_resumed_loop_must_keep_its_settings(tmp_path, base, redis):
    run(tmp_path, base, redis)
    with pytest.raises(ValueError, match=r"epsilon: None → 0\.3"):
        Loop(LoopConfig(**{**SMALL, "epsilon": 0.3}), tmp_path, base=base, redis_url=redis.url)
    more = Loop(LoopConfig(**{**SMALL, "days": 3}), tmp_path, base=base, redis_url=redis.url)  # days may grow
    assert more.run().daily["day"].max() == 2
    more.close()


def test_the_ab_arms_are_the_hash_assignment_and_a_frozen_arm_keeps_the_starting_model(tmp_path, base, redis):
    result, events, loop = run(tmp_path, base, redis, days=3, retrain_every=1, ab_frozen=True, ab_split=0.3)
    ids = base.train.users["user_id"].to_numpy()
    np.testing.assert_array_equal(loop.arm_of, assign(ids, "loop", (0.7, 0.3)))
    daily = result.daily
    assert (daily.loc[daily["arm"] == "B", "version"] == base.key).all()
    assert daily.loc[(daily["arm"] == "A") & (daily["day"] > 0), "version"].ne(base.key).all()
    assert len(result.versions) == 3
    per_user = result.ab.per_user()
    arm_of_user = dict(zip(ids, np.array(["A", "B"])[loop.arm_of]))
    assert (per_user["arm"] == per_user["user"].map(arm_of_user)).all()
    assert set(result.ab.analyse()["metric"]) == {"ctr", "conversion", "session_time"}


def test_alert_rules_come_from_the_config_and_say_when_and_why(tmp_path, base, redis):
    rules = AlertConfig(rules=(AlertRule("ctr", above=1e-9, name="any click"), AlertRule("coverage", below=2.0)),
                        baseline_days=1)  # fmt: skip
    result, _, _ = run(tmp_path, base, redis, alerts=rules)
    fired = [(a.rule, a.when) for a in result.alerts]
    assert fired == [("any click", ("A", 0)), ("coverage", ("A", 0))]  # each fires at its onset, once
    ctr = result.daily.loc[0, "ctr"]
    assert result.alerts[0].reason == f"ctr = {ctr:.4g}, above the threshold 1e-09"


def _figures(result):
    return result.figures().drop(columns=["version"])


@pytest.mark.parametrize("change", [
    {"epsilon": 0.3}, {"k": 5}, {"users": 150}, {"visit_rate": 1.5}, {"click_model": "cascade"}, {"drift_bins": 4},
    {"retrain_every": 1}, {"shift_day": 1},
])  # fmt: skip
def test_every_setting_reaches_the_output(tmp_path, base, redis, change):
    """(seed: test_a_different_seed_draws_other_sessions; ab_*: the A/B tests; alerts, features: their own tests)"""
    before, ev0, l0 = run(tmp_path / "a", base, redis)
    after, ev1, l1 = run(tmp_path / "b", base, redis, **change)
    assert not _figures(before).equals(_figures(after))
    name, value = next(iter(change.items()))
    imp = ev1[ev1["event_type"] == "impression"]
    if name == "k":
        assert imp.groupby("request_id").size().max() == 5
    elif name == "users":
        assert len(l1.rows) == 150 and set(imp["user_id"]) <= set(base.train.users["user_id"].to_numpy()[l1.rows])
    elif name == "visit_rate":
        assert l1.totals["sessions"].sum() > 2 * l0.totals["sessions"].sum()
    elif name == "click_model":
        clicks = ev1[ev1["event_type"] == "click"]
        assert clicks.groupby("request_id").size().max() == 1  # cascade: at most one click per slate
    elif name == "epsilon":
        assert (imp["propensity"] < 1).any() and (ev0.loc[ev0["event_type"] == "impression", "propensity"] == 1).all()
    elif name == "drift_bins":
        assert before.daily["psi:item_age_days"].iloc[1] != after.daily["psi:item_age_days"].iloc[1]
        assert before.daily["ctr"].equals(after.daily["ctr"])  # only the drift figures move
    elif name == "shift_day":  # from day 2 (0-based 1) every slate explores at shift_epsilon = 0.5
        day = _day(imp, base)
        assert (imp.loc[day == 0, "propensity"] == 1).all() and (imp.loc[day == 1, "propensity"] < 1).mean() == 0.5
    elif name == "retrain_every":
        assert len(after.versions) == 2 and after.daily["version"].iloc[1] != base.key


def test_memory_features_give_the_figures_redis_gives(tmp_path, base, redis):
    red, _, _ = run(tmp_path / "r", base, redis, epsilon=0.2, days=3, retrain_every=2)
    mem, _, loop = run(tmp_path / "m", base, redis, epsilon=0.2, days=3, retrain_every=2, features="memory")
    assert loop.features.backend == "memory"
    pd.testing.assert_frame_equal(red.figures(), mem.figures())


def test_a_different_seed_draws_other_sessions(tmp_path, base, redis):
    a, _, la = run(tmp_path / "a", base, redis)
    config = dataclasses.replace(LoopConfig(**SMALL), seed=1)
    # the seed of the draws, on the same starting model (a base passed in is kept whatever the seed)
    b = Loop(config, tmp_path / "b", base=base, redis_url=redis.url)
    rb = b.run()
    b.close()
    assert not np.array_equal(la.totals["sessions"], b.totals["sessions"])
    assert not a.figures().equals(rb.figures())


def test_bad_settings_are_refused_before_any_work(tmp_path, base):
    with pytest.raises(ValueError, match="retrain='weekly'"):
        LoopConfig(retrain="weekly")
    with pytest.raises(ValueError, match="ab_split=1.0"):
        LoopConfig(ab_split=1.0)
    with pytest.raises(ValueError, match="features='memory'"):
        Loop(LoopConfig(features="memory", small=True), tmp_path, serve=True)
    with pytest.raises(ValueError, match="users=5000: expected at most the 400 users"):
        Loop(LoopConfig(small=True, users=5000, features="memory"), tmp_path, base=base)


def test_a_rolling_drift_window_compares_each_day_with_the_days_before(tmp_path, base, redis):
    result, events, _ = run(tmp_path, base, redis, epsilon=0.1, days=3, drift_window=1)
    day = _day(events, base)
    release = base.train.items["release_ts"].to_numpy(np.float64)

    def ages(d):  # the served items' age on the loop's first day
        imp = events[(day == d) & (events["event_type"] == "impression")]
        rows = pd.Index(base.train.items["item_id"]).get_indexer(imp["item_id"])
        return (float(base.train.reference_ts) - release[rows]) / 86_400

    daily = result.daily.set_index("day")
    assert np.isnan(daily.loc[0, "psi:item_age_days"])
    for d in (1, 2):  # the previous day only (with the fixed window, day 2 would be compared with day 0)
        assert daily.loc[d, "psi:item_age_days"] == pytest.approx(psi(ages(d - 1), ages(d)), rel=1e-9)


def test_the_clicks_kept_in_memory_are_the_logs_in_its_order(tmp_path, base):
    """The retraining job and the stream step's replay read the clicks and conversions the loop keeps in memory as it
    logs them, not the log read back: they must be the log's, row for row, also after a restart."""
    config = LoopConfig(**{**SMALL, "days": 3, "retrain_every": 2, "features": "memory"})
    cols = ["request_id", "position", "event_type", "user_id", "item_id", "event_ts"]

    def logged(loop):
        ev = loop.events()
        return ev[(ev["event_type"] != "impression").to_numpy()][cols].reset_index(drop=True)

    with Loop(config, tmp_path, base=base) as loop:
        loop.run(2)
        kept = loop._acted_events()[cols].reset_index(drop=True)
        assert len(kept) and set(kept["event_type"]) <= {"click", "conversion"}
        pd.testing.assert_frame_equal(kept, logged(loop), check_dtype=False)
    with Loop(config, tmp_path, base=base) as loop:  # resumed: read from the log once, then kept again
        loop.run()
        pd.testing.assert_frame_equal(loop._acted_events()[cols].reset_index(drop=True), logged(loop), check_dtype=False)
