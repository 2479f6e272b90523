"""The served recommender: the pipeline behind HTTP, with an online feature store, a cache and an event log.

    cache check → feature fetch (Redis) → candidates → ranking → reranking → response → log

- `redis_server`: Debian's redis-server started on 127.0.0.1 (or ``WORKBENCH_REDIS_URL``).
- `feature_store`: per-user and per-item features in Redis, materialised from the offline data,
  versioned with the model, read in one round trip.
- `cache`: the Redis response cache (TTL, invalidated by the user's events).
- `eventlog`: SQLite (WAL, synchronous=FULL), one group-committing writer, idempotent events.
- `service`: the request path, its timings and degradation; `app`: FastAPI endpoints and input checks.
- `loadtest`: an open-loop load generator and the textbook's latency-budget table.
- `model`: the served pipeline from the model store, with its version; `process`: ``workbench serve``
  as a child process stopped by its PID (and the event log's crash test).

``workbench serve`` / ``workbench loadtest`` run them from a terminal (`workbench.serving.cli`).
"""
