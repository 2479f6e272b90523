"""The stream step's target: the online features of each model version, in Redis or in memory.

The loop writes every click and conversion here as it happens (``record``) and reads back, before
each session, what the request path reads: the user's recent items (the seen filter) and the item
popularity counters. Each model version has its own features, materialised from the data it was
trained on (``open``), exactly as the service keeps them (`workbench.serving.feature_store`).

- `RedisFeatures`: `workbench.serving.feature_store.FeatureStore` on a real Redis: materialised by
  it, updated with the very commands its ``replay`` sends (`queue_interactions` groups them with
  numpy: ``replay`` spends milliseconds of pandas per user, too slow for thousands of users a
  round), the seen lists read back in one pipelined round trip per session round.
- `MemoryFeatures`: the same state kept in this process only (numpy arrays): nothing outside the
  loop can read it, and it lives as long as the process. Said plainly wherever it is used.

Redis persists nothing here, and neither does memory: the event log is the source of truth, and a
resumed loop rebuilds the features from it (``open`` with the log's events after the version's cut).
The two back-ends hold the same state after the same events (tests/loop checks it).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.dataset import Dataset

FRAME_COLUMNS = ("user_id", "item_row", "type", "ts")  # what FeatureStore.replay reads


def interactions_frame(user_ids, item_rows, kinds, ts) -> pd.DataFrame:
    """The stream step's input: one row per click or conversion (``FRAME_COLUMNS``)."""
    return pd.DataFrame({"user_id": np.asarray(user_ids, np.int64), "item_row": np.asarray(item_rows, np.int64),
                         "type": np.asarray(kinds, dtype=object), "ts": np.asarray(ts, np.int64)})  # fmt: skip


def frame_empty() -> pd.DataFrame:
    return interactions_frame([], [], [], [])


