"""One item-arrays object (`workbench.types.ItemArrays`) taken by `rerank()` and `evaluate()`:
the same slate and the same table as the arrays passed one by one, and never both at once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench.data import load, temporal_split
from workbench.metrics import relevance_matrix
from workbench.metrics.evaluate import evaluate
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.rerank import RerankConfig, rerank


@pytest.fixture(scope="module")
def world():
    train, test = temporal_split(load("synthetic", seed=0, small=True), 0.2)
    config = PipelineConfig(weights={"popular": 1.0, "itemknn": 1.0}, n_candidates=40, n_ranked=40, k=10)
    candidates = Pipeline(config).fit_candidates(train).candidate_stage(np.arange(train.n_users))
    return train, test, candidates


def test_item_arrays_hold_the_training_splits_arrays(world):
    train, _, _ = world
    items = train.item_arrays()
    assert items.n_items == train.n_items and items.n_users == train.n_users
    np.testing.assert_array_equal(items.popularity, np.asarray((train.matrix > 0).sum(axis=0)).ravel())
    np.testing.assert_array_equal(items.category, train.items["category"].to_numpy())


def test_rerank_reads_the_same_arrays_either_way(world):
    train, _, candidates = world
    config = RerankConfig(lam=0.5, max_pins=1, category_cap=3, exploration_rate=0.2, seed=3)
    one = rerank(candidates, 10, items=train.item_arrays(), seen=train.matrix, config=config)
    each = rerank(candidates, 10, item_vectors=train.item_features, item_category=train.item_category,
                  item_age_days=train.item_age_days, item_available=train.item_available,
                  item_promoted=train.item_promoted, seen=train.matrix, config=config)  # fmt: skip
    np.testing.assert_array_equal(one.items, each.items)
    np.testing.assert_array_equal(one.propensities, each.propensities)
    with pytest.raises(ValueError, match=r"items= and \['item_vectors'\]"):
        rerank(candidates, 10, items=train.item_arrays(), item_vectors=train.item_features)
    with pytest.raises(ValueError, match="expected items="):
        rerank(candidates, 10)


def test_evaluate_reads_the_same_arrays_either_way(world):
    train, test, candidates = world
    recommended = candidates.items[:, :10]
    relevance = relevance_matrix(test)
    one = evaluate(recommended, relevance, (5, 10), users=candidates.users, items=train.item_arrays())
    each = evaluate(recommended, relevance, (5, 10), users=candidates.users, item_popularity=train.item_popularity,
                    n_train_users=train.n_users, item_vectors=train.item_features, item_category=train.item_category,
                    item_age_days=train.item_age_days, n_items=train.n_items)  # fmt: skip
    pd.testing.assert_frame_equal(one, each)
    assert {"novelty_bits", "intra_list_diversity", "mean_item_age_days"} <= set(one["metric"])
    with pytest.raises(ValueError, match=r"items= and \['n_items'\]"):
        evaluate(recommended, relevance, (5,), users=candidates.users, items=train.item_arrays(), n_items=3)
    # an ItemArrays is plain data: a partial one (no popularity) leaves novelty out, as the arrays alone would
    partial = dataclasses.replace(train.item_arrays(), popularity=None, n_users=None)
    assert "novelty_bits" not in set(evaluate(recommended, relevance, (5,), users=candidates.users, items=partial)["metric"])
