"""The ``workbench`` command: evaluate a model, run simulated experiments, open or export the notebooks.

Every argument is checked before any data is loaded or any model fitted: a value that
cannot work ends the command with exit status 2 and a message naming the value and what
was expected. Subcommands register themselves with ``@command`` (see ``build_parser``).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.arguments import (
    SEED, UsageError, add_data_args, add_file_args, data_arg, data_help, expected_items, finish_data_args,
    int_at_least, positive_int, read_config, resolve_small,
)
from workbench.progress import step

SOURCE_MODELS = ("popular", "trending", "new", "itemknn", "ease", "als", "content", "two_tower")
RANKER_MODELS = ("deepfm", "wide_deep", "ncf", "gbdt")
CONFIG_MODELS = (*RANKER_MODELS, "pipeline")  # the models a pipeline config (--config) applies to
MODELS = (*SOURCE_MODELS, "fused", *RANKER_MODELS, "pipeline")
# ---- evaluate

@dataclasses.dataclass(frozen=True)
class EvaluatePlan:
    """Everything ``evaluate`` will do, decided (and checked) before the data loads."""

    data: str
    small: bool
    seed: int
    ks: tuple[int, ...]
    config: Any = None  # PipelineConfig for the rankers and 'pipeline'
    split: str = "temporal"
    cache_dir: str = "data"
    scheduler: str | None = None  # recommend on this Dask scheduler (workbench.sweep.sharded)
    workers: int | None = None  # ... or on a LocalCluster of this many worker processes
    shard_users: int = 4096


def plan_evaluate(args: argparse.Namespace) -> EvaluatePlan:
    """Check every argument of ``evaluate`` against the others; raise UsageError before any work."""
    small = resolve_small(args)
    config, raw, seed = None, {}, 0 if args.seed is None else args.seed
    k = 10 if args.k is None else args.k
    if args.config is not None and args.model not in CONFIG_MODELS:
        raise UsageError(
            f"--config {args.config} with --model {args.model}: a pipeline config sets stages 1-3 and applies only "
            f"to {', '.join(CONFIG_MODELS)}; {args.model} would ignore it (drop --config or pick one of those)"
        )
    if args.model in CONFIG_MODELS:
        from workbench.pipeline import PipelineConfig
        from workbench.rerank import RerankConfig

        config, raw = read_config(args.config) if args.config is not None else (PipelineConfig(), {})
        if args.seed is None:
            seed = config.seed
        elif "seed" in raw and raw["seed"] != args.seed:
            print(f"note: --seed {args.seed} overrides seed = {raw['seed']} in {args.config}", file=sys.stderr)
        config = dataclasses.replace(config, seed=seed)
        if args.model in RANKER_MODELS and args.config is not None and args.model != config.ranker:
            try:  # the file read as if it named this ranker: GBDT refuses the torch rankers' [train] keys, and so on
                PipelineConfig.from_dict({**raw, "ranker": args.model}, source=f"{args.config} (with --model {args.model})")
            except ValueError as exc:
                raise UsageError(f"--config {exc}") from None
        if args.model in RANKER_MODELS:  # the ranker alone: stage 1 + stage 2, no reranking
            config = dataclasses.replace(config, ranker=args.model, rerank=RerankConfig(order=()))
        k = config.k if args.k is None else args.k
    ks = tuple(sorted({k, *args.extra_k}))
    if config is not None and ks[-1] > config.n_ranked:
        where = f" in {args.config}" if args.config else ""
        raise UsageError(f"k = {ks[-1]} (--k/--extra-k): expected at most n_ranked = {config.n_ranked}{where}, "
                         f"the {args.model} list length per user")  # fmt: skip
    n_items = expected_items(args.data, small, args.cache_dir)
    if ks[-1] > n_items:
        raise UsageError(f"k = {ks[-1]} (--k/--extra-k): expected at most the {n_items} items of {args.data}")
    scheduler, workers = getattr(args, "scheduler", None), getattr(args, "workers", None)
    if (scheduler is not None or workers is not None) and args.model not in CONFIG_MODELS:
        raise UsageError(f"--scheduler/--workers with --model {args.model}: only {', '.join(CONFIG_MODELS)} are "
                         "served from a stored artefact the Dask workers can read")  # fmt: skip
    if scheduler is not None or workers is not None:
        from workbench.sweep.runner import check_scheduler

        try:
            check_scheduler(scheduler, workers)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return EvaluatePlan(args.data, small, seed, ks, config, args.split, args.cache_dir, scheduler, workers,
                        getattr(args, "shard_users", 4096))  # fmt: skip


def _print_table(frame: pd.DataFrame) -> None:
    with pd.option_context("display.max_rows", 200, "display.width", 160, "display.float_format", "{:.4f}".format):
        print(frame.to_string(index=False))


def cmd_evaluate(args: argparse.Namespace) -> int:
    plan = plan_evaluate(args)
    from workbench.data import load, split
    from workbench.metrics import relevance_matrix
    from workbench.metrics.evaluate import evaluate

    timings: dict[str, float] = {}
    with step(f"load {args.data}", timings):
        ds = load(args.data, cache_dir=args.cache_dir, seed=plan.seed, small=plan.small)
    with step(f"split ({args.split})", timings):
        train, test = split(ds, args.split, **({"seed": plan.seed} if args.split == "random" else {}))
    users = np.flatnonzero(test.user_activity > 0)
    print(f"{ds!r}; {len(users)} users with test interactions", file=sys.stderr)
    with step(f"fit {args.model}", timings):
        recommend = _fit_model(args.model, train, plan)
    with step(f"recommend top-{plan.ks[-1]} for {len(users)} users", timings):
        recommended = recommend(users, plan.ks[-1])
    with step("metrics", timings):
        table = evaluate(
            recommended, relevance_matrix(test, graded=args.graded), ks=plan.ks,
            users=users, items=train.item_arrays(),
        )  # fmt: skip
    print(f"\n{args.model} on {args.data}{' (small world)' if plan.small else ''} ({args.split} split, "
          f"seed {plan.seed}, {'graded' if args.graded else 'binary'} relevance)")  # fmt: skip
    _print_table(table.drop(columns=["note"], errors="ignore"))
    no_interval = table.loc[table["mean"].notna() & table["ci_low"].isna(), "metric"].unique()
    if len(no_interval):
        print(f"(no interval for {', '.join(no_interval)}: each is one figure for the whole set of lists, "
              "not an average over users, so there is no per-user spread to build a 95% interval from)")  # fmt: skip
    excluded = table.attrs.get("users_excluded", 0)
    if excluded:
        print(f"({excluded} users without test interactions were excluded from accuracy metrics)")
    print("\nstep times: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return 0


def _seeded(cls, seed: int, **params):
    """``cls(**params)``, with ``seed`` when its constructor takes one."""
    if "seed" in inspect.signature(cls).parameters:
        params.setdefault("seed", seed)
    return cls(**params)


def _fit_model(name: str, train, plan: EvaluatePlan):
    """Fit the named model on ``train``; return ``recommend(users, k) -> int[U, k]``."""
    if name in SOURCE_MODELS:
        from workbench.candidates import SOURCES

        source = _seeded(SOURCES[name], plan.seed).fit(train)
        return lambda users, k: source.retrieve(users, k).items
    if name == "fused":
        from workbench.candidates import DEFAULT_WEIGHTS, SOURCES, CandidateGenerator

        gen = CandidateGenerator({n: _seeded(SOURCES[n], plan.seed) for n in DEFAULT_WEIGHTS}).fit(train)
        return lambda users, k: gen.retrieve(users, k).items
    from workbench.store import load_or_train

    # from the model store when it holds this fit; trained and stored otherwise
    trained = load_or_train(plan.data, plan.config, seed=plan.seed, small=plan.small, split=plan.split,
                            cache_dir=plan.cache_dir, progress=lambda msg: print(f"  {msg}", file=sys.stderr))  # fmt: skip
    if trained.train.fingerprint != train.fingerprint:
        raise RuntimeError(f"the stored pipeline's train data ({trained.train!r}) differs from {train!r}")
    print(f"  {trained.describe()}", file=sys.stderr)
    from workbench.sweep.sharded import recommend_all

    pipe = trained.pipeline
    if plan.scheduler is None and plan.workers is None:  # in this process, shard after shard
        return lambda users, k: recommend_all(pipe, users, k, shard_users=plan.shard_users)

    def on_cluster(users, k):  # the same shards as tasks: each worker reads the artefact and the data itself
        from workbench.store import DataSpec
        from workbench.sweep.runner import connect

        with connect(plan.scheduler, plan.workers) as client:
            return recommend_all(pipe, users, k, client=client, folder=trained.path, shard_users=plan.shard_users,
                                 spec=DataSpec(plan.data, plan.seed, plan.small, plan.split), cache_dir=plan.cache_dir)  # fmt: skip

    return on_cluster


# ---- simulated experiments

def cmd_abtest(args: argparse.Namespace) -> int:
    small = resolve_small(args)
    from workbench.experiment import run_abtest

    with step("simulate A/B test"):
        text, _ = run_abtest(args.data, seed=args.seed or 0, days=args.days, cache_dir=args.cache_dir, small=small,
                             users_leave=args.users_leave)  # fmt: skip
    print(text)
    return 0


def cmd_interleave(args: argparse.Namespace) -> int:
    small = resolve_small(args)
    from workbench.experiment import run_interleave

    with step("simulate interleaving"):
        text, _ = run_interleave(args.data, seed=args.seed or 0, days=args.days, cache_dir=args.cache_dir, small=small)
    print(text)
    return 0


# ---- notebooks

def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: is a file; expected a folder (created if missing)")
    if args.compare and args.notebooks:
        raise UsageError(f"--compare writes one comparison page: drop the notebooks {args.notebooks}")
    for path in args.compare or ():
        try:
            read_config(path)  # a missing or invalid file is refused before any fitting
        except UsageError as exc:
            raise UsageError(str(exc).replace("--config", "--compare", 1)) from None
    from workbench.report.command import main as report_main

    return report_main(["--out", args.out, "--data", args.data, "--seed", str(args.seed), "--format", args.format]
                       + (["--small"] if args.small else []) + (["--compare", *args.compare] if args.compare else [])
                       + (["--jobs", str(args.jobs)] if args.jobs else [])
                       + list(args.notebooks))  # fmt: skip


START_PAGE = "00_start_here.py"  # the learning path: where `make run` opens


def start_url(port: int, page: str = START_PAGE) -> str:
    """The address of one notebook in marimo's gallery of the notebooks folder."""
    return f"http://127.0.0.1:{port}/?file={page}"


