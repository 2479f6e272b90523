"""Reading a sweep's table: per-config means over seeds, the Pareto frontier, the best config under constraints.

- `summarise`: one row per config (its swept values), numeric columns averaged over its
  seeds, ``n_seeds`` counted; failed rows left out.
- `frontier`: the configs no other config beats on every chosen axis (``"ndcg@10"`` is
  maximised, ``"min:mean_item_age_days@10"`` minimised), each labelled by its config.
- `best`: ``"max ndcg@10 with intra_list_diversity@10 >= 0.9 and novelty_bits@10 > 9"``.

A metric may be named without its cut-off when the table has one (``ndcg`` → ``ndcg@10``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

OPS = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less, "==": np.equal}
BLOCK = 256


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per config (``point_id``): numeric columns averaged over its successful seeds, the rest from its first."""
    if table.empty or "status" not in table.columns:
        return table.copy()
    ok = table[table["status"] == "ok"]
    key = "point_id" if "point_id" in ok.columns else "config_id"
    if ok.empty:
        return ok.assign(n_seeds=pd.Series(dtype=np.int64))
    numeric = [c for c in ok.columns if pd.api.types.is_numeric_dtype(ok[c]) and not pd.api.types.is_bool_dtype(ok[c])
               and c not in (key, "seed", "pid", "order")]  # fmt: skip
    grouped = ok.groupby(key, sort=False)
    out = grouped.first()
    out[numeric] = grouped[numeric].mean()
    out["n_seeds"] = grouped.size()
    out["seeds"] = grouped["seed"].agg(lambda s: ",".join(str(int(x)) for x in s)) if "seed" in ok.columns else ""
    return out.reset_index()


def resolve(table: pd.DataFrame, name: str) -> str:
    """The column ``name`` names: itself, or ``name@k`` when the table has exactly one cut-off of it."""
    if name in table.columns:
        return name
    matches = [c for c in table.columns if c.startswith(f"{name}@") and "_ci_" not in c]
    if len(matches) == 1:
        return matches[0]
    metrics = sorted(c for c in table.columns if "@" in c and "_ci_" not in c)
    if matches:
        raise ValueError(f"{name!r} is ambiguous: the table has {matches}; name the cut-off")
    raise ValueError(f"no column {name!r} in the sweep's table; expected one of {metrics or sorted(table.columns)}")


def parse_axis(axis: str) -> tuple[str, bool]:
    """``"ndcg@10"`` → (name, maximise=True); ``"min:x"`` → (x, False); ``"max:x"`` → (x, True)."""
    axis = axis.strip()
    for prefix, maximise in (("min:", False), ("max:", True)):
        if axis.startswith(prefix):
            return axis[len(prefix):].strip(), maximise
    return axis, True


