"""Child processes that end with the process that started them, even when it is SIGKILLed.

    subprocess.Popen(args, **child_options())

`child_options` gives ``subprocess.Popen`` keyword arguments that make a child

- **die with its parent**: on Linux the child asks the kernel (``prctl(PR_SET_PDEATHSIG)``) for
  SIGTERM when its parent dies, however it dies (SIGKILL included, which no handler of the parent
  can catch). Debian's redis-server and uvicorn both shut down on SIGTERM. A child that the parent
  outlived by a race (the parent died between ``fork`` and the ``prctl``) exits at once. The
  kernel sends the signal when the *thread* that started the child ends, so start children from a
  thread that lives as long as they should (the main thread, as every caller here does);
- **stay out of the terminal's Ctrl-C**: the child runs in a session of its own, so the SIGINT that
  the terminal sends to its foreground process group reaches the parent only, which stops its
  children in order (by PID) instead of having them vanish under it mid-request.

Elsewhere than Linux only the second holds (there is no portable parent-death signal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()  # resolved here, in the parent: the child between fork and exec only calls it


def death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks for ``sig`` when the parent dies (None where the platform has no such call)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    prctl = _PRCTL

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl: nobody will signal us
            os._exit(1)

    return preexec


def child_options(sig: int = signal.SIGTERM) -> dict[str, Any]:
    """``Popen`` keyword arguments for a child that dies with this process and ignores the terminal's Ctrl-C."""
    preexec = death_signal(sig)
    return {"start_new_session": True, **({"preexec_fn": preexec} if preexec is not None else {})}
