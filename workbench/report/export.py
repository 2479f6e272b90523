"""Export: which notebooks are there, and how are they run into reports (one page, one provenance
sidecar each, and ``index.html`` linking them)?

`provenance` records what a reader needs to re-run a page and get the same numbers (the
command, seed, config, commit, package versions, threads); every notebook shows it in its
footer (`workbench.lessons.kit.footer`).

Each page carries a provenance stamp in the flow of the page (it never covers content), a sidecar
``<name>.json`` with the full provenance, and ``index.html`` links them.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.lessons.kit import NotebookSettings, default_config
from workbench.provenance import provenance
from workbench.report.render import page, stamp_html, static_page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
FORMATS = ("static", "marimo")


def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks ``NN_name.py``, in teaching order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def default_jobs() -> int:
    """Pages exported at once by default: one per CPU (the export of a page is mostly one busy process)."""
    return max(1, os.cpu_count() or 1)


def _command(nb: Path, exported: Path, settings: NotebookSettings) -> list[str]:
    marimo = Path(sys.executable).with_name("marimo")
    return [str(marimo) if marimo.exists() else "marimo", "export", "html", str(nb), "-o", str(exported), "-f",
            "--", *settings.marimo_cli()]  # fmt: skip


def _finish(nb: Path, exported: Path, out: Path, settings: NotebookSettings, fmt: str) -> Path:
    """The exported page of ``nb`` into ``out/<name>.html`` (static or marimo's), with its provenance sidecar."""
    target = out / f"{nb.stem}.html"
    text = exported.read_text(encoding="utf-8")
    prov = provenance(settings.record(), _default_config(settings), notebook=nb.name)
    if fmt == "static":
        text, _ = static_page(text, prov)
    else:
        text = text.replace("<body>", "<body>" + stamp_html(prov), 1)
    target.write_text(text, encoding="utf-8")
    (out / f"{nb.stem}.json").write_text(json.dumps(prov, indent=2, sort_keys=True), encoding="utf-8")
    return target


def _default_config(settings: NotebookSettings) -> dict[str, Any]:
    return default_config(settings).to_dict()


def export_reports(
    out_dir: str | Path = "reports",
    settings: NotebookSettings | None = None,
    notebooks: Sequence[str | Path] | None = None,
    fmt: str = "static",
    timeout_s: float = 900.0,
    jobs: int | None = None,
) -> list[Path]:
    """Export each notebook to ``out_dir/<name>.html``; return the paths.

    fmt: ``"static"`` (default): one self-contained page per notebook that opens from disk with no
    network (outputs as exported, charts as inline SVG); ``"marimo"``: marimo's interactive export
    (it loads marimo's frontend from a CDN). Each page gets a provenance stamp, a sidecar
    ``<name>.json`` with the full provenance (including the default PipelineConfig the notebooks
    start from; each notebook also prints the exact config it ran), and ``index.html`` links them.
    jobs: pages exported at once (each ``marimo export`` is a process of its own; default `default_jobs`); the
    pages, their order in the index and their numbers are the same for any value.
    Raises ValueError for an unknown ``fmt`` or a bad ``jobs`` and FileNotFoundError for a missing notebook before
    running anything, and RuntimeError naming the notebook when its export fails.
    """
    from workbench.launch import run_at_once

    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r}: expected one of {FORMATS}")
    settings = settings or NotebookSettings()
    paths = [Path(p) for p in notebooks] if notebooks else list_notebooks()
    for nb in paths:
        if not nb.is_file():
            raise FileNotFoundError(f"notebook {nb} does not exist")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs={jobs!r}: expected a positive integer (pages exported at once)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    finished: dict[int, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exported = [Path(tmp) / f"{nb.stem}.html" for nb in paths]

        def done(i: int, end) -> None:  # a page is finished here while the next ones export
            if end.status != 0:
                raise RuntimeError(f"exporting {paths[i].name} failed (exit {end.status}):\n{end.err}")
            finished[i] = _finish(paths[i], exported[i], out, settings, fmt)

        run_at_once([_command(nb, e, settings) for nb, e in zip(paths, exported)], max(1, min(jobs or default_jobs(), len(paths))),
                    cwd=str(ROOT), timeout_s=timeout_s, on_done=done)  # fmt: skip
    written = [finished[i] for i in range(len(paths))]
    rows = [f'<li><a href="{target.name}">{html.escape(nb.stem)}</a></li>' for nb, target in zip(paths, written)]
    index = out / "index.html"
    stamp = stamp_html(provenance(settings.record(), _default_config(settings), command="workbench report " + " ".join(map(shlex.quote, settings.cli()))))
    index.write_text(page("Recsys Workbench reports", f"<h1>Recsys Workbench reports</h1><ol>{''.join(rows)}</ol>", [stamp]),
                     encoding="utf-8")  # fmt: skip
    return written
