"""The ``workbench`` command: evaluate a model, run simulated experiments, open or export the notebooks."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.progress import step

SOURCE_MODELS = ("popular", "trending", "new", "itemknn", "ease", "als", "content", "two_tower")
RANKER_MODELS = ("deepfm", "wide_deep", "ncf", "gbdt")
MODELS = (*SOURCE_MODELS, "fused", *RANKER_MODELS, "pipeline")


def _print_table(frame: pd.DataFrame) -> None:
    with pd.option_context("display.max_rows", 200, "display.width", 160, "display.float_format", "{:.4f}".format):
        print(frame.to_string(index=False))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from workbench.data import load, split
    from workbench.metrics import evaluate, relevance_matrix

    timings: dict[str, float] = {}
    with step(f"load {args.data}", timings):
        ds = load(args.data, cache_dir=args.cache_dir, seed=args.seed)
    with step(f"split ({args.split})", timings):
        train, test = split(ds, args.split)
    users = np.flatnonzero(test.user_activity > 0)
    print(f"{ds!r}; {len(users)} users with test interactions", file=sys.stderr)
    with step(f"fit {args.model}", timings):
        recommend = _fit_model(args.model, train, args)
    ks = tuple(sorted({args.k, *args.extra_k}))
    with step(f"recommend top-{ks[-1]} for {len(users)} users", timings):
        recommended = recommend(users, ks[-1])
    with step("metrics", timings):
        table = evaluate(
            recommended, relevance_matrix(test, graded=args.graded), ks=ks,
            users=users, item_popularity=train.item_popularity, n_train_users=train.n_users,
            item_vectors=train.item_features, item_category=train.item_category,
            item_age_days=train.item_age_days, n_items=train.n_items,
        )  # fmt: skip
    print(f"\n{args.model} on {args.data} ({args.split} split, seed {args.seed}, "
          f"{'graded' if args.graded else 'binary'} relevance)")  # fmt: skip
    _print_table(table.drop(columns=["note"], errors="ignore"))
    excluded = table.attrs.get("users_excluded", 0)
    if excluded:
        print(f"({excluded} users without test interactions were excluded from accuracy metrics)")
    print("\nstep times: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return 0


def _fit_model(name: str, train, args: argparse.Namespace):
    """Fit the named model on ``train``; return ``recommend(users, k) -> int[U, k]``."""
    if name in SOURCE_MODELS:
        from workbench.candidates import SOURCES

        source = SOURCES[name]().fit(train)
        return lambda users, k: source.retrieve(users, k).items
    if name == "fused":
        from workbench.candidates.fusion import CandidateGenerator

        gen = CandidateGenerator().fit(train)
        return lambda users, k: gen.retrieve(users, k).items
    from workbench.pipeline import Pipeline, PipelineConfig

    config = PipelineConfig.from_toml(args.config) if args.config else PipelineConfig()
    if name in RANKER_MODELS:
        from workbench.rerank import RerankConfig

        # the ranker alone: stage 1 + stage 2, no reranking
        config = dataclasses.replace(config, ranker=name, rerank=RerankConfig(order=()))
    pipe = Pipeline(config).fit(train)
    return lambda users, k: pipe.recommend(users, k).items


def cmd_abtest(args: argparse.Namespace) -> int:
    from workbench.experiment import run_abtest

    with step("simulate A/B test"):
        text, _ = run_abtest(args.data, seed=args.seed, days=args.days, cache_dir=args.cache_dir)
    print(text)
    return 0


def cmd_interleave(args: argparse.Namespace) -> int:
    from workbench.experiment import run_interleave

    with step("simulate interleaving"):
        text, _ = run_interleave(args.data, seed=args.seed, days=args.days, cache_dir=args.cache_dir)
    print(text)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.report import main as report_main

    return report_main(["--out", args.out, "--data", args.data, "--seed", str(args.seed)]
                       + (["--small"] if args.small else []) + (["--offline"] if args.offline else []))  # fmt: skip


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Serve the notebooks on localhost with marimo (the tour first)."""
    folder = Path(__file__).resolve().parents[1] / "notebooks"
    cmd = [sys.executable, "-m", "marimo", args.mode, str(folder / "01_tour.py") if args.tour_only else str(folder),
           "--host", "127.0.0.1", "--port", str(args.port)]  # fmt: skip
    if args.headless:
        cmd.append("--headless")
    if args.mode == "edit":
        cmd.append("--no-token")
    cmd += ["--", "--data", args.data]
    print("$ " + " ".join(cmd), file=sys.stderr)
    print(f"The workbench is served at http://127.0.0.1:{args.port}/ (Ctrl-C stops it); start with 01_tour.",
          file=sys.stderr)  # fmt: skip
    return subprocess.call(cmd)


def build_parser() -> argparse.ArgumentParser:
    from workbench.data import DATASETS, SPLITS

    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", choices=DATASETS, default="synthetic", help="data set (default: synthetic)")
        p.add_argument("--seed", type=int, default=0, help="seed of the synthetic world and every draw")
        p.add_argument("--cache-dir", default="data", help="where downloaded data is cached (default: data)")

    ev = sub.add_parser("evaluate", help="fit a model, print its accuracy and beyond-accuracy table")
    data_args(ev)
    ev.add_argument("--split", choices=sorted(SPLITS), default="temporal")
    ev.add_argument("--k", type=int, default=10, help="list length (default 10)")
    ev.add_argument("--extra-k", type=int, nargs="*", default=[], help="more cut-offs to report")
    ev.add_argument("--model", choices=MODELS, default="popular", help="a candidate source, 'fused', a ranker or 'pipeline'")
    ev.add_argument("--config", help="pipeline TOML config (for rankers and 'pipeline')")
    ev.add_argument("--graded", action="store_true", help="graded relevance from ratings (default: binary)")
    ev.set_defaults(func=cmd_evaluate)

    for name, func, text in (("abtest", cmd_abtest, "simulated A/B test report"),
                             ("interleave", cmd_interleave, "simulated interleaving report")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        data_args(p)
        p.add_argument("--days", type=int, default=14)
        p.set_defaults(func=func)

    rp = sub.add_parser("report", help="export every notebook to HTML under reports/")
    rp.add_argument("--out", default="reports")
    rp.add_argument("--data", choices=DATASETS, default="synthetic")
    rp.add_argument("--seed", type=int, default=0)
    rp.add_argument("--small", action="store_true", help="a smaller world and fewer epochs (quick look)")
    rp.add_argument("--offline", action="store_true", help="copy marimo's frontend beside the pages")
    rp.set_defaults(func=cmd_report)

    nb = sub.add_parser("notebooks", help="serve the marimo notebooks on localhost")
    nb.add_argument("--mode", choices=("run", "edit"), default="run")
    nb.add_argument("--port", type=int, default=2718)
    nb.add_argument("--data", choices=DATASETS, default="synthetic")
    nb.add_argument("--headless", action="store_true", help="do not open a browser")
    nb.add_argument("--tour-only", action="store_true", help="serve only the tour notebook")
    nb.set_defaults(func=cmd_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "k", 1) < 1:
        build_parser().error(f"--k {args.k}: expected a positive list length")
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
