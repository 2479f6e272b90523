"""The chart of notebook 12: each reason's offline and online differences side by side, relative to the
incumbent, with their intervals. Same house style as `workbench.viz.charts` (title, reading, units)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.viz.charts import GREY, PALETTE, WIDTH, _need, titled

X_TITLE = "challenger − incumbent, relative to the incumbent (%)"


def gap_chart(table: pd.DataFrame, title: str, reading: str) -> alt.LayerChart:
    """``table``: ``reason``, ``measured`` (``offline`` / ``online``), ``metric``, ``rel``, ``lo``, ``hi``
    (percent). A dot at ``rel`` and a line over its interval per row; a dashed line at 0."""
    _need(table, ("reason", "measured", "metric", "rel", "lo", "hi"), "gap_chart")
    order = list(dict.fromkeys(table["reason"]))
    y = alt.Y("reason:N", sort=order, title="reason for the gap")
    colour = alt.Color("measured:N", title="measured", scale=alt.Scale(domain=["offline", "online"],
                       range=[PALETTE["blue"], PALETTE["vermillion"]]))  # fmt: skip
    base = alt.Chart(table)
    spans = base.mark_rule(strokeWidth=2).encode(x=alt.X("lo:Q", title=X_TITLE), x2="hi:Q", y=y,
                                                 yOffset="measured:N", color=colour)  # fmt: skip
    dots = base.mark_point(filled=True, size=70).encode(
        x=alt.X("rel:Q", title=X_TITLE), y=y, yOffset="measured:N", color=colour,
        tooltip=["reason", "measured", "metric", alt.Tooltip("rel:Q", format="+.2f"), alt.Tooltip("lo:Q", format="+.2f"),
                 alt.Tooltip("hi:Q", format="+.2f")],
    )  # fmt: skip
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color=GREY, strokeDash=[4, 3]).encode(
        x=alt.X("zero:Q", title=X_TITLE))
    return titled(alt.layer(spans, dots, zero).properties(width=WIDTH, height=60 * len(order)), title, reading)
