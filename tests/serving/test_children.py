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
