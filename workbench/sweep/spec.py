"""Sweep files: which configs to run, on which data, with which metrics and seeds.

A sweep file is TOML. ``[sweep]`` names the data and what to record; ``[grid]`` lists
values per config field (every combination is run); ``[random]`` draws ``samples``
values per field. With both, every grid point is crossed with the same ``samples``
draws (so grid points are compared on paired draws). Fields are dotted paths into
`workbench.pipeline.PipelineConfig`::

    [sweep]
    data = "movielens-100k"      # or "synthetic" (small = true: the small world)
    seeds = [0]                  # one row per config × seed (seed of the world and of every fit)
    base = "default.toml"        # a pipeline TOML, relative to this file (default: PipelineConfig())
    metrics = ["ndcg", "intra_list_diversity"]   # default: every metric of workbench.metrics.evaluate
    extra_k = [5]                # cut-offs besides each config's k, as `workbench evaluate --extra-k`
    samples = 20                 # random draws of [random]
    sample_seed = 0

    [grid]
    "rerank.lam" = [0.0, 0.5, 1.0]            # stage 3 (served from one fitted artefact)
    "weights.ease" = [0.5, 1.0]               # stage 1: one fit per distinct value
    "source_params.itemknn.neighbours" = [50, 100]
    ranker = ["wide_deep", "gbdt"]
    "train.epochs" = [5, 20]
    k = [10, 20]

    [random]
    "rerank.exploration_rate" = { uniform = [0.0, 0.2] }
    "rerank.freshness_weight" = { loguniform = [0.01, 1.0] }
    "rerank.category_cap" = { choice = [2, 3, 4] }
    "train.epochs" = { integers = [1, 20] }   # inclusive

A *study* sweep (``study = "aa" | "power" | "sensitivity" | "offpolicy"`` in ``[sweep]``)
runs the simulation studies of `workbench.experiment` instead; its ``[study]`` table holds
fixed study parameters and ``[grid]``/``[random]`` name study parameters (`workbench.sweep.studies`).

Everything is checked here, before any data loads: unknown fields, values a config
rejects, an empty sweep.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.settings import SettingsError, load
from workbench.sweep.evaluation import METRICS

DISTRIBUTIONS = ("uniform", "loguniform", "integers", "choice")
SWEEP_KEYS = ("name", "data", "small", "split", "seeds", "base", "metrics", "extra_k", "graded", "samples",
              "sample_seed", "study")  # fmt: skip


class SweepError(ValueError):
    """A sweep file that cannot run; the message names the file, the field and what was expected."""


@dataclass(frozen=True)
class SweepTable:
    """The ``[sweep]`` table as written, read strictly by `workbench.settings` (types; errors name the file and
    ``sweep.KEY``); its ranges here. ``seeds``, ``extra_k`` and ``metrics`` may be one value or an array."""

    name: str | None = None
    data: str = "synthetic"
    small: bool = False
    split: str = "temporal"
    seeds: tuple[int, ...] = (0,)
    base: str | None = None
    metrics: tuple[str, ...] = METRICS
    extra_k: tuple[int, ...] = ()
    graded: bool = False
    samples: int = 0
    sample_seed: int = 0
    study: str | None = None

    def __post_init__(self) -> None:
        from workbench.data import SPLITS, dataset_name

        object.__setattr__(self, "data", dataset_name(self.data))
        if self.small and self.data != "synthetic":
            raise ValueError(f"small = {self.small!r}: expected true only for synthetic data (data = {self.data!r})")
        if self.split not in SPLITS:
            raise ValueError(f"split = {self.split!r}: expected one of {sorted(SPLITS)}")
        for name, least in (("seeds", 0), ("extra_k", 1)):
            values = getattr(self, name)
            if (name == "seeds" and not values) or any(v < least for v in values):
                raise ValueError(f"{name} = {list(values)!r}: expected a non-empty list of integers >= {least}")
            object.__setattr__(self, name, tuple(dict.fromkeys(values)))
        wrong = [m for m in self.metrics if m not in METRICS]
        if wrong or not self.metrics:
            raise ValueError(f"metrics: unknown {wrong or list(self.metrics)!r}; expected some of {list(METRICS)}")
        object.__setattr__(self, "metrics", tuple(dict.fromkeys(self.metrics)))
        for name in ("samples", "sample_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: expected an integer >= 0")


@dataclass(frozen=True)
class Trial:
    """One config × seed: a row of the results table."""

    config_id: str  # digest of everything that decides the row's figures
    seed: int
    values: dict[str, Any]  # swept path → value (the row's config columns)
    label: str  # "rerank.lam=0.5 rerank.freshness_decay=1"
    config: Any = None  # PipelineConfig (pipeline sweeps)
    params: dict[str, Any] = field(default_factory=dict)  # study parameters (study sweeps)
    config_dict: dict[str, Any] | None = None  # the config as plain (JSON) data


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    data: str = "synthetic"
    small: bool = False
    split: str = "temporal"
    seeds: tuple[int, ...] = (0,)
    base: dict[str, Any] = field(default_factory=dict)  # pipeline config (raw dict) or study parameters
    grid: dict[str, list[Any]] = field(default_factory=dict)
    random: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: int = 0
    sample_seed: int = 0
    metrics: tuple[str, ...] = METRICS
    extra_k: tuple[int, ...] = ()
    graded: bool = False
    study: str | None = None
    name: str = "sweep"
    source: str = "sweep"

    @property
    def swept(self) -> tuple[str, ...]:
        """The swept fields, grid first, in file order."""
        return tuple(self.grid) + tuple(p for p in self.random if p not in self.grid)

    def trials(self) -> list[Trial]:
        """Every config × seed of the sweep, each checked (SweepError naming the config otherwise)."""
        return list(self._trials)

    @functools.cached_property
    def _trials(self) -> tuple[Trial, ...]:
        return tuple(self._expand())

    def _expand(self) -> list[Trial]:
        points = self.points()
        if self.study is not None:
            from workbench.sweep.studies import check_params

            out = []
            for values in points:
                params = {**self.base, **values}
                try:
                    params = check_params(self.study, params)
                except ValueError as exc:
                    raise SweepError(f"{self.source}: {label_of(values)}: {exc}") from None
                out += [self._trial(values, seed, params=params) for seed in self.seeds]
            return _unique(out)
        out = []
        checked: set[str] = set()  # upstream configs whose sources were built (the check is the same for all)
        for values in points:
            config = self.config_for(values, checked)
            out += [self._trial(values, seed, config=dataclasses.replace(config, seed=seed)) for seed in self.seeds]
        return _unique(out)

    def points(self) -> list[dict[str, Any]]:
        """The swept values of each config: grid product × random draws."""
        names = list(self.grid)
        grid = [dict(zip(names, combo)) for combo in itertools.product(*(self.grid[n] for n in names))]
        if not self.random:
            return grid
        rng = np.random.default_rng(self.sample_seed)
        draws = {path: draw(rng, dist, self.samples) for path, dist in self.random.items()}
        samples = [{p: draws[p][i] for p in self.random} for i in range(self.samples)]
        return [{**g, **s} for g in grid for s in samples]

    def config_for(self, values: dict[str, Any], checked: set[str] | None = None):
        """The PipelineConfig of ``base`` with ``values`` set at their dotted paths (SweepError if it is rejected).
        Each source is built once (its constructor checks its arguments) per upstream config not in ``checked``."""
        from workbench.pipeline import Pipeline, PipelineConfig
        from workbench.store.store import SERVING_FIELDS

        raw = json.loads(json.dumps(self.base))  # a deep copy
        for path, value in values.items():
            set_path(raw, path, value)
        upstream = json.dumps({k: v for k, v in raw.items() if k not in SERVING_FIELDS}, sort_keys=True)
        try:
            config = PipelineConfig.from_dict(raw, source=self.source)
            if checked is None or upstream not in checked:
                Pipeline(config).make_generator()  # no fitting
                if checked is not None:
                    checked.add(upstream)
        except (TypeError, ValueError) as exc:
            raise SweepError(f"{self.source}: config {label_of(values)}: {exc}") from None
        return config

    def ks(self, k: int) -> tuple[int, ...]:
        """The cut-offs of a config with slate length ``k`` (as `workbench evaluate --k k --extra-k ...`)."""
        return tuple(sorted({int(k), *self.extra_k}))

    def evaluation(self) -> dict[str, Any]:
        """What decides the figures besides the config (part of every config id)."""
        return {"data": self.data, "small": self.small, "split": self.split, "metrics": list(self.metrics),
                "extra_k": list(self.extra_k), "graded": self.graded, "study": self.study}  # fmt: skip

    def _trial(self, values: dict[str, Any], seed: int, config: Any = None, params: dict | None = None) -> Trial:
        plain = json.loads(json.dumps(config.to_dict())) if config is not None else None
        what = plain if plain is not None else {**(params or {}), "seed": seed}
        blob = json.dumps({"what": what, "evaluation": self.evaluation()}, sort_keys=True, default=repr)
        cid = hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()
        return Trial(cid, seed, dict(values), label_of(values), config, dict(params or {}), plain)


def _unique(trials: list[Trial]) -> list[Trial]:
    """Trials with distinct config ids, first kept (random draws can repeat a config)."""
    seen: dict[str, Trial] = {}
    for t in trials:
        seen.setdefault(t.config_id, t)
    return list(seen.values())


def label_of(values: dict[str, Any]) -> str:
    """``path=value`` pairs of the swept values ("default" when nothing is swept)."""
    return " ".join(f"{p}={_fmt(v)}" for p, v in values.items()) or "default"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return str(v)


# ---- dotted paths into a PipelineConfig


def config_paths() -> dict[str, str]:
    """What each top-level field takes in a path: "value", "table" (a dataclass: train, rerank),
    "weights" (weights.SOURCE), "params" (source_params.SOURCE.ARG) or "model" (ranker_params.FIELD)."""
    from workbench.pipeline import PipelineConfig

    kinds = {}
    for f in dataclasses.fields(PipelineConfig):
        kinds[f.name] = {"train": "table", "rerank": "table", "weights": "weights", "source_params": "params",
                   "ranker_params": "model"}.get(
            f.name, "value"
        )
    return kinds


def check_path(path: str) -> None:
    """SweepError unless ``path`` names a field of PipelineConfig (see the module docstring)."""
    from workbench.candidates import SOURCES
    from workbench.ranking import TrainConfig
    from workbench.rerank import RerankConfig

    parts = path.split(".")
    kinds = config_paths()
    head = parts[0]
    if head == "seed":
        raise SweepError(f"{path!r}: the seed is not a config field here; list seeds in [sweep] seeds = [...]")
    if head not in kinds:
        raise SweepError(f"{path!r}: unknown config field {head!r}; expected one of {sorted(kinds)} "
                         "(nested ones as rerank.lam, train.epochs, weights.ease, source_params.itemknn.neighbours)")
    kind = kinds[head]
    if kind == "value" and len(parts) != 1:
        raise SweepError(f"{path!r}: {head} is a single value; expected the path {head!r}")
    if kind == "table":
        table = {"train": TrainConfig, "rerank": RerankConfig}[head]
        fields = sorted(f.name for f in dataclasses.fields(table))
        if len(parts) != 2 or parts[1] not in fields:
            raise SweepError(f"{path!r}: expected {head}.FIELD with FIELD one of {fields}")
        if parts[1] == "seed":
            raise SweepError(f"{path!r}: seeds come from [sweep] seeds (each stage's seed is the pipeline's)")
    if kind == "model" and len(parts) != 2:  # the field is checked against the ranker with the config
        raise SweepError(f"{path!r}: expected ranker_params.FIELD (a setting of the chosen ranker's model)")
    if kind in ("weights", "params"):
        want = 2 if kind == "weights" else 3
        if len(parts) != want or parts[1] not in SOURCES:
            form = f"{head}.SOURCE" + (".ARGUMENT" if kind == "params" else "")
            raise SweepError(f"{path!r}: expected {form} with SOURCE one of {sorted(SOURCES)}")


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at dotted ``path`` in a config dict, creating tables on the way."""
    parts = path.split(".")
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = list(value) if isinstance(value, tuple) else value


