"""What this process has already loaded: data sets and stored pipelines, kept in memory for the next caller.

Why: ``make run`` serves the notebooks with marimo in run mode, where every visit of a page gets a fresh
kernel, and every kernel is a thread of the one server process (marimo's ``KernelManager`` starts threads in
run mode). A cell's ``mo.cache`` lives as long as its kernel, so without this each visit of each page drew the
synthetic world again and read its artefacts from disk again (about a second per artefact, five on page 03).
Here a second visit, or another page that needs the same data or artefact, gets the copy in memory.

- `remember(kind, key, make)`: the value ``make()`` returned for ``key`` earlier in this process, else
  ``make()`` now (once: a second thread asking for the same key meanwhile waits for the first). At most
  ``LIMIT[kind]`` values of a kind are kept, the least recently used dropped first.
- `folder_state(folder)`: what an artefact folder holds, as every file's name, size, modification time and
  inode: the key of a loaded artefact, so that a folder replaced or changed on disk (a retrain, a damaged
  file) is read again, and checked again, rather than served from memory.

What is kept is shared by its callers: they must not change it in place (the store hands each caller its
own shallow copy of a pipeline, so that setting its ``config`` touches no other caller's). Same seed,
same numbers: a value is only ever what ``make()`` returned for the same key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
LIMIT = {"dataset": 4, "pipeline": 8, "kept": 8, "card": 16, "persisted": 32}  # the notebooks load 6 pipelines on one data set (workbench.lessons.kit.pipelines);
# "kept": the pages' simulated worlds (workbench.lessons.results.kept: 06, 07, 10); "card": the data cards
# (workbench.lessons.kit.data_card_for: a few hundred bytes each); "persisted": the studies of
# workbench.lessons.results.persisted (page 11's nine, one per control position), apart from the worlds

_kept: dict[str, OrderedDict[Hashable, Any]] = {kind: OrderedDict() for kind in LIMIT}
_guard = threading.Lock()
_making: dict[tuple[str, Hashable], threading.Lock] = {}


def remember(kind: str, key: Hashable, make: Callable[[], T]) -> T:
    """``make()``'s value for ``key``, made at most once in this process while it stays among the kind's last
    ``LIMIT[kind]``; an exception from ``make`` is raised and nothing is kept."""
    if kind not in LIMIT:
        raise ValueError(f"memo kind {kind!r}: expected one of {sorted(LIMIT)}")
    kept = _kept[kind]
    with _guard:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
        lock = _making.setdefault((kind, key), threading.Lock())
    with lock:  # one maker per key; the others wait and take its value
        with _guard:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        try:
            value = make()
            with _guard:
                kept[key] = value
                while len(kept) > LIMIT[kind]:
                    kept.popitem(last=False)
        finally:
            with _guard:
                _making.pop((kind, key), None)
        return value


def forget() -> None:
    """Drop everything kept (tests; a process that wants its memory back)."""
    with _guard:
        for kept in _kept.values():
            kept.clear()


def folder_state(folder: str | Path) -> tuple[tuple[str, int, int, int], ...]:
    """Every file under ``folder``: (relative path, size, modification time in ns, inode), sorted."""
    folder = Path(folder)
    out = []
    for p in folder.rglob("*"):
        st = p.stat()
        if p.is_file():
            out.append((str(p.relative_to(folder)), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(out))
