"""``workbench serve`` as a child process, and the crash test of the event log.

`ServeProcess` starts the command on 127.0.0.1 (a free port), waits until ``/healthz`` answers,
and stops it by its PID (the child also dies with this process, `workbench.children`): SIGTERM (uvicorn shuts down cleanly) or SIGKILL (a crash: nothing
runs after it, no buffer is flushed, no transaction is finished).

`kill_during_events` streams events at a running service from several threads, SIGKILLs the
process mid-stream, and reports which events had been acknowledged. `check_log` then compares
that with what the SQLite log holds: every acknowledged event must be there, none twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.children import child_options
from workbench.serving.redis_server import free_port


class ServeProcess:
    """``python -m workbench.cli serve ARGS --port P`` as a child process (see the module docstring).

    args: the serve options (``--data``, ``--config``, ``--event-log``…); env: extra environment
    (e.g. ``WORKBENCH_REDIS_URL`` so that the child does not start a Redis of its own, which a
    SIGKILL would orphan).
    """

    def __init__(self, args: list[str], env: dict[str, str] | None = None, port: int | None = None,
                 log_path: str | Path | None = None, start_timeout: float = 300.0) -> None:  # fmt: skip
        self.port = port or free_port()
        self.args = [sys.executable, "-m", "workbench.cli", "serve", *args, "--port", str(self.port)]
        self.env = {**os.environ, **(env or {})}
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout = start_timeout  # it may train the model first (the store has no artefact for this code)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the service process is not started")
        return self.process.pid

    def start(self, timeout: float | None = None) -> ServeProcess:
        """Start the process (unless running) and wait until /healthz answers (``timeout``: `start_timeout`)."""
        import httpx

        if self.process is not None and self.process.poll() is None:
            return self
        timeout = self.start_timeout if timeout is None else timeout
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                        **child_options())  # dies with this process (SIGKILL included)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path else ""
                raise RuntimeError(f"workbench serve exited with status {self.process.returncode} at start: {tail}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"workbench serve did not answer /healthz on {self.url} within {timeout} s")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL: the process ends at once, mid-whatever."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def event_batches(n_events: int, batch: int, users: list[int], items: list[int], tag: str = "e") -> list[list[dict]]:
    """``n_events`` distinct events in batches of ``batch``: per request id, impressions at positions
    1..batch (propensity 1/position) and a click on position 1 (so clicks also reach the feature store)."""
    out = []
    for b in range((n_events + batch - 1) // batch):
        n = min(batch, n_events - b * batch)
        user = users[b % len(users)]
        events = [{"type": "impression", "request_id": f"{tag}{b}", "position": p, "user": user,
                   "item": items[(b + p) % len(items)], "propensity": 1.0 / p} for p in range(1, n)]  # fmt: skip
        events.append({"type": "click", "request_id": f"{tag}{b}", "position": 1, "user": user, "item": items[b % len(items)]})
        out.append(events)
    return out


@dataclass
class CrashRun:
    """What the clients saw: the batches acknowledged (HTTP 200) and those sent without one (in flight
    at the kill: their events may or may not be in the log; a client would retry them)."""

    acked: list[int] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    sent: int = 0
    killed_at_s: float = 0.0


def kill_during_events(server: ServeProcess, batches: list[list[dict]], kill_after_acked: int, threads: int = 4,
                       timeout_s: float = 10.0) -> CrashRun:  # fmt: skip
    """Post ``batches`` from ``threads`` clients; SIGKILL the server once ``kill_after_acked`` batches were
    acknowledged (the clients keep posting until their requests fail)."""
    import httpx

    run, lock = CrashRun(), threading.Lock()
    killed = threading.Event()
    t0 = time.perf_counter()

    def client(start: int) -> None:
        with httpx.Client(base_url=server.url, timeout=timeout_s) as http:
            for b in range(start, len(batches), threads):
                if killed.is_set():  # the server is gone: stop sending
                    return
                with lock:
                    run.sent += 1
                try:
                    resp = http.post("/events", json={"events": batches[b]})
                    ok = resp.status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    (run.acked if ok else run.unanswered).append(b)
                    if ok and len(run.acked) >= kill_after_acked and not killed.is_set():
                        killed.set()
                        run.killed_at_s = time.perf_counter() - t0
                        server.kill()

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return run


def check_log(log: pd.DataFrame, batches: list[list[dict]], acked: list[int]) -> dict[str, int]:
    """Compare the logged events with the acknowledged batches: ``lost`` acknowledged events missing from
    the log, ``duplicates`` keys logged more than once, ``logged`` rows in all."""
    keys = list(zip(log["request_id"], log["position"].astype(int), log["event_type"]))
    logged = set(keys)
    wanted = {(e["request_id"], e["position"], e["type"]) for b in acked for e in batches[b]}
    return {"acknowledged": len(wanted), "lost": len(wanted - logged), "duplicates": len(keys) - len(logged),
            "logged": len(keys)}  # fmt: skip
