"""Notebook 12's heavier ranker: an ensemble of trained rankers over one stage 1 (`workbench.lessons.ensemble`)."""

import copy
import dataclasses

import numpy as np
import pytest

from workbench.lessons.ensemble import EnsembleRanker, ensemble_pipeline, row_zscores
from workbench.pipeline import PipelineConfig


def test_row_zscores_by_hand():
    scores = np.array([[1.0, 2.0, 3.0, 9.0], [5.0, 5.0, 0.0, 0.0]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    z = row_zscores(scores, mask)
    # row 0 over 1, 2, 3: mean 2, population sd sqrt(2/3); the masked 9 is ignored and 0
    assert np.allclose(z[0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5), 0.0])
    assert np.array_equal(z[1], np.zeros(4))  # equal scores carry no order: all 0


@pytest.fixture(scope="module")
def pair(tiny_pipeline_toml):
    """The tiny pipeline (Wide & Deep) and the same with a GBDT, on the small world, from the session's store."""
    from workbench.store import load_or_train

    cfg = PipelineConfig.from_toml(tiny_pipeline_toml)
    gbdt = dataclasses.replace(cfg, ranker="gbdt", ranker_params={"n_estimators": 20})
    return [load_or_train("synthetic", c, seed=0, small=True) for c in (cfg, gbdt)]


def test_ensemble_scores_are_the_mean_of_each_members_z_scores(pair):
    wd, gb = pair
    users = np.arange(40)
    cands = wd.pipeline.candidate_stage(users)
    ens = EnsembleRanker({"wide_deep": wd.pipeline.ranker_, "gbdt": gb.pipeline.ranker_})
    got = ens.score(cands)
    mask = cands.mask
    expected = np.zeros(mask.shape)
    for r in (wd.pipeline.ranker_, gb.pipeline.ranker_):  # each member standardised per user, by numpy's mean/std
        s = r.score(cands).astype(np.float64)
        for u in range(len(users)):
            m = mask[u]
            expected[u, m] += (s[u, m] - s[u, m].mean()) / s[u, m].std() / 2
    assert np.allclose(got[mask], expected[mask], atol=1e-5) and np.isneginf(got[~mask]).all()
    # a ranker with itself orders as the ranker does (z-scoring is increasing within a row)
    alone = wd.pipeline.ranker_.score(cands)
    twice = EnsembleRanker({"a": wd.pipeline.ranker_, "b": wd.pipeline.ranker_}).score(cands)
    for u in range(len(users)):
        m = mask[u]
        assert (np.diff(twice[u, m][np.argsort(alone[u, m])]) >= -1e-6).all()


def test_ensemble_pipeline_recommends_and_refuses_another_stage_one(pair):
    wd, gb = pair
    heavy = ensemble_pipeline({"wide_deep": wd.pipeline, "gbdt": gb.pipeline})
    assert heavy.ranker_.name == "ensemble of wide_deep + gbdt" and wd.pipeline.ranker_.name == "wide_deep"
    slate = heavy.recommend(np.arange(20))
    assert slate.items.shape == (20, wd.pipeline.config.k) and (slate.items >= 0).all()
    other = copy.copy(gb.pipeline)
    other.config = dataclasses.replace(gb.pipeline.config, n_candidates=60)
    with pytest.raises(ValueError, match="another stage 1"):
        ensemble_pipeline({"wide_deep": wd.pipeline, "gbdt": other})
    with pytest.raises(ValueError, match="at least 2"):
        EnsembleRanker({"wide_deep": wd.pipeline.ranker_})