def queue_interactions(store, pipe, frame: pd.DataFrame) -> int:
    """Queue on ``pipe`` the commands with which `FeatureStore.replay` applies ``frame`` to ``store``'s keys:
    per user LPUSH of the item rows in time order, LTRIM to ``recent_n``, HINCRBY ``n`` and each present
    kind's count, HSET ``last_ts``; one BITFIELD INCRBY over the items' popularity counters.

    The same commands and the same resulting state as `FeatureStore.replay` (tests/loop compares the two
    on one Redis), but grouped with numpy instead of a pandas group per user, which costs milliseconds
    per user: the loop's stream step sends thousands of users a round. Returns the commands queued.
    """
    if not len(frame):
        return 0
    frame = frame.sort_values("ts", kind="stable")
    users = frame["user_id"].to_numpy(np.int64)
    items = frame["item_row"].to_numpy(np.int64)
    ts = frame["ts"].to_numpy(np.int64)
    kinds = frame["type"].to_numpy().astype(str)
    ids, first, inv = np.unique(users, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # users in order of their first event, as pandas' groupby(sort=False)
    by_user = np.argsort(inv, kind="stable")  # each user's events, in time order
    bounds = np.r_[0, np.cumsum(np.bincount(inv, minlength=len(ids)))]
    names = np.unique(kinds)
    counts = np.stack([np.bincount(inv, weights=(kinds == k), minlength=len(ids)) for k in names], axis=1).astype(np.int64)
    last = np.full(len(ids), np.iinfo(np.int64).min)
    np.maximum.at(last, inv, ts)
    item_list = items[by_user].tolist()
    n = 0
    for u in order.tolist():  # the key layout is one list and one hash per user: a few commands each
        rkey, hkey = store.user_keys(int(ids[u]))
        pipe.lpush(rkey, *item_list[bounds[u] : bounds[u + 1]])
        pipe.ltrim(rkey, 0, store.recent_n - 1)
        pipe.hincrby(hkey, "n", int(bounds[u + 1] - bounds[u]))
        for j in np.flatnonzero(counts[u]).tolist():
            pipe.hincrby(hkey, f"{names[j]}s", int(counts[u, j]))
        pipe.hset(hkey, "last_ts", int(last[u]))
        n += 4 + int(np.count_nonzero(counts[u]))
    per_item = np.bincount(items)
    hit = np.flatnonzero(per_item)
    ops = np.column_stack([np.full(len(hit), "INCRBY", object), np.full(len(hit), "u32", object),
                           np.char.add("#", hit.astype(str)).astype(object), per_item[hit].astype(object)]).ravel().tolist()  # fmt: skip
    pipe.execute_command("BITFIELD", store.key("items", "popularity"), *ops)
    return n + 1


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.tocsr()
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


class OnlineFeatures(Protocol):
    backend: str

    def open(self, version: str, train: Dataset, replay: pd.DataFrame | None = None) -> None:
        """Materialise ``version``'s features from ``train`` (replacing any), then apply ``replay``."""

    def record(self, version: str, frame: pd.DataFrame) -> None:
        """Apply clicks and conversions (`interactions_frame`) to ``version``'s features."""

    def seen(self, version: str, rows: np.ndarray, user_ids: np.ndarray) -> sp.csr_matrix:
        """Binary CSR ``[n_users, n_items]``: for rows ``rows`` (ids ``user_ids``), the version's training
        history and the items in the users' online recent lists; other rows empty."""

    def popularity(self, version: str) -> np.ndarray:
        """int64 ``[n_items]``: the version's popularity counters (train users + online clicks and conversions)."""

    def drop(self, version: str) -> None:
        """Forget a version no arm serves any more."""

    def close(self) -> None: ...


class MemoryFeatures:
    """`OnlineFeatures` in this process (numpy): the same state as Redis would hold, readable by nobody else."""

    backend = "memory"

    def __init__(self) -> None:
        self._train: dict[str, Dataset] = {}
        self._pop: dict[str, np.ndarray] = {}
        self._online: dict[str, sp.csr_matrix] = {}
        self._rows: dict[str, pd.Index] = {}

    def open(self, version: str, train: Dataset, replay: pd.DataFrame | None = None) -> None:
        self._train[version] = train
        self._pop[version] = train.item_popularity.astype(np.int64).copy()
        self._online[version] = sp.csr_matrix((train.n_users, train.n_items), dtype=np.float32)
        self._rows[version] = pd.Index(train.users["user_id"].to_numpy())
        if replay is not None and len(replay):
            self.record(version, replay)

    def record(self, version: str, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        train = self._train[version]
        items = frame["item_row"].to_numpy(np.int64)
        self._pop[version] += np.bincount(items, minlength=train.n_items)
        rows = self._rows[version].get_indexer(frame["user_id"].to_numpy())
        new = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, items)), shape=(train.n_users, train.n_items))
        self._online[version] = _binary(self._online[version] + new)

    def seen(self, version: str, rows: np.ndarray, user_ids: np.ndarray) -> sp.csr_matrix:
        train = self._train[version]
        keep = sp.diags(np.isin(np.arange(train.n_users), rows).astype(np.float32))
        return _binary(keep @ (train.matrix + self._online[version]))

    def popularity(self, version: str) -> np.ndarray:
        return self._pop[version].copy()

    def drop(self, version: str) -> None:
        for held in (self._train, self._pop, self._online, self._rows):
            held.pop(version, None)

    def close(self) -> None:
        self._train.clear()


