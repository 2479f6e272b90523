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
sliders' starting positions), one per CPU at once (the slowest first), with a progress line per page and at
least every ``heartbeat_s`` while one runs (``workbench train --notebooks`` and ``make run`` call it once the
artefacts are stored).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PACKAGE = Path(__file__).resolve().parents[1]
NOTEBOOKS = PACKAGE.parent / "notebooks"
RESULTS_ENV = "WORKBENCH_PAGE_RESULTS"
MARK = "results.folder()"  # a page that persists what it computes names the folder
KEPT_MARK = "results.kept("  # or keeps it with `kept` (a page that has nothing for marimo's cache: 02)
MARKS = (MARK, KEPT_MARK, "results.persisted(")  # or uses `persisted` (11)
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


def kept(name: str, key: tuple, make: Callable[[], T], kind: str = "kept") -> T:
    """``make()``'s value kept on disk (``folder()/kept/<name>/<digest of key>.pickle``) and in this process's
    memory (`workbench.store.memo`), for an object that other persisted results close over (a page's simulated world).

    Why not marimo's cache for such an object: marimo keys a persisted function that refers to a variable
    by how the cell defining that variable ran, and a cell in which a marimo cache call (``mo.cache``,
    ``mo.persistent_cache``) computed gives its dependents another key than the same cell in which the call
    read its value back (marimo 0.25). A page run as a script on an empty folder (`precompute`) then stored
    its studies under keys that the served page, which reads the world back, never asked for (page 06
    computed its studies afresh on every first visit). A cell that calls this function makes no marimo cache
    call, so its dependents' keys are the same in both runs (tests/notebooks/test_page_results.py).
    ``key`` must name everything the value depends on (settings, artefact keys, a `code` digest); equal keys
    in any process give the stored value. ``kind``: the memo's kind (`workbench.store.memo.LIMIT`) that holds
    the in-memory copy, so that small values kept by many pages (data cards) do not push out large ones."""
    from workbench.store.memo import remember

    def read_or_make() -> T:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
        path = Path(folder()) / "kept" / name / f"{digest}.pickle"
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            value = make()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            with tmp.open("wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # atomic: a reader sees the whole file or none
            return value

    return remember(kind, (name, key), read_or_make)  # in this process: built or read once (store.memo)


def forks_folder(name: str, key: tuple) -> Path:
    """The folder (``folder()/forks/<name>/<digest of key>``, not made here) where a page keeps loop snapshots that
    other runs start from (`workbench.loop.fork`; page 09's cadence slider); ``key`` names everything they depend on,
    as for `kept`."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    return Path(folder()) / "forks" / name / digest


def pages() -> list[Path]:
    """The pages that persist what they compute (they name `folder`, call `kept` or use `persisted`), in the order of the learning path."""
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")) if any(m in p.read_text() for m in MARKS)]


# pages started first when several run at once: the longest on the quiet machine (benchmarks/RESULTS.md, "Quiet-machine
# figures of record, second session": 09 239 s, 11 48 s, 12 34 s, 04 23 s), so that no long page starts last
SLOW_FIRST = ("09_feedback_loop.py", "11_case_studies.py", "12_offline_online_gap.py", "04_reranking.py")


def default_jobs() -> int:
    """Pages computed at once by default: one per CPU (a page's script is mostly one busy process)."""
    return max(1, os.cpu_count() or 1)


def precompute(cli: Sequence[str], say: Callable[[str], None] = print, only: Sequence[str] | None = None,
               heartbeat_s: float = HEARTBEAT_S, timeout_s: float = 1800.0,
               jobs: int | None = None) -> list[tuple[str, float, int]]:  # fmt: skip
    """Run every page of `pages` (or those named in ``only``) once as a script with the notebook arguments
    ``cli`` (`workbench.lessons.kit.NotebookSettings.cli`), so that its results are on disk before a learner
    opens it; returns (page, seconds, exit status) per page, in the learning path's order. ``jobs`` pages run at
    once (default `default_jobs`; the slowest, `SLOW_FIRST`, start first); each writes its own keys, so what is
    stored is the same for any ``jobs``. A page that fails is reported and skipped (its served page computes
    afresh). Each script is stopped with this process (SIGTERM, Ctrl-C, its death)."""
    from workbench.launch import run_at_once

    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs={jobs!r}: expected a positive integer (pages computed at once)")
    todo = [p for p in pages() if only is None or p.name in only]
    tags = {page: f"[page {k} of {len(todo)}, {page.stem}]" for k, page in enumerate(todo, 1)}
    order = sorted(todo, key=lambda p: SLOW_FIRST.index(p.name) if p.name in SLOW_FIRST else len(SLOW_FIRST))
    said = dict.fromkeys(order, 0.0)

    def wait(i: int, seconds: float) -> None:
        if seconds - said[order[i]] >= heartbeat_s:
            said[order[i]] = seconds
            say(f"{tags[order[i]]} still computing ({seconds:.0f} s so far)")

    def done(i: int, end) -> None:
        if end.status == 0:
            say(f"{tags[order[i]]} done in {end.seconds:.0f} s")
        else:
            last = end.err.strip().splitlines()[-1:] or ["no message"]
            say(f"{tags[order[i]]} failed (exit status {end.status}) after {end.seconds:.0f} s: {last[0]}; "
                "the page computes it when opened")  # fmt: skip

    ends = run_at_once([[sys.executable, str(page), *cli] for page in order], min(jobs or default_jobs(), len(order)) or 1,
                       cwd=str(NOTEBOOKS.parent), timeout_s=timeout_s, on_wait=wait, on_done=done,
                       on_start=lambda i: say(f"{tags[order[i]]} computing its results (kept in {folder()})"))  # fmt: skip
    by_page = {page: (page.name, end.seconds, end.status) for page, end in zip(order, ends)}
    return [by_page[p] for p in todo]


def source_digest(page: str) -> str:
    """A digest of a page's own source (``page``: its ``__file__``), for keys of what the page's own functions compute."""
    return hashlib.blake2b(Path(page).read_bytes(), digest_size=8).hexdigest()


def persisted(page: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A decorator: ``fn(*args)`` kept by `kept` (disk and memory) under the page's and the function's names,
    keyed by the arguments and a digest of the page's own source (``page``: its ``__file__``), so that
    editing the page computes afresh, as marimo's cell-code key does. For a page with many persisted
    functions: ``mo.persistent_cache`` hashes the cell's code and what the function refers to at each
    definition and call, about 0.1 s a function on this machine (page 11: about 1 s of each warm render),
    where this reads one file. The arguments must name everything the value depends on (settings,
    artefact keys, a `code` digest, the controls); keyword arguments are refused."""
    stem = Path(page).stem

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def stored(*args: object) -> T:
            return kept(f"{stem}-{fn.__name__}", (source_digest(page), *args), lambda: fn(*args), kind="persisted")

        return stored

    return wrap

