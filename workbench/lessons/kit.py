"""The notebook kit: every notebook's set-up in one place.

A notebook's set-up is its marimo setup cell and one cached build::

    with app.setup:
        import dataclasses
        import marimo as mo
        from workbench.lessons import kit
        from workbench.viz import charts

        settings = kit.settings()

    @app.function
    @mo.cache
    def trained(s: kit.NotebookSettings, config=None) -> kit.Trained:
        return kit.trained(s, config)

- `settings`: data set, seed and world size from the command line, with or without
  marimo's ``--`` (``python notebooks/04_reranking.py --data movielens-100k`` and
  ``python notebooks/04_reranking.py -- --data movielens-100k`` are the same), or from
  ``marimo run/edit/export notebook.py -- --data ...``; ``WORKBENCH_SMALL=1`` also
  shrinks the world. A cell rebuilds them with ``dataclasses.replace(settings, data=...)``,
  and `mo.cache` keys on the frozen settings.
- `data_picker`: the data-set dropdown.
- `trained`: the fitted pipeline, through the model store (`workbench.store.load_or_train`):
  loaded when the store holds a matching artefact, else trained once (with progress) and stored.
- `show`: a computed statement on the page; a notebook run as a script prints it, so a
  script run says what it computed. `footer` ends each page with its provenance (and, for a
  script run with ``--out DIR``, writes what it showed to ``DIR/<notebook>.md``).
- `table`: a DataFrame as a table with long text columns wrapped and `RANKS` applied.

`RANKS` is the one ranking convention of every page: positions and ranks count from 1,
and `ABSENT` ("–") marks an item missing from a list. Data frames carry such columns as
pandas nullable integers (``Int64``), with ``<NA>`` for absent.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.data import DATASETS, Dataset, dataset_name, load
from workbench.provenance import provenance, provenance_markdown
from workbench.settings import check_fields

if TYPE_CHECKING:  # the store is imported when a pipeline is needed
    from workbench.pipeline import PipelineConfig
    from workbench.store import Trained

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"
SMALL_ENV = "WORKBENCH_SMALL"
ARGUMENTS = "--data NAME (one of " + ", ".join(DATASETS) + ") or PATH (an interactions file), --seed N, --small, --out DIR"
ABSENT = "–"
RANKS = f"Positions and ranks count from 1 (1 = the top of a list); {ABSENT} marks an item that is not in that list."
WRAP_CHARS = 40  # text columns with longer cells wrap instead of being cut off

_shown: list[str] = []  # what `show` printed in this script run, for `footer`'s export


@dataclass(frozen=True)
class NotebookSettings:
    """What a notebook runs on: data set, seed, whether to shrink the world (tests, quick looks).

    ``small`` shrinks the synthetic world to `workbench.data.SMALL_WORLD`. ``out``: a folder
    where a script run writes what it showed (``--out``); it changes no figure.
    """

    data: str = "synthetic"
    seed: int = 0
    small: bool = False
    out: str | None = None

    def __post_init__(self) -> None:
        check_fields(self)  # strict types, as a settings file's (workbench.settings): seed="3" or small=1 refused
        object.__setattr__(self, "data", dataset_name(self.data))
        if self.seed < 0:
            raise ValueError(f"seed={self.seed!r}: expected a non-negative integer")

    def cli(self) -> list[str]:
        """The notebook arguments that reproduce these settings (``out`` changes no figure and is left out)."""
        return ["--data", self.data, "--seed", str(self.seed)] + (["--small"] if self.small else [])

    def marimo_cli(self) -> list[str]:
        """`cli` as marimo's own parser (``mo.cli_args``) must get it: ``--name=value`` in one word (marimo splits a
        separate value at its first ``=``, and a file reference's options hold one: ``log.csv?columns=user=uid``)."""
        return [f"--data={self.data}", f"--seed={self.seed}"] + (["--small"] if self.small else [])

    def record(self) -> dict[str, Any]:
        """These settings as the plain mapping `workbench.provenance.provenance` reads."""
        return {"data": self.data, "seed": self.seed, "small": self.small, "cli": self.cli()}


def parse_argv(argv: Sequence[str]) -> dict[str, str]:
    """``--data movielens-100k --seed=3 --small`` as ``{"data": ..., "seed": "3", "small": ""}``.

    A bare ``--`` (marimo's separator between its own arguments and the notebook's) is skipped.
    """
    args: dict[str, str] = {}
    waiting: str | None = None
    for arg in argv:
        if arg == "--":
            waiting = None
        elif arg.startswith("-"):
            name, eq, value = arg.lstrip("-").partition("=")
            args[name] = value
            waiting = None if eq else name
        elif waiting is not None:
            args[waiting], waiting = arg, None
        else:
            raise ValueError(f"notebook argument {arg!r} follows no --name: expected {ARGUMENTS}")
    return args


