"""``workbench train`` and ``workbench models``: fill the model store, list it, remove from it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _config(path: str | None, seed: int):
    """The PipelineConfig of ``path`` (TOML) or the default, with ``seed`` (checked before any work)."""
    import dataclasses

    from workbench.pipeline import PipelineConfig

    if path is None:
        return PipelineConfig(seed=seed)
    if not Path(path).is_file():
        raise FileNotFoundError(f"--config {path}: no such file (expected a pipeline TOML such as configs/default.toml)")
    config = PipelineConfig.from_toml(path)
    return dataclasses.replace(config, seed=seed) if seed != config.seed else config


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.store import ModelStore, load_or_train

    if args.seed < 0:
        raise ValueError(f"--seed {args.seed}: expected a non-negative integer")
    if args.notebooks and (args.split != "temporal" or args.config or args.cache_dir != "data"):
        raise ValueError("--notebooks trains the notebooks' own pipelines (their configs, the temporal split, the "
                         "project's data folder): drop --config/--split/--cache-dir")  # fmt: skip
    if args.no_pages and not args.notebooks:
        raise ValueError("--no-pages goes with --notebooks (it skips the pages' results after their pipelines)")
    if args.page_jobs is not None and (args.no_pages or not args.notebooks):
        raise ValueError(f"--page-jobs {args.page_jobs} goes with --notebooks and the pages' results (drop --no-pages)")
    config = _config(args.config, args.seed)
    store = ModelStore(args.store)
    if args.notebooks:
        return _train_notebook_pipelines(args, config, store)
    trained = load_or_train(args.data, config, seed=args.seed, small=args.small, split=args.split, store=store,
                            cache_dir=args.cache_dir, progress=lambda msg: print(f"  {msg}", file=sys.stderr))  # fmt: skip
    print(trained.describe(), file=sys.stderr)
    print(trained.path)
    return 0


def _train_notebook_pipelines(args: argparse.Namespace, config, store) -> int:
    """Every pipeline the notebooks load (`workbench.lessons.kit.pipelines`), loaded or trained and stored."""
    import dataclasses
    import os

    from workbench.lessons import kit

    if args.store:
        os.environ["WORKBENCH_MODEL_STORE"] = str(store.root)  # the kit's load_or_train reads the default store
    settings = dataclasses.replace(kit.NotebookSettings(), data=args.data, seed=args.seed, small=args.small)
    for built in kit.warm(settings, say=lambda line: print(line, file=sys.stderr)):
        print(built.path)
    if not args.no_pages:  # then what each page computes, so that a learner's first visit reads it from disk
        from workbench.lessons import results

        kit.data_card_for(settings)  # the data card pages 00 and 05 show (the data set is drawn already: warm)

        results.precompute(settings.cli(), say=lambda line: print(line, file=sys.stderr, flush=True), jobs=args.page_jobs)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.store import ModelStore

    store = ModelStore(args.store)
    for key in args.remove:
        print(f"removed {store.remove(key)}")
    table = store.list()
    if table.empty:
        print(f"the model store {store.root} is empty (fill it with `workbench train`)")
        return 0
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(table.to_string(index=False))
    print(f"\n{len(table)} artefact(s), {table['size_mb'].sum():.1f} MB in {store.root}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``models`` to the ``workbench`` command's sub-commands."""
    from workbench.arguments import CACHE_DIR, SEED, STORE_DIR, add_file_args, data_arg, data_help, existing_file, positive_int
    from workbench.data import SPLITS

    tr = sub.add_parser("train", help="fit the pipeline once and store it (prints the artefact folder)")
    tr.add_argument("--data", type=data_arg, default="synthetic", help=data_help())
    add_file_args(tr)
    tr.add_argument("--config", type=existing_file("a pipeline TOML file such as configs/default.toml"), help="pipeline TOML (default: the built-in PipelineConfig)")
    tr.add_argument("--seed", type=SEED, default=0, help="seed of the synthetic world and of every fit (default 0)")
    tr.add_argument("--small", action="store_true", help="the small synthetic world (quick look, tests)")
    tr.add_argument("--split", choices=sorted(SPLITS), default="temporal", help="train/test split (default temporal)")
    tr.add_argument("--store", type=STORE_DIR, help="store folder (default: data/models, or $WORKBENCH_MODEL_STORE)")
    tr.add_argument("--cache-dir", type=CACHE_DIR, default="data", help="where downloaded data is cached (default: data)")
    tr.add_argument("--notebooks", action="store_true",
                    help="train every pipeline the notebooks load (default, textbook split, each ranker), "
                         "so that every notebook opens without training")  # fmt: skip
    tr.set_defaults(func=cmd_train)
    tr.add_argument("--no-pages", action="store_true",
                    help="with --notebooks: only the pipelines, not the pages' results (by default each page that "
                         "persists its results then runs once as a script, so that it opens from disk)")  # fmt: skip
    tr.add_argument("--page-jobs", type=positive_int("a positive number of pages computed at once"), default=None,
                    help="with --notebooks: pages whose results are computed at once, each a process (default: one per "
                         "CPU; what is stored is the same)")  # fmt: skip

    md = sub.add_parser("models", help="list the model store's artefacts (and remove some)")
    md.add_argument("--remove", nargs="+", default=[], metavar="KEY", help="delete these artefacts first")
    md.add_argument("--store", type=STORE_DIR, help="store folder (default: data/models, or $WORKBENCH_MODEL_STORE)")
    md.set_defaults(func=cmd_models)
