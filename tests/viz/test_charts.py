"""Chart builders: every chart carries a title, a one-line reading and axis titles with units, uses the
colour-blind-safe palette, and renders (vl-convert) with no text cut short and no labels on top of each other."""

import altair as alt
import pandas as pd
import pytest

from workbench.viz import charts as c
from workbench.viz import checks

SLATE_BEFORE = pd.DataFrame({"item": [10, 11, 12, 13], "position": [1, 2, 3, 4], "title": ["a", "b", "c", "d"]})
SLATE_AFTER = pd.DataFrame({"item": [12, 10, 14, 11], "position": [1, 2, 3, 4], "title": ["c", "a", "e", "b"]})

BUILDERS = {
    "funnel": lambda: c.funnel_chart(pd.DataFrame({"stage": ["catalogue", "candidates", "ranked", "slate"],
                                                   "items": [2000, 800, 100, 10]})),
    "latency": lambda: c.latency_chart(pd.DataFrame({"stage": ["candidates", "ranking"], "p50_ms": [1.0, 2.0],
                                                     "p99_ms": [2.0, 9.0], "budget_ms": [5.0, 5.0]})),
    "metric_bars": lambda: c.metric_bars(pd.DataFrame({"metric": ["ndcg", "recall"], "value": [0.1, 0.2]}), "t", "r"),
    "slate": lambda: c.slate_change_chart(SLATE_BEFORE, SLATE_AFTER),
    "frontier": lambda: c.frontier_chart(pd.DataFrame({"lam": [0, 0.5, 1], "ndcg": [0.1, 0.2, 0.3],
                                                       "intra_list_diversity": [0.9, 0.7, 0.5]}),
                                         {"lam": 0.5, "ndcg": 0.2, "intra_list_diversity": 0.7}),
    "recall": lambda: c.recall_curve_chart(pd.DataFrame({"source": ["a", "a", "b", "b"], "n": [10, 100, 10, 100],
                                                         "recall": [0.1, 0.3, 0.2, 0.25]})),
    "overlap": lambda: c.overlap_chart(pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["x", "y", "x", "y"],
                                                     "overlap": [1.0, 0.2, 0.2, 1.0]})),
    "importance": lambda: c.importance_chart(pd.DataFrame({"feature": ["f1", "f2"], "importance": [0.3, 0.7]}), "t", "r"),
    "pvalue": lambda: c.pvalue_chart(pd.DataFrame({"day": [1, 2, 3], "p_value": [0.5, 0.04, 0.1]})),
    "interval": lambda: c.interval_chart(pd.DataFrame({"day": [1, 2], "estimate": [1.0, 2.0], "low": [0.0, 1.0],
                                                       "high": [2.0, 3.0]}), true_effect=2.0),
    "power": lambda: c.power_chart(pd.DataFrame({"effect": [1, 2, 1, 2], "power": [0.1, 0.5, 0.3, 0.9],
                                                 "users_per_arm": [100, 100, 1000, 1000]})),
    "rate": lambda: c.rate_chart(pd.DataFrame({"day": [1, 2, 1, 2], "rate": [0.05, 0.05, 0.05, 0.09],
                                               "series": ["at", "at", "by", "by"]}), 0.05, "t", "r"),
    "power_marked": lambda: c.power_chart(pd.DataFrame({"n": [10, 100, 10, 100], "power": [0.1, 0.5, 0.3, 0.9],
                                                        "lift": [1, 1, 2, 2]}), x="n", x_title="users per arm (count)",
                                          group="lift", log_x=True, mark_x=50),
    "interleaved": lambda: c.interleaved_list_chart(pd.DataFrame({"position": [1, 2, 3], "title": ["a", "b", "c"],
                                                                  "team": ["A", "B", "A"], "clicked": [True, False, True]})),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_follows_the_chart_rules_and_renders_whole(name):
    chart = BUILDERS[name]()
    assert checks.chart_problems(chart) == []
    assert checks.rendering_problems(chart) == []


def _svg_texts(chart) -> list[str]:
    import xml.etree.ElementTree as ET

    import vl_convert as vlc

    svg = ET.fromstring(vlc.vegalite_to_svg(chart.to_dict()))
    return ["".join(el.itertext()) for el in svg.iter() if el.tag.endswith("text")]


def test_long_legend_and_axis_texts_render_in_full():
    title = "share of a's top list also proposed by b (0–1, mean over users)"
    df = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["x", "y", "x", "y"], "overlap": [1.0, 0.2, 0.2, 1.0]})
    texts = _svg_texts(c.overlap_chart(df, value_title=title, x_title="source a (its top 100)", y_title="source b"))
    assert title in texts  # Vega would cut a legend title this long at 180 px
    assert "source a (its top 100)" in texts and "source b" in texts
    long_label = "significant on any day so far (peeking)"
    rates = pd.DataFrame({"day": [1, 2, 1, 2], "rate": [0.05, 0.05, 0.05, 0.09], "series": ["on that day"] * 2 + [long_label] * 2})
    assert long_label in _svg_texts(c.rate_chart(rates, 0.05, "t", "r"))


def test_rendering_problems_finds_cut_texts_overlapping_labels_and_width():
    df = pd.DataFrame({"n": [10_000, 20_000, 30_000], "v": [1.0, 2.0, 3.0], "g": ["a" * 60, "b", "c"]})
    legend_title = "a legend title much longer than the one hundred and eighty pixels Vega allows"
    bare = alt.Chart(df).mark_point().encode(
        x=alt.X("n:Q", title="users (count)", axis=alt.Axis(values=[10_000, 10_500, 11_000])),
        y=alt.Y("v:Q", title="value (units)"), color=alt.Color("g:N", title=legend_title),
    ).properties(width=100, title=alt.TitleParams("t", subtitle="r"))  # fmt: skip
    problems = checks.rendering_problems(bare, max_width=50)
    assert any(p.startswith("text cut short: 'a legend title") for p in problems)
    assert f"missing from the drawing: {legend_title!r}" in problems
    assert any(p.startswith("axis labels '10,") and p.endswith("overlap") for p in problems)
    assert any(p.endswith("over the 50 px the page gives it") for p in problems)


