"""Argument types and shared options of the ``workbench`` commands.

Every command module (``cli.py`` and those it registers: ``store/cli.py``, ``serving/cli.py``,
``loop/cli.py``, ``sweep/cli.py``, ``experiment/ope_cli.py``) takes its argument types from here, so
the entry point is not also a library its commands import back. argparse answers a bad value with
"argument --days: -1: expected ..." and exit status 2, before any data is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SMALL_ENV = "WORKBENCH_SMALL"  # "1" (anything but "" or "0"): the small synthetic world, as with --small


class UsageError(ValueError):
    """An argument that cannot work; the message names the value and what was expected."""


# ---- argument types: argparse answers "argument --days: -1: expected ..." with exit status 2

def number_in(kind: Callable[[str], Any], what: str, low: float | None = None, high: float | None = None,
              low_open: bool = False) -> Callable[[str], Any]:
    """An argparse type: a ``kind`` (int or float) in ``[low, high]`` (``(low, high]`` when ``low_open``;
    None: unbounded), described as ``what`` in the error (``argument --x: -1: expected what``)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {what}") from None
        below = low is not None and (value <= low if low_open else value < low)
        if value != value or below or (high is not None and value > high):  # value != value: NaN
            raise argparse.ArgumentTypeError(f"{value}: expected {what}")
        return value

    return parse


