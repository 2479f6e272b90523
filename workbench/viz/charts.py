"""Altair chart builders for the notebooks.

Each builder takes a tidy DataFrame (columns documented per function), and returns a
chart with a title, a one-line reading as subtitle, and axis titles with units.
`workbench.viz.checks.chart_problems` checks those rules, so tests can hold every builder to them
(and `workbench.viz.checks.rendering_problems` what a reader would miss once the chart renders).

Colours come from the Okabe–Ito palette (`PALETTE`, distinguishable with the common colour
vision deficiencies; Okabe & Ito 2008) for categories, and viridis for ordered groups.
Axis and legend texts are never cut short (`titled` lifts Vega's default length limits).
With ``WORKBENCH_CHART_DIR`` set, `titled` also writes each chart's Vega-Lite spec there,
so a test can render what a notebook drew (tests/notebooks).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

WIDTH = 520
HEIGHT = 260
# Okabe–Ito: blue, orange, bluish green, vermillion, sky blue, reddish purple, yellow, black; grey for "other".
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
           "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000"}  # fmt: skip
GREY = "#999999"
CATEGORY = list(PALETTE.values())
ORDERED_SCHEME = "viridis"
TEAM_COLORS = {"A": PALETTE["blue"], "B": PALETTE["orange"]}
RECORD_ENV = "WORKBENCH_CHART_DIR"
_recorded = itertools.count()


def _need(df: pd.DataFrame, columns: Iterable[str], chart: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{chart}: data lacks column(s) {missing}; it has {list(df.columns)}")


def titled(chart: alt.TopLevelMixin, title: str, reading: str) -> alt.TopLevelMixin:
    """Attach the title and the one-line reading (as subtitle) to a chart, and the house style:
    the colour-blind-safe palettes and no length limit on axis and legend texts (Vega cuts them
    with "…" beyond 180 px by default). The result is a finished chart (not for further layering)."""
    out = (
        chart.properties(title=alt.TitleParams(title, subtitle=reading, anchor="start"))
        .configure_range(category=CATEGORY, ordinal={"scheme": ORDERED_SCHEME})
        .configure_axis(labelLimit=0, titleLimit=0)
        .configure_legend(labelLimit=0, titleLimit=0)
    )
    _record(out)
    return out


def _record(chart: alt.TopLevelMixin) -> None:
    folder = os.environ.get(RECORD_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = Path(folder) / f"{os.getpid()}-{next(_recorded):03d}.vl.json"
        path.write_text(json.dumps(chart.to_dict()), encoding="utf-8")


# --- tour ---------------------------------------------------------------------------------------------


def funnel_chart(funnel: pd.DataFrame, title: str = "The funnel: how many items survive each stage",
                 reading: str | None = None, width: int = WIDTH) -> alt.Chart:  # fmt: skip
    """``funnel``: columns ``stage`` (in order), ``items`` (items per user, mean). Log-scale bars."""
    _need(funnel, ("stage", "items"), "funnel_chart")
    order = list(funnel["stage"])
    reading = reading or " → ".join(f"{s} {v:,.0f}" for s, v in zip(funnel["stage"], funnel["items"]))
    base = alt.Chart(funnel).encode(
        y=alt.Y("stage:N", sort=order, title="stage"),
        x=alt.X("items:Q", scale=alt.Scale(type="symlog"), title="items per user (count, symlog scale)"),
        tooltip=["stage", alt.Tooltip("items:Q", format=",.0f")],
    )
    bars = base.mark_bar(color=PALETTE["blue"])
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("items:Q", format=",.0f"))
    return titled((bars + labels).properties(width=width, height=34 * len(order)), title, reading)


def latency_chart(table: pd.DataFrame, title: str = "Time per stage against its budget",
                  reading: str | None = None, width: int = WIDTH) -> alt.LayerChart:  # fmt: skip
    """``table``: ``stage``, ``p50_ms``, ``p99_ms``, ``budget_ms`` (per user, milliseconds).
    Bars are p50 and p99; the black tick is the budget."""
    _need(table, ("stage", "p50_ms", "p99_ms", "budget_ms"), "latency_chart")
    long = table.melt(id_vars=["stage", "budget_ms"], value_vars=["p50_ms", "p99_ms"], var_name="quantile", value_name="ms")
    long["quantile"] = long["quantile"].str.replace("_ms", "")
    order = list(table["stage"])
    if reading is None:
        over = table.loc[table["p99_ms"] > table["budget_ms"], "stage"].tolist()
        reading = f"p99 over budget in: {', '.join(over)}" if over else "every stage's p99 is within its budget"
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("stage:N", sort=order, title="stage"),
        yOffset="quantile:N",
        x=alt.X("ms:Q", title="time per user (ms)"),
        color=alt.Color("quantile:N", title="quantile", scale=alt.Scale(range=[PALETTE["sky"], PALETTE["vermillion"]])),
        tooltip=["stage", "quantile", alt.Tooltip("ms:Q", format=".3f")],
    )
    budget = alt.Chart(table).mark_tick(color="black", thickness=3, size=28).encode(
        y=alt.Y("stage:N", sort=order, title="stage"), x=alt.X("budget_ms:Q", title="time per user (ms)"),
        tooltip=["stage", alt.Tooltip("budget_ms:Q", title="budget (ms)")],
    )  # fmt: skip
    return titled((bars + budget).properties(width=width, height=60 * len(order)), title, reading)


def metric_bars(table: pd.DataFrame, title: str, reading: str, value_title: str = "value (0–1)",
                group: str | None = None, category: str = "metric", category_title: str | None = None) -> alt.Chart:  # fmt: skip
    """``table``: a ``category`` column (default ``metric``; one bar group each, on the y axis titled
    ``category_title``), ``value`` and, optionally, a ``group`` column (e.g. model) for side-by-side bars."""
    _need(table, (category, "value") + ((group,) if group else ()), "metric_bars")
    enc = dict(
        x=alt.X("value:Q", title=value_title),
        y=alt.Y(f"{category}:N", title=category_title or category, sort=list(dict.fromkeys(table[category]))),
        tooltip=[category, alt.Tooltip("value:Q", format=".4f")] + ([group] if group else []),
    )
    if group:
        enc |= dict(yOffset=f"{group}:N", color=alt.Color(f"{group}:N", title=group))
    chart = alt.Chart(table).mark_bar().encode(**enc)
    n = table[category].nunique() * (table[group].nunique() if group else 1)
    return titled(chart.properties(width=WIDTH, height=max(120, 18 * n)), title, reading)


# --- reranking what-if -----------------------------------------------------------------------------------


def slate_change_chart(before: pd.DataFrame, after: pd.DataFrame, title: str = "What reranking did to this user's slate",
                       reading: str | None = None, labels: tuple[str, str] = ("ranked", "reranked")) -> alt.LayerChart:  # fmt: skip
    """Slope chart of positions. ``before``/``after``: ``item``, ``position`` (1-based), ``title``.

    Items only in ``after`` enter from below the ranked list; items only in ``before`` leave.
    """
    for name, df in (("before", before), ("after", after)):
        _need(df, ("item", "position", "title"), f"slate_change_chart({name})")
    k = int(max(before["position"].max(), after["position"].max()))
    cols = ["item", "position", "title"]
    b = before[cols].assign(stage=labels[0])
    a = after[cols].assign(stage=labels[1])
    kept = set(b["item"]) & set(a["item"])
    status = {i: "kept" for i in kept} | {i: "entered" for i in set(a["item"]) - kept} | {i: "left" for i in set(b["item"]) - kept}
    df = pd.concat([b, a], ignore_index=True)
    df["change"] = df["item"].map(status)
    moved = a.merge(b, on="item", suffixes=("", "_before"))
    up = int((moved["position"] < moved["position_before"]).sum())
    if reading is None:
        n_in, n_out = (sum(v == s for v in status.values()) for s in ("entered", "left"))
        reading = f"{n_in} item(s) entered, {n_out} left, {up} moved up among the {len(kept)} kept"
    scale = alt.Scale(domain=["kept", "entered", "left"], range=[PALETTE["blue"], PALETTE["green"], GREY])
    y = alt.Y("position:Q", scale=alt.Scale(domain=[k + 0.5, 0.5]), title="position in the list (1 = top)",
              axis=alt.Axis(values=list(range(1, k + 1))))  # fmt: skip
    x = alt.X("stage:N", sort=list(labels), title="stage", axis=alt.Axis(labelAngle=0), scale=alt.Scale(padding=1.6))
    base = alt.Chart(df).encode(x=x, y=y, color=alt.Color("change:N", scale=scale, title="item"))
    lines = base.mark_line(strokeWidth=2).encode(detail="item:N")
    points = base.mark_circle(size=70).encode(tooltip=["title", "item", "position", "stage", "change"])
    left = alt.Chart(df[df["stage"] == labels[0]]).mark_text(align="right", dx=-8, fontSize=10).encode(
        x=x, y=y, text="title:N")  # fmt: skip
    right = alt.Chart(df[df["stage"] == labels[1]]).mark_text(align="left", dx=8, fontSize=10).encode(
        x=x, y=y, text="title:N")  # fmt: skip
    chart = (lines + points + left + right).properties(width=WIDTH, height=max(HEIGHT, 24 * k))
    return titled(chart, title, reading)


def frontier_chart(points: pd.DataFrame, current: dict, x: str = "intra_list_diversity", y: str = "ndcg",
                   x_title: str = "intra-list diversity (mean pairwise 1 − cosine, 0–2)", y_title: str = "NDCG@k (0–1)",
                   title: str = "Accuracy against diversity as MMR λ varies",
                   reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """``points``: one row per setting with ``lam``, ``x`` and ``y`` columns; ``current``: the same keys, marked."""
    _need(points, ("lam", x, y), "frontier_chart")
    cur = pd.DataFrame([current])
    _need(cur, ("lam", x, y), "frontier_chart(current)")
    reading = reading or (f"current λ={current['lam']:.2f}: {y_title.split(' (')[0]} {current[y]:.4f}, "
                          f"{x_title.split(' (')[0]} {current[x]:.4f}; λ=1 is pure relevance")  # fmt: skip
    enc = dict(x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False)),
               y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)))  # fmt: skip
    line = alt.Chart(points).mark_line(point=True, color=PALETTE["blue"]).encode(
        **enc, order="lam:Q", tooltip=[alt.Tooltip("lam:Q", title="λ"), alt.Tooltip(f"{x}:Q", format=".4f"),
                                       alt.Tooltip(f"{y}:Q", format=".4f")])  # fmt: skip
    mark = alt.Chart(cur).mark_point(shape="diamond", size=260, filled=True, color=PALETTE["vermillion"]).encode(**enc)
    text = alt.Chart(cur).mark_text(dx=12, align="left", color=PALETTE["vermillion"]).encode(**enc, text=alt.value("you are here"))
    return titled((line + mark + text).properties(width=WIDTH, height=HEIGHT), title, reading)


def frontiers_chart(points: pd.DataFrame, current: pd.DataFrame, group: str = "config", x: str = "intra_list_diversity",
                    y: str = "ndcg", x_title: str = "intra-list diversity (mean pairwise 1 − cosine, 0–2)",
                    y_title: str = "NDCG@k (0–1)", title: str = "Accuracy against diversity as MMR λ varies, per config",
                    reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """Several frontiers on one chart (`workbench.report.comparison.compare`). ``points``: ``group``, ``lam``, ``x``, ``y``,
    one line per group; ``current``: one row per group with the same columns, each marked with a diamond."""
    _need(points, (group, "lam", x, y), "frontiers_chart")
    _need(current, (group, "lam", x, y), "frontiers_chart(current)")
    order = list(dict.fromkeys(current[group]))
    if reading is None:
        reading = "; ".join(f"{r[group]} at λ={r['lam']:.2f}: {y_title.split(' (')[0]} {r[y]:.4f}, "
                            f"{x_title.split(' (')[0]} {r[x]:.4f}" for _, r in current.iterrows())  # fmt: skip
    color = alt.Color(f"{group}:N", title=group, sort=order, scale=alt.Scale(domain=order, range=CATEGORY[: len(order)]),
                      legend=alt.Legend(orient="bottom", direction="vertical"))  # fmt: skip
    enc = dict(x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False)),
               y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False)), color=color)  # fmt: skip
    dash = alt.StrokeDash(f"{group}:N", sort=order, legend=None)
    line = alt.Chart(points).mark_line(point=True).encode(  # dashes tell lines apart where they coincide
        **enc, strokeDash=dash, order="lam:Q", tooltip=[group, alt.Tooltip("lam:Q", title="λ"),
                                                        alt.Tooltip(f"{x}:Q", format=".4f"), alt.Tooltip(f"{y}:Q", format=".4f")])  # fmt: skip
    cur = current.assign(label=[f"{g} (λ={lam:.2f})" for g, lam in zip(current[group], current["lam"])])
    mark = alt.Chart(cur).mark_point(shape="diamond", size=260, filled=True, stroke="black").encode(**enc)
    text = alt.Chart(cur).mark_text(dx=12, align="left", color="black").encode(x=enc["x"], y=enc["y"], text="label:N")
    return titled((line + mark + text).properties(width=WIDTH, height=HEIGHT), title, reading)


# --- candidates and ranking -------------------------------------------------------------------------------


def recall_curve_chart(curves: pd.DataFrame, title: str = "Recall of each candidate source as it returns more items",
                       reading: str | None = None, log_x: bool = True) -> alt.Chart:  # fmt: skip
    """``curves``: ``source``, ``n`` (items retrieved per user), ``recall`` (share of test items found, 0–1)."""
    _need(curves, ("source", "n", "recall"), "recall_curve_chart")
    if reading is None:
        top = curves[curves["n"] == curves["n"].max()].sort_values("recall", ascending=False)
        reading = f"at N={int(top['n'].iloc[0])}, {top['source'].iloc[0]} finds {top['recall'].iloc[0]:.1%} of the test items"
    chart = alt.Chart(curves).mark_line(point=True).encode(
        x=alt.X("n:Q", title="candidates per user N (count" + (", log scale)" if log_x else ")"),
                scale=alt.Scale(type="log" if log_x else "linear")),
        y=alt.Y("recall:Q", title="recall@N (share of test items, 0–1)"),
        color=alt.Color("source:N", title="source"),
        tooltip=["source", "n", alt.Tooltip("recall:Q", format=".3f")],
    )  # fmt: skip
    return titled(chart.properties(width=WIDTH, height=HEIGHT), title, reading)


def overlap_chart(overlap: pd.DataFrame, title: str = "How much the sources' candidate lists overlap",
                  reading: str | None = None, value_title: str = "Jaccard overlap (0–1)",
                  x_title: str = "source a", y_title: str = "source b") -> alt.LayerChart:  # fmt: skip
    """``overlap``: ``a``, ``b`` (source names), ``overlap`` (0–1): a heat map, one cell per pair,
    ``a`` across (titled ``x_title``) and ``b`` down (``y_title``); the legend sits below."""
    _need(overlap, ("a", "b", "overlap"), "overlap_chart")
    if reading is None:
        off = overlap[overlap["a"] != overlap["b"]].sort_values("overlap")
        reading = (f"most alike: {off['a'].iloc[-1]} & {off['b'].iloc[-1]} ({off['overlap'].iloc[-1]:.2f}); "
                   f"most complementary: {off['a'].iloc[0]} & {off['b'].iloc[0]} ({off['overlap'].iloc[0]:.2f})"
                   if len(off) else "one source only")  # fmt: skip
    base = alt.Chart(overlap).encode(x=alt.X("a:N", title=x_title, axis=alt.Axis(labelAngle=-30)),
                                     y=alt.Y("b:N", title=y_title))  # fmt: skip
    legend = alt.Legend(orient="bottom", direction="horizontal", gradientLength=200)
    cells = base.mark_rect().encode(color=alt.Color("overlap:Q", title=value_title, legend=legend,
                                                    scale=alt.Scale(scheme="blues", domain=[0, 1])),
                                    tooltip=["a", "b", alt.Tooltip("overlap:Q", format=".3f")])  # fmt: skip
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("overlap:Q", format=".2f"),
        color=alt.condition("datum.overlap > 0.6", alt.value("white"), alt.value("black")),
    )
    n = overlap["a"].nunique()
    return titled((cells + text).properties(width=max(70 * n, 300), height=40 * n + 20), title, reading)


def importance_chart(importance: pd.DataFrame, title: str, reading: str,
                     value_title: str = "importance (share of total gain, 0–1)", top: int = 20) -> alt.Chart:  # fmt: skip
    """``importance``: ``feature``, ``importance``; the ``top`` largest as horizontal bars."""
    _need(importance, ("feature", "importance"), "importance_chart")
    df = importance.sort_values("importance", ascending=False).head(top)
    chart = alt.Chart(df).mark_bar(color=PALETTE["blue"]).encode(
        x=alt.X("importance:Q", title=value_title),
        y=alt.Y("feature:N", sort="-x", title="feature"),
        tooltip=["feature", alt.Tooltip("importance:Q", format=".4f")],
    )
    return titled(chart.properties(width=WIDTH, height=max(120, 18 * len(df))), title, reading)


# --- metrics worked example -----------------------------------------------------------------------------


def position_gain_chart(positions: pd.DataFrame, title: str = "What each position of the list contributes to DCG",
                        reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """``positions`` (from `workbench.lessons.worked.position_table`): bars of discounted gain, line of the discount."""
    _need(positions, ("position", "item", "discounted_gain", "discount", "relevant"), "position_gain_chart")
    reading = reading or "a hit at position 1 counts fully; the discount 1/log2(rank+1) shrinks every later hit"
    x = alt.X("position:O", title="position in the list (1 = top)", axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(positions).mark_bar().encode(
        x=x, y=alt.Y("discounted_gain:Q", title="discounted gain (gain × discount)"),
        color=alt.Color("relevant:N", title="relevant", scale=alt.Scale(domain=[True, False], range=[PALETTE["green"], GREY])),
        tooltip=["position", "item", alt.Tooltip("discounted_gain:Q", format=".4f")],
    )  # fmt: skip
    line = alt.Chart(positions).mark_line(point=True, color="black", strokeDash=[4, 3]).encode(
        x=x, y=alt.Y("discount:Q", title="discounted gain (gain × discount)"), tooltip=["position", alt.Tooltip("discount:Q", format=".4f")]
    )  # fmt: skip
    labels = alt.Chart(positions).mark_text(dy=-8).encode(x=x, y=alt.Y("discount:Q", title="discounted gain (gain × discount)"), text="item:N")
    return titled((bars + line + labels).properties(width=WIDTH, height=HEIGHT), title, reading)


# --- experiments ----------------------------------------------------------------------------------------


def pvalue_chart(daily: pd.DataFrame, alpha: float = 0.05, title: str = "The p-value as the test runs, looked at every day",
                 reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """``daily``: ``day`` (1, 2, ...), ``p_value``; optionally ``run`` (one line per simulated run)."""
    _need(daily, ("day", "p_value"), "pvalue_chart")
    if reading is None:
        below = daily.loc[daily["p_value"] < alpha, "day"]
        reading = (f"p first dips below α={alpha} on day {int(below.min())}" if len(below)
                   else f"p never dips below α={alpha}")  # fmt: skip
    enc = dict(x=alt.X("day:Q", title="day of the test (days)"),
               y=alt.Y("p_value:Q", title="p-value (probability, log scale)", scale=alt.Scale(type="log")))  # fmt: skip
    runs = {"detail": "run:N", "opacity": alt.condition("datum.run == 0", alt.value(1.0), alt.value(0.3))} if "run" in daily else {}
    line = alt.Chart(daily).mark_line(point=True).encode(**enc, **runs, tooltip=["day", alt.Tooltip("p_value:Q", format=".4f")])
    rule = alt.Chart(pd.DataFrame({"alpha": [alpha]})).mark_rule(color="black", strokeDash=[5, 3]).encode(
        y=alt.Y("alpha:Q", title="p-value (probability, log scale)"))
    return titled((line + rule).properties(width=WIDTH, height=HEIGHT), title, reading)


def interval_chart(daily: pd.DataFrame, true_effect: float | None = None,
                   title: str = "The estimated lift and its 95% interval, day by day",
                   reading: str | None = None, unit: str = "relative lift (%)") -> alt.LayerChart:  # fmt: skip
    """``daily``: ``day``, ``estimate``, ``low``, ``high`` (same unit); dashed line at ``true_effect``."""
    _need(daily, ("day", "estimate", "low", "high"), "interval_chart")
    last = daily.iloc[-1]
    reading = reading or f"after day {int(last['day'])}: {last['estimate']:.3g} [{last['low']:.3g}, {last['high']:.3g}]"
    x = alt.X("day:Q", title="day of the test (days)")
    band = alt.Chart(daily).mark_area(opacity=0.25, color=PALETTE["blue"]).encode(x=x, y=alt.Y("low:Q", title=unit), y2="high:Q")
    line = alt.Chart(daily).mark_line(point=True, color=PALETTE["blue"]).encode(
        x=x, y=alt.Y("estimate:Q", title=unit), tooltip=["day", alt.Tooltip("estimate:Q", format=".4g"),
                                                         alt.Tooltip("low:Q", format=".4g"), alt.Tooltip("high:Q", format=".4g")])  # fmt: skip
    layers = [band, line, alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color=GREY).encode(y=alt.Y("zero:Q", title=unit))]
    if true_effect is not None:
        layers.append(alt.Chart(pd.DataFrame({"truth": [true_effect]})).mark_rule(color=PALETTE["green"], strokeDash=[5, 3]).encode(
            y=alt.Y("truth:Q", title=unit)))
    return titled(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT), title, reading)


def power_chart(curves: pd.DataFrame, title: str = "Power: the chance of detecting a real effect",
                reading: str | None = None, x: str = "effect", x_title: str = "true relative lift (%)",
                group: str = "users_per_arm", log_x: bool = False, mark_x: float | None = None,
                y: str = "power", y_title: str = "power (probability, 0–1)", target: float = 0.8) -> alt.LayerChart:  # fmt: skip
    """``curves``: ``x``, ``y`` (a probability, default ``power``), ``group`` (one line each: a numeric
    group is ordered and coloured along viridis, a named one from the palette). Dashed line at
    ``target``; ``mark_x`` draws a vermillion rule (e.g. the current test's size). A log x axis
    labels its ticks in SI units (1k, 10k) at most ``ticks`` times, so the labels never overlap."""
    _need(curves, (x, y, group), "power_chart")
    reading = reading or f"where a line crosses {target:g}, that test detects its effect {target:.0%} of the time"
    kind = "O" if pd.api.types.is_numeric_dtype(curves[group]) else "N"
    axis = alt.Axis(format="~s", tickCount=6, labelOverlap="greedy") if log_x else alt.Axis()
    line = alt.Chart(curves).mark_line(point=len(curves) < 60).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(type="log" if log_x else "linear"), axis=axis),
        y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(f"{group}:{kind}", title=group.replace("_", " ")),
        tooltip=[x, group, alt.Tooltip(f"{y}:Q", format=".3f")],
    )  # fmt: skip
    layers = [line, alt.Chart(pd.DataFrame({"p": [target]})).mark_rule(color=GREY, strokeDash=[4, 3]).encode(
        y=alt.Y("p:Q", title=y_title))]  # fmt: skip
    if mark_x is not None:
        layers.append(alt.Chart(pd.DataFrame({"m": [mark_x]})).mark_rule(color=PALETTE["vermillion"]).encode(
            x=alt.X("m:Q", title=x_title)))  # fmt: skip
    return titled(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT), title, reading)


def rate_chart(rates: pd.DataFrame, alpha: float, title: str, reading: str,
               x_title: str = "day of the test (days)", y_title: str = "share of A/A tests declared significant (0–1)") -> alt.LayerChart:  # fmt: skip
    """``rates``: ``day``, ``rate`` (0–1), ``series`` (one line each); dashed line at ``alpha``."""
    _need(rates, ("day", "rate", "series"), "rate_chart")
    line = alt.Chart(rates).mark_line(point=True).encode(
        x=alt.X("day:Q", title=x_title), y=alt.Y("rate:Q", title=y_title),
        color=alt.Color("series:N", title="reading", legend=alt.Legend(orient="bottom", direction="vertical")),
        tooltip=["series", "day", alt.Tooltip("rate:Q", format=".3f")],
    )  # fmt: skip
    rule = alt.Chart(pd.DataFrame({"a": [alpha]})).mark_rule(color="black", strokeDash=[5, 3]).encode(
        y=alt.Y("a:Q", title=y_title))  # fmt: skip
    return titled((line + rule).properties(width=WIDTH, height=HEIGHT), title, reading)


def interleaved_list_chart(rows: pd.DataFrame, title: str = "One interleaved list, coloured by the ranker that contributed each item",
                           reading: str | None = None) -> alt.LayerChart:  # fmt: skip
    """``rows``: ``position`` (1-based), ``title``, ``team`` ('A' or 'B'), ``clicked`` (bool)."""
    _need(rows, ("position", "title", "team", "clicked"), "interleaved_list_chart")
    if reading is None:
        ca = int((rows["clicked"] & (rows["team"] == "A")).sum())
        cb = int((rows["clicked"] & (rows["team"] == "B")).sum())
        reading = f"clicks on A's picks: {ca}, on B's picks: {cb}"
    rows = rows.assign(label=np.where(rows["clicked"], "✓ ", "") + rows["title"].astype(str))
    y = alt.Y("position:O", title="position in the list (1 = top)")
    cells = alt.Chart(rows).mark_bar(height=18).encode(
        y=y, x=alt.value(0), x2=alt.value(WIDTH // 2),
        color=alt.Color("team:N", title="team", scale=alt.Scale(domain=list(TEAM_COLORS), range=list(TEAM_COLORS.values()))),
        opacity=alt.condition("datum.clicked", alt.value(1.0), alt.value(0.45)),
        tooltip=["position", "title", "team", "clicked"],
    )  # fmt: skip
    text = alt.Chart(rows).mark_text(align="left", dx=6, color="black").encode(
        y=y, x=alt.value(0), text="label:N")
    return titled((cells + text).properties(width=WIDTH // 2 + 10, height=22 * len(rows)), title, reading)


# --- off-policy evaluation (notebook 10) -----------------------------------------------------------------


def estimates_chart(estimates: pd.DataFrame, truth: float, title: str, reading: str, x: str = "estimator",
                    x_title: str = "estimator", y_title: str = "estimated value (clicks per impression)") -> alt.LayerChart:  # fmt: skip
    """``estimates``: ``x`` (a category, in the order given) and ``value``, one row per replicated log:
    a box per category (whiskers at min and max) and the ``truth`` as a dashed green line."""
    _need(estimates, (x, "value"), "estimates_chart")
    order = [str(v) for v in dict.fromkeys(estimates[x])]
    data = estimates.assign(**{x: estimates[x].astype(str)})
    xe = alt.X(f"{x}:N", title=x_title, sort=order, axis=alt.Axis(labelAngle=0))
    box = alt.Chart(data).mark_boxplot(extent="min-max", size=28, color=PALETTE["blue"]).encode(
        x=xe, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)))
    rule = alt.Chart(pd.DataFrame({"truth": [truth]})).mark_rule(color=PALETTE["green"], strokeDash=[5, 3]).encode(
        y=alt.Y("truth:Q", title=y_title))  # fmt: skip
    return titled((box + rule).properties(width=WIDTH, height=HEIGHT), title, reading)


def estimate_intervals_chart(estimates: pd.DataFrame, reference: tuple[float, float, float], title: str, reading: str,
                             x_title: str = "estimator", y_title: str = "estimated value") -> alt.LayerChart:
    """``estimates``: ``estimator``, ``value``, ``ci_low``, ``ci_high``, one row each: a point and its
    interval per estimator, against a ``reference`` ``(value, low, high)`` drawn as a green band and line."""
    _need(estimates, ("estimator", "value", "ci_low", "ci_high"), "estimate_intervals_chart")
    mean, lo, hi = reference
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False))
    x = alt.X("estimator:N", title=x_title, sort=list(estimates["estimator"]), axis=alt.Axis(labelAngle=0))
    band = alt.Chart(pd.DataFrame({"lo": [lo], "hi": [hi]})).mark_rect(opacity=0.18, color=PALETTE["green"]).encode(
        y=alt.Y("lo:Q", title=y_title), y2="hi:Q")
    line = alt.Chart(pd.DataFrame({"value": [mean]})).mark_rule(color=PALETTE["green"], strokeDash=[5, 3]).encode(y=y)
    data = estimates[["estimator", "value", "ci_low", "ci_high"]]
    rules = alt.Chart(data).mark_rule(color=PALETTE["blue"]).encode(x=x, y=alt.Y("ci_low:Q", title=y_title), y2="ci_high:Q")
    points = alt.Chart(data).mark_point(filled=True, size=60, color=PALETTE["blue"]).encode(x=x, y=y)
    return titled((band + line + rules + points).properties(width=WIDTH, height=HEIGHT), title, reading)


def lines_chart(curves: pd.DataFrame, x: str, y: str, group: str, x_title: str, y_title: str, title: str, reading: str,
                log_x: bool = False, log_y: bool = False, mark_x: float | None = None) -> alt.LayerChart:  # fmt: skip
    """``curves``: ``x``, ``y`` and ``group`` (one coloured line each, named categories from the palette);
    ``mark_x`` draws a vermillion rule (e.g. the current slider value). Log axes label in SI units."""
    _need(curves, (x, y, group), "lines_chart")

    def scale(log: bool) -> tuple[alt.Scale, alt.Axis]:
        return (alt.Scale(type="log"), alt.Axis(format="~s", tickCount=6, labelOverlap="greedy")) if log \
            else (alt.Scale(zero=False), alt.Axis(labelOverlap="greedy"))  # fmt: skip

    (sx, ax), (sy, ay) = scale(log_x), scale(log_y)
    line = alt.Chart(curves).mark_line(point=True).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=sx, axis=ax), y=alt.Y(f"{y}:Q", title=y_title, scale=sy, axis=ay),
        color=alt.Color(f"{group}:N", title=group.replace("_", " "), sort=list(dict.fromkeys(curves[group])),
                        legend=alt.Legend(orient="bottom", direction="vertical")),
        tooltip=[group, x, alt.Tooltip(f"{y}:Q", format=".4g")],
    )  # fmt: skip
    layers = [line]
    if mark_x is not None:
        layers.append(alt.Chart(pd.DataFrame({"m": [mark_x]})).mark_rule(color=PALETTE["vermillion"]).encode(
            x=alt.X("m:Q", title=x_title, scale=sx)))  # fmt: skip
    return titled(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT), title, reading)