def test_palette_rules():
    df = pd.DataFrame({"x": [1, 2], "y": [3, 4], "g": ["a", "b"]})
    enc = dict(x=alt.X("x:Q", title="x (u)"), y=alt.Y("y:Q", title="y (u)"))
    off = c.titled(alt.Chart(df).mark_point(color="#1f77b4").encode(**enc), "t", "r")
    assert checks.chart_problems(off) == ["colour '#1f77b4' is outside the colour-blind-safe palette"]
    scheme = c.titled(alt.Chart(df).mark_point().encode(**enc, color=alt.Color("g:N", scale=alt.Scale(scheme="category10"))), "t", "r")
    assert checks.chart_problems(scheme) == ["colour scheme 'category10' is not one of ('blues', 'viridis')"]
    unstyled = alt.Chart(df).mark_point().encode(**enc).properties(title=alt.TitleParams("t", subtitle="r"))
    assert checks.chart_problems(unstyled) == ["default colours are not the colour-blind-safe palettes (finish the chart with titled)"]
    # two teams (07) and two methods get two different Okabe–Ito hues, not two shades of one
    assert c.TEAM_COLORS["A"] != c.TEAM_COLORS["B"] and set(c.TEAM_COLORS.values()) <= set(c.PALETTE.values())
    methods = c.power_chart(pd.DataFrame({"n": [10, 100, 10, 100], "power": [0.1, 0.5, 0.3, 0.9],
                                          "method": ["A/B", "A/B", "team_draft", "team_draft"]}),
                            x="n", x_title="users (count)", group="method")  # fmt: skip
    color = methods.to_dict()["layer"][0]["encoding"]["color"]
    assert color["type"] == "nominal"  # categories take the palette, not an ordinal ramp of blues


def test_metric_bars_names_its_category_axis():
    winners = pd.DataFrame({"source": ["ease", "als"], "value": [0.7, 0.3]})
    spec = c.metric_bars(winners, "t", "r", category="source", category_title="candidate source").to_dict()
    assert spec["encoding"]["y"] == {**spec["encoding"]["y"], "field": "source", "title": "candidate source"}


def test_chart_problems_catches_what_the_rules_forbid():
    df = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    bare = alt.Chart(df).mark_point().encode(x="x:Q", y=alt.Y("y:Q", title="height"))
    problems = checks.chart_problems(bare)
    assert "no title" in problems
    assert "x axis of 'x' has no title" in problems
    assert "y axis 'height' gives no unit in parentheses" in problems
    assert checks.chart_problems(c.titled(bare, "t", ""))[0] == "no one-line reading (subtitle)"


def test_slate_change_marks_entering_leaving_and_moving_items():
    chart = c.slate_change_chart(SLATE_BEFORE, SLATE_AFTER)
    spec = chart.to_dict()
    values = next(iter(spec["datasets"].values()))
    df = pd.DataFrame(values)
    change = df.drop_duplicates("item").set_index("item")["change"].to_dict()
    assert change == {10: "kept", 11: "kept", 12: "kept", 13: "left", 14: "entered"}
    # 12 moved 3 -> 1 and 10 moved 1 -> 2, 11 moved 2 -> 4: one item moved up among the three kept
    assert spec["title"]["subtitle"] == "1 item(s) entered, 1 left, 1 moved up among the 3 kept"
    assert len(df) == 8


def test_funnel_reading_lists_the_counts_in_order():
    chart = BUILDERS["funnel"]()
    assert chart.to_dict()["title"]["subtitle"] == "catalogue 2,000 → candidates 800 → ranked 100 → slate 10"


def test_latency_reading_names_the_stage_over_budget():
    assert BUILDERS["latency"]().to_dict()["title"]["subtitle"] == "p99 over budget in: ranking"


def test_missing_column_is_named():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['items'\]"):
        c.funnel_chart(pd.DataFrame({"stage": ["a"]}))


def test_empty_marks_finds_a_chart_that_draws_nothing():
    import vl_convert as vlc

    from workbench.viz.serving import budget_chart

    def empty(chart):
        return checks.empty_marks(vlc.vegalite_to_scenegraph(chart.to_dict()))

    table = pd.DataFrame({"stage": ["a", "b"], "p50_ms": [0.5, 3.0], "p99_ms": [2.0, 40.0], "budget_ms": [10.0, 50.0]})
    long = table.melt(id_vars="stage", value_vars=["p50_ms", "p99_ms"], var_name="quantile", value_name="ms")
    log_x = alt.X("ms:Q", title="time (ms)", scale=alt.Scale(type="log"))
    # the encoding notebook 08 had: coloured bars are stacked from 0, which a log axis cannot place
    stacked = alt.Chart(long).mark_bar().encode(y="stage:N", yOffset="quantile:N", x=log_x, color="quantile:N")
    assert empty(stacked) == ["mark 'marks' draws nothing (none of its 4 items has a position)"]
    assert empty(budget_chart(table, "t", "r")) == []
    no_rows = alt.Chart(long.iloc[:0]).mark_point().encode(x=alt.X("ms:Q", title="time (ms)"), y="stage:N")
    assert empty(no_rows) == ["mark 'marks' draws nothing (no data rows)"]
    assert checks.rendering_problems(budget_chart(table, "t", "r")) == []
