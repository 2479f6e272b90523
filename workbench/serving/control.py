"""Talking to a running ``workbench serve --replicas N``: ``workbench promote`` and ``workbench rollback``.

    workbench serve --replicas 2 --port 8000 &          # writes its state file, listens for SIGUSR1
    workbench promote --port 8000 --model models/KEY     # every replica switched to that artefact
    workbench rollback --port 8000                       # ... and back to the version before, one command

The serving command (the parent of the replicas, `workbench.serving.replicas`) keeps a small JSON
state file, ``state_path(port)``: its PID, the replicas' ports, the model it serves, the models it
served before (the rollback history) and the last switch. A command that wants a switch writes a
request file next to it and sends the parent ``SIGUSR1``; the parent runs the switch
(`workbench.serving.rollout.Rollout`: one replica at a time, the gateway sending requests to the
others meanwhile, so no request fails) and writes the outcome into the state file, which the command
waits for. Files in ``$WORKBENCH_RUN_DIR`` (default: the system's temporary folder), one per
gateway port; the parent removes its file when it stops.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path

ENV_RUN_DIR = "WORKBENCH_RUN_DIR"


def state_path(port: int) -> Path:
    """The state file of the ``workbench serve --replicas`` whose gateway listens on ``port``."""
    return Path(os.environ.get(ENV_RUN_DIR) or tempfile.gettempdir()) / f"workbench-serve-{int(port)}.json"


def request_path(port: int) -> Path:
    return state_path(port).with_suffix(".request.json")


def write_json(path: Path, data: dict) -> None:
    """Atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def read_state(port: int) -> dict:
    path = state_path(port)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RuntimeError(f"no `workbench serve --replicas` runs with its gateway on port {port} "
                           f"(no state file {path})") from None  # fmt: skip


def ask(port: int, action: str, model: str | None = None, timeout: float = 600.0) -> dict:
    """Ask the serving parent on gateway ``port`` to ``promote`` (to the artefact folder ``model``) or
    ``rollback``; waits for the switch and returns its outcome (``{"ok", "version", "seconds", ...}``).
    RuntimeError when the parent is gone, refuses, or does not answer within ``timeout`` seconds."""
    if action not in ("promote", "rollback"):
        raise ValueError(f"action={action!r}: expected 'promote' or 'rollback'")
    state = read_state(port)
    pid = int(state["pid"])
    rid = uuid.uuid4().hex
    write_json(request_path(port), {"id": rid, "action": action, "model": model})
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise RuntimeError(f"the serving process {pid} (state file {state_path(port)}) is not running") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            last = json.loads(state_path(port).read_text()).get("last") or {}
        except (FileNotFoundError, json.JSONDecodeError):
            raise RuntimeError(f"the serving process {pid} stopped before answering the {action}") from None
        if last.get("id") == rid:
            if not last.get("ok"):
                raise RuntimeError(f"{action} refused: {last.get('error')}")
            return last
        time.sleep(0.1)
    raise RuntimeError(f"{action}: no answer from the serving process {pid} within {timeout} s")
