"""What notebook 09 (the feedback loop) reads off its loops, apart from how it is drawn.

A run of the loop with a living catalogue (`workbench.loop.arrivals`) gives one reading per policy
(`readings`): how the exposure Gini moved from the first day to the last, and how much of the new
catalogue the policy ever showed. Over seeds (`seed_study`: the same settings, one world, model and
arrival schedule per seed) `summary` gives each reading's mean with its 95% Student-t interval, and
the paired difference between the policies; `verdicts` turns them into the page's sentences, saying
"no detectable change" (or difference) whenever an interval covers zero.

``benchmarks/bench_loop.py --sections arrivals`` runs the same study for RESULTS.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

READINGS = {
    "gini_change": "exposure Gini, last day minus first day",
    "new_ever_shown": "share of the arrived items ever shown",
    "new_impression_share": "share of the last week's impressions on arrived items",
}
LAST = 7  # days of the last week


def readings(daily: pd.DataFrame, last: int = LAST) -> dict[str, float]:
    """One run's readings from its daily table (one arm): see `READINGS`."""
    g = daily["exposure_gini"].to_numpy(np.float64)
    return {"gini_change": float(g[-1] - g[0]), "gini_first": float(g[0]), "gini_last": float(g[-1]),
            "new_ever_shown": float(daily["new_ever_shown"].iloc[-1]),
            "new_impression_share": float(daily["new_impression_share"].iloc[-last:].mean())}  # fmt: skip


def interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its Student-t interval over independent runs (a single value: no width)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def seed_study(config, seeds: Sequence[int], epsilons: Sequence[float], *, pipeline_config=None, base_for=None,
               progress: Callable[[str], None] | None = None) -> pd.DataFrame:  # fmt: skip
    """One loop per (seed, ε) with ``config``'s other settings (a `LoopConfig` with arrivals); one row of `readings`
    each, with ``seed`` and ``epsilon``. ``base_for(seed)``: the starting point (None: the model store's)."""
    import dataclasses

    from workbench.loop import Loop

    rows = []
    for seed in seeds:
        for eps in epsilons:
            c = dataclasses.replace(config, seed=int(seed), epsilon=float(eps))
            with tempfile.TemporaryDirectory(prefix="workbench-loop-seeds-") as folder:
                base = base_for(seed) if base_for is not None else None
                with Loop(c, Path(folder), base=base, pipeline_config=pipeline_config, progress=progress) as loop:
                    daily = loop.run().daily
            rows.append({"seed": int(seed), "epsilon": float(eps), **readings(daily)})
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per reading: each policy's mean and 95% interval over seeds, and the paired difference (second ε minus first)."""
    eps = sorted(table["epsilon"].unique())
    wide = table.pivot(index="seed", columns="epsilon")
    rows = []
    for name, what in READINGS.items():
        row = {"reading": name, "what": what, "seeds": len(wide)}
        share = name != "gini_change"  # a share's interval is clipped to [0, 1], where a share can be
        for e in eps:
            m, lo, hi = interval(wide[(name, e)])
            row[f"ε={e:g}"], row[f"ε={e:g} low"], row[f"ε={e:g} high"] = (m, max(lo, 0.0), min(hi, 1.0)) if share else (m, lo, hi)
        if len(eps) == 2:  # a difference of shares lies in [-1, 1]
            m, lo, hi = interval(wide[(name, eps[1])] - wide[(name, eps[0])])
            row["difference"], row["difference low"], row["difference high"] = (m, max(lo, -1.0), min(hi, 1.0)) if share else (m, lo, hi)
        rows.append(row)
    return pd.DataFrame(rows)


def moved(mean: float, low: float, high: float, up: str = "rose", down: str = "fell") -> str:
    """``"rose"``/``"fell"`` when the interval excludes zero, else ``"no detectable change"``."""
    if low > 0:
        return up
    if high < 0:
        return down
    return "no detectable change"


def fmt(mean: float, low: float, high: float, pct: bool = False) -> str:
    f = (lambda v: f"{v:+.1%}") if pct else (lambda v: f"{v:+.4f}")  # noqa: E731
    return f"{f(mean)} [{f(low)}, {f(high)}]"


def verdicts(summ: pd.DataFrame) -> dict[str, str]:
    """The page's sentences from `summary`: per policy, how the Gini moved and how much of the new catalogue it
    found; and the heading's claim (which effect the no-exploration policy shows, with its interval)."""
    s = summ.set_index("reading")
    eps = sorted({c.split()[0] for c in s.columns if c.startswith("ε=")})
    n = int(s["seeds"].iloc[0])
    out = {}
    for e in eps:
        g = tuple(s.loc["gini_change", [e, f"{e} low", f"{e} high"]])
        found = tuple(s.loc["new_ever_shown", [e, f"{e} low", f"{e} high"]])
        how = moved(*g)
        how = "showed no detectable change" if how == "no detectable change" else how
        out[e] = (f"at {e.replace('ε=', 'ε = ')}, the exposure Gini {how} over the run ({fmt(*g)}, mean over {n} seeds, "
                  f"95% interval) and {found[0]:.1%} [{found[1]:.1%}, {found[2]:.1%}] of the arrived items were ever shown")  # fmt: skip
    if len(eps) == 2 and "difference" in s:
        d = tuple(s.loc["new_ever_shown", ["difference", "difference low", "difference high"]])
        verdict = moved(*d, up="more", down="fewer")
        out["difference"] = (f"exploration showed {verdict} of the new items than no exploration: {fmt(*d, pct=True)} "
                             "of them (paired by seed)" if verdict != "no detectable change" else
                             f"no detectable difference in the share of new items shown ({fmt(*d, pct=True)}, paired by seed)")  # fmt: skip
        f0 = tuple(s.loc["new_ever_shown", [eps[0], f"{eps[0]} low", f"{eps[0]} high"]])
        g0 = tuple(s.loc["gini_change", [eps[0], f"{eps[0]} low", f"{eps[0]} high"]])
        if f0[2] < 0.5 and d[1] > 0:
            out["heading"] = "Without exploration, new items are never found"
        elif g0[1] > 0:
            out["heading"] = "Without exploration, exposure concentrates"
        else:
            out["heading"] = "The feedback loop, with and without exploration: no detectable amplification here"
    return out
