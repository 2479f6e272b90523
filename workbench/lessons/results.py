"""Where a page's computed results persist across processes and restarts (marimo's ``mo.persistent_cache``).

A page caches what it computes (a frontier, a simulation, a study) with
``@mo.persistent_cache(save_path=results.folder())`` on a function whose arguments name everything the
result depends on: the artefact key of the pipeline it reads (data, seed, world size, config and the
fitting code, `workbench.store`), the page's settings (the sliders' values), and `code` — a digest of
the source of the workbench modules that compute it — so that a code change computes afresh. marimo adds
the cell's own code to the key. The folder is ``data/page-results/`` (git-ignored), or
``$WORKBENCH_PAGE_RESULTS``.

`precompute` fills the folder before a learner visits: it runs each page that persists results as a script
(``python notebooks/NN_name.py --data ...``: the same cells, the same keys as the served page at its
sliders' starting positions), in the order of the learning path, with a progress line per page and at least
every ``heartbeat_s`` while one runs (``workbench train --notebooks`` and ``make run`` call it once the
artefacts are stored).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
NOTEBOOKS = PACKAGE.parent / "notebooks"
RESULTS_ENV = "WORKBENCH_PAGE_RESULTS"
MARK = "results.folder()"  # a page that persists what it computes names the folder
HEARTBEAT_S = 15.0


def folder() -> str:
    """The folder of the pages' persisted results."""
    return str(Path(os.environ.get(RESULTS_ENV) or PACKAGE.parent / "data" / "page-results"))


@functools.cache
def code(*parts: str) -> str:
    """Digest of the source of ``parts`` (paths under ``workbench/``: a package folder or a module file)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        target = PACKAGE / part
        if not target.exists():
            raise ValueError(f"results.code: {part!r} is not a module or package under {PACKAGE}")
        for f in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            h.update(str(f.relative_to(PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def pages() -> list[Path]:
    """The pages that persist what they compute (they name `folder`), in the order of the learning path."""
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")) if MARK in p.read_text()]


def precompute(cli: Sequence[str], say: Callable[[str], None] = print, only: Sequence[str] | None = None,
               heartbeat_s: float = HEARTBEAT_S, timeout_s: float = 1800.0) -> list[tuple[str, float, int]]:
    """Run every page of `pages` (or those named in ``only``) once as a script with the notebook arguments
    ``cli`` (`workbench.lessons.kit.NotebookSettings.cli`), so that its results are on disk before a learner
    opens it; returns (page, seconds, exit status) per page. A page that fails is reported and skipped (its
    served page computes afresh). Each script is stopped with this process (SIGTERM, Ctrl-C, its death)."""
    from workbench.launch import _die_with_parent

    todo = [p for p in pages() if only is None or p.name in only]
    out = []
    for k, page in enumerate(todo, 1):
        tag = f"[page {k} of {len(todo)}, {page.stem}]"
        say(f"{tag} computing its results (kept in {folder()})")
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(page), *cli], cwd=NOTEBOOKS.parent, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)  # fmt: skip
        try:
            said = t0
            while True:
                try:
                    _, err = proc.communicate(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    now = time.monotonic()
                    if now - t0 > timeout_s:
                        proc.kill()
                        _, err = proc.communicate()
                        break
                    if now - said >= heartbeat_s:
                        said = now
                        say(f"{tag} still computing ({now - t0:.0f} s so far)")
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        took = time.monotonic() - t0
        if proc.returncode == 0:
            say(f"{tag} done in {took:.0f} s")
        else:
            last = (err or "").strip().splitlines()[-1:] or ["no message"]
            say(f"{tag} failed (exit status {proc.returncode}) after {took:.0f} s: {last[0]}; the page computes it when opened")
        out.append((page.name, took, proc.returncode))
    return out