def _open_when_served(url: str) -> None:
    """Open ``url`` in the default browser (`workbench.launch.serve` calls this once the server answers)."""
    import webbrowser

    webbrowser.open(url)


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Serve the notebooks on localhost with marimo, opening the browser on the learning path (00_start_here);
    with ``--train`` (``make run``), train the notebooks' pipelines in the background once it serves."""
    from workbench import launch

    folder = Path(__file__).resolve().parents[1] / "notebooks"
    cmd = [sys.executable, "-m", "marimo", args.mode, str(folder / "01_tour.py") if args.tour_only else str(folder),
           "--host", "127.0.0.1", "--port", str(args.port), "--headless"]  # fmt: skip
    if args.mode == "edit":
        cmd.append("--no-token")
    cmd += ["--", f"--data={args.data}"]  # one word: marimo splits a separate value at its first "="
    url = f"http://127.0.0.1:{args.port}/" if args.tour_only else start_url(args.port)
    train = [sys.executable, "-m", "workbench.cli", "train", "--notebooks", "--data", args.data] if args.train else None
    return launch.serve(cmd, args.port, url, train, on_served=None if args.headless else lambda: _open_when_served(url))


# ---- the parser: each subcommand is one function registered with @command

Subparsers = Any  # argparse._SubParsersAction (private type)
COMMANDS: list[Callable[[Subparsers], None]] = []


