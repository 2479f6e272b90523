"""``workbench loop``: run the feedback loop for N simulated days and print what happened.

Settings come from ``--config`` (a loop TOML such as ``configs/loop.toml``), then from the options
given on the command line (an option not given leaves the file's value or the default). Every
value is checked before any data loads. The state folder (``--state``; by default one named after
the settings under ``data/loop/``) keeps the event log and the loop's progress, so running the
same command again resumes where it stopped, and a larger ``--days`` extends the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

STATE_ROOT = Path("data") / "loop"
# option → LoopConfig field (the options that map one to one)
FIELDS = {"days": "days", "users": "users", "epsilon": "epsilon", "explore": "explore", "k": "k", "retrain_every": "retrain_every",
          "retrain": "retrain", "ab_epsilon": "ab_epsilon", "ab_split": "ab_split", "features": "features",
          "click_model": "click_model", "visit_rate": "visit_rate", "arrivals_per_day": "arrivals_per_day",
          "arrival_days": "arrival_days", "redis_timeout_ms": "redis_timeout_ms",
          "ranker_budget_ms": "ranker_budget_ms"}  # fmt: skip


def loop_config(args: argparse.Namespace):
    """The `LoopConfig` the options describe (``--config`` first, then each option given)."""
    from workbench.arguments import SMALL_ENV, UsageError, resolve_small
    from workbench.loop.config import LoopConfig

    given = {field: getattr(args, opt) for opt, field in FIELDS.items() if getattr(args, opt) is not None}
    if args.ab_frozen:
        given["ab_frozen"] = True
    if args.repeat_consumption:
        given["repeat_consumption"] = True
    if args.seed is not None:
        given["seed"] = args.seed
    if args.data is not None:
        given["data"] = args.data
    try:
        base = LoopConfig.from_toml(args.config) if args.config else None  # errors name the file and the key
    except ValueError as exc:
        raise UsageError(f"--config {exc}") from None
    try:
        config = dataclasses.replace(base, **given) if base is not None else LoopConfig(**given)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
    small = config.small
    if args.small or os.environ.get(SMALL_ENV, "") not in ("", "0"):
        small = resolve_small(argparse.Namespace(data=config.data, small=args.small))
    if small != config.small:
        config = dataclasses.replace(config, small=small)
    if args.serve and config.features == "memory":
        raise UsageError("--serve with features = memory: the served loop's features live in the service's Redis "
                         "(drop --features memory)")  # fmt: skip
    return config


def state_folder(args: argparse.Namespace, config) -> Path:
    """``--state``, else ``data/loop/<data>-seed<seed>-<digest of the settings but days, the pipeline config, the mode>``."""
    if args.state:
        return Path(args.state)
    ident = {k: v for k, v in config.to_dict().items() if k != "days"}
    pipe = Path(args.pipeline_config).read_text(encoding="utf-8") if args.pipeline_config else None
    blob = json.dumps({"loop": ident, "pipeline": pipe, "serve": bool(args.serve)}, sort_keys=True, default=repr)
    digest = hashlib.blake2b(blob.encode(), digest_size=4).hexdigest()
    small = "-small" if config.small else ""
    return STATE_ROOT / f"{config.data}{small}-seed{config.seed}-{digest}"


def saved_days(folder: Path) -> int:
    """The days a state folder records as finished (0 when it holds no loop yet)."""
    from workbench.loop.engine import STATE_FILE

    try:
        return int(json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))["done"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def interrupted_line(done: int, days: int, folder: Path) -> str:
    """What Ctrl-C prints: the last finished day and that the same command resumes from it."""
    if not done:
        where = "before its first day finished"
    else:
        where = f"after day {done} of {days} (the last finished day)"
    return f"interrupted {where}; run the same command again to resume from the state in {folder}"


def cmd_loop(args: argparse.Namespace) -> int:
    from workbench.arguments import UsageError

    config = loop_config(args)  # every check before any data loads
    if args.pipeline_config and not Path(args.pipeline_config).is_file():
        raise UsageError(f"--pipeline-config {args.pipeline_config}: no such file; expected a pipeline TOML such as "
                         "configs/default.toml")  # fmt: skip
    if args.pipeline_config:
        from workbench.arguments import read_config

        read_config(args.pipeline_config)  # a bad pipeline TOML fails here, naming the file
    folder = state_folder(args, config)
    if args.fresh and folder.exists():
        shutil.rmtree(folder)
    from workbench.loop.engine import Loop

    from workbench.serving.children import sigterm_exits

    say = lambda msg: print(f"  {msg}", file=sys.stderr)  # noqa: E731
    sigterm_exits()  # SIGTERM exits 143 through Loop.close; Ctrl-C interrupts even where a shell started us with it ignored
    loop = None
    try:
        with Loop(config, folder, pipeline_config=args.pipeline_config, serve=args.serve, store=args.store,
                  cache_dir=args.cache_dir, progress=say) as loop:  # fmt: skip
            result = loop.run()
    except KeyboardInterrupt:  # Ctrl-C: the children are stopped (Loop.close), one line, no traceback
        print(interrupted_line(loop.done if loop is not None else saved_days(folder), config.days, folder), file=sys.stderr)
        return 130
    print(result.report())
    if args.csv:
        result.daily.to_csv(args.csv, index=False)
        print(f"daily table written to {args.csv}", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add ``workbench loop`` to the CLI's subparsers (called from ``workbench.cli``)."""
    from workbench.arguments import (CACHE_DIR, SEED, STORE_DIR, add_file_args, data_arg, data_help, int_at_least,
                                     number_in, positive_float, positive_int, unit_interval, writable_dir,
                                     writable_file)
    from workbench.data import SMALL_WORLD
    from workbench.experiment.simulator import CLICK_MODELS
    from workbench.loop.config import FEATURE_BACKENDS, RETRAIN_MODES
    from workbench.loop.logging_policy import EXPLORE_MODES

    p = sub.add_parser("loop", help="the feedback loop: simulated users, retraining from the log, monitoring, for N days")
    p.add_argument("--data", type=data_arg, default=None, help=data_help("synthetic, or the --config file's"))
    add_file_args(p)
    p.add_argument("--seed", type=SEED, default=None, help="seed of the world and of every draw (default 0)")
    p.add_argument("--small", action="store_true", default=None,
                   help=f"the small synthetic world ({SMALL_WORLD['n_users']} users); also WORKBENCH_SMALL=1")  # fmt: skip
    p.add_argument("--cache-dir", type=CACHE_DIR, default="data", help="where downloaded data (MovieLens-100K) is cached (default: data)")
    p.add_argument("--config", help="loop settings TOML (e.g. configs/loop.toml); options given here override it")
    p.add_argument("--pipeline-config", help="pipeline TOML (default: the built-in PipelineConfig)")
    p.add_argument("--days", type=positive_int("a positive number of days"), default=None, help="simulated days (default 14)")
    p.add_argument("--users", type=int_at_least(2, "at least 2 users"), default=None,
                   help="simulated users, a seeded sample of the world's (default: all)")  # fmt: skip
    p.add_argument("--epsilon", type=unit_interval("an exploration rate in [0, 1]"), default=None,
                   help="exploration rate ε of the slates (default: the pipeline config's)")  # fmt: skip
    p.add_argument("--explore", choices=EXPLORE_MODES, default=None,
                   help="how ε explores: slots (default: ε of each slate's slots, the ranker's items elsewhere) or "
                        "slates (a whole random slate in ε of the sessions, every slot's propensity logged: a log "
                        "that supports `workbench ope --log` of other targets)")  # fmt: skip
    p.add_argument("--k", type=positive_int("a positive slate length"), default=None, help="slate length (default: the pipeline's)")
    p.add_argument("--retrain-every", type=int_at_least(0, "a number of days >= 0 (0: never)"), default=None,
                   help="retrain from the log every N days (default 7; 0: never)")  # fmt: skip
    p.add_argument("--retrain", choices=RETRAIN_MODES, default=None,
                   help="refresh: refit stage 1 and the ranker's statistics (default); full: fit everything again")
    p.add_argument("--ab-epsilon", type=unit_interval("an exploration rate in [0, 1]"), default=None,
                   help="run an A/B test inside the loop: arm B explores with this ε")  # fmt: skip
    p.add_argument("--ab-frozen", action="store_true", help="A/B inside the loop: arm B keeps the starting model")
    p.add_argument("--ab-split", type=number_in(float, "a share in (0, 1)", 0.0, 1.0, low_open=True), default=None, help="arm B's share of users (default 0.5)")
    p.add_argument("--features", choices=FEATURE_BACKENDS, default=None,
                   help="online features: redis (a real Redis, default) or memory (this process only)")  # fmt: skip
    p.add_argument("--arrivals-per-day", type=int_at_least(0, "a number of items >= 0"), default=None,
                   help="a living catalogue: items arriving each day, new to the starting model (default 0)")  # fmt: skip
    p.add_argument("--arrival-days", type=positive_int("a positive number of days"), default=None,
                   help="the days 1..N on which items arrive (default 30)")  # fmt: skip
    p.add_argument("--repeat-consumption", action="store_true", help="a clicked item may be shown to the same user again")
    p.add_argument("--click-model", choices=CLICK_MODELS, default=None, help="the simulator's click model (default position)")
    p.add_argument("--visit-rate", type=positive_float("a positive number of sessions per user per day"), default=None, help="sessions per user per day (default 0.5)")
    p.add_argument("--serve", action="store_true",
                   help="sessions go to the running service over HTTP (started on 127.0.0.1, stopped at the end)")
    p.add_argument("--redis-timeout-ms", type=positive_float("a positive number of milliseconds"), default=None,
                   help="--serve: the service's deadline per Redis call (default 8 ms)")  # fmt: skip
    p.add_argument("--ranker-budget-ms", type=number_in(float, "a number of milliseconds >= 0", 0.0), default=None,
                   help="--serve: the service's ranking budget (default 50 ms)")  # fmt: skip
    p.add_argument("--state", type=writable_dir("a loop state folder (created when absent)"), help="state folder (default: data/loop/<named after the settings>); resumes when it holds a loop")
    p.add_argument("--fresh", action="store_true", help="delete the state folder first (start over)")
    p.add_argument("--store", type=STORE_DIR, help="model store folder (default: data/models, or $WORKBENCH_MODEL_STORE)")
    p.add_argument("--csv", type=writable_file("a CSV file to write"), help="also write the daily table to this CSV file")
    p.set_defaults(func=cmd_loop)
