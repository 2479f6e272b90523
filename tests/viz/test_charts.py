"""Chart builders: every chart carries a title, a one-line reading and axis titles with units."""

import altair as alt
import pandas as pd
import pytest

from workbench.viz import charts as c

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
    "sample_size": lambda: c.sample_size_chart(pd.DataFrame({"effect": [1, 2, 1, 2], "users": [1e5, 3e4, 1e3, 300],
                                                             "method": ["A/B", "A/B", "interleaving", "interleaving"]})),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_follows_the_chart_rules(name):
    chart = BUILDERS[name]()
    assert c.chart_problems(chart) == []
    assert chart.to_json()


def test_chart_problems_catches_what_the_rules_forbid():
    df = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    bare = alt.Chart(df).mark_point().encode(x="x:Q", y=alt.Y("y:Q", title="height"))
    problems = c.chart_problems(bare)
    assert "no title" in problems
    assert "x axis of 'x' has no title" in problems
    assert "y axis 'height' gives no unit in parentheses" in problems
    assert c.chart_problems(c.titled(bare, "t", ""))[0] == "no one-line reading (subtitle)"


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
