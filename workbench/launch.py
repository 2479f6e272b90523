"""``make run``: serve the notebooks at once and train their pipelines alongside.

`serve` checks the port first (a busy one gets one clear line and exit status 2, before anything is
announced), starts marimo's server, announces the address once it answers, and only then starts
``workbench train --notebooks`` in a second process whose progress lines (artefact k of N, the phase,
the ranker's epochs, an estimate of the time left, a line at least every 15 s) go to this terminal.
A page that needs a pipeline still in training says so on its spinner and fills itself in when the
artefact is stored (the store's lock, `workbench.store.lock`, keeps the two from training it twice).

Both children are stopped with this process: Ctrl-C or SIGTERM stops them and ends with one line and
no traceback; on Linux each child also gets SIGTERM should this process die (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import errno
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
PR_SET_PDEATHSIG = 1


def port_problem(port: int, host: str = HOST) -> str | None:
    """Why ``port`` cannot be served on ``host`` (one line), or None when it is free."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another `make run`?): stop that server, or pick "
                        f"another port: make run PORT={port + 1}")  # fmt: skip
            return f"port {port} on {host} cannot be used: {exc.strerror}"
    return None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux), and its own process group so that
    a terminal's Ctrl-C reaches only the parent, which stops the children in order."""
    import os

    os.setpgrp()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def _stop(procs: Sequence[subprocess.Popen], timeout_s: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def serve(server_cmd: Sequence[str], port: int, url: str, train_cmd: Sequence[str] | None = None,
          on_served: Callable[[], None] | None = None, say: Callable[[str], None] | None = None,
          wait_s: float = 120.0) -> int:  # fmt: skip
    """Serve (``server_cmd``, which listens on ``port``), announce ``url`` once it answers, then run
    ``train_cmd`` alongside; returns the server's exit status (130 after Ctrl-C, 2 for a busy port)."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    problem = port_problem(port)
    if problem:
        say(f"workbench notebooks: error: {problem}")
        return 2

    def interrupted(signum, frame):  # SIGTERM as Ctrl-C: one path out
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    procs: list[subprocess.Popen] = []
    t0 = time.monotonic()
    try:
        server = subprocess.Popen(list(server_cmd), preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads yet
        procs.append(server)
        while not _answers(url):
            if server.poll() is not None:
                say(f"workbench notebooks: error: the notebook server stopped (exit status {server.returncode}) "
                    "before serving; its messages are above")  # fmt: skip
                return server.returncode or 1
            if time.monotonic() - t0 > wait_s:
                say(f"workbench notebooks: error: the notebook server did not answer {url} within {wait_s:.0f} s")
                return 1
            time.sleep(0.2)
        say(f"The workbench is served at {url} ({time.monotonic() - t0:.1f} s after start; Ctrl-C stops it).")
        if on_served:
            on_served()
        trainer = None
        if train_cmd:
            say("Training the notebooks' pipelines in the background (a page that needs one still in training "
                "says so and fills itself in when it is stored); progress follows:")  # fmt: skip
            trainer = subprocess.Popen(list(train_cmd), preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads here
            procs.append(trainer)
        while server.poll() is None:
            if trainer is not None and trainer.poll() is not None:
                say("Background training: every pipeline is stored; every page opens without training."
                    if trainer.returncode == 0 else
                    f"Background training stopped with exit status {trainer.returncode} (its messages are above); "
                    "pages train what they need when opened.")  # fmt: skip
                trainer = None
            time.sleep(0.5)
        return server.returncode
    except KeyboardInterrupt:
        # a second signal while stopping (make forwards SIGTERM to its child that the process group got too) waits
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("Stopping the workbench (notebook server and background training) ...")
        _stop(procs)
        signal.signal(signal.SIGINT, previous_int)
        return 130
    finally:
        _stop(procs)
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Finished:
    """One command of `run_at_once` that ended: its exit status, seconds, and the tail of its stderr."""

    status: int
    seconds: float
    err: str


def run_at_once(commands: Sequence[Sequence[str]], jobs: int, *, cwd: str | None = None, timeout_s: float = 1800.0,
                on_start: Callable[[int], None] | None = None, on_done: Callable[[int, Finished], None] | None = None,
                on_wait: Callable[[int, float], None] | None = None, poll_s: float = 0.2) -> list[Finished]:  # fmt: skip
    """Run ``commands``, at most ``jobs`` at once, started in their order, all from this thread; returns each one's
    `Finished` in the order given. ``on_start(i)`` before command ``i`` starts, ``on_done(i, finished)`` when it ends
    (in this thread, while the others run on), ``on_wait(i, seconds)`` on every poll while it runs. A command that
    runs past ``timeout_s`` is killed. Each child is stopped with this process (`_die_with_parent`; Ctrl-C or an
    exception here stops the running ones before it propagates). stdout goes nowhere; stderr's tail is kept."""
    import tempfile

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r}: expected a positive integer (commands at once)")
    out: list[Finished | None] = [None] * len(commands)
    running: dict[int, tuple[subprocess.Popen, float, Any]] = {}
    todo = list(range(len(commands)))
    try:
        while todo or running:
            while todo and len(running) < jobs:
                i = todo.pop(0)
                if on_start:
                    on_start(i)
                err = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
                proc = subprocess.Popen(list(commands[i]), cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
                                        preexec_fn=_die_with_parent)  # noqa: PLW1509 - started from this thread only
                running[i] = (proc, time.monotonic(), err)
            time.sleep(poll_s)
            for i, (proc, t0, err) in list(running.items()):
                took = time.monotonic() - t0
                if proc.poll() is None and took > timeout_s:
                    proc.kill()
                    proc.wait()
                if proc.poll() is None:
                    if on_wait:
                        on_wait(i, took)
                    continue
                del running[i]
                err.seek(0)
                out[i] = Finished(proc.returncode, took, err.read()[-3000:])
                err.close()
                if on_done:
                    on_done(i, out[i])
    finally:
        _stop([proc for proc, _, _ in running.values()])
        for _, _, err in running.values():
            err.close()
    return out  # type: ignore[return-value]
