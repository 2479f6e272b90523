"""`workbench.launch.serve` (what `make run` runs) with real processes: a busy port gets one clear line
before anything is announced; the server is announced before the background training starts; SIGTERM
stops both children, with one line and no traceback."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench import cli
from workbench.launch import port_problem

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_busy_port_gets_one_clear_line_and_nothing_is_served(capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert cli.main(["notebooks", "--port", str(port), "--headless", "--train"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"port {port} on 127.0.0.1 is already in use" in err[0] and f"PORT={port + 1}" in err[0]
    assert port_problem(port) is None  # released: free again


def test_bad_port_is_refused_before_any_work(capsys):
    assert cli.main(["notebooks", "--port", "70000", "--headless"]) == 2
    assert "70000" in capsys.readouterr().err


SCRIPT = """
import sys
from workbench.launch import serve
port, marker = int(sys.argv[1]), sys.argv[2]
server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
trainer = [sys.executable, "-c", f"import time; open({marker!r}, 'w').write('started'); time.sleep(60)"]
sys.exit(serve(server, port, f"http://127.0.0.1:{port}/", trainer))
"""


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def test_serves_first_then_trains_and_stops_both_on_sigterm(tmp_path):
    port, marker = _free_port(), tmp_path / "trainer-started"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port), str(marker)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), "the background trainer never started"
    children = _children(proc.pid)
    assert len(children) == 2  # the server and the trainer
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    lines = out.strip().splitlines()
    served = next(i for i, line in enumerate(lines) if line.startswith("The workbench is served at"))
    training = next(i for i, line in enumerate(lines) if line.startswith("Training the notebooks' pipelines"))
    assert served < training  # announced as served before the training starts
    assert "Traceback" not in out and lines[-1].startswith("Stopping the workbench")
    time.sleep(0.5)
    assert all(not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
               for pid in children), "a child outlived the launcher"  # fmt: skip


def test_run_at_once_keeps_to_jobs_and_reports_in_the_order_given(tmp_path):
    """Three commands, two at once: never more than two alive (each records its start and end in a file), every
    status, stderr tail and order as given; one past its timeout is killed."""
    from workbench.launch import run_at_once

    log = tmp_path / "log"
    script = ("import sys, time, pathlib; p = pathlib.Path(sys.argv[1]); n = sys.argv[2]; t = time.time()\n"
              "p.open('a').write(f'start {n}\\n')\n"
              "while p.read_text().count('start') < 2 and time.time() - t < 5: time.sleep(0.05)\n"  # until another starts
              "time.sleep(float(sys.argv[3])); p.open('a').write(f'end {n}\\n'); sys.stderr.write(f'bye {n}'); "
              "sys.exit(int(sys.argv[4]))")  # fmt: skip
    cmds = [[sys.executable, "-c", script, str(log), str(n), "0.2", str(code)] for n, code in ((0, 0), (1, 3), (2, 0))]
    started, ended = [], []
    out = run_at_once(cmds, 2, on_start=started.append, on_done=lambda i, f: ended.append(i))
    assert [f.status for f in out] == [0, 3, 0] and [f.err for f in out] == ["bye 0", "bye 1", "bye 2"]
    assert started == [0, 1, 2] and sorted(ended) == [0, 1, 2]
    alive, most = 0, 0
    for line in log.read_text().split("\n")[:-1]:
        alive += 1 if line.startswith("start") else -1
        most = max(most, alive)
    assert most == 2  # two ran together, never three
    [slow] = run_at_once([[sys.executable, "-c", "import time; time.sleep(30)"]], 1, timeout_s=0.5)
    assert slow.status != 0 and slow.seconds < 10
    with pytest.raises(ValueError, match=r"jobs=0: expected a positive integer"):
        run_at_once(cmds, 0)
