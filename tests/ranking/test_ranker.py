"""Rankers learn a planted signal, are deterministic under a seed, and survive bad input without NaN."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data import make_synthetic, temporal_split
from workbench.ranking import RANKERS, Context, GBDTConfig, Ranker, TrainConfig, fit_two_stage
from workbench.types import CandidateSet

torch.set_num_threads(1)
FAST = TrainConfig(epochs=4, patience=1, hard_negatives=4, easy_negatives=1, batch_size=64, lr=1e-2)
MODELS = {"deepfm": None, "wide_deep": None, "ncf": None, "gbdt": GBDTConfig(n_estimators=40, early_stopping_rounds=10)}


def random_candidates(ds, users, n, rng, must=None):
    """``n`` random unseen items per user (plus the ``must`` items), with an uninformative random source."""
    seen = ds.matrix[users].toarray() > 0
    key = np.where(seen, -np.inf, rng.random(seen.shape))
    if must is not None:
        key[must] = 2.0
    items = np.argsort(-key, axis=1)[:, :n]
    ranks = rng.permuted(np.tile(np.arange(n), (len(users), 1)), axis=1)
    return CandidateSet(users, items, rng.random((len(users), n)), np.ones_like(items), ("rand",),
                        ranks[..., None], rng.normal(size=(len(users), n, 1)))  # fmt: skip


@pytest.fixture(scope="module")
def planted():
    """A world where the future clicks are exactly the 'promoted' items (30% of the catalogue)."""
    ds = make_synthetic(n_users=200, n_items=150, impressions_per_user=50, seed=5)
    rng = np.random.default_rng(0)
    promoted = rng.random(ds.n_items) < 0.3
    ds = replace(ds, items=ds.items.assign(promoted=promoted))
    users = np.arange(ds.n_users)
    seen = ds.matrix.toarray() > 0
    choice = np.where(promoted[None, :] & ~seen, rng.random(seen.shape), -1.0)
    picks = np.argsort(-choice, axis=1)[:, :4]
    ts = ds.reference_ts + 3600 * (1 + np.arange(4))[None, :] + np.zeros_like(picks)
    future = ds.with_interactions(pd.DataFrame({"user": np.repeat(users, 4), "item": picks.ravel(),
                                                "timestamp": ts.ravel(), "rating": 1.0}))  # fmt: skip
    must = np.zeros(seen.shape, bool)
    must[np.repeat(users, 4), picks.ravel()] = True
    train_cands = random_candidates(ds, users, 30, rng, must)
    test_cands = random_candidates(ds, users, 30, np.random.default_rng(99))
    return ds, future, train_cands, test_cands, promoted


def auc(scores, labels):
    pos, neg = scores[labels], scores[~labels]
    return (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()


@pytest.mark.parametrize("name", list(MODELS))
def test_each_ranker_learns_the_planted_item_attribute(planted, name):
    ds, future, train_cands, test_cands, promoted = planted
    ranker = Ranker(MODELS[name] or name, FAST).fit(ds, future, train_cands)
    scores = ranker.score(test_cands)
    assert np.isfinite(scores).all()
    assert auc(scores.ravel(), promoted[test_cands.items].ravel()) > 0.9
    top = ranker.rank(None, test_cands, top_k=5)
    assert top.items.shape == (ds.n_users, 5)
    assert promoted[top.items].mean() > 0.9  # nearly every kept item carries the attribute (base rate 0.3)


@pytest.mark.parametrize("name", ["deepfm", "gbdt"])
def test_same_seed_same_scores_other_seed_other_scores(planted, name):
    ds, future, train_cands, test_cands, _ = planted
    cfg = MODELS[name] or name
    a = Ranker(cfg, FAST).fit(ds, future, train_cands).score(test_cands)
    b = Ranker(cfg, FAST).fit(ds, future, train_cands).score(test_cands)
    c = Ranker(cfg, replace(FAST, seed=1)).fit(ds, future, train_cands).score(test_cands)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.fixture(scope="module")
def trained(planted):
    ds, future, train_cands, _, _ = planted
    return Ranker("wide_deep", FAST).fit(ds, future, train_cands)


def test_ranking_before_training_is_refused(planted):
    *_, test_cands, _ = planted
    with pytest.raises(RuntimeError, match="not trained"):
        Ranker("deepfm").rank(None, test_cands, top_k=10)
    with pytest.raises(ValueError, match="unknown ranker"):
        Ranker("xgboost")


def test_padding_cold_users_and_unseen_items_score_without_nan(planted, trained):
    ds, *_ = planted
    # user 0: padded row; user 250: not in any table; item 149 real, items 150+ outside the catalogue
    cands = CandidateSet(
        users=[0, 250], items=[[5, 7, -1, -1], [149, 150, 400, -1]],
        scores=[[1.0, 0.5, -np.inf, -np.inf], [1.0, 0.9, 0.8, -np.inf]],
    )  # fmt: skip
    scores = trained.score(cands, Context(ds.reference_ts + 3600))
    assert np.isfinite(scores[cands.mask]).all() and np.isneginf(scores[~cands.mask]).all()
    top = trained.rank(None, cands, top_k=3)
    assert (top.items[0, 2:] == -1).all() and set(top.items[1]) == {149, 150, 400}
    assert (np.diff(top.scores[1]) <= 0).all()


def test_new_categories_after_refresh_score_without_nan(planted):
    ds, future, train_cands, _, _ = planted
    ranker = Ranker("deepfm", FAST).fit(ds, future, train_cands)
    items = ds.items.copy()
    items.loc[:9, "category"] = len(ds.category_names) + 3  # a category the model never saw
    grown = replace(ds, items=items, category_names=ds.category_names + ("x", "y", "z", "w"))
    ranker.use_history(grown)
    cands = CandidateSet([1, 2], [[0, 1, 2], [3, 50, -1]], np.zeros((2, 3)))
    assert np.isfinite(ranker.score(cands)[cands.mask]).all()


def test_rank_keeps_the_named_users_and_the_source_columns(planted, trained):
    *_, test_cands, _ = planted
    top = trained.rank(np.array([7, 3]), test_cands, top_k=4)
    assert list(top.users) == [7, 3]
    full = trained.score(test_cands)
    best = np.sort(full[7])[::-1][:4]
    assert np.allclose(top.scores[0], best)
    assert top.source_names == ("rand",) and top.source_ranks.shape == (2, 4, 1)
    col = np.nonzero(test_cands.items[7] == top.items[0, 0])[0][0]
    assert top.source_ranks[0, 0, 0] == test_cands.source_ranks[7, col, 0]
    with pytest.raises(KeyError, match="no row"):
        trained.rank(np.array([999]), test_cands)
    with pytest.raises(ValueError, match="top_k"):
        trained.rank(None, test_cands, top_k=0)


def test_rankers_registry_and_two_stage_recipe():
    assert set(RANKERS) == {"deepfm", "wide_deep", "ncf", "gbdt"}
    ds = make_synthetic(n_users=150, n_items=120, impressions_per_user=60, seed=2)
    train, _ = temporal_split(ds, 0.2)
    calls = []

    def retrieve(history, users):
        calls.append(history.n_interactions)
        pop = history.item_popularity.astype(float)
        seen = history.matrix[users].toarray() > 0
        items = np.argsort(-np.where(seen, -1.0, pop[None, :]), axis=1, kind="stable")[:, :40]
        ranks = np.tile(np.arange(40), (len(users), 1))
        return CandidateSet(users, items, -ranks.astype(float), np.ones_like(items), ("popular",), ranks[..., None],
                            pop[items][..., None])  # fmt: skip

    ranker = fit_two_stage(train, retrieve, Ranker("ncf", FAST))
    assert calls == [temporal_split(train, 0.2)[0].n_interactions]  # sources fitted on the carved history only
    # training positives: the distinct (user, item) pairs of the carved future's training part
    # (its first 70 %) that are among the user's 40 candidates
    history, future = temporal_split(train, 0.2)
    fut_train, _ = temporal_split(future, FAST.valid_fraction)
    users = np.unique(future.interactions["user"].to_numpy())
    cands = retrieve(history, users)
    proposed = {(u, i) for u, row in zip(cands.users.tolist(), cands.items.tolist()) for i in row}
    pairs = set(zip(fut_train.interactions["user"].tolist(), fut_train.interactions["item"].tolist()))
    assert ranker.fitted and ranker.report_["train_positives"] == len(pairs & proposed)


def test_training_without_candidates_uses_catalogue_negatives_and_ignores_unseen_sources(planted):
    ds, future, _, test_cands, promoted = planted
    ranker = Ranker(MODELS["gbdt"], FAST).fit(ds, future)
    assert ranker.features_.layout_.sources == () and ranker.report_["train_positives"] == future.n_interactions - 200
    scores = ranker.score(test_cands)  # test_cands carry a "rand" source the model never saw
    assert auc(scores.ravel(), promoted[test_cands.items].ravel()) > 0.9


@pytest.mark.parametrize("name", ["wide_deep", "gbdt"])
def test_estimator_contract_init_stores_hyper_parameters_fit_adds_underscored_state(planted, name):
    ds, future, train_cands, _, _ = planted
    ranker = Ranker(MODELS[name] or name, FAST)
    assert set(vars(ranker)) == {"config", "train_config", "feature_config"} and not ranker.fitted
    ranker.fit(ds, future, train_cands)
    assert {k for k in vars(ranker) if not k.endswith("_")} == {"config", "train_config", "feature_config"}
    assert {"features_", "model_", "report_"} <= set(vars(ranker)) and ranker.fitted
    builder = ranker.features_
    assert {k for k in vars(builder) if not k.endswith("_")} == {"config"}
    assert builder.config is ranker.feature_config and builder.layout_.sources == ("rand",)
    served = ranker.use_history(future).features_
    assert served is not builder and served.layout_ == builder.layout_  # refitted statistics, same columns