def command(add: Callable[[Subparsers], None]) -> Callable[[Subparsers], None]:
    """Register ``add(sub)``, which adds one subcommand to ``sub`` (``sub.add_parser(...)``) and
    sets its ``func``; ``build_parser`` calls every registered one in order."""
    COMMANDS.append(add)
    return add


@command
def add_evaluate(sub: Subparsers) -> None:
    from workbench.data import SPLITS

    ev = sub.add_parser("evaluate", help="fit a model, print its accuracy and beyond-accuracy table")
    add_data_args(ev)
    ev.add_argument("--split", choices=sorted(SPLITS), default="temporal",
                    help="how test interactions are held out: each user's latest 20%% (temporal, default), "
                         "each user's last one (leave-last-out), a seeded 20%% (random) or after a global "
                         "time cut (time-cut)")  # fmt: skip
    ev.add_argument("--k", type=positive_int("a positive list length"), default=None,
                    help="list length (default: the config's k for the rankers and 'pipeline', else 10)")
    ev.add_argument("--extra-k", type=positive_int("a positive cut-off"), nargs="*", default=[], metavar="K",
                    help="more cut-offs to report, each at least 1")  # fmt: skip
    ev.add_argument("--model", choices=MODELS, default="popular",
                    help="a candidate source alone, 'fused' (stage 1), a ranker (stages 1-2) or 'pipeline' (all three)")
    ev.add_argument("--config", help=f"pipeline TOML config; only for {', '.join(CONFIG_MODELS)} (default: "
                                     "PipelineConfig's defaults, spelled out in configs/default.toml)")  # fmt: skip
    ev.add_argument("--graded", action="store_true", help="graded relevance from ratings (default: binary)")
    ev.add_argument("--scheduler", metavar="ADDRESS", default=None,
                    help="recommend on this Dask scheduler (tcp://host:8786), one task per shard of users; its "
                         "workers read the model store and data cache at the same paths (a shared file system)")  # fmt: skip
    ev.add_argument("--workers", type=positive_int("a positive number of worker processes"), default=None,
                    help="recommend on a Dask LocalCluster of this many worker processes")
    ev.add_argument("--shard-users", type=positive_int("a positive number of users"), default=4096,
                    help="users per shard (default 4096); the lists do not depend on where the shards run")
    ev.set_defaults(func=cmd_evaluate)


