"""``workbench report``: the command line of the export and of ``--compare``."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.lessons.kit import NotebookSettings
from workbench.report.comparison import write_compare
from workbench.report.export import FORMATS, default_jobs, export_reports


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.report [--out reports] [--data synthetic] [--seed 0] [--small] [--format static|marimo]
    [--jobs N] [--compare A.toml B.toml] [notebooks...]``."""
    import argparse

    from workbench.arguments import data_arg, data_help, positive_int

    parser = argparse.ArgumentParser(prog="workbench report", description=export_reports.__doc__)
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every notebooks/NN_*.py)")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--data", default="synthetic", type=data_arg, help=data_help())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="shrink the synthetic world (quick check)")
    parser.add_argument("--format", choices=FORMATS, default="static",
                        help="static: self-contained pages that open from disk (default); marimo: marimo's interactive "
                             "export (loads marimo's frontend from its CDN)")  # fmt: skip
    parser.add_argument("--jobs", type=positive_int("a positive number of pages exported at once"), default=None,
                        help="pages exported at once, each a process (default: one per CPU; the pages are the same)")
    parser.add_argument("--compare", nargs=2, metavar=("A.toml", "B.toml"),
                        help="one page comparing two pipeline configs on the same data and seed (instead of the notebooks)")
    args = parser.parse_args(argv)
    settings = NotebookSettings(args.data, args.seed, args.small)
    if args.compare:
        if args.notebooks:
            parser.error("--compare writes one comparison page: give no notebooks with it")
        print(write_compare(*args.compare, out_dir=args.out, settings=settings))
        return 0
    import os
    import sys
    import time

    t0 = time.monotonic()
    written = export_reports(args.out, settings, args.notebooks or None, fmt=args.format, jobs=args.jobs)
    for p in written:
        print(p)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"workbench report: {len(written)} files written ({args.jobs or default_jobs()} at once) in {time.monotonic() - t0:.0f} s (load average {load}; "
          f"pages whose results are in data/page-results/ read them instead of computing)", file=sys.stderr)  # fmt: skip
    return 0