# ---- random draws


def check_distribution(path: str, dist: Any, source: str) -> dict[str, Any]:
    """A ``{uniform|loguniform|integers: [lo, hi]}`` or ``{choice: [...]}`` table, checked."""
    where = f"{source}: [random] {path!r}"
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise SweepError(f"{where} = {dist!r}: expected one of " + ", ".join(f"{{ {d} = [...] }}" for d in DISTRIBUTIONS))
    kind, arg = next(iter(dist.items()))
    if not isinstance(arg, list) or not arg:
        raise SweepError(f"{where}: {kind} = {arg!r}: expected a non-empty list")
    if kind == "choice":
        return dist
    if len(arg) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                                for x in arg) or arg[0] > arg[1]:  # fmt: skip
        raise SweepError(f"{where}: {kind} = {arg!r}: expected [low, high] finite numbers with low <= high")
    if kind == "integers" and not all(isinstance(x, int) for x in arg):
        raise SweepError(f"{where}: integers = {arg!r}: expected integer bounds")
    if kind == "loguniform" and arg[0] <= 0:
        raise SweepError(f"{where}: loguniform = {arg!r}: expected bounds > 0")
    return dist


def draw(rng: np.random.Generator, dist: dict[str, Any], n: int) -> list[Any]:
    """``n`` values from a checked distribution table (python scalars, so they serialise plainly)."""
    kind, arg = next(iter(dist.items()))
    if kind == "uniform":
        return [float(x) for x in rng.uniform(arg[0], arg[1], n)]
    if kind == "loguniform":
        return [float(x) for x in np.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]), n))]
    if kind == "integers":
        return [int(x) for x in rng.integers(arg[0], arg[1], n, endpoint=True)]
    picks = rng.integers(0, len(arg), n)
    return [arg[int(i)] for i in picks]


