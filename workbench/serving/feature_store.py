"""The online feature store: per-user and per-item features in Redis, versioned with the model.

Materialised from the offline data the model was trained on (`materialise`), then kept fresh by
the events the service receives (`record_interactions`). Every key starts with
``wb:<model_version>:``, so two model versions never read each other's features.

Key layout (``P`` = ``wb:<version>:``):

| key | type | holds |
|---|---|---|
| ``P meta`` | hash | n_items, n_users, recent_n, materialised_at |
| ``P ready`` | string | written last: requests read the version only once it is complete |
| ``P u:<user_id>:recent`` | list | the user's latest item rows, most recent first (at most ``recent_n``) |
| ``P u:<user_id>`` | hash | ``n`` interactions, ``clicks``, ``conversions``, ``last_ts`` |
| ``P items:popularity`` | string | uint32 counter per item (``BITFIELD`` big-endian), train users + online clicks/conversions |
| ``P items:available`` | string | bitmap, bit ``i`` = item row ``i`` can be shown |
| ``P items:promoted`` | string | bitmap, bit ``i`` = item row ``i`` is promoted |
| ``P items:release_ts`` | string | int64 release time per item (Unix seconds, big-endian); age = request time − release |

Users are keyed by their external id, so a user the model has never seen still gets an online
history once they click. Items are model rows (the id space of the model's arrays).

One request reads all of it in **one round trip** (`fetch`: a pipeline of LRANGE, HMGET, four
GETs and an EXISTS, sent together). The per-item features come as whole-catalogue arrays (a few KB on
MovieLens-100K: 4 B of popularity, 8 B of release time and 2 bits per item), which is what lets
stage 1 filter and reranking use them without a second round trip for the candidates' keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset

RECENT_N = 100  # items kept in a user's online recent-history list
CHUNK = 2_000  # commands per pipeline while materialising


def make_client(url: str, timeout_ms: float, asyncio: bool = True):
    """A redis-py client with explicit timeouts and **no retries**.

    redis-py's default retries a failed command three times with exponential backoff; against a
    stopped Redis that took about 4 s to fail even with a 10 ms socket timeout. The service never
    waits on Redis longer than its deadline, so: socket and connect timeouts = ``timeout_ms``,
    ``Retry(NoBackoff(), 0)``, no retry on timeout, no health-check pings, and no ``CLIENT SETINFO``
    round trips when a connection opens.
    """
    if not timeout_ms > 0:
        raise ValueError(f"timeout_ms={timeout_ms!r}: expected a positive number of milliseconds")
    from redis.backoff import NoBackoff

    if asyncio:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
    else:
        from redis import Redis
        from redis.retry import Retry
    seconds = timeout_ms / 1000.0
    return Redis.from_url(url, socket_timeout=seconds, socket_connect_timeout=seconds, retry=Retry(NoBackoff(), 0),
                          retry_on_error=[], health_check_interval=0, decode_responses=False,
                          driver_info=None)  # fmt: skip


class NotMaterialised(LookupError):
    """The store holds no features for this model version (e.g. Redis restarted without persistence)."""


@dataclass
class Features:
    """What one request read from the store (arrays indexed by item row)."""

    recent: np.ndarray  # int64, the user's latest item rows, most recent first
    user_count: int  # interactions of the user (train + online clicks/conversions)
    last_ts: float | None
    popularity: np.ndarray  # int64 [n_items]
    available: np.ndarray  # bool [n_items]
    promoted: np.ndarray  # bool [n_items]
    release_ts: np.ndarray  # int64 [n_items]

    @property
    def cold(self) -> bool:
        return self.user_count == 0 and len(self.recent) == 0

    def age_days(self, at_ts: float) -> np.ndarray:
        """float64 ``[n_items]``: days from each item's release to ``at_ts``."""
        return (float(at_ts) - self.release_ts.astype(np.float64)) / 86_400.0


def _bits(flags: np.ndarray) -> bytes:
    """Redis bitmap bytes: bit ``i`` (most significant bit first in each byte) = ``flags[i]``."""
    return np.packbits(np.asarray(flags, dtype=bool), bitorder="big").tobytes()


def _unbits(raw: bytes | None, n: int) -> np.ndarray:
    arr = np.unpackbits(np.frombuffer(raw or b"", dtype=np.uint8), bitorder="big")[:n].astype(bool)
    return np.pad(arr, (0, n - len(arr))) if len(arr) < n else arr


