"""Where a page's computed results persist across processes and restarts (marimo's ``mo.persistent_cache``).

A page caches what it computes (a frontier, a simulation, a study) with
``@mo.persistent_cache(save_path=results.folder())`` on a function whose arguments name everything the
result depends on: the artefact key of the pipeline it reads (data, seed, world size, config and the
fitting code, `workbench.store`), the page's settings (the sliders' values), and `code` — a digest of
the source of the workbench modules that compute it — so that a code change computes afresh. marimo adds
the cell's own code to the key. The folder is ``data/page-results/`` (git-ignored), or
``$WORKBENCH_PAGE_RESULTS``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
RESULTS_ENV = "WORKBENCH_PAGE_RESULTS"


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
