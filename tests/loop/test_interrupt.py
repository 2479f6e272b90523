"""An interrupted ``workbench loop`` leaves nothing behind: after ``kill -9`` (or SIGTERM) no process it started is alive 5 s
later (its children die with it, `workbench.serving.children`), and Ctrl-C (SIGINT) prints one line naming the last
finished day and that the same command resumes, with exit status 130 and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children…), read from /proc's parent links."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])  # field 4, after "(comm) state"
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, dead but not reaped by its parent, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def start_loop(tmp_path: Path, tiny_pipeline_toml: Path, days: int = 100_000) -> tuple[subprocess.Popen, Path]:
    """``workbench loop`` on the small world in a subprocess (stderr to a file), once it runs its days. The days are
    far more than it can live before the test's signal (about 50 ms a day here): 200 days once ended before it."""
    err = tmp_path / "stderr.txt"
    argv = [sys.executable, "-m", "workbench.cli", "loop", "--small", "--pipeline-config", str(tiny_pipeline_toml),
            "--state", str(tmp_path / "state"), "--retrain-every", "0", "--days", str(days), "--users", "50"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("WORKBENCH_REDIS_URL", None)  # the loop starts a redis-server of its own: the child to watch
    with open(err, "wb") as sink:  # the child keeps its own descriptor
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=sink, env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    while "day 2:" not in err.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the loop did not reach day 2 (status {proc.poll()}): {err.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc, err


def test_kill_9_leaves_no_process_behind(tmp_path, tiny_pipeline_toml, base):
    proc, _ = start_loop(tmp_path, tiny_pipeline_toml)
    children = descendants(proc.pid)
    names = {p: Path(f"/proc/{p}/comm").read_text().strip() for p in children if alive(p)}
    assert any("redis" in n for n in names.values()), f"expected the loop's redis-server among its children: {names}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(5)
    survivors = {p: names.get(p) for p in children if alive(p)}
    for p in survivors:  # clean up before failing (by PID, only what this test started)
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"still alive 5 s after kill -9 of the loop: {survivors}"


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, tiny_pipeline_toml, base):
    proc, err = start_loop(tmp_path, tiny_pipeline_toml)
    children = descendants(proc.pid)
    before = err.read_text()
    proc.send_signal(signal.SIGINT)
    try:
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # not stopped by Ctrl-C: stop it (its own session: only what this test started)
            os.killpg(proc.pid, signal.SIGKILL)
    assert status == 130
    added = err.read_text()[len(before) :].strip().splitlines()
    said = [line for line in added if not line.startswith("  day ")]  # a day that finished meanwhile says so
    assert len(said) == 1, added
    assert "Traceback" not in err.read_text() and "KeyboardInterrupt" not in err.read_text()
    done = int(said[0].split("after day ")[1].split()[0])
    assert done >= 2 and "run the same command again to resume" in said[0]
    time.sleep(1)
    assert not [p for p in children if alive(p)], "children outlived the interrupted loop"


def test_sigterm_stops_the_loop_and_its_children(tmp_path, tiny_pipeline_toml, base):
    proc, err = start_loop(tmp_path, tiny_pipeline_toml)
    children = descendants(proc.pid)
    assert children, "expected the loop's redis-server among its children"
    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert status == 128 + signal.SIGTERM and "Traceback" not in err.read_text()
    time.sleep(1)
    assert not [p for p in children if alive(p)], "children outlived the terminated loop"
