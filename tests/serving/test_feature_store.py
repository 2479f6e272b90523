"""The online feature store on a real Redis: materialised values against the offline data, Redis's own
bit order for bitmaps and BITFIELD counters, online updates, replay, versioning."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from workbench.serving.feature_store import FeatureStore, NotMaterialised, make_client
from workbench.serving.redis_server import RedisServer


@pytest.fixture
def redis(tmp_path):
    with RedisServer(dir=tmp_path / "redis") as server:
        yield server


def store_for(redis, train, version="v1", recent_n=100) -> FeatureStore:
    return FeatureStore(version, train.n_items, None, make_client(redis.url, 5000, asyncio=False), recent_n)


def fetch(redis, store: FeatureStore, user):
    async def go():
        client = make_client(redis.url, 5000, asyncio=True)
        store.client = client
        try:
            return await store.fetch(user)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_materialised_features_match_the_offline_data(redis, model):
    train = model.train
    store = store_for(redis, train, recent_n=5)
    assert not store.materialised()
    store.materialise(train)
    assert store.materialised() and store.materialise(train) == {"skipped": 1.0}
    row = 17
    user_id = int(train.users["user_id"].iloc[row])
    feats = fetch(redis, store, user_id)
    mine = train.interactions[train.interactions["user"] == row].sort_values(["timestamp", "item"], kind="stable")
    assert feats.recent.tolist() == mine["item"].to_numpy()[::-1][:5].tolist()
    assert feats.user_count == len(mine) and feats.last_ts == float(mine["timestamp"].max())
    assert np.array_equal(feats.popularity, train.item_popularity)
    assert np.array_equal(feats.available, train.item_available)
    assert np.array_equal(feats.promoted, train.item_promoted)
    assert np.array_equal(feats.release_ts, train.items["release_ts"].to_numpy(np.int64))
    assert np.allclose(feats.age_days(1.0e9), (1.0e9 - train.items["release_ts"].to_numpy()) / 86_400)
    assert not feats.cold and fetch(redis, store, -5).cold


def test_encodings_agree_with_redis_commands(redis, model):
    """Bit i of the bitmaps is what GETBIT i returns; popularity i is what BITFIELD GET u32 #i returns."""
    train = model.train
    store = store_for(redis, train)
    store.materialise(train)
    r = store.sync_client
    probe = [0, 1, 7, 8, 9, 100, train.n_items - 1]
    assert [r.getbit(store.key("items", "available"), i) for i in probe] == train.item_available[probe].astype(int).tolist()
    assert [r.getbit(store.key("items", "promoted"), i) for i in probe] == train.item_promoted[probe].astype(int).tolist()
    got = r.bitfield(store.key("items", "popularity")).get("u32", f"#{probe[5]}").get("u32", f"#{probe[6]}").execute()
    assert got == train.item_popularity[probe[5:]].tolist()
    store.set_available([3, 9], False)
    store.set_promoted(9, True)
    feats = fetch(redis, store, 0)
    assert not feats.available[[3, 9]].any() and feats.promoted[9]
    assert r.getbit(store.key("items", "available"), 9) == 0
    with pytest.raises(ValueError, match="item rows"):
        store.set_available(train.n_items, True)


def test_online_updates_and_replay(redis, model):
    train = model.train
    store = store_for(redis, train, recent_n=4)
    store.materialise(train)
    user = int(train.users["user_id"].iloc[2])
    events = pd.DataFrame({"user_id": [user, user, user, 999], "type": ["click", "conversion", "click", "click"],
                           "item_row": [5, 6, 5, 7], "ts": [30, 10, 20, 5]})  # fmt: skip

    async def record():
        store.client = make_client(redis.url, 5000, asyncio=True)
        await store.client.set("wb:v1:cache:x", b"1")
        await store.record_interactions(events, invalidate=["wb:v1:cache:x"])
        await store.client.aclose()

    asyncio.run(record())
    r = store.sync_client
    assert [int(x) for x in r.lrange(store.key("u", user, "recent"), 0, -1)][:3] == [5, 5, 6]  # newest first (ts 30, 20, 10)
    assert r.llen(store.key("u", user, "recent")) == 4  # trimmed to recent_n
    hash_ = {k.decode(): int(v) for k, v in r.hgetall(store.key("u", user)).items()}
    assert hash_["n"] == int((train.interactions["user"] == 2).sum()) + 3 and hash_["clicks"] == 2
    assert hash_["conversions"] == 1 and hash_["last_ts"] == 30
    pop = fetch(redis, store, user).popularity
    assert pop[5] == train.item_popularity[5] + 2 and pop[6] == train.item_popularity[6] + 1
    assert r.get("wb:v1:cache:x") is None
    # rebuilding: offline features, then the same events replayed, give the same store
    before = {k: r.dump(k) for k in sorted(r.scan_iter("wb:v1:*")) if not k.endswith(b"ready")}
    store.materialise(train, force=True, ready=False)
    with pytest.raises(NotMaterialised):
        fetch(redis, store, user)
    assert store.replay(events) == 4
    store.mark_ready()
    after = {k: r.dump(k) for k in sorted(r.scan_iter("wb:v1:*")) if not k.endswith(b"ready")}
    assert set(before) == set(after)
    for key in before:
        if b":meta" not in key:
            assert before[key] == after[key], key


def test_versions_do_not_share_keys(redis, model):
    train = model.train
    a, b = store_for(redis, train, "va"), store_for(redis, train, "vb")
    a.materialise(train)
    assert not b.materialised()
    a.set_available(0, False)
    b.materialise(train)
    assert not fetch(redis, a, 0).available[0] and fetch(redis, b, 0).available[0] == train.item_available[0]
    with pytest.raises(ValueError, match="version"):
        FeatureStore("a:b", 3)


def test_a_stopped_redis_fails_fast_without_retries(tmp_path):
    """redis-py's default retries took ~4 s against a stopped Redis; make_client's client fails at once."""
    import time

    server = RedisServer(dir=tmp_path / "r").start()
    url = server.url
    server.stop()
    client = make_client(url, timeout_ms=10, asyncio=False)
    t0 = time.perf_counter()
    with pytest.raises(Exception):
        client.ping()
    assert time.perf_counter() - t0 < 1.0