# ---- reading a sweep file


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (module docstring); SweepError naming the file and field otherwise."""
    p = Path(path)
    if not p.is_file():
        raise SweepError(f"{path}: no such sweep file (expected a TOML file such as configs/sweep_rerank.toml)")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: not valid TOML: {exc}") from None
    return parse_sweep(raw, source=str(path), folder=p.parent)


def parse_sweep(raw: dict[str, Any], source: str = "sweep", folder: str | Path = ".") -> SweepSpec:
    """A SweepSpec from a sweep file's tables (``folder`` resolves ``base``)."""
    unknown = sorted(set(raw) - {"sweep", "grid", "random", "study"})
    if unknown:
        raise SweepError(f"{source}: unknown table(s) {unknown}; expected [sweep], [grid], [random] (and [study])")
    head = raw.get("sweep", {})
    if isinstance(head, dict):  # one value where an array is expected: an array of one
        head = {k: [v] if k in ("seeds", "extra_k", "metrics") and not isinstance(v, list) else v for k, v in head.items()}
    try:
        table = load(SweepTable, head, source, "sweep", "[sweep] key(s)")  # types and ranges, naming sweep.KEY
    except SettingsError as exc:
        raise SweepError(str(exc)) from None
    data, small, split, seeds = table.data, table.small, table.split, table.seeds
    samples, sample_seed = table.samples, table.sample_seed
    study = table.study
    grid = dict(raw.get("grid", {}))
    random_ = dict(raw.get("random", {}))
    for path, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{source}: [grid] {path!r} = {values!r}: expected a non-empty list of values")
    random_ = {p: check_distribution(p, d, source) for p, d in random_.items()}
    if random_ and samples == 0:
        raise SweepError(f"{source}: [random] lists {sorted(random_)} but [sweep] samples = 0; "
                         "expected samples >= 1 (how many draws)")  # fmt: skip
    if samples and not random_:
        raise SweepError(f"{source}: [sweep] samples = {samples} but there is no [random] table to draw from")
    both = sorted(set(grid) & set(random_))
    if both:
        raise SweepError(f"{source}: {both} in both [grid] and [random]; expected each field in one of them")

    common = dict(data=data, small=small, split=split, seeds=seeds, grid=grid, random=random_, samples=samples,
                  sample_seed=sample_seed, name=table.name or Path(source).stem, source=source)  # fmt: skip
    if study is not None:
        from workbench.sweep.studies import STUDIES, check_params

        if study not in STUDIES:
            raise SweepError(f"{source}: sweep.study: {study!r}: expected one of {sorted(STUDIES)}")
        for key in ("base", "metrics", "extra_k", "graded"):
            if key in head:
                raise SweepError(f"{source}: [sweep] {key} applies to pipeline sweeps, not to study = {study!r}")
        base = dict(raw.get("study", {}))
        for path in (*base, *grid, *random_):
            if path not in STUDIES[study].defaults:
                raise SweepError(f"{source}: {path!r} is not a parameter of the {study} study; "
                                 f"expected some of {sorted(STUDIES[study].defaults)}")  # fmt: skip
        try:
            check_params(study, base, source, "study")
        except SettingsError as exc:
            raise SweepError(str(exc)) from None
        except ValueError as exc:
            raise SweepError(f"{source}: [study]: {exc}") from None
        spec = SweepSpec(base=base, study=study, **common)
    else:
        if "study" in raw:
            raise SweepError(f"{source}: a [study] table needs [sweep] study = one of aa, power, sensitivity, offpolicy")
        base = _base_config(table.base, source, Path(folder))
        for path in (*grid, *random_):
            check_path(path)
        metrics, extra_k, graded = table.metrics, table.extra_k, table.graded
        spec = SweepSpec(base=base, metrics=metrics, extra_k=extra_k, graded=graded, **common)
    trials = spec.trials()  # every config checked now, before any work
    if not trials:
        raise SweepError(f"{source}: the sweep has no configs")
    return spec


def _base_config(base: Any, source: str, folder: Path) -> dict[str, Any]:
    """The base pipeline config as a raw dict (``base`` = a TOML path relative to the sweep file)."""
    from workbench.pipeline import PipelineConfig

    if base is None:
        return json.loads(json.dumps(PipelineConfig().to_dict(), default=list))
    path = Path(base) if Path(base).is_absolute() else folder / base
    if not path.is_file():
        raise SweepError(f"{source}: [sweep] base = {base!r}: no such file {path} (expected a pipeline TOML)")
    try:
        config = PipelineConfig.from_toml(path)
    except (tomllib.TOMLDecodeError, TypeError, ValueError) as exc:
        raise SweepError(f"{source}: [sweep] base = {base!r}: {exc}") from None
    return json.loads(json.dumps(config.to_dict(), default=list))

