"""A per-worker-process cache of what a sweep's tasks share: fitted pipelines, ranked candidates, study lists.

Both `workbench.sweep.tasks` (pipeline configs) and `workbench.sweep.studies` (simulation
studies) keep their expensive intermediate values here, so neither imports the other for it.
The cache holds the last `CACHE_SIZE` entries (least recently used dropped first), so a sweep
over many upstream configs does not fill a worker's memory. `count` keeps tallies (pipelines
loaded, stages 1-2 run) that tests and reports read with `cache_stats`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

CACHE_SIZE = 8
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.RLock()
_STATS: dict[str, int] = {"loads": 0, "ranks": 0}


def cached(key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per worker process for ``key`` (least recently used entries beyond `CACHE_SIZE` dropped)."""
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        value = make()
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


def count(name: str) -> None:
    """Add one to the tally ``name`` (``loads``: pipelines loaded; ``ranks``: stages 1-2 run)."""
    with _LOCK:
        _STATS[name] = _STATS.get(name, 0) + 1


def cache_stats() -> dict[str, int]:
    """How many pipelines this worker loaded and how many times it ran stages 1-2 (for tests and reports)."""
    with _LOCK:
        return dict(_STATS)
