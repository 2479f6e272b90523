"""Timed steps for the terminal: each step reports its wall time, and shows a spinner past one second.

`reporting` / `report`: a long fit deep in the code (a ranker's epochs) reports its progress to
whoever asked for it further up (``workbench train --notebooks``, a page's spinner) without every
function in between passing a callback: ``with reporting(say): ...`` routes `report` lines to ``say``
for the block; outside any such block `report` does nothing."""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

SPINNER = "|/-\\"
_REPORTER: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar("reporter", default=None)


@contextmanager
def reporting(say: Callable[[str], None]) -> Iterator[None]:
    """Route `report` lines to ``say`` inside the block."""
    token = _REPORTER.set(say)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def report(line: str) -> None:
    """One progress line to the innermost `reporting` block's ``say`` (nothing outside one)."""
    say = _REPORTER.get()
    if say is not None:
        say(line)


@contextmanager
def step(label: str, timings: dict[str, float] | None = None, stream: TextIO | None = None,
         after_s: float = 1.0) -> Iterator[None]:  # fmt: skip
    """Run a block as a named step; print ``label ... 1.23 s`` when it ends.

    If the step is still running after ``after_s`` seconds, a spinner (or, when the
    stream is not a terminal, one "still running" line) shows that it is alive.
    The wall time in seconds is stored in ``timings[label]`` when a dict is given.
    """
    out = stream or sys.stderr
    tty = getattr(out, "isatty", lambda: False)()
    done = threading.Event()

    def spin() -> None:
        if done.wait(after_s):
            return
        if not tty:
            out.write(f"  {label} ... still running\n")
            out.flush()
            return
        i = 0
        while not done.wait(0.1):
            out.write(f"\r  {label} ... {SPINNER[i % 4]} {time.perf_counter() - start:5.1f} s")
            out.flush()
            i += 1

    start = time.perf_counter()
    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        elapsed = time.perf_counter() - start
        if timings is not None:
            timings[label] = elapsed
        out.write(f"{chr(13) if tty else ''}  {label} ... {elapsed:.2f} s\n")
        out.flush()
