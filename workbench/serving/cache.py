"""The response cache: the first stop of the request path, in Redis, with a TTL.

One hash per user (``wb:<version>:cache:<user_id>``), one field per request shape (``k`` and
the request context), each value the JSON answer that was served. The whole hash expires
``ttl_s`` seconds after its last write, and the service deletes it when the user's clicks or
conversions arrive (their history changed, so the answer would be stale): `key` is what the
event path invalidates.

Only full, undegraded answers are stored. A cached answer keeps its scores and propensities:
the exploration draw behind it was made once, from the same policy, so the logged propensities
still describe how that slate was chosen (a new ``request_id`` is issued for each serving).
"""

from __future__ import annotations


class ResponseCache:
    """Redis response cache of one model version; ``enabled`` False turns lookups and stores off."""

    def __init__(self, version: str, client=None, ttl_s: float = 60.0, enabled: bool = True) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s={ttl_s!r}: expected a positive number of seconds")
        self.version, self.client, self.ttl_s, self.enabled = version, client, float(ttl_s), bool(enabled)
        self.hits = self.misses = 0

    def key(self, user_id: object) -> str:
        return f"wb:{self.version}:cache:{user_id}"

    @staticmethod
    def field(k: int, context: tuple = ()) -> str:
        return ":".join(map(str, (k, *context)))

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    async def get(self, user_id: object, field: str) -> bytes | None:
        """The cached answer or None (one round trip: HGET); counts hits and misses."""
        raw = await self.client.hget(self.key(user_id), field)
        if raw is None:
            self.misses += 1
        else:
            self.hits += 1
        return raw

    async def put(self, user_id: object, field: str, body: bytes) -> None:
        """Store ``body`` and (re)start the TTL (one round trip: HSET + PEXPIRE in a pipeline)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.key(user_id), field, body)
        pipe.pexpire(self.key(user_id), int(self.ttl_s * 1000))
        await pipe.execute()
