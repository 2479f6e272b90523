"""``workbench sweep FILE``: run a sweep file on Dask, then report its frontier and best config.

Registered on the ``workbench`` command by ``workbench.cli`` (``register``). Every
argument and the whole sweep file are checked before a cluster starts or data loads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

DEFAULT_OUT = Path("data") / "sweeps"


def _table(frame: pd.DataFrame) -> str:
    with pd.option_context("display.max_rows", 100, "display.width", 200, "display.max_colwidth", 70,
                           "display.float_format", "{:.4f}".format):  # fmt: skip
        return frame.to_string(index=False)


def _metric_columns(summary: pd.DataFrame) -> list[str]:
    skip = {"order", "seed", "pid", "n_seeds", "users", "upstream_seconds", "upstream_cpu_seconds"}
    return [c for c in summary.columns if pd.api.types.is_numeric_dtype(summary[c]) and "_ci_" not in c
            and c not in skip and not pd.api.types.is_bool_dtype(summary[c])]  # fmt: skip


def cmd_sweep(args: argparse.Namespace) -> int:
    from workbench.sweep import best, export_config, load_sweep, parse_query, read_results, run_sweep, summarise
    from workbench.sweep.frontier import frontier
    from workbench.sweep.frontier import parse_axis
    from workbench.sweep.progress import TerminalBar
    from workbench.sweep.runner import check_scheduler

    spec = load_sweep(args.file)  # the whole file checked, every config built
    if args.data is not None:  # --data overrides the file's data set (a name, or your own interactions file)
        import dataclasses

        if spec.small and args.data != "synthetic":
            print(f"note: --data {args.data} replaces the file's small synthetic world (small = true dropped)",
                  file=sys.stderr)  # fmt: skip
        spec = dataclasses.replace(spec, data=args.data, small=spec.small and args.data == "synthetic")
    check_scheduler(args.scheduler, args.workers)
    query = parse_query(args.best) if args.best else None
    axes = [a for a in (args.frontier or "").split(",") if a.strip()]
    if args.frontier is not None and len(axes) < 2:
        raise ValueError(f"--frontier {args.frontier!r}: expected at least two comma-separated metrics, "
                         "e.g. ndcg@10,intra_list_diversity@10")  # fmt: skip
    for a in axes:
        parse_axis(a)
    if args.model:
        from workbench.sweep.runner import check_model

        check_model(args.model, spec.trials())
    if args.export and not query:
        raise ValueError(f"--export {args.export}: expected --best too (it exports the best config)")
    if args.export and spec.study is not None:
        raise ValueError(f"--export with the {spec.study} study: only a pipeline sweep has a config to export")
    out = Path(args.out) if args.out else DEFAULT_OUT / spec.name
    if args.data is not None and not args.out:  # its own folder: a re-run resumes only a sweep of the same data
        import hashlib

        out = DEFAULT_OUT / f"{spec.name}-{hashlib.blake2b(args.data.encode(), digest_size=4).hexdigest()}"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file; expected a folder for the results (created if missing)")

    if not args.report_only:
        n = len(spec.trials())
        where = args.scheduler or f"a LocalCluster of {args.workers or 'one worker per core'}"
        print(f"sweep {spec.name}: {n} config(s) × seed on {spec.data}{' (small)' if spec.small else ''}, "
              f"on {where}; results in {out}", file=sys.stderr)  # fmt: skip
        run = run_sweep(spec, out, scheduler=args.scheduler, workers=args.workers, store=args.store,
                        cache_dir=args.cache_dir, progress=TerminalBar(), limit=args.limit, model=args.model)  # fmt: skip
        print(run.describe(), file=sys.stderr)
        table = run.table
    else:
        table = read_results(out)
    if table.empty:
        print(f"no results in {out} yet (run without --report-only)")
        return 0
    failed = table[table["status"] != "ok"]
    if len(failed):
        print(f"\n{len(failed)} failed config(s):")
        print(_table(failed[["label", "seed", "error"]].head(20)))
    summary = summarise(table)
    if summary.empty:
        return 1
    metrics = _metric_columns(summary)
    sort = metrics[0] if metrics else "label"
    show = ["label", *[m for m in metrics if m not in spec.swept and m != "seconds"][:6], "n_seeds"]
    print(f"\n{len(summary)} config(s) with results, mean over seeds; top {min(args.top, len(summary))} by {sort}:")
    print(_table(summary.sort_values(sort, ascending=False, kind="stable")[show].head(args.top)))
    if axes:
        front = frontier(summary, axes, summarised=True)
        print(f"\nPareto frontier on {', '.join(axes)}: {len(front)} of {len(summary)} configs")
        print(_table(front))
    if query:
        row = best(summary, query, summarised=True)
        cols = [parse_axis(query.objective)[0], *[c for c, _, _ in query.constraints]]
        from workbench.sweep.frontier import resolve

        values = ", ".join(f"{resolve(summary, c)} = {row[resolve(summary, c)]:.4f}" for c in cols)
        print(f"\nbest: {query.describe()} → {row['label']} ({values}; {row['feasible_configs']} of "
              f"{len(summary)} configs meet the constraints)")  # fmt: skip
        if args.export:
            path = export_config(row, args.export, note=f"chosen by: {query.describe()} (sweep {spec.name})")
            print(f"exported to {path} (workbench train/serve/evaluate --config {path})")
    return 0


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or ``0-3`` (inclusive) as a list of seeds; ArgumentTypeError naming the value."""
    from workbench.sweep.loops import check_seeds

    try:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        seeds: list[int] = []
        for p in parts:
            lo, _, hi = p.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        return check_seeds(seeds)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seeds such as 0,1,2 or 0-3 ({exc})") from None


