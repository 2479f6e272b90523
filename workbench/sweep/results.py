"""The results of a sweep: a folder of parquet parts, one row per config × seed, resumable.

Rows are appended as parts (``part-<time>-<n>.parquet``) while a sweep runs, so an
interrupted sweep keeps every row written before the interruption. `read_results`
concatenates the parts and keeps the latest row per ``config_id`` (a config that failed
and later succeeded counts once, as its success). `ResultStore.done` lists the configs
with a successful row; `workbench.sweep.run_sweep` skips those of them whose row came from the
artefact it would use now.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

PART_GLOB = "part-*.parquet"


def _plain(value: Any) -> Any:
    """A value parquet can store in a column of mixed rows: lists/tuples/dicts as JSON text."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=repr)
    return value


class ResultStore:
    """The parquet parts of one sweep's results under ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._written = 0

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob(PART_GLOB)) if self.folder.is_dir() else []

    def append(self, rows: Iterable[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as a new part (atomically: a temporary file renamed into place)."""
        rows = [{k: _plain(v) for k, v in r.items()} for r in rows]
        if not rows:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(rows)
        for col in frame.columns[frame.dtypes == object]:
            kinds = {type(v) for v in frame[col] if v is not None and v == v}
            if kinds == {int, float}:
                frame[col] = frame[col].astype(float)
            elif len(kinds) > 1:
                frame[col] = frame[col].map(lambda v: None if v is None else json.dumps(v, default=repr))
        self._written += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._written:05d}.parquet"
        tmp = self.folder / f".{name}.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, self.folder / name)
        return self.folder / name

    def read(self) -> pd.DataFrame:
        return read_results(self.folder)

    def done(self) -> set[str]:
        """Config ids with a successful row."""
        table = self.read()
        if table.empty:
            return set()
        return set(table.loc[table["status"] == "ok", "config_id"])

    def compact(self) -> Path | None:
        """Rewrite the parts as one (latest row per config); the old parts are removed after it is written."""
        old = self.parts()
        if len(old) <= 1:
            return old[0] if old else None
        table = self.read()
        new = self.append(table.to_dict("records"))
        for p in old:
            p.unlink(missing_ok=True)
        return new


def read_results(folder: str | Path) -> pd.DataFrame:
    """Every row of a sweep's results folder (or one parquet file), latest per ``config_id``, in config order."""
    folder = Path(folder)
    files = [folder] if folder.is_file() else (sorted(folder.glob(PART_GLOB)) if folder.is_dir() else [])
    frames = [pd.read_parquet(f) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["config_id", "status"])
    table = pd.concat(frames, ignore_index=True)
    table = table.drop_duplicates("config_id", keep="last")
    if "order" in table.columns:
        table = table.sort_values("order", kind="stable")
    return table.reset_index(drop=True)
