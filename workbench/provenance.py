"""Provenance: what a reader needs to re-run a page or an artefact and get the same numbers.

The commit (``+dirty`` when the tree differs), package versions, CPU thread settings, and a notebook's
provenance record (data, seed, command, config). A foundation module: the model store, the sweep
runner, the notebook kit and the reports all stamp with it, and it imports nothing of ``workbench``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recsys-workbench", "numpy", "scipy", "pandas", "torch", "faiss-cpu", "implicit", "lightgbm", "marimo", "altair",
            "vl-convert-python")  # fmt: skip


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each package ('absent' when not installed)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit(root: Path = ROOT) -> str:
    """The working tree's commit (with ``+dirty`` when files differ from it), or 'unknown'."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def thread_settings() -> dict[str, Any]:
    """CPU threads in use: trained models' float sums (BLAS, torch) can differ in the last digits
    between thread counts, so a report records them."""
    out: dict[str, Any] = {"cpus": os.cpu_count()}
    out |= {v: os.environ[v] for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if v in os.environ}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


def provenance(settings: Mapping[str, Any], config: Any = None, notebook: str | None = None,
               command: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything a reader needs to re-run a notebook (or ``command``) and get the same numbers.

    ``settings``: a plain mapping with ``data``, ``seed``, ``small`` and ``cli`` (the arguments that
    reproduce them), such as `workbench.lessons.kit.NotebookSettings.record`."""
    if command is None:
        # shell-quoted: a file reference (``path?columns=...&items=...``) holds ? and &
        command = " ".join(["python " + (f"notebooks/{notebook}" if notebook else "notebooks/<notebook>.py"),
                            *map(shlex.quote, settings["cli"])])  # fmt: skip
    return {
        "notebook": notebook,
        "data": settings["data"],
        "seed": settings["seed"],
        "small": settings["small"],
        "command": command,
        "config": _plain(config),
        "commit": git_commit(),
        "versions": package_versions(),
        "threads": thread_settings(),
    }


def provenance_markdown(prov: Mapping[str, Any]) -> str:
    """A compact Markdown block for the foot of a notebook."""
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v != "absent")
    config = json.dumps(prov["config"], sort_keys=True) if prov["config"] is not None else "defaults"
    return (
        f"**Reproduce:** `{prov['command']}` · data **{prov['data']}** · seed **{prov['seed']}**"
        f"{' · small world' if prov['small'] else ''} · commit `{prov['commit']}`\n\n"
        f"<small>config: `{config}`<br>versions: {versions}<br>threads: {prov['threads']}</small>"
    )
