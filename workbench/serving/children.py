"""Child processes the project starts (redis-server, nginx, prometheus, service replicas): tied to their parent.

- `die_with_parent` is a ``preexec_fn`` that asks Linux to send the child SIGTERM when the thread
  that started it ends (``prctl(PR_SET_PDEATHSIG)``): a parent killed with SIGKILL, which runs no
  cleanup, still leaves no orphan. The signal follows the starting *thread*, so `popen_tied` starts
  a child from the main thread, or from one keeper thread that lives as long as the process when
  asked from any other (a notebook's cell, a server's worker): the child then dies with the process,
  not with the short-lived thread that asked for it.
- `stop_pid` stops one process by its PID: SIGTERM, then SIGKILL after a grace period.
- `sigterm_exits` turns SIGTERM into ``SystemExit(143)`` (and SIGINT into KeyboardInterrupt) so that ``finally`` blocks (the cleanup
  of a command) run; uvicorn, which re-raises the signal it caught once it has shut down, then
  ends in that exception instead of in the default handler's immediate death.
- `alive` and `children` read /proc (a zombie counts as dead: it runs nothing).
- `wait_ready` waits until a just-started child answers (redis-server, nginx, prometheus): it fails
  at once, with the child's stderr or log, when the child exits, and after a timeout otherwise.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn``: SIGTERM this child when its parent (thread) dies (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


_KEEPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-child-keeper")


def popen_tied(args: list[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(args, **kwargs)`` whose child gets SIGTERM when this process dies (SIGKILL
    included): started from the main thread, or else from the keeper thread, which lives as long as
    the process."""
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(args, preexec_fn=die_with_parent, **kwargs)
    return _KEEPER.submit(subprocess.Popen, args, preexec_fn=die_with_parent, **kwargs).result()


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    """PIDs of the direct children of ``pid`` (all its threads'), from /proc."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return sorted(set(out))


def stop_pid(proc: subprocess.Popen, timeout: float = 5.0) -> int | None:
    """SIGTERM ``proc`` (by its PID), SIGKILL after ``timeout`` seconds; returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


def _exit_143(signum, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def sigterm_exits() -> None:
    """From now on SIGTERM raises ``SystemExit(143)`` and SIGINT ``KeyboardInterrupt`` in the main thread
    (so ``finally`` blocks run; SIGINT too, even where the shell started the command with it ignored)."""
    signal.signal(signal.SIGTERM, _exit_143)
    signal.signal(signal.SIGINT, signal.default_int_handler)



def wait_ready(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float, what: str,
               log: Path | None = None, poll_s: float = 0.02) -> None:  # fmt: skip
    """Poll ``ready()`` every ``poll_s`` seconds until it is true. RuntimeError, naming ``what``, when
    ``proc`` exits first (with its stderr, or the tail of ``log``) or after ``timeout`` seconds; the
    caller stops the child and cleans up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{what} exited at start (status {proc.returncode}): {err or tail}")
        if ready():
            return
        time.sleep(poll_s)
    raise RuntimeError(f"{what} was not ready within {timeout} s")
