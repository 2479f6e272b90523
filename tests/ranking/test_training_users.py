"""The ranker's training users: all of them up to TrainConfig.max_users, else a seeded uniform sample."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.ranking.ranker import training_users
from workbench.ranking.train import TrainConfig


def test_all_users_up_to_the_limit_then_a_seeded_sample_of_exactly_the_limit():
    users = np.arange(5, 105, dtype=np.int64)  # 100 users
    assert training_users(users, TrainConfig(max_users=100)) is users
    assert training_users(users, TrainConfig(max_users=None)) is users
    a = training_users(users, TrainConfig(max_users=30, seed=1))
    assert len(a) == 30 and len(np.unique(a)) == 30 and np.isin(a, users).all() and np.all(np.diff(a) > 0)
    assert np.array_equal(a, training_users(users, TrainConfig(max_users=30, seed=1)))  # same seed, same sample
    assert not np.array_equal(a, training_users(users, TrainConfig(max_users=30, seed=2)))


def test_uniform_draw_every_user_equally_likely():
    users = np.arange(20, dtype=np.int64)
    hits = np.zeros(20)
    for seed in range(400):
        hits[training_users(users, TrainConfig(max_users=5, seed=seed))] += 1
    # each user is drawn with probability 5/20: 100 of 400 expected, sd sqrt(400 * 0.25 * 0.75) ≈ 8.7
    assert np.all(np.abs(hits - 100) < 5 * 8.7)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_bad_limit_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="max_users"):
        TrainConfig(max_users=bad)


def test_fit_two_stage_retrieves_for_the_sample_only_and_trains():
    from workbench.candidates import SOURCES
    from workbench.data import SMALL_WORLD, make_synthetic
    from workbench.ranking import Ranker, fit_two_stage

    train = make_synthetic(seed=0, **SMALL_WORLD)
    asked = []

    def retrieve(history, users):
        asked.append(users)
        return SOURCES["popular"]().fit(history).retrieve(users, 50)

    cfg = TrainConfig(epochs=2, max_users=120, seed=3)
    ranker = fit_two_stage(train, retrieve, Ranker("gbdt", cfg))
    assert len(asked) == 1 and len(asked[0]) == 120 < train.n_users
    scored = ranker.score(SOURCES["popular"]().fit(train).retrieve(np.arange(train.n_users), 20))
    assert scored.shape == (train.n_users, 20) and np.isfinite(scored).all()
