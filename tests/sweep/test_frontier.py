"""Frontier and constrained choice on hand-made tables, where the answer is worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from workbench.sweep import best, pareto_mask, parse_query, summarise
from workbench.sweep.frontier import frontier

# ndcg@10, intra_list_diversity@10 per config; worked out by hand below
POINTS = {
    "A": (0.30, 0.80),
    "B": (0.28, 0.85),
    "C": (0.25, 0.90),
    "D": (0.24, 0.86),  # C beats it on both
    "E": (0.29, 0.79),  # A beats it on both
    "F": (0.30, 0.80),  # ties A: neither dominates the other
    "G": (np.nan, 0.99),  # failed metric: never on the frontier
}


def table(points=POINTS, seeds=(0,)) -> pd.DataFrame:
    rows = []
    for (name, (ndcg, ild)), seed in itertools.product(points.items(), seeds):
        rows.append({"config_id": f"{name}{seed}", "point_id": name, "label": f"cfg={name}", "seed": seed,
                     "status": "ok", "ndcg@10": ndcg, "ndcg@10_ci_low": ndcg - 0.01, "ndcg@10_ci_high": ndcg + 0.01,
                     "intra_list_diversity@10": ild, "config": "{}"})  # fmt: skip
    return pd.DataFrame(rows)


def test_frontier_on_two_maximised_axes():
    front = frontier(table(), ["ndcg@10", "intra_list_diversity@10"])
    assert front["label"].tolist() == ["cfg=A", "cfg=F", "cfg=B", "cfg=C"]  # best ndcg first, ties in config order
    assert {"ndcg@10_ci_low", "ndcg@10_ci_high", "n_seeds"} <= set(front.columns)


def test_frontier_with_a_minimised_axis():
    front = frontier(table(), ["ndcg@10", "min:intra_list_diversity@10"])
    assert sorted(front["label"]) == ["cfg=A", "cfg=E", "cfg=F"]


def test_pareto_mask_matches_the_definition_on_random_points():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 6, size=(300, 3)).astype(float)  # many ties
    maximise = [True, False, True]
    got = pareto_mask(v, maximise)
    s = v * np.where(maximise, 1, -1)
    want = [not any((s[j] >= s[i]).all() and (s[j] > s[i]).any() for j in range(len(s))) for i in range(len(s))]
    assert got.tolist() == want


def test_summarise_averages_each_config_over_its_seeds_and_drops_failures():
    t = table({"A": (0.2, 0.5), "B": (0.4, 0.7)}, seeds=(0, 1))
    t.loc[(t.point_id == "A") & (t.seed == 1), ["ndcg@10", "intra_list_diversity@10"]] = [0.4, 0.9]
    t.loc[len(t)] = {"config_id": "B9", "point_id": "B", "label": "cfg=B", "seed": 9, "status": "failed",
                     "ndcg@10": np.nan}  # fmt: skip
    s = summarise(t).set_index("point_id")
    assert s.loc["A", "ndcg@10"] == pytest.approx(0.3) and s.loc["A", "intra_list_diversity@10"] == pytest.approx(0.7)
    assert s.loc["A", "n_seeds"] == 2 and s.loc["B", "n_seeds"] == 2 and s.loc["B", "seeds"] == "0,1"


@pytest.mark.parametrize(
    "query, winner",
    [
        ("max ndcg@10", "cfg=A"),  # A and F tie: the earlier config
        ("max ndcg@10 with intra_list_diversity@10 >= 0.85", "cfg=B"),
        ("max ndcg@10 with intra_list_diversity@10 > 0.85", "cfg=C"),
        ("max ndcg with intra_list_diversity >= 0.85 and intra_list_diversity <= 0.88", "cfg=B"),
        ("min ndcg@10 with intra_list_diversity@10 >= 0.85", "cfg=D"),
        ("max intra_list_diversity@10 with ndcg@10 >= 0.29", "cfg=A"),
    ],
)
def test_best_under_constraints(query, winner):
    row = best(table(), query)
    assert row["label"] == winner


def test_best_counts_the_configs_meeting_the_constraints():
    assert best(table(), "max ndcg@10 with intra_list_diversity@10 >= 0.85")["feasible_configs"] == 4  # B C D G


def test_no_feasible_config_is_an_error_naming_the_reach():
    with pytest.raises(ValueError, match=r"no config.*intra_list_diversity@10 >= 1.*spans \[0\.79, 0\.99\]"):
        best(table(), "max ndcg@10 with intra_list_diversity@10 >= 1.0")


@pytest.mark.parametrize(
    "query, message",
    [
        ("biggest ndcg@10", "expected 'max METRIC'"),
        ("max ndcg@10 with diversity ~ 3", "expected METRIC OP VALUE"),
        ("max nope@10", r"no column 'nope@10'.*ndcg@10"),
    ],
)
def test_bad_queries_are_refused(query, message):
    with pytest.raises(ValueError, match=message):
        best(table(), query)


def test_a_metric_without_cut_off_is_ambiguous_with_two():
    t = table().assign(**{"ndcg@5": 0.1})
    with pytest.raises(ValueError, match="ambiguous"):
        best(t, "max ndcg")


def test_query_round_trips_through_describe():
    q = parse_query("max ndcg@10 with intra_list_diversity@10 >= 0.9 and novelty_bits@10 < 12")
    assert q.describe() == "max ndcg@10 with intra_list_diversity@10 >= 0.9 and novelty_bits@10 < 12"
    assert parse_query(q.describe()) == q


def test_a_frontier_needs_two_axes():
    with pytest.raises(ValueError, match="at least two axes"):
        frontier(table(), ["ndcg@10"])
