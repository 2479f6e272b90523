"""The stream step's writes and reads: the same Redis state as the service's own update path, and the
in-memory back-end holding exactly what Redis holds."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench.loop.features import MemoryFeatures, RedisFeatures, interactions_frame, queue_interactions
from workbench.serving.feature_store import FeatureStore, make_client


def _events(train, n=400, seed=3):
    """Clicks and conversions of real users on real items, several per user, with repeated timestamps."""
    rng = np.random.default_rng(seed)
    users = train.users["user_id"].to_numpy()[rng.integers(0, 40, n)]
    items = rng.integers(0, train.n_items, n)
    kinds = np.where(rng.random(n) < 0.8, "click", "conversion")
    ts = train.reference_ts + rng.integers(0, 50, n)
    return interactions_frame(users, items, kinds, ts)


def _dump(client, prefix: str) -> dict:
    """Every key under ``prefix`` with its value (lists in order, hashes as dicts)."""
    out = {}
    for key in client.scan_iter(match=prefix + "*", count=10_000):
        kind = client.type(key)
        if kind == b"list":
            out[key] = client.lrange(key, 0, -1)
        elif kind == b"hash":
            out[key] = client.hgetall(key)
        else:
            out[key] = client.get(key)
    return out


def test_queued_commands_leave_the_state_the_services_replay_leaves(base, redis):
    train = base.train
    frame = _events(train)
    client = make_client(redis.url, timeout_ms=5_000, asyncio=False)
    theirs = FeatureStore("theirs", train.n_items, sync_client=client)
    ours = FeatureStore("ours", train.n_items, sync_client=client)
    for store in (theirs, ours):
        store.materialise(train, force=True)
    theirs.replay(frame)
    pipe = client.pipeline(transaction=False)
    queue_interactions(ours, pipe, frame)
    pipe.execute()
    a = {k.replace(b"wb:theirs:", b""): v for k, v in _dump(client, "wb:theirs:").items() if not k.endswith(b"ready")}
    b = {k.replace(b"wb:ours:", b""): v for k, v in _dump(client, "wb:ours:").items() if not k.endswith(b"ready")}
    assert a.keys() == b.keys()
    meta = b"meta"
    for key in a:
        if key == meta:
            continue
        assert a[key] == b[key], key
    # and the counters moved by what the frame holds: one per click or conversion of the item
    pop = np.frombuffer(client.get("wb:ours:items:popularity"), ">u4").astype(np.int64)
    expected = train.item_popularity + np.bincount(frame["item_row"], minlength=train.n_items)
    np.testing.assert_array_equal(pop, expected)
    client.close()


@pytest.mark.parametrize("chunks", [1, 3])
def test_memory_and_redis_hold_the_same_seen_lists_and_counters(base, redis, chunks):
    train = base.train
    frame = _events(train, seed=chunks)
    red, mem = RedisFeatures(redis.url), MemoryFeatures()
    for f in (red, mem):
        f.open("v1", train)
        for part in np.array_split(np.arange(len(frame)), chunks):
            f.record("v1", frame.iloc[part])
    rows = np.arange(0, 60)
    ids = train.users["user_id"].to_numpy()[rows]
    s_red, s_mem = red.seen("v1", rows, ids), mem.seen("v1", rows, ids)
    assert (s_red != s_mem).nnz == 0
    np.testing.assert_array_equal(red.popularity("v1"), mem.popularity("v1"))
    # seen = training history ∪ the online clicks and conversions, for the rows asked and no others
    online = frame[np.isin(frame["user_id"], ids)]
    clicked = sp.csr_matrix((np.ones(len(online)), (pd.Index(train.users["user_id"]).get_indexer(online["user_id"]),
                                                    online["item_row"])), shape=train.matrix.shape)  # fmt: skip
    asked = sp.diags((np.arange(train.n_users) < 60).astype(float))
    by_hand = asked @ (train.matrix + clicked)
    assert ((s_red > 0) != (by_hand > 0)).nnz == 0
    red.drop("v1")
    assert not list(red.client.scan_iter(match="wb:v1:*"))
    red.close()


def test_open_replays_the_log_over_the_offline_features(base, redis):
    """A resumed loop rebuilds a version's features from the log: open(train, replay) = open + record."""
    train = base.train
    frame = _events(train, seed=9)
    a, b = RedisFeatures(redis.url), MemoryFeatures()
    a.open("v2", train, frame)
    b.open("v2", train)
    b.record("v2", frame)
    rows = np.arange(train.n_users)
    ids = train.users["user_id"].to_numpy()
    assert (a.seen("v2", rows, ids) != b.seen("v2", rows, ids)).nnz == 0
    np.testing.assert_array_equal(a.popularity("v2"), b.popularity("v2"))
    assert a.client.get("wb:v2:ready") is not None
    a.drop("v2")
    a.close()
