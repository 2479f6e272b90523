"""Charts of the served recommender (notebook 08): one request's Server-Timing waterfall, and answers
while Redis is stopped. Same house style as `workbench.viz.charts` (title, reading, units)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from workbench.viz.charts import GREY, PALETTE, WIDTH, _need, titled


def waterfall_chart(stages: pd.DataFrame, title: str, reading: str, width: int = WIDTH) -> alt.Chart:
    """``stages``: ``stage``, ``start_ms``, ``end_ms``, ``ms`` (one row per Server-Timing entry, in order).
    Each stage is a bar from where the previous one ended: a request's time, left to right."""
    _need(stages, ("stage", "start_ms", "end_ms", "ms"), "waterfall_chart")
    order = list(stages["stage"])
    bars = alt.Chart(stages).mark_bar(color=PALETTE["blue"]).encode(
        y=alt.Y("stage:N", sort=order, title="stage of the request path"),
        x=alt.X("start_ms:Q", title="time since the request arrived (ms)"),
        x2="end_ms:Q",
        tooltip=["stage", alt.Tooltip("start_ms:Q", format=".3f"), alt.Tooltip("ms:Q", title="duration (ms)", format=".3f")],
    )  # fmt: skip
    return titled(bars.properties(width=width, height=26 * len(order)), title, reading)


def budget_chart(table: pd.DataFrame, title: str, reading: str, width: int = WIDTH) -> alt.LayerChart:
    """``table``: ``stage``, ``p50_ms``, ``p99_ms``, ``budget_ms``: measured p50/p99 bars and the budget as a
    black tick, on a log scale (a loaded service spans tenths of a millisecond to seconds)."""
    _need(table, ("stage", "p50_ms", "p99_ms", "budget_ms"), "budget_chart")
    long = table.melt(id_vars=["stage", "budget_ms"], value_vars=["p50_ms", "p99_ms"], var_name="quantile", value_name="ms")
    long["quantile"] = long["quantile"].str.replace("_ms", "")
    long["ms"] = long["ms"].clip(lower=0.01)  # a log axis has no zero
    # Bars on a log axis need a baseline that is on the axis: a power of ten at or below every value.
    # (Left to Vega-Lite, bars with a colour are stacked from 0, which the log scale cannot place,
    # and nothing is drawn at all, the budget ticks included.)
    low = float(min(long["ms"].min(), table["budget_ms"].min()))
    long["from_ms"] = 10.0 ** np.floor(np.log10(low))
    order = list(table["stage"])
    x = alt.X("ms:Q", title="time per request (ms, log scale)", scale=alt.Scale(type="log"),
              axis=alt.Axis(format="~g", labelOverlap="greedy"))  # fmt: skip
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("stage:N", sort=order, title="component"), yOffset="quantile:N",
        x=alt.X("from_ms:Q", title="time per request (ms, log scale)", scale=alt.Scale(type="log"),
                axis=alt.Axis(format="~g", labelOverlap="greedy"), stack=None), x2="ms:Q",
        color=alt.Color("quantile:N", title="quantile", scale=alt.Scale(range=[PALETTE["sky"], PALETTE["vermillion"]])),
        tooltip=["stage", "quantile", alt.Tooltip("ms:Q", format=".3f")],
    )  # fmt: skip
    budget = alt.Chart(table.rename(columns={"budget_ms": "ms"})).mark_tick(color="black", thickness=3, size=28).encode(
        y=alt.Y("stage:N", sort=order, title="component"), x=x,
        tooltip=["stage", alt.Tooltip("ms:Q", title="textbook p99 budget (ms)")],
    )  # fmt: skip
    return titled((bars + budget).properties(width=width, height=50 * len(order)), title, reading)


def degraded_chart(answers: pd.DataFrame, title: str, reading: str, width: int = WIDTH) -> alt.Chart:
    """``answers``: ``phase``, ``degraded`` (a reason or "no"), ``latency_ms``, one row per request in order."""
    _need(answers, ("phase", "degraded", "latency_ms"), "degraded_chart")
    data = answers.reset_index(drop=True).rename_axis("request").reset_index()
    data["request"] += 1
    reasons = sorted(data["degraded"].unique(), key=lambda r: (r != "no", r))
    flags = [PALETTE["vermillion"], PALETTE["orange"], PALETTE["purple"]] * 3
    colors = [GREY if r == "no" else c for r, c in zip(reasons, flags)]
    points = alt.Chart(data).mark_point(size=70, filled=True).encode(
        x=alt.X("request:Q", title="request (number, in the order sent)"),
        y=alt.Y("latency_ms:Q", title="answer time at the client (ms)"),
        color=alt.Color("degraded:N", title="degraded", scale=alt.Scale(domain=reasons, range=colors)),
        shape=alt.Shape("phase:N", title="Redis"),
        tooltip=["request", "phase", "degraded", alt.Tooltip("latency_ms:Q", format=".2f")],
    )  # fmt: skip
    return titled(points.properties(width=width, height=240), title, reading)


__all__ = ["budget_chart", "degraded_chart", "waterfall_chart"]