def _array(raw: bytes | None, dtype: str, n: int) -> np.ndarray:
    arr = np.frombuffer(raw or b"", dtype=dtype)[:n].astype(np.int64)
    return np.pad(arr, (0, n - len(arr))) if len(arr) < n else arr


class FeatureStore:
    """Reads and writes the features of one model version (see the module docstring).

    client: a ``redis.asyncio.Redis`` (the service's) for `fetch` / `record_interactions`;
    sync_client: a blocking ``redis.Redis`` for `materialise` and the admin setters.
    """

    def __init__(self, version: str, n_items: int, client=None, sync_client=None, recent_n: int = RECENT_N) -> None:
        if not version or ":" in version:
            raise ValueError(f"version={version!r}: expected a non-empty model version without ':'")
        if recent_n < 1:
            raise ValueError(f"recent_n={recent_n!r}: expected a positive number of recent items to keep")
        self.version, self.n_items, self.recent_n = version, int(n_items), int(recent_n)
        self.client, self.sync_client = client, sync_client
        self.prefix = f"wb:{version}:"

    # --- keys -------------------------------------------------------------------
    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(map(str, parts))

    def user_keys(self, user_id: object) -> tuple[str, str]:
        return self.key("u", user_id, "recent"), self.key("u", user_id)

    # --- offline → online ---------------------------------------------------------
    def materialised(self) -> bool:
        """Whether this version's features are complete in Redis (the ``ready`` key is written last)."""
        return self.sync_client.get(self.key("ready")) is not None

    def mark_ready(self) -> None:
        """Open the store to requests (`fetch` refuses a store without the ``ready`` key)."""
        self.sync_client.set(self.key("ready"), str(time.time()))

    def materialise(self, train: Dataset, force: bool = False, ready: bool = True) -> dict[str, float]:
        """Write every user's and item's features from ``train`` (the model's training data).

        Skipped when this version is already materialised (online updates since then are kept),
        unless ``force``. The version's old keys go first, ``ready`` (`mark_ready`) last: leave it
        False to apply more (a replay of the event log) before requests may read. Returns what was
        written and how long it took.
        """
        if train.n_items != self.n_items:
            raise ValueError(f"train has {train.n_items} items but the store was made for {self.n_items}")
        if not force and self.materialised():
            return {"skipped": 1.0}
        t0 = time.perf_counter()
        r = self.sync_client
        stale = list(r.scan_iter(match=self.prefix + "*", count=10_000))
        for lo in range(0, len(stale), CHUNK):
            r.delete(*stale[lo : lo + CHUNK])
        inter = train.interactions.sort_values(["user", "timestamp", "item"], kind="stable")
        user_ids = train.users["user_id"].to_numpy()
        counts = np.bincount(inter["user"].to_numpy(), minlength=train.n_users)
        last_ts = inter.groupby("user")["timestamp"].max()
        recent = inter.groupby("user", sort=True).tail(self.recent_n)
        lists = recent.groupby("user")["item"].agg(lambda s: s.to_numpy()[::-1].tolist())
        pipe = r.pipeline(transaction=False)
        n_cmd = 0
        for row, items in lists.items():  # offline batch job: one list per user
            rkey, hkey = self.user_keys(user_ids[row])
            pipe.rpush(rkey, *items)
            pipe.hset(hkey, mapping={"n": int(counts[row]), "clicks": 0, "conversions": 0, "last_ts": int(last_ts[row])})
            n_cmd += 2
            if n_cmd >= CHUNK:
                pipe.execute()
                n_cmd = 0
        pipe.execute()
        items = train.items
        pipe.set(self.key("items", "popularity"), train.item_popularity.astype(">u4").tobytes())
        pipe.set(self.key("items", "available"), _bits(train.item_available))
        pipe.set(self.key("items", "promoted"), _bits(train.item_promoted))
        pipe.set(self.key("items", "release_ts"), items["release_ts"].to_numpy(np.int64).astype(">i8").tobytes())
        pipe.hset(self.key("meta"), mapping={"n_items": self.n_items, "n_users": train.n_users,
                                              "recent_n": self.recent_n, "materialised_at": time.time()})  # fmt: skip
        pipe.execute()
        if ready:
            self.mark_ready()
        return {"users": float(len(lists)), "items": float(self.n_items), "seconds": time.perf_counter() - t0}

    # --- the request path ---------------------------------------------------------
    async def fetch(self, user_id: object) -> Features:
        """Everything one request needs, in one round trip (a non-transactional pipeline)."""
        rkey, hkey = self.user_keys(user_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.lrange(rkey, 0, self.recent_n - 1)
        pipe.hmget(hkey, "n", "last_ts")
        for name in ("popularity", "available", "promoted", "release_ts"):
            pipe.get(self.key("items", name))
        pipe.exists(self.key("ready"))
        recent, (n, last), pop, avail, promo, release, ready = await pipe.execute()
        if not ready:
            raise NotMaterialised(f"feature store version {self.version!r} is not materialised (no {self.key('ready')})")
        n_items = self.n_items
        return Features(
            recent=np.array(recent, dtype=np.int64) if recent else np.zeros(0, np.int64),
            user_count=int(n or 0),
            last_ts=float(last) if last is not None else None,
            popularity=_array(pop, ">u4", n_items),
            available=_unbits(avail, n_items),
            promoted=_unbits(promo, n_items),
            release_ts=_array(release, ">i8", n_items),
        )

    async def record_interactions(self, frame: pd.DataFrame, invalidate: list[str] = ()) -> None:
        """Apply clicks/conversions (columns user_id, item_row, type, ts) and delete ``invalidate`` keys,
        in one round trip: recent lists, user counters and item popularity counters."""
        pipe = self.client.pipeline(transaction=False)
        self._queue_interactions(pipe, frame)
        if invalidate:
            pipe.delete(*invalidate)
        await pipe.execute()

    async def record_if_ready(self, frame: pd.DataFrame, invalidate: list[str] = ()) -> None:
        """`record_interactions`, only into a materialised store (NotMaterialised otherwise: a Redis that
        came back empty is rebuilt from the event log, which already holds these events)."""
        if not await self.client.exists(self.key("ready")):
            raise NotMaterialised(f"features of {self.version} are not materialised in Redis")
        await self.record_interactions(frame, invalidate)

    def replay(self, frame: pd.DataFrame) -> int:
        """`record_interactions` with the blocking client, in chunks (rebuilding the store from the event log)."""
        if not len(frame):
            return 0
        users = frame["user_id"].to_numpy()
        distinct = np.unique(users)
        pipe = self.sync_client.pipeline(transaction=False)
        for lo in range(0, len(distinct), 200):  # 200 whole users per round trip
            self._queue_interactions(pipe, frame[np.isin(users, distinct[lo : lo + 200])])
            pipe.execute()
        return len(frame)

    def _queue_interactions(self, pipe, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        frame = frame.sort_values("ts", kind="stable")
        for user_id, group in frame.groupby("user_id", sort=False):  # one user's commands at a time
            rkey, hkey = self.user_keys(user_id)
            pipe.lpush(rkey, *group["item_row"].tolist())  # LPUSH puts the last one first
            pipe.ltrim(rkey, 0, self.recent_n - 1)
            pipe.hincrby(hkey, "n", len(group))
            for kind, count in group["type"].value_counts().items():
                pipe.hincrby(hkey, f"{kind}s", int(count))
            pipe.hset(hkey, "last_ts", int(group["ts"].max()))
        per_item = frame["item_row"].value_counts()
        ops = [x for item, count in per_item.items() for x in ("INCRBY", "u32", f"#{int(item)}", int(count))]
        pipe.execute_command("BITFIELD", self.key("items", "popularity"), *ops)

    # --- admin (blocking): what an operator changes online --------------------------
    def set_available(self, items: np.ndarray | list[int] | int, value: bool) -> None:
        self._set_bits("available", items, value)

    def set_promoted(self, items: np.ndarray | list[int] | int, value: bool) -> None:
        self._set_bits("promoted", items, value)

    def _set_bits(self, name: str, items, value: bool) -> None:
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        bad = items[(items < 0) | (items >= self.n_items)]
        if bad.size:
            raise ValueError(f"item rows {bad[:5].tolist()}: expected rows in [0, {self.n_items - 1}]")
        pipe = self.sync_client.pipeline(transaction=False)
        for item in items.tolist():
            pipe.setbit(self.key("items", name), item, int(bool(value)))
        pipe.execute()
