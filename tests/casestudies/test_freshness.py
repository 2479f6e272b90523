"""The example-age model: known maximum-likelihood answers, zero at serving, the fresh-item effect."""

import numpy as np
import pytest

from workbench.casestudies.freshness import (
    ExampleAgeModel, FreshConfig, FreshWorld, calibration, example_age, fit_both, top_k_capture,
)  # fmt: skip


def test_example_age_counts_days_back_from_the_end_of_the_window():
    np.testing.assert_allclose(example_age(3), [2.5, 1.5, 0.5])


# 3 days × 3 items: item 2 is uploaded on the last day and takes most of that day's events
COUNTS = np.array([[60, 40, 0], [50, 50, 0], [10, 10, 80]], dtype=float)


def test_without_example_age_the_model_predicts_each_items_share_of_the_window():
    model = ExampleAgeModel(use_example_age=False, max_iter=500).fit(COUNTS, example_age(3))
    np.testing.assert_allclose(model.shares(0.0), COUNTS.sum(axis=0) / COUNTS.sum(), atol=1e-6)
    np.testing.assert_allclose(model.shares(0.0), model.shares(2.5))  # time plays no part


def test_with_example_age_at_full_rank_serving_predicts_the_last_days_shares():
    """One bucket per day and rank ≥ buckets: the model can fit every day's shares exactly, and at
    serving (example age 0, the last day's bucket) it predicts the most recent day."""
    model = ExampleAgeModel(use_example_age=True, rank=3, l2=0.0, max_iter=2000).fit(COUNTS, example_age(3))
    np.testing.assert_allclose(model.shares(0.0), COUNTS[2] / COUNTS[2].sum(), atol=2e-3)
    np.testing.assert_allclose(model.shares(2.5), COUNTS[0] / COUNTS[0].sum(), atol=2e-3)
    assert model.bucket(0.0) == model.bucket(-5.0) == 0  # serving time, and later, read bucket 0


def test_world_rates_follow_the_formula():
    w = FreshWorld(FreshConfig(n_items=5, days=10, burst=4.0, decay_days=2.0, seed=1))
    t = 8.0
    age = t - w.upload
    want = np.where(age >= 0, np.exp(w.quality) * (1 + 4.0 * np.exp(-np.maximum(age, 0) / 2.0)), 0.0)
    np.testing.assert_allclose(w.rates(t), want)
    np.testing.assert_allclose(w.shares(np.array([3.0, 8.0])).sum(axis=1), 1.0)
    counts = w.log()
    assert counts.shape == (10, 5) and (counts.sum(axis=1) == w.config.events_per_day).all()
    assert (counts[:, w.upload > 5.0][:5] == 0).all()  # nothing happens before an item is uploaded


@pytest.fixture(scope="module")
def fitted():
    world = FreshWorld(FreshConfig(n_items=150, days=30, events_per_day=1500, seed=2))
    return world, fit_both(world, max_iter=200)


def test_without_example_age_fresh_items_are_under_predicted_and_with_it_they_are_not(fitted):
    world, models = fitted
    table = calibration(world, models, edges=(0.0, 10.0, np.inf))
    fresh = table.iloc[0]  # items uploaded in the last 10 days
    assert fresh["without example age / true"] < 0.6
    assert 0.8 < fresh["with example age / true"] < 1.25
    assert top_k_capture(world, models["with example age"]) > top_k_capture(world, models["without example age"])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one age per row"):
        ExampleAgeModel().fit(COUNTS, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="bucket_days=0"):
        ExampleAgeModel(bucket_days=0)
    with pytest.raises(ValueError, match="new_fraction=1.5"):
        FreshConfig(new_fraction=1.5)