def cmd_loop_seeds(args: argparse.Namespace) -> int:
    from workbench.loop.config import LoopConfig
    from workbench.sweep.loops import figures, run_loops
    from workbench.sweep.runner import check_scheduler, connect

    check_scheduler(args.scheduler, args.workers)
    given = {k: v for k, v in (("data", args.data), ("days", args.days), ("users", args.users)) if v is not None}
    if args.small:
        given["small"] = True
    try:
        # without a file, features in the loop's process (a Redis per worker would buy nothing here)
        config = LoopConfig.from_toml(args.config, **given) if args.config else LoopConfig(features="memory", **given)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--config {args.config}: {exc}" if args.config else str(exc)) from None
    where = args.scheduler or f"a LocalCluster of {args.workers or 'one worker per core'}"
    print(f"loops on {config.data}: seeds {args.seeds}, {config.days} days each, on {where}; state in {args.root}",
          file=sys.stderr)  # fmt: skip
    with connect(args.scheduler, args.workers) as client:
        daily, records = run_loops(config, args.seeds, args.root, client=client, pipeline_config=args.pipeline_config,
                                   store=args.store, cache_dir=args.cache_dir)  # fmt: skip
    for r in records:
        print(f"  seed {r['seed']}: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU on {r['worker']}; "
              f"daily table {r['daily']}", file=sys.stderr)  # fmt: skip
    cols = [c for c in ("seed", "day", "arm", "users", "impressions", "ctr", "conversion", "coverage", "exposure_gini")
            if c in daily]  # fmt: skip
    table = figures(daily)[cols].assign(day=daily["day"] + 1)
    print(f"per seed and day (day 1 is the first; wall times left out: they depend on the machine):\n{_table(table)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``loop-seeds`` to the ``workbench`` command's sub-commands."""
    from workbench.arguments import (CACHE_DIR, STORE_DIR, add_file_args, data_arg, data_help, existing_dir,
                                     existing_file, positive_int, writable_dir, writable_file)

    sw = sub.add_parser("sweep", help="run a sweep file (grid/random configs × seeds) on Dask; frontier, best, export")
    sw.add_argument("file", help="sweep TOML (e.g. configs/sweep_rerank.toml; see workbench.sweep.spec)")
    sw.add_argument("--out", type=writable_dir("a results folder (created when absent)"), help=f"results folder (default: {DEFAULT_OUT}/<sweep name>); a re-run resumes it")
    sw.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                                        "(default: a LocalCluster on this machine)")  # fmt: skip
    sw.add_argument("--workers", type=positive_int("a positive number of worker processes"), help="LocalCluster worker processes (default: one per core)")
    sw.add_argument("--limit", type=positive_int("a positive number of configs"), help="compute at most this many of the remaining configs, then stop")
    sw.add_argument("--report-only", action="store_true", help="report the results folder without running")
    sw.add_argument("--frontier", help="comma-separated axes of the Pareto frontier, e.g. "
                                       "ndcg@10,intra_list_diversity@10 (min:NAME to minimise)")  # fmt: skip
    sw.add_argument("--best", help="e.g. 'max ndcg@10 with intra_list_diversity@10 >= 0.9'")
    sw.add_argument("--export", type=writable_file("a pipeline TOML file to write"), help="write the --best config to this pipeline TOML")
    sw.add_argument("--top", type=positive_int("a positive number of configs"), default=10, help="configs listed in the summary (default 10)")
    sw.add_argument("--store", type=STORE_DIR, help="model store folder (default: data/models, or $WORKBENCH_MODEL_STORE)")
    sw.add_argument("--model", type=existing_dir("an artefact folder of the model store"), help="serve every config from this artefact folder (rerank-only sweeps; default: "
                                    "the store's artefact of each upstream config, fitted when missing)")  # fmt: skip
    sw.add_argument("--cache-dir", type=CACHE_DIR, default="data", help="where downloaded data is cached (default: data)")
    sw.add_argument("--data", type=data_arg, default=None, help=data_help("the sweep file's data"))
    add_file_args(sw)
    sw.set_defaults(func=cmd_sweep)

    lp = sub.add_parser("loop-seeds", help="the feedback loop for many seeds, one Dask task per seed (workbench.sweep.loops)")
    lp.add_argument("--seeds", type=parse_seeds, required=True, help="seeds, e.g. 0,1,2 or 0-7")
    lp.add_argument("--config", help="loop settings TOML (e.g. configs/loop.toml; default: the built-in "
                                     "settings with in-process features)")  # fmt: skip
    lp.add_argument("--data", type=data_arg, default=None, help=data_help("synthetic, or the --config file's") +
                    "; every worker reads it by path (a Parquet file on shared storage)")  # fmt: skip
    lp.add_argument("--small", action="store_true", help="the small synthetic world")
    lp.add_argument("--days", type=positive_int("a positive number of days"), help="simulated days per loop")
    lp.add_argument("--users", type=positive_int("a positive number of users"), help="simulated users per loop")
    lp.add_argument("--pipeline-config", type=existing_file("a pipeline TOML"), help="pipeline TOML (default: the built-in PipelineConfig)")
    lp.add_argument("--root", type=writable_dir("a folder for the loops' states (created when absent)"), default=str(Path("data") / "loop-seeds"),
                    help="one state folder per seed below it (default: data/loop-seeds); a re-run resumes them")  # fmt: skip
    lp.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                                        "(default: a LocalCluster on this machine)")  # fmt: skip
    lp.add_argument("--workers", type=positive_int("a positive number of worker processes"), help="LocalCluster worker processes (default: one per core)")
    lp.add_argument("--store", type=STORE_DIR, help="model store folder (default: data/models, or $WORKBENCH_MODEL_STORE)")
    lp.add_argument("--cache-dir", type=CACHE_DIR, default="data", help="where downloaded data is cached (default: data)")
    lp.set_defaults(func=cmd_loop_seeds)