@command
def add_experiments(sub: Subparsers) -> None:
    for name, func, text in (("abtest", cmd_abtest, "simulated A/B test report"),
                             ("interleave", cmd_interleave, "simulated interleaving report")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        add_data_args(p)
        p.add_argument("--days", type=positive_int("a positive number of days"), default=14,
                       help="days the simulated experiment runs (default 14)")  # fmt: skip
        if name == "abtest":
            p.add_argument("--users-leave", action=argparse.BooleanOptionalAction, default=True,
                           help="users come back only as often as what they consumed was worth and items have prices, "
                                "so the report reads every online metric: CTR, conversion, session duration, revenue "
                                "per user, D7 retention (8 days or more) and return rate (default); --no-users-leave: "
                                "users visit at a fixed rate and the report reads CTR, conversion and session "
                                "duration only")  # fmt: skip
        p.set_defaults(func=func)


@command
def add_report(sub: Subparsers) -> None:
    rp = sub.add_parser("report", help="export every notebook to HTML under reports/ (pages that open offline), "
                                       "or compare two configs (--compare)")
    rp.add_argument("--out", default="reports", help="folder the HTML pages are written to (default: reports)")
    rp.add_argument("--data", type=data_arg, default="synthetic", help=data_help())
    add_file_args(rp)
    rp.add_argument("--seed", type=SEED, default=0, help="seed the notebooks run with (default 0)")
    rp.add_argument("--small", action="store_true", help="a smaller world and fewer epochs (quick look)")
    rp.add_argument("--format", choices=("static", "marimo"), default="static",
                    help="static: self-contained pages that open from disk with no network (default); marimo: "
                         "marimo's interactive export, which loads marimo's frontend from its CDN")  # fmt: skip
    rp.add_argument("--jobs", type=positive_int("a positive number of pages exported at once"),
                    help="pages exported at once, each a process of its own (default: one per CPU; the pages are the same)")
    rp.add_argument("--compare", nargs=2, metavar=("A.toml", "B.toml"),
                    help="instead of the notebooks: one page comparing two pipeline configs on the same data and seed")
    rp.add_argument("notebooks", nargs="*", help="notebook files to export (default: every notebooks/NN_*.py)")
    rp.set_defaults(func=cmd_report)


@command
def add_notebooks(sub: Subparsers) -> None:
    nb = sub.add_parser("notebooks", help="serve the marimo notebooks on localhost")
    nb.add_argument("--mode", choices=("run", "edit"), default="run",
                    help="run: the notebooks as apps, code hidden (default); edit: marimo's editor")  # fmt: skip
    nb.add_argument("--port", type=int_at_least(1, "a TCP port in 1..65535", 65535), default=2718,
                    help="port on 127.0.0.1 (default 2718)")  # fmt: skip
    nb.add_argument("--data", type=data_arg, default="synthetic", help=data_help())
    add_file_args(nb)
    nb.add_argument("--headless", action="store_true", help="do not open a browser")
    nb.add_argument("--tour-only", action="store_true", help="serve only the tour notebook")
    nb.add_argument("--train", action="store_true",
                    help="once the server answers, train every pipeline the notebooks load in the background, with "
                         "progress (what `make run` does; `workbench train --notebooks` does it beforehand)")  # fmt: skip
    nb.set_defaults(func=cmd_notebooks)


@command
def add_store(sub: Subparsers) -> None:
    from workbench.store.cli import register  # train, models (workbench/store/cli.py)

    register(sub)


@command
def add_serving(sub: Subparsers) -> None:
    from workbench.serving.cli import register  # serve, loadtest (workbench/serving/cli.py)

    register(sub)


@command
def add_data(sub: Subparsers) -> None:
    from workbench.data.cli import register  # data (workbench/data/cli.py)

    register(sub)


@command
def add_ope(sub: Subparsers) -> None:
    from workbench.experiment.ope_cli import register  # ope (workbench/experiment/ope_cli.py)

    register(sub)


@command
def add_loop(sub: Subparsers) -> None:
    from workbench.loop.cli import register  # loop (workbench/loop/cli.py)

    register(sub)


@command
def add_sweep(sub: Subparsers) -> None:
    from workbench.sweep.cli import register  # sweep (workbench/sweep/cli.py)

    register(sub)


def build_parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per function registered with ``@command``."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for a bad argument, with the reason on stderr)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed help (status 0) or a usage error (status 2)
        return 0 if exc.code is None else int(exc.code)
    try:
        return finish_data_args(args).func(args)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
