"""The served loop: every session a POST /recommend to a real uvicorn child process, every event a POST /events
into the SQLite log, the service's own Redis features updated, its /metrics read back each day."""

import os

import numpy as np
import pytest

from workbench.loop import Loop, LoopConfig
from workbench.loop.served import histogram_quantile
from workbench.serving.eventlog import read_served
from workbench.serving.feature_store import make_client


def test_histogram_quantile_interpolates_within_the_bucket_as_prometheus_does():
    bounds = np.array([0.1, 0.2, 0.5, np.inf])
    cumulative = np.array([10.0, 60.0, 90.0, 100.0])
    assert histogram_quantile(0.05, bounds, cumulative) == pytest.approx(0.05)  # 5 of the first 10, in [0, 0.1]
    assert histogram_quantile(0.5, bounds, cumulative) == pytest.approx(0.1 + 0.1 * 40 / 50)
    assert histogram_quantile(0.9, bounds, cumulative) == pytest.approx(0.5)
    assert histogram_quantile(0.99, bounds, cumulative) == 0.5  # in +Inf: the largest finite bound
    assert np.isnan(histogram_quantile(0.99, bounds, np.zeros(4)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_served_loop_runs_the_whole_path_and_retrains(tmp_path, tiny_pipeline_toml, redis):
    config = LoopConfig(small=True, days=2, retrain_every=1, epsilon=0.2, redis_timeout_ms=2_000, ranker_budget_ms=10_000)
    loop = Loop(config, tmp_path, pipeline_config=tiny_pipeline_toml, serve=True, redis_url=redis.url)
    pids = [loop._served["A"].process.pid]
    result = loop.run()
    pids.append(loop._served["A"].process.pid)
    events = loop.events()
    loop.close()
    assert pids[0] != pids[1] and not any(_alive(p) for p in pids)  # a new service for the new version; both stopped
    imp = events[events["event_type"] == "impression"]
    assert len(imp) == loop.totals["slots"].sum() > 0
    assert (events["event_type"] == "click").sum() == loop.totals["clicks"].sum() > 0
    assert imp["request_id"].str.fullmatch(r"[0-9a-f]{32}").all()  # the service's request ids
    assert imp["propensity"].between(0, 1, inclusive="right").all()
    served = read_served(tmp_path / "events.sqlite")
    assert len(served) == loop.totals["sessions"].sum()
    daily = result.daily
    assert daily["version"].tolist() == [v.key for v in result.versions] and len(result.versions) == 2
    assert set(served["model_version"]) == set(daily["version"])
    # /metrics counted what the loop saw: every request, and the same degraded answers
    np.testing.assert_array_equal(daily["requests"], loop.totals["sessions"].sum(axis=0))
    np.testing.assert_allclose(daily["degraded_rate"], daily["degraded_answers"], rtol=0, atol=1e-12)
    assert (daily["p99_ms"] > 0).all() and np.isfinite(daily["p99_ms"]).all()
    # the service's stream step: a clicking user's recent list in the version's Redis keys starts with their
    # clicks and conversions since the retrain (a conversion pushes its item again, right after its click)
    acted = events[(events["event_type"] != "impression") & (events["event_ts"] >= loop.train0.reference_ts + 86_400)]
    converted = acted[acted["event_type"] == "conversion"]
    user = int((converted if len(converted) else acted)["user_id"].iloc[-1])  # a converting user when there is one
    last_version = result.versions[-1].key
    client = make_client(redis.url, 5_000, asyncio=False)
    recent = [int(x) for x in client.lrange(f"wb:{last_version}:u:{user}:recent", 0, -1)]
    client.close()
    item_rows = loop.train0.items.reset_index().set_index("item_id")["index"]
    mine = acted[acted["user_id"] == user].sort_values("event_ts", kind="stable")
    assert recent[: len(mine)] == item_rows[mine["item_id"]].tolist()[::-1]


def test_the_service_deadlines_reach_the_served_answers(tmp_path, tiny_pipeline_toml, redis):
    config = LoopConfig(small=True, days=1, retrain_every=0, redis_timeout_ms=2_000, ranker_budget_ms=0.0)
    loop = Loop(config, tmp_path, pipeline_config=tiny_pipeline_toml, serve=True, redis_url=redis.url)
    result = loop.run()
    events = loop.events()
    loop.close()
    served = read_served(tmp_path / "events.sqlite")
    assert (served["degraded"] == "ranker_budget").all()  # a zero budget: every answer is the candidate order
    assert result.daily["degraded_rate"].iloc[0] == 1.0
    assert (events.loc[events["event_type"] == "impression", "propensity"] == 1.0).all()