class RedisFeatures:
    """`OnlineFeatures` on a real Redis through `workbench.serving.feature_store.FeatureStore`."""

    backend = "redis"

    def __init__(self, url: str, timeout_ms: float = 10_000.0) -> None:
        from workbench.serving.feature_store import make_client

        self.url = url
        self.client = make_client(url, timeout_ms=timeout_ms, asyncio=False)
        self.client.ping()
        self._stores: dict[str, object] = {}
        self._train: dict[str, Dataset] = {}

    def store(self, version: str):
        if version not in self._stores:
            raise KeyError(f"feature store version {version!r} is not open (open it with the data it was trained on)")
        return self._stores[version]

    def open(self, version: str, train: Dataset, replay: pd.DataFrame | None = None) -> None:
        from workbench.serving.feature_store import FeatureStore

        store = FeatureStore(version, train.n_items, sync_client=self.client)
        store.materialise(train, force=True, ready=False)
        self._stores[version], self._train[version] = store, train
        self.record(version, replay if replay is not None else frame_empty())
        store.mark_ready()

    def record(self, version: str, frame: pd.DataFrame) -> None:
        """`queue_interactions` in chunks of users, one round trip each (the service's `FeatureStore.replay`
        applies the same commands, grouped more slowly)."""
        if not len(frame):
            return
        store = self.store(version)
        users = frame["user_id"].to_numpy()
        distinct = np.unique(users)
        pipe = self.client.pipeline(transaction=False)
        for lo in range(0, len(distinct), 2_000):  # whole users per round trip
            part = frame if len(distinct) <= 2_000 else frame[np.isin(users, distinct[lo : lo + 2_000])]
            queue_interactions(store, pipe, part)
            pipe.execute()

    def online_counts(self, version: str, rows: np.ndarray, user_ids: np.ndarray) -> np.ndarray:
        """Interactions each user had since the version's training data: the hash's ``n`` less the
        user's training interactions (one round trip)."""
        store, train = self.store(version), self._train[version]
        pipe = self.client.pipeline(transaction=False)
        for uid in np.asarray(user_ids).tolist():
            pipe.hget(store.user_keys(uid)[1], "n")
        n = np.array([int(x or 0) for x in pipe.execute()], dtype=np.int64)
        trained = np.bincount(train.interactions["user"].to_numpy(), minlength=train.n_users)
        return n - trained[np.asarray(rows, np.int64)]

    def recent(self, version: str, user_ids: np.ndarray, lengths: np.ndarray | None = None) -> list[list[bytes]]:
        """Each user's online recent list (item rows, most recent first; the first ``lengths[u]`` only), in one
        pipelined round trip."""
        store = self.store(version)
        ids = np.asarray(user_ids).tolist()
        ends = [store.recent_n] * len(ids) if lengths is None else np.minimum(lengths, store.recent_n).tolist()
        pipe = self.client.pipeline(transaction=False)
        for uid, end in zip(ids, ends):
            pipe.lrange(store.user_keys(uid)[0], 0, end - 1)
        return pipe.execute()

    def seen(self, version: str, rows: np.ndarray, user_ids: np.ndarray) -> sp.csr_matrix:
        """The training history, plus the head of each recent list that holds the interactions since
        training (its length from the user hash): two round trips, small answers."""
        train = self._train[version]
        rows, user_ids = np.asarray(rows, np.int64), np.asarray(user_ids)
        online = self.online_counts(version, rows, user_ids)
        who = np.flatnonzero(online > 0)
        lists = self.recent(version, user_ids[who], online[who]) if len(who) else []
        lengths = np.fromiter(map(len, lists), np.int64, len(lists))
        flat = b" ".join(b" ".join(lst) for lst in lists if lst).split()
        items = np.array(flat, dtype=bytes).astype(np.int64) if flat else np.zeros(0, np.int64)
        new = sp.csr_matrix((np.ones(len(items), np.float32), (np.repeat(rows[who], lengths), items)),
                            shape=(train.n_users, train.n_items))  # fmt: skip
        keep = sp.diags(np.isin(np.arange(train.n_users), rows).astype(np.float32))
        return _binary(keep @ train.matrix + new)

    def popularity(self, version: str) -> np.ndarray:
        store = self.store(version)
        raw = self.client.get(store.key("items", "popularity")) or b""
        pop = np.frombuffer(raw, dtype=">u4").astype(np.int64)[: store.n_items]
        return np.pad(pop, (0, store.n_items - len(pop)))

    def drop(self, version: str) -> None:
        """Delete a version's keys (a version no arm serves any more)."""
        store = self._stores.pop(version, None)
        self._train.pop(version, None)
        if store is not None:
            keys = list(self.client.scan_iter(match=store.prefix + "*", count=10_000))
            for lo in range(0, len(keys), 2_000):
                self.client.delete(*keys[lo : lo + 2_000])

    def close(self) -> None:
        self.client.close()
