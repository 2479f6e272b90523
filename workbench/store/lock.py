"""One trainer per artefact: a file lock per key, so that a page and ``make run``'s background training
never fit the same pipeline twice at once.

`training` holds ``<store>/.locks/<key>.lock`` (``flock``; the kernel drops it when its holder dies, so a
killed trainer leaves no stale lock). A second process that wants the same artefact waits, saying every
few seconds that it is being trained elsewhere, for how long, and about how long remains; once the lock
is free it loads what the other process stored (`ModelStore.load_or_train` checks again under the lock).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SAY_EVERY_S = 5.0


@contextmanager
def training(root: Path, key: str, say: Callable[[str], None], expected_s: float | None = None,
             poll_s: float = 0.5) -> Iterator[bool]:  # fmt: skip
    """Hold the training lock of ``key``; yields whether another process held it first (then the
    caller should look for the artefact that process stored before training one itself)."""
    folder = Path(root) / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        waited = False
        t0 = last = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if not waited or now - last >= SAY_EVERY_S:
                    held = time.time() - os.stat(path).st_mtime  # the lock file's age: wall clock, like its mtime
                    left = (f"; about {max(expected_s - held, 0):.0f} s left, going by the last fit here"
                            if expected_s else "")  # fmt: skip
                    say(f"artefact {key} is being trained by another process (make run's background training, "
                        f"or another page), started {held:.0f} s ago{left}; waiting for it, not training it twice")
                    last = now
                waited = True
                time.sleep(poll_s)
        os.utime(path)  # the lock's age: when this holder started
        if waited:
            say(f"artefact {key}: the other process finished after {time.monotonic() - t0:.0f} s of waiting")
        yield waited
    finally:
        os.close(fd)  # releases the lock