def pareto_mask(values: np.ndarray, maximise: Sequence[bool] | np.ndarray) -> np.ndarray:
    """True for the rows of ``values [n, d]`` that no other row dominates (>= on every axis and > on one,
    after flipping the axes to minimise). Rows with a NaN are never on the frontier."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be [n, d], got shape {v.shape}")
    sign = np.where(np.asarray(maximise, dtype=bool), 1.0, -1.0)
    if sign.shape != (v.shape[1],):
        raise ValueError(f"maximise has {sign.size} entries for {v.shape[1]} axes")
    v = v * sign
    finite = ~np.isnan(v).any(axis=1)
    w = v[finite]
    keep = np.ones(len(w), dtype=bool)
    for lo in range(0, len(w), BLOCK):
        rows = w[lo : lo + BLOCK, None, :]  # [b, 1, d] against every row [1, n, d]
        ge = (w[None, :, :] >= rows).all(axis=2)
        gt = (w[None, :, :] > rows).any(axis=2)
        keep[lo : lo + BLOCK] = ~(ge & gt).any(axis=1)
    out = np.zeros(len(v), dtype=bool)
    out[np.flatnonzero(finite)[keep]] = True
    return out


def frontier(table: pd.DataFrame, axes: Sequence[str], summarised: bool = False) -> pd.DataFrame:
    """The Pareto-optimal configs on ``axes`` (per-config means over seeds), best first on the first axis,
    with their label, the axes and each axis's 95% interval where the table has one."""
    if len(axes) < 2:
        raise ValueError(f"axes={list(axes)}: a frontier needs at least two axes")
    summary = table if summarised else summarise(table)
    if summary.empty:
        raise ValueError("the sweep has no successful config yet: no frontier")
    parsed = [parse_axis(a) for a in axes]
    cols = [resolve(summary, name) for name, _ in parsed]
    mask = pareto_mask(summary[cols].to_numpy(dtype=np.float64), [m for _, m in parsed])
    extra = [c for col in cols for c in (f"{col}_ci_low", f"{col}_ci_high") if c in summary.columns]
    front = summary.loc[mask, ["label", *cols, *extra, "n_seeds"]]
    return front.sort_values(cols[0], ascending=not parsed[0][1], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Query:
    """``max|min METRIC [with CONSTRAINT and CONSTRAINT ...]``."""

    maximise: bool
    objective: str
    constraints: tuple[tuple[str, str, float], ...]

    def describe(self) -> str:
        text = f"{'max' if self.maximise else 'min'} {self.objective}"
        if self.constraints:
            text += " with " + " and ".join(f"{c} {op} {v:g}" for c, op, v in self.constraints)
        return text


_QUERY = re.compile(r"^\s*(max|min)(?:imise|imize)?\s+(\S+)(?:\s+(?:with|where|subject to|s\.t\.)\s+(.+))?\s*$", re.I)
_CONSTRAINT = re.compile(r"^\s*(\S+?)\s*(>=|<=|==|>|<)\s*([-+0-9.eE]+|inf|-inf)\s*$")


def parse_query(text: str) -> Query:
    """Parse ``"max ndcg@10 with intra_list_diversity@10 >= 0.9 and novelty_bits@10 > 9"`` (ValueError if malformed)."""
    m = _QUERY.match(text)
    if not m:
        raise ValueError(f"{text!r}: expected 'max METRIC' or 'min METRIC', optionally followed by "
                         "'with METRIC >= VALUE and METRIC <= VALUE ...'")  # fmt: skip
    constraints = []
    if m.group(3):
        for part in re.split(r"\s+and\s+|,", m.group(3)):
            c = _CONSTRAINT.match(part)
            if not c:
                raise ValueError(f"constraint {part.strip()!r} in {text!r}: expected METRIC OP VALUE with OP one of "
                                 f"{list(OPS)}, e.g. intra_list_diversity@10 >= 0.9")  # fmt: skip
            try:
                value = float(c.group(3))
            except ValueError:
                raise ValueError(f"constraint {part.strip()!r}: {c.group(3)!r} is not a number") from None
            constraints.append((c.group(1), c.group(2), value))
    return Query(m.group(1).lower() == "max", m.group(2), tuple(constraints))


def best(table: pd.DataFrame, query: str | Query, summarised: bool = False) -> pd.Series:
    """The config that maximises (minimises) the objective among those meeting every constraint
    (per-config means over seeds; ties go to the earlier config). ValueError naming the constraints
    when none meets them, with the closest each constraint's metric came."""
    q = parse_query(query) if isinstance(query, str) else query
    summary = table if summarised else summarise(table)
    if summary.empty:
        raise ValueError("the sweep has no successful config yet: nothing to choose from")
    objective = resolve(summary, q.objective)
    feasible = np.ones(len(summary), dtype=bool)
    for name, op, value in q.constraints:
        col = resolve(summary, name)
        feasible &= OPS[op](summary[col].to_numpy(dtype=np.float64), value)
    if not feasible.any():
        reach = ", ".join(f"{resolve(summary, n)} spans [{summary[resolve(summary, n)].min():.4g}, "
                          f"{summary[resolve(summary, n)].max():.4g}]" for n, _, _ in q.constraints)  # fmt: skip
        raise ValueError(f"no config of the sweep meets {q.describe()!r} ({len(summary)} configs; {reach})")
    scores = summary[objective].to_numpy(dtype=np.float64)
    scores = np.where(feasible & ~np.isnan(scores), scores if q.maximise else -scores, -np.inf)
    if not np.isfinite(scores).any():
        raise ValueError(f"{objective} is missing (NaN) for every config that meets {q.describe()!r}")
    row = summary.iloc[int(np.argmax(scores))].copy()
    row["query"] = q.describe()
    row["feasible_configs"] = int(feasible.sum())
    return row
