"""Reproducible HTML reports: provenance stamps and the export of every notebook.

`provenance` records what a reader needs to re-run a page and get the same numbers (the
command, seed, config, commit, package versions, threads); every notebook shows it in its
footer (`workbench.lessons.kit.footer`), and `export_reports` runs each notebook through
``marimo export html`` into ``reports/``, stamping each page and an index with it.
Notebook settings (data set, seed, small world) live in `workbench.lessons.kit`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.lessons.kit import NotebookSettings, default_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
PACKAGES = ("recsys-workbench", "numpy", "scipy", "pandas", "torch", "faiss-cpu", "implicit", "lightgbm", "marimo", "altair")


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


def provenance(settings: NotebookSettings, config: Any = None, notebook: str | None = None) -> dict[str, Any]:
    """Everything a reader needs to re-run a notebook and get the same numbers."""
    command = "python " + (f"notebooks/{notebook}" if notebook else "notebooks/<notebook>.py")
    return {
        "notebook": notebook,
        "data": settings.data,
        "seed": settings.seed,
        "small": settings.small,
        "command": " ".join([command, *settings.cli()]),
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


def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks ``NN_name.py``, in teaching order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def _stamp_html(prov: Mapping[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v != "absent")
    return (
        '<div id="workbench-stamp" style="position:fixed;left:0;right:0;bottom:0;z-index:100000;'
        'font:12px/1.4 system-ui,sans-serif;background:#f4f6f8;border-top:1px solid #d0d7de;'
        'padding:4px 12px;color:#24292f">'
        f"<b>Recsys Workbench report</b> · data <b>{html.escape(prov['data'])}</b> · seed <b>{prov['seed']}</b>"
        f" · commit <code>{html.escape(prov['commit'])}</code> · re-run: <code>{html.escape(prov['command'])}</code>"
        f"<br>versions: {html.escape(versions)}</div>"
    )


def _frontend_cdn() -> str:
    return f"https://cdn.jsdelivr.net/npm/@marimo-team/frontend@{metadata.version('marimo')}/dist/"


def _copy_frontend(out: Path) -> None:
    import shutil

    import marimo

    static = Path(marimo.__file__).parent / "_static"
    shutil.copytree(static, out / "_marimo", dirs_exist_ok=True)


def _default_config(settings: NotebookSettings) -> dict[str, Any]:
    return default_config(settings).to_dict()


def export_reports(
    out_dir: str | Path = "reports",
    settings: NotebookSettings | None = None,
    notebooks: Sequence[str | Path] | None = None,
    offline: bool = False,
    timeout_s: float = 900.0,
) -> list[Path]:
    """Export each notebook to ``out_dir/<name>.html`` with ``marimo export html``; return the paths.

    Each page gets a provenance banner (seed, data, commit, versions, re-run command),
    a sidecar ``<name>.json`` with the full provenance (including the default PipelineConfig
    the notebooks start from; each notebook also prints the exact config it ran), and
    ``index.html`` links them.
    The pages load marimo's frontend from its CDN; ``offline=True`` copies the frontend
    into ``out_dir/_marimo`` instead (then serve the folder, e.g.
    ``python -m http.server --bind 127.0.0.1 -d reports``: browsers refuse module scripts
    from ``file://``). Raises RuntimeError naming the notebook when a cell fails.
    """
    settings = settings or NotebookSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in notebooks] if notebooks else list_notebooks()
    marimo = Path(sys.executable).with_name("marimo")
    written: list[Path] = []
    rows: list[str] = []
    for nb in paths:
        if not nb.is_file():
            raise FileNotFoundError(f"notebook {nb} does not exist")
        target = out / f"{nb.stem}.html"
        cmd = [str(marimo) if marimo.exists() else "marimo", "export", "html", str(nb), "-o", str(target), "-f",
               "--", *settings.cli()]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
        if run.returncode != 0:
            raise RuntimeError(f"exporting {nb.name} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
        prov = provenance(settings, _default_config(settings), notebook=nb.name)
        page = target.read_text(encoding="utf-8")
        page = page.replace("<body>", "<body>" + _stamp_html(prov), 1)
        if offline:
            page = page.replace(_frontend_cdn(), "_marimo/")
        target.write_text(page, encoding="utf-8")
        (out / f"{nb.stem}.json").write_text(json.dumps(prov, indent=2, sort_keys=True), encoding="utf-8")
        written.append(target)
        rows.append(f'<li><a href="{target.name}">{html.escape(nb.stem)}</a></li>')
    if offline:
        _copy_frontend(out)
    index = out / "index.html"
    stamp = _stamp_html(provenance(settings, _default_config(settings)))
    index.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Recsys Workbench reports</title><body>{stamp}"
        f"<h1 style='font-family:system-ui'>Recsys Workbench reports</h1><ol style='font-family:system-ui'>"
        f"{''.join(rows)}</ol></body>",
        encoding="utf-8",
    )
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.report [--out reports] [--data synthetic] [--seed 0] [--small] [notebooks...]``."""
    import argparse

    from workbench.data import DATASETS

    parser = argparse.ArgumentParser(prog="workbench report", description=export_reports.__doc__)
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every notebooks/NN_*.py)")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--data", default="synthetic", choices=DATASETS, help="data set (default: synthetic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="shrink the synthetic world (quick check)")
    parser.add_argument("--offline", action="store_true", help="copy marimo's frontend next to the pages")
    args = parser.parse_args(argv)
    settings = NotebookSettings(args.data, args.seed, args.small)
    paths = export_reports(args.out, settings, args.notebooks or None, offline=args.offline)
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
