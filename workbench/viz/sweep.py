"""Chart of a sweep: every config, the Pareto frontier through them, and where the sliders are."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.viz.charts import GREY, HEIGHT, PALETTE, WIDTH, _need, titled


def sweep_frontier_chart(configs: pd.DataFrame, front: pd.DataFrame, current: dict, x: str, y: str, x_title: str,
                         y_title: str, title: str, reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """``configs``: one row per config with ``label``, ``x`` and ``y`` (grey points); ``front``: the
    Pareto-optimal ones (a line through them, by ``x``); ``current``: ``{x: …, y: …}``, marked "you are here"."""
    for df, name in ((configs, "configs"), (front, "front")):
        _need(df, ("label", x, y), f"sweep_frontier_chart({name})")
    cur = pd.DataFrame([current])
    _need(cur, (x, y), "sweep_frontier_chart(current)")
    best = front.sort_values(y, ascending=False).iloc[0]
    reading = reading or (f"{len(front)} of {len(configs)} configs on the frontier; highest {y_title.split(' (')[0]}: "
                          f"{best['label']} ({best[y]:.4f})")  # fmt: skip
    enc = dict(x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False)),
               y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)))  # fmt: skip
    tips = [alt.Tooltip("label:N", title="config"), alt.Tooltip(f"{x}:Q", format=".4f"), alt.Tooltip(f"{y}:Q", format=".4f")]
    cloud = alt.Chart(configs[["label", x, y]]).mark_circle(size=40, color=GREY, opacity=0.6).encode(**enc, tooltip=tips)
    line = alt.Chart(front[["label", x, y]]).mark_line(point=True, color=PALETTE["blue"]).encode(
        **enc, order=f"{x}:Q", tooltip=tips)  # fmt: skip
    mark = alt.Chart(cur).mark_point(shape="diamond", size=260, filled=True, color=PALETTE["vermillion"]).encode(**enc)
    text = alt.Chart(cur).mark_text(dx=12, align="left", color=PALETTE["vermillion"]).encode(**enc, text=alt.value("you are here"))
    return titled((cloud + line + mark + text).properties(width=WIDTH, height=HEIGHT), title, reading)
