"""Freshness decay across its range (notebook 04's back-end)."""

import dataclasses
import math

import numpy as np
import pytest

from workbench.data import make_synthetic, temporal_split
from workbench.lessons.freshness import decay_sweep, half_boost_age
from workbench.lessons.whatif import Knobs, WhatIf
from workbench.metrics.beyond import mean_item_age
from workbench.types import CandidateSet


def test_half_boost_age_by_hand():
    # e^(−decay · a / 30) = 1/2  ⇔  a = 30 · ln 2 / decay: 20.79 days at decay 1, 207.9 at 0.1
    assert half_boost_age(1.0) == pytest.approx(20.7944, abs=1e-4)
    assert half_boost_age(0.1) == pytest.approx(207.944, abs=1e-3)
    assert half_boost_age(0.0) == math.inf
    with pytest.raises(ValueError, match="decay=-1"):
        half_boost_age(-1.0)


def test_decay_sweep_measures_each_decay_and_decay_zero_changes_no_order():
    ds = make_synthetic(seed=3, n_users=60, n_items=120, impressions_per_user=60)
    train, test = temporal_split(ds)
    rng = np.random.default_rng(0)
    items = np.argsort(rng.random((train.n_users, train.n_items)), axis=1)[:, :40]
    ranked = CandidateSet(users=np.arange(train.n_users), items=items, scores=rng.random(items.shape).astype(np.float32))
    whatif = WhatIf(ranked, train, test, knobs=Knobs(max_pins=0, lam=1.0, exploration_rate=0.0, freshness_weight=0.5, k=10))
    ages = decay_sweep(whatif, [0.0, 0.1, 1.0])
    assert list(ages.columns) == [0.0, 0.1, 1.0] and len(ages) == train.n_users
    for d in (0.0, 0.1):
        slate = whatif.slate(dataclasses.replace(whatif.knobs, freshness_decay=d))
        np.testing.assert_allclose(ages[d], mean_item_age(slate.items, train.item_age_days))
    # decay 0 boosts every item alike: the slate is the one with no freshness weight at all
    plain = whatif.slate(dataclasses.replace(whatif.knobs, freshness_weight=0.0))
    np.testing.assert_allclose(ages[0.0], mean_item_age(plain.items, train.item_age_days))
    # a boost that favours young items makes the slates younger on average
    assert ages[0.1].mean() < ages[0.0].mean()