def int_at_least(low: int, what: str, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``, described as ``what`` in the error."""
    return number_in(int, what, low, high)


def positive_float(what: str) -> Callable[[str], float]:
    return number_in(float, what, 0.0, low_open=True)


def unit_interval(what: str) -> Callable[[str], float]:
    """A number in [0, 1] (a rate, a probability)."""
    return number_in(float, what, 0.0, 1.0)


def positive_int(what: str) -> Callable[[str], int]:
    return int_at_least(1, what)


SEED = int_at_least(0, "a non-negative integer seed")


# ---- path types: the kind of path (file or folder, existing or to be written) checked before any work


def _nearest_existing(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def _check_creatable(path: Path, text: str, what: str) -> None:
    """``path`` does not exist: its nearest existing ancestor must be a writable folder."""
    base = _nearest_existing(path.absolute().parent)
    if not base.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {base} is a file, not a folder; expected {what}")
    if not os.access(base, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot create it in {base} (not writable); expected {what}")


def existing_file(what: str) -> Callable[[str], str]:
    """An argparse type: a path to an existing, readable file (not a folder)."""

    def parse(text: str) -> str:
        p = Path(text)
        if p.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: is a folder; expected {what}")
        if not p.is_file():
            raise argparse.ArgumentTypeError(f"{text}: no such file; expected {what}")
        if not os.access(p, os.R_OK):
            raise argparse.ArgumentTypeError(f"{text}: not readable; expected {what}")
        return text

    return parse


def existing_dir(what: str) -> Callable[[str], str]:
    """An argparse type: a path to an existing folder."""

    def parse(text: str) -> str:
        p = Path(text)
        if p.exists() and not p.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder; expected {what}")
        if not p.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: no such folder; expected {what}")
        return text

    return parse


def writable_dir(what: str) -> Callable[[str], str]:
    """An argparse type: a folder to write into: an existing writable folder, or one that can be created."""

    def parse(text: str) -> str:
        p = Path(text)
        if p.exists():
            if not p.is_dir():
                raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder; expected {what}")
            if not os.access(p, os.W_OK | os.X_OK):
                raise argparse.ArgumentTypeError(f"{text}: folder not writable; expected {what}")
        else:
            _check_creatable(p, text, what)
        return text

    return parse


def writable_file(what: str) -> Callable[[str], str]:
    """An argparse type: a file to write: an existing writable file, or one that can be created (not a folder)."""

    def parse(text: str) -> str:
        p = Path(text)
        if p.is_dir() or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{text}: is a folder; expected {what}")
        if p.exists():
            if not os.access(p, os.W_OK):
                raise argparse.ArgumentTypeError(f"{text}: file not writable; expected {what}")
        else:
            _check_creatable(p, text, what)
        return text

    return parse


CACHE_DIR = writable_dir("a folder to cache downloaded data in")
STORE_DIR = writable_dir("a model store folder (created when absent)")


def data_arg(text: str) -> str:
    """An argparse type: a data set name or the path of an interactions file (its canonical reference)."""
    from workbench.data import dataset_name

    try:
        return dataset_name(text)
    except ValueError as exc:  # DataFileError too (a missing file, an unknown option)
        raise argparse.ArgumentTypeError(str(exc)) from None


def data_help(default: str = "synthetic") -> str:
    from workbench.data import DATASETS

    return (f"data set: one of {', '.join(DATASETS)}, or the path of a CSV, TSV or Parquet file of interactions "
            f"(see --columns) (default: {default})")


def add_file_args(p: argparse.ArgumentParser) -> None:
    """``--columns``, ``--items``, ``--users``, ``--duplicates`` and ``--encoding``: how to read ``--data PATH``
    (`workbench.data.files`); `finish_data_args` folds them into ``args.data``."""
    from workbench.data.files import DUPLICATE_POLICIES, ENCODINGS

    g = p.add_argument_group("interaction files (--data PATH)")
    g.add_argument("--columns", default=None, metavar="ROLE=COL,...",
                   help="column mapping, e.g. user=uid,item=iid,timestamp=ts,rating=stars (default: columns named "
                        "user/user_id/userId, item/item_id/movieId, timestamp/ts, rating/score)")  # fmt: skip
    g.add_argument("--item-table", default=None, metavar="PATH", help="item table (id, title, category, release date)")
    g.add_argument("--user-table", default=None, metavar="PATH", help="user table (id and attributes)")
    g.add_argument("--duplicates", choices=DUPLICATE_POLICIES, default=None,
                   help="rows repeated in every column: error (default), drop (keep the first) or keep")
    g.add_argument("--encoding", choices=ENCODINGS, default=None, help="text encoding of the files (default utf-8)")


FILE_OPTIONS = {"columns": "columns", "item_table": "items", "user_table": "users", "duplicates": "duplicates",
                "encoding": "encoding"}  # fmt: skip


def finish_data_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fold ``--columns`` etc. into ``args.data`` (the canonical file reference); UsageError where they
    are given with a named data set. Commands without these options pass through unchanged."""
    from workbench.data import is_file
    from workbench.data.files import FileSource

    given = {opt: getattr(args, attr) for attr, opt in FILE_OPTIONS.items() if getattr(args, attr, None) is not None}
    if not given:
        return args
    data = getattr(args, "data", None)
    if not data or not is_file(data):
        flags = ", ".join("--" + next(a for a, o in FILE_OPTIONS.items() if o == k).replace("_", "-") for k in given)
        raise UsageError(f"{flags} with --data {data or 'synthetic'}: these read an interactions file; expected "
                         "--data PATH (a CSV, TSV or Parquet file)")  # fmt: skip
    try:
        args.data = FileSource.parse(data).with_options(**given).text
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return args


def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--data``, ``--seed``, ``--small`` and ``--cache-dir``, shared by the commands that load data
    (and `add_file_args` for ``--data PATH``)."""
    from workbench.data import SMALL_WORLD

    p.add_argument("--data", type=data_arg, default="synthetic", help=data_help())
    add_file_args(p)
    p.add_argument("--seed", type=SEED, default=None,
                   help="seed of the synthetic world and of every random draw (default 0)")  # fmt: skip
    p.add_argument("--small", action="store_true", default=None,
                   help=f"the small synthetic world ({SMALL_WORLD['n_users']} users, {SMALL_WORLD['n_items']} items); "
                        f"also set by {SMALL_ENV}=1")  # fmt: skip
    p.add_argument("--cache-dir", type=CACHE_DIR, default="data",
                   help="where downloaded data (MovieLens-100K) is cached (default: data)")


def resolve_small(args: argparse.Namespace, stream=sys.stderr) -> bool:
    """``--small``, else ``WORKBENCH_SMALL``; an explicit ``--small`` on MovieLens is an error (it has one size)."""
    from workbench.data import dataset_name

    synthetic = dataset_name(args.data) == "synthetic"
    if args.small:
        if not synthetic:
            raise UsageError(f"--small with --data {args.data}: --small shrinks only the synthetic world; "
                             f"{args.data} has one size")  # fmt: skip
        return True
    env = os.environ.get(SMALL_ENV, "")
    if env in ("", "0"):
        return False
    if not synthetic:
        print(f"note: {SMALL_ENV}={env} does not apply to {args.data} (it shrinks only the synthetic world)", file=stream)
        return False
    return True


def expected_items(data: str, small: bool, cache_dir: str = "data") -> int:
    """Items in a data set, known before loading it."""
    from workbench.data import SMALL_WORLD, SyntheticConfig, dataset_name, expected_counts, load

    name = dataset_name(data)
    if name == "synthetic":
        return SMALL_WORLD["n_items"] if small else SyntheticConfig().n_items
    if name == "movielens-100k":
        return expected_counts(name)["items"]
    return load(name, cache_dir=cache_dir).n_items  # a file or a MovieLens archive: read (and checked) now; the load that follows reuses it


def read_config(path: str):
    """``(PipelineConfig, raw dict)`` from a TOML file; UsageError naming the file, the dotted key (or
    line) otherwise (`workbench.settings`)."""
    from workbench.pipeline import PipelineConfig
    from workbench.settings import SettingsError, read_toml

    try:
        raw = read_toml(path, "a pipeline TOML file such as configs/default.toml")
        return PipelineConfig.from_dict(raw, source=str(path)), raw
    except SettingsError as exc:
        raise UsageError(f"--config {exc}") from None
