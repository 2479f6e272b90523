"""Write a sweep's winning config as a pipeline TOML that ``workbench train`` / ``serve`` / ``evaluate`` read.

`config_to_toml` writes every field of a `workbench.pipeline.PipelineConfig` in the layout
of ``configs/default.toml`` (top-level values, then ``[weights]``,
``[source_params.NAME]``, ``[train]``, ``[rerank]``), so that
``PipelineConfig.from_toml`` gives back an equal config. TOML has no null: a field
set to None is left out, which reads back as its default, so this only works when that
default is None too (otherwise a ValueError says which field cannot be written; a None in
``source_params`` never can, as leaving it out changes the config and so its artefact key).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name)


def _value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    raise ValueError(f"{where} = {v!r}: a {type(v).__name__} cannot be written to TOML")


def _defaults_none(path: tuple[str, ...]) -> bool:
    """Whether the default of the config field at ``path`` is None (so leaving it out is exact)."""
    from workbench.pipeline import PipelineConfig

    if path[0] == "source_params":  # an absent argument reads back as a different config (and artefact key)
        return False
    node: Any = PipelineConfig()
    for part in path:
        node = getattr(node, part) if dataclasses.is_dataclass(node) else node.get(part)
    return node is None


def _scalars(table: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    lines = []
    for name, v in table.items():
        if isinstance(v, dict):
            continue
        if v is None:
            if not _defaults_none((*path, name)):
                raise ValueError(f"{'.'.join((*path, name))} = None cannot be written to TOML (no null) and its "
                                 "default is not None; set it explicitly before exporting")  # fmt: skip
            continue
        lines.append(f"{_key(name)} = {_value(v, '.'.join((*path, name)))}")
    return lines


def config_to_toml(config, header: str = "") -> str:
    """The TOML text of a PipelineConfig (``header``: comment lines put on top)."""
    raw = config.to_dict()
    out = [f"# {line}" if line else "#" for line in header.splitlines()]
    out += _scalars(raw, ())
    out += ["", "[weights]", *_scalars(raw["weights"], ("weights",))]
    for name, params in raw["source_params"].items():
        out += ["", f"[source_params.{_key(name)}]", *_scalars(params, ("source_params", name))]
    if raw.get("ranker_params"):  # the ranker's own settings (empty: its defaults)
        out += ["", "[ranker_params]", *_scalars(raw["ranker_params"], ("ranker_params",))]
    for table in ("train", "rerank"):
        out += ["", f"[{table}]", *_scalars(raw[table], (table,))]
    return "\n".join(out) + "\n"


def row_config(row: pd.Series | dict[str, Any]):
    """The PipelineConfig a results row was computed with (its ``config`` column, JSON)."""
    from workbench.pipeline import PipelineConfig

    raw = row["config"]
    if not isinstance(raw, str) or not raw:
        raise ValueError("this row has no pipeline config (a study sweep's rows have parameters, not a pipeline)")
    return PipelineConfig.from_dict(json.loads(raw), source=f"config of {row.get('label', '?')}")


def export_config(row: pd.Series | dict[str, Any], path: str | Path, note: str = "") -> Path:
    """Write the config of a results row (e.g. `workbench.sweep.best`'s) to ``path`` as a pipeline TOML."""
    config = row_config(row)
    header = "\n".join(line for line in (
        "A pipeline config exported by `workbench sweep` (workbench.sweep.export).",
        f"config: {row.get('label', '')}",
        note,
        "Use: workbench train --config THIS; workbench serve --config THIS; "
        "workbench evaluate --model pipeline --config THIS",
    ) if line)  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_to_toml(config, header), encoding="utf-8")
    return path