def _cli_args() -> dict[str, Any]:
    import marimo as mo

    if mo.running_in_notebook():  # marimo run / edit / export: the arguments after its ``--``
        return dict(mo.cli_args().to_dict())
    return parse_argv(sys.argv[1:])  # python notebooks/NN_name.py [--] --data ...


def _flag(value: Any, name: str) -> bool:
    if value in ("", True, 1, "1", "true", "True", "yes"):
        return True
    if value in (False, 0, "0", "false", "False", "no"):
        return False
    raise ValueError(f"--{name} {value!r}: expected no value (on), or true/false")


def settings(cli_args: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> NotebookSettings:
    """The notebook's settings: ``--data``, ``--seed``, ``--small``, ``--out`` (``cli_args``; default:
    the command line this notebook was started with) and ``WORKBENCH_SMALL=1`` (``env``).

    Raises ValueError naming an unknown argument or a bad value before any work is done.
    """
    args = _cli_args() if cli_args is None else dict(cli_args)
    args.pop("", None)  # marimo's own parser reads the separator ``--`` as an empty name
    unknown = sorted(set(args) - {"data", "seed", "small", "out"})
    if unknown:
        raise ValueError(f"unknown notebook argument(s) {['--' + u for u in unknown]}: expected {ARGUMENTS}")
    env = os.environ if env is None else env
    seed = args.get("seed", 0)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise ValueError(f"--seed {seed!r}: expected a non-negative integer") from None
    out = args.get("out")
    if out in ("", True):
        raise ValueError("--out needs a folder: expected --out DIR")
    if out is not None:
        from workbench.arguments import writable_dir

        try:
            writable_dir("a folder to write what the notebook showed to")(str(out))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--out {exc}") from None
    return NotebookSettings(
        data=str(args.get("data", "synthetic")),
        seed=seed,
        small=_flag(args.get("small", False), "small") or env.get(SMALL_ENV, "") not in ("", "0"),
        out=None if out is None else str(out),
    )


def data_picker(s: NotebookSettings, label: str = "data set"):
    """The data-set dropdown, starting at the settings' data set."""
    import marimo as mo

    options = list(DATASETS) + ([s.data] if s.data not in DATASETS else [])  # a file named by --data PATH
    return mo.ui.dropdown(options=options, value=s.data, label=label)


def dataset(s: NotebookSettings) -> Dataset:
    """The data set the settings name (`workbench.data.load`, MovieLens cached under ``data/``): drawn or read
    once per process (`workbench.store.memo`: the served pages' visits are threads of one process), except an
    interactions file, which is read each time (its content may change)."""
    from workbench.data import is_file

    def make() -> Dataset:
        return load(s.data, cache_dir=str(DATA_DIR), seed=s.seed, small=s.small)

    if is_file(s.data):
        return make()
    from workbench.store.memo import remember

    return remember("dataset", ("load", s.data, s.seed, s.small, str(DATA_DIR)), make)


def default_config(s: NotebookSettings) -> PipelineConfig:
    """The pipeline every notebook starts from: `PipelineConfig` defaults with the settings' seed."""
    from workbench.pipeline import PipelineConfig

    return PipelineConfig(seed=s.seed)


# --- the fitted pipeline --------------------------------------------------------------------------------


def mode() -> str | None:
    """marimo's run mode: "script" for ``python notebooks/NN_name.py``; "edit"/"run" in a kernel; None outside."""
    import marimo as mo

    return mo.app_meta().mode


@contextlib.contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """A callable that reports one progress line: a spinner on a page, printed lines in a script,
    nothing elsewhere (tests). Each line carries the seconds elapsed since ``title``."""
    import marimo as mo

    t0 = time.perf_counter()
    where = mode()
    if where == "script":
        said: list[str] = []

        def step(line: str) -> None:
            if not said:  # the title only when there is progress to report (a load is silent)
                print(title, flush=True)
            said.append(line)
            print(f"  [{time.perf_counter() - t0:5.1f} s] {line}", flush=True)

        yield step
    elif where in ("edit", "run"):
        with mo.status.spinner(title=title) as spinner:
            yield lambda line: spinner.update(subtitle=f"{line} ({time.perf_counter() - t0:.0f} s so far)")
    else:
        yield lambda line: None


def trained(s: NotebookSettings, config: PipelineConfig | None = None) -> Trained:
    """The pipeline fitted on the settings' data with ``config`` (default: `default_config`).

    The one way a notebook obtains a fitted pipeline: `workbench.store.load_or_train` loads a
    matching artefact from the model store, or trains one now (reporting progress) and stores it,
    so that the next visit loads it. ``.describe()`` says which (see `started`).
    """
    from workbench.store import load_or_train

    cfg = config if config is not None else default_config(s)
    title = (f"Model store: loading the {cfg.ranker} pipeline for {s.data}"
             f"{' (small world)' if s.small else ''}, or training and storing it")  # fmt: skip
    with progress(title) as step:
        return load_or_train(data=s.data, config=cfg, seed=s.seed, small=s.small, cache_dir=DATA_DIR, progress=step)


AMAZON_RECIPE = ROOT / "configs" / "casestudies" / "amazon.toml"  # notebook 11's item-page pipeline
HEARTBEAT_S = 15.0  # `warm` says what it is doing at least this often


def pipelines(s: NotebookSettings) -> dict[str, PipelineConfig]:
    """Every pipeline the notebooks load for these settings, by name: the default (01–04, 11), the textbook
    split of stage 1 (02, 03), the default with each other ranker (03; 12's heavier ranker is an ensemble of the
    default's and these pipelines' rankers) and the Amazon recipe (11)."""
    from workbench.lessons.candidates import textbook_config
    from workbench.pipeline import PipelineConfig
    from workbench.ranking import RANKERS

    cfg = default_config(s)
    out = {"default": cfg, "textbook split": textbook_config(cfg)}
    out |= {f"ranker {name}": dataclasses.replace(cfg, ranker=name) for name in RANKERS if name != cfg.ranker}
    out["Amazon recipe (11)"] = dataclasses.replace(PipelineConfig.from_toml(AMAZON_RECIPE), seed=s.seed)
    from workbench.lessons.served_latency import configs as served_configs

    missing = [c for c in served_configs(s.seed)[1] if c not in out.values()]  # 12's ensemble members (all above today)
    out |= {f"heavier ranker (12), member {c.ranker}": c for c in missing}
    return out


def warm(s: NotebookSettings, say: Callable[[str], None] = print, heartbeat_s: float = HEARTBEAT_S) -> list[Trained]:
    """Load or train (and store) every pipeline of `pipelines`, saying which: after this, every notebook
    opens on these settings without training (what ``make run`` does in the background while it serves).

    Every line says ``[artefact k of N, name]``; while one trains, a line at least every ``heartbeat_s``
    seconds says its current phase (stage 1, the ranker, its epochs), the time so far and, going by the last
    fit stored here, about how long is left."""
    import threading

    from workbench.store import ModelStore, load_or_train

    configs = pipelines(s)
    out = []
    for k, (name, cfg) in enumerate(configs.items(), 1):
        tag = f"[artefact {k} of {len(configs)}, {name}]"
        expected = ModelStore().expected_fit_seconds(s.data)  # the last fit stored here, for the time left
        t0 = time.monotonic()
        phase = {"line": "loading the data and looking in the model store", "at": t0}
        done = threading.Event()

        def step(line: str, tag: str = tag, phase: dict = phase) -> None:
            phase.update(line=line, at=time.monotonic())
            say(f"{tag} {line}")

        def beat(tag: str = tag, phase: dict = phase, t0: float = t0, done: threading.Event = done,
                 expected: float | None = expected) -> None:  # fmt: skip
            said = t0
            while not done.wait(1.0):
                now = time.monotonic()
                if now - max(phase["at"], said) < heartbeat_s:
                    continue  # a line went out recently
                said = now
                left = f", about {max(expected - (now - t0), 0):.0f} s left" if expected else ""
                say(f"{tag} still at: {phase['line']} ({now - phase['at']:.0f} s in this phase, "
                    f"{now - t0:.0f} s on this artefact{left})")  # fmt: skip

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            built = load_or_train(data=s.data, config=cfg, seed=s.seed, small=s.small, cache_dir=DATA_DIR, progress=step)
        finally:
            done.set()
            thread.join()
        say(f"{tag} {built.describe()}")
        out.append(built)
    return out


def started(built: Trained) -> Any:
    """The page's header: the data card's summary line (`data_header`) and which artefact the page uses,
    loaded (key, when it was trained, seconds) or trained now."""
    import marimo as mo

    return mo.vstack([data_header(built.train, built.test), show(f"**Model store:** {built.describe()}")])


def data_header(train: Dataset, test: Dataset, split: str = "temporal") -> Any:
    """The data card (`workbench.data.card`) of a split as one line at the top of a page (`started`
    shows it on every page with a pipeline; `data_header_for` gives it to the others)."""
    from workbench.data.card import card_markdown, data_card

    return show(card_markdown(data_card(train, test, split)))


def data_header_for(s: NotebookSettings, split: str = "temporal") -> Any:
    """`data_header` of the settings' data set under ``split`` (for a page without a fitted pipeline)."""
    from workbench.data import split as split_data

    return data_header(*split_data(dataset(s), split, **({"seed": s.seed} if split == "random" else {})), split)


# --- what a page shows ----------------------------------------------------------------------------------


def plain(markdown: str) -> str:
    """Markdown as one line of plain text (emphasis, code marks and HTML tags dropped)."""
    text = re.sub(r"<[^>]+>", "", markdown)
    text = re.sub(r"\*\*|`", "", text)
    return re.sub(r"\s+", " ", text).strip()


TRANSCRIPT_ENV = "WORKBENCH_TRANSCRIPT"  # a file: each computed line is appended to it, in any run mode


def _transcribe(line: str) -> None:
    """Append ``line`` to the ``WORKBENCH_TRANSCRIPT`` file when it is set: what a script run prints,
    written by any run (the tests read one export run as both the page and the script's lines)."""
    path = os.environ.get(TRANSCRIPT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def show(markdown: str) -> Any:
    """A computed statement: Markdown on the page; printed (as plain text) when run as a script."""
    import marimo as mo

    line = plain(markdown)
    if mode() == "script":
        _shown.append(line)
        print(line, flush=True)
    _transcribe(line)
    return mo.md(markdown)


def ranks(values: Any) -> pd.Series:
    """1-based ranks as nullable integers: ``<NA>`` (shown as `ABSENT`) where a value is missing or < 1."""
    s = pd.Series(values, dtype="Float64")
    return s.where(s >= 1).astype("Int64")


def displayed(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """``df`` as a page shows it: floats rounded, nullable integers (ranks) with `ABSENT` for ``<NA>``."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_integer_dtype(s.dtype):
            out[col] = s.astype(object).where(s.notna(), ABSENT).map(lambda v: v if v == ABSENT else int(v))
        elif pd.api.types.is_float_dtype(s.dtype):
            out[col] = s.round(digits)
    return out


def wrapped(df: pd.DataFrame, limit: int = WRAP_CHARS) -> list[str]:
    """The text columns of ``df`` with a cell (or header) longer than ``limit`` characters."""
    out = []
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            longest = df[col].astype(str).str.len().max() if len(df) else 0
            if max(longest, len(str(col))) > limit:
                out.append(str(col))
    return out


def table(df: pd.DataFrame, digits: int = 4, page_size: int | None = None, **kwargs: Any) -> Any:
    """``df`` as a marimo table: every row on one page (up to 50), no selection, long text wrapped,
    ranks shown with `ABSENT`."""
    import marimo as mo

    shown = displayed(df, digits)
    kwargs.setdefault("selection", None)
    kwargs.setdefault("wrapped_columns", wrapped(shown))
    return mo.ui.table(shown, page_size=page_size or min(max(len(shown), 1), 50), **kwargs)


def static_table(df: pd.DataFrame, digits: int = 4) -> Any:
    """``df`` (a few rows, read rather than sorted) as a static HTML table, rounded like `table`: no data-table
    component for the browser to mount, so a page with many small tables draws sooner (page 11)."""
    import marimo as mo

    html = displayed(df, digits).to_html(index=False, border=0, na_rep="", escape=True)
    return mo.Html(f'<div class="markdown prose">{html}</div>')


def footer(s: NotebookSettings, config: Any, notebook: str) -> Any:
    """The provenance footer (`workbench.provenance.provenance`): the command that reproduces the page,
    seed, config, commit and versions. A script run prints the command and, with ``--out DIR``,
    writes the lines it showed to ``DIR/<notebook>.md`` and prints that path."""
    import marimo as mo


    name = Path(notebook).name
    prov = provenance(s.record(), config, name)
    text = provenance_markdown(prov)
    _transcribe(f"Reproduce: {prov['command']}")
    if mode() == "script":
        print(f"Reproduce: {prov['command']}", flush=True)
        if s.out is not None:
            path = Path(s.out) / f"{Path(name).stem}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            body = "\n".join(f"- {line}" for line in _shown)
            path.write_text(f"# {name}\n\n{body}\n\n{text}\n", encoding="utf-8")
            print(f"Exported what this notebook showed to {path}", flush=True)
    return mo.md(text)
