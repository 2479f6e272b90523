"""The pipeline's settings read from a mapping (a TOML file's tables): every table strict, every
error naming the file and the dotted key, before any data is loaded.

`pipeline_settings` checks, with `workbench.settings`:

- the top-level keys of `workbench.pipeline.PipelineConfig` (types; ranges and the stage rule
  ``1 <= k <= n_ranked <= n_candidates`` by the config itself);
- ``[weights]``: known sources, finite non-negative weights, at least one positive;
- ``[source_params.NAME]``: a source of the weights (the written ones, else the defaults), each
  argument typed by the source's constructor and its range checked by building the source;
- ``[ranker_params]``: the chosen ranker's model config (``RANKERS[ranker]``: GBDT's trees,
  leaves and learning rate; a torch ranker's sizes and dropout);
- ``[train]`` (`workbench.ranking.TrainConfig`): with ``ranker = "gbdt"``, a torch-only key
  (``TORCH_ONLY_FIELDS``: epochs, batch_size, lr, weight_decay, patience) set to anything but
  its default is refused, since GBDT would ignore it;
- ``[rerank]`` (`workbench.rerank.RerankConfig`).

It returns the constructor arguments of ``PipelineConfig`` (with ``TrainConfig`` and
``RerankConfig`` built); only keys the user wrote are present, so the config's defaults stay the
code's and never cause an error about a key the file does not hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from workbench.candidates import SOURCES
from workbench.ranking import RANKERS, TrainConfig
from workbench.ranking.train import TORCH_ONLY_FIELDS
from workbench.rerank import RerankConfig
from workbench.settings import SettingsError, build, check_keys, check_type, key, load, typed

TABLES = ("weights", "source_params", "ranker_params", "train", "rerank")


def _default(config_cls: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(config_cls) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def pipeline_settings(raw: Mapping[str, Any], source: str, config_cls: type) -> dict[str, Any]:
    """Constructor arguments of ``config_cls`` (`PipelineConfig`) from ``raw``, checked (module docstring)."""
    values = typed(config_cls, raw, source, "", "pipeline setting(s)", skip=TABLES)
    ranker = values.get("ranker", _default(config_cls, "ranker"))
    if ranker not in RANKERS:
        raise SettingsError(f"{source}: ranker: {ranker!r}: expected one of {sorted(RANKERS)}")

    if "weights" in raw:
        check_keys(raw["weights"], SOURCES, source, "weights", "candidate source(s)")
        weights = check_type(dict[str, float], raw["weights"], source, "weights")
        for name, w in weights.items():
            if w < 0:
                raise SettingsError(f"{source}: {key('weights', name)}: {w!r}: expected a non-negative fusion weight")
        if not any(w > 0 for w in weights.values()):
            raise SettingsError(f"{source}: weights: {weights}: expected at least one positive weight")
        values["weights"] = weights
    sources = values.get("weights", _default(config_cls, "weights"))

    if "source_params" in raw:
        tables = raw["source_params"]
        check_keys(tables, SOURCES, source, "source_params", "candidate source(s)")
        params = {}
        for name, table in tables.items():
            where = key("source_params", name)
            if name not in sources:
                raise SettingsError(f"{source}: {where}: {name} has no weight; expected sources of weights "
                                    f"{sorted(sources)} (add weights.{name} or remove this table)")  # fmt: skip
            params[name] = typed(SOURCES[name], table, source, where, "argument(s)")
            build(SOURCES[name], params[name], source, where)  # the source's own range checks
        values["source_params"] = params

    if "ranker_params" in raw:
        model = RANKERS[ranker]
        checked = typed(model, raw["ranker_params"], source, "ranker_params", f"setting(s) of the {ranker} ranker")
        build(model, checked, source, "ranker_params")
        values["ranker_params"] = checked

    if "train" in raw:
        written = raw["train"]
        if ranker == "gbdt" and isinstance(written, Mapping):
            defaults = TrainConfig()  # a stored config (``to_dict``) holds every field at its default: harmless
            ignored = [k for k in TORCH_ONLY_FIELDS if k in written and written[k] != getattr(defaults, k)]
            if ignored:
                where = ", ".join(key("train", k) for k in ignored)
                raise SettingsError(f"{source}: {where}: GBDT does not read this (the torch rankers' training "
                                    f"loop does); set GBDT's own in [ranker_params]: "
                                    f"{sorted(f.name for f in dataclasses.fields(RANKERS['gbdt']))}")  # fmt: skip
        values["train"] = load(TrainConfig, written, source, "train", "[train] setting(s)")
    if "rerank" in raw:
        values["rerank"] = load(RerankConfig, raw["rerank"], source, "rerank", "[rerank] setting(s)")

    build(config_cls, values, source, "")  # ranges and cross-field rules, naming the keys at fault
    return values
