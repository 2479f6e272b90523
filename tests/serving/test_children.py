"""`wait_ready`, the start-and-wait loop redis-server, nginx and prometheus share: a child that exits at
start fails at once with what it said; one that never gets ready fails at the timeout."""

from __future__ import annotations

import subprocess
import time

import pytest

from workbench.serving.children import stop_pid, wait_ready


def test_a_child_that_exits_at_start_fails_at_once_with_its_stderr():
    proc = subprocess.Popen(["sh", "-c", "echo 'bad config line 3' >&2; exit 3"], stderr=subprocess.PIPE)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"thing on port 1 exited at start \(status 3\): bad config line 3"):
        wait_ready(proc, lambda: False, 30.0, "thing on port 1")
    assert time.monotonic() - t0 < 20  # not the 30 s timeout


def test_a_child_never_ready_fails_at_the_timeout_and_a_ready_one_returns(tmp_path):
    proc = subprocess.Popen(["sleep", "30"], stderr=subprocess.PIPE)
    try:
        with pytest.raises(RuntimeError, match=r"sleeper was not ready within 0.3 s"):
            wait_ready(proc, lambda: False, 0.3, "sleeper")
        calls = []
        wait_ready(proc, lambda: calls.append(1) or len(calls) == 3, 30.0, "sleeper")
        assert len(calls) == 3 and proc.poll() is None
    finally:
        stop_pid(proc)
    log = tmp_path / "child.log"
    log.write_text("listen: address already in use\n")
    quiet = subprocess.Popen(["sh", "-c", "exit 1"])
    with pytest.raises(RuntimeError, match="address already in use"):
        wait_ready(quiet, lambda: False, 30.0, "logger", log=log)


TIED_FROM_A_THREAD = """
import sys, threading, time
from workbench.serving.redis_server import RedisServer

started = {}
def start():  # a short-lived thread, as a notebook cell or a server's worker would be
    started["redis"] = RedisServer(die_with_parent=True).start()
worker = threading.Thread(target=start)
worker.start()
worker.join()
print(started["redis"].process.pid, flush=True)
time.sleep(120)
"""


def test_redis_started_from_a_thread_outlives_the_thread_and_dies_with_the_process():
    """PR_SET_PDEATHSIG follows the thread that forked: a Redis started from a cell's thread must not die
    when that thread ends, and must die when its process is killed with SIGKILL (no atexit runs)."""
    import signal
    import sys

    from workbench.serving.children import alive

    proc = subprocess.Popen([sys.executable, "-c", TIED_FROM_A_THREAD], stdout=subprocess.PIPE, text=True)
    try:
        redis_pid = int(proc.stdout.readline())
        time.sleep(1.0)
        assert alive(redis_pid), "Redis died with the short-lived thread that started it"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while alive(redis_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(redis_pid), "Redis outlived the SIGKILLed process that started it"
    finally:
        if proc.poll() is None:
            proc.kill()
