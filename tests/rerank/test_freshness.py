import math

import numpy as np
import pytest

from workbench.rerank.freshness import freshness_boost, freshness_multiplier


def test_multiplier_numbers():
    age = np.array([0.0, 30.0, 60.0, -5.0])
    # 1 + 0.5·e^0 = 1.5; 1 + 0.5·e^−1 = 1.18394; 1 + 0.5·e^−2 = 1.06767; not yet released -> age 0
    expected = [1.5, 1 + 0.5 / math.e, 1 + 0.5 / math.e**2, 1.5]
    np.testing.assert_allclose(freshness_multiplier(age, decay=1.0, weight=0.5), expected)


def test_decay_zero_is_uniform_and_keeps_order():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 50, (5, 8))
    rel = rng.random((5, 8))
    age = rng.uniform(0, 3000, 50)
    boosted, mult = freshness_boost(rel, items, age, decay=0.0, weight=0.7)
    np.testing.assert_allclose(mult, 1.7)
    np.testing.assert_array_equal(np.argsort(-boosted, axis=1), np.argsort(-rel, axis=1))


def test_large_decay_boosts_only_brand_new_items():
    age = np.array([0.0, 1.0, 10.0, 400.0])
    mult = freshness_multiplier(age, decay=1e4, weight=0.5)
    assert mult[0] == 1.5
    np.testing.assert_allclose(mult[1:], 1.0, atol=1e-12)


def test_padding_untouched():
    items = np.array([[2, 0, -1]])
    boosted, mult = freshness_boost(np.array([[0.5, 1.0, 0.0]]), items, np.array([30.0, 0.0, 0.0]), decay=1.0, weight=1.0)
    np.testing.assert_allclose(mult, [[2.0, 1 + 1 / math.e, 1.0]])
    np.testing.assert_allclose(boosted, [[1.0, 1 + 1 / math.e, 0.0]])


def test_negative_relevance_refused():
    # Raw scores [-1, -1.5]: a boost of 2 on the second would give -3, ranking the fresh item lower.
    with pytest.raises(ValueError, match="minmax_normalise"):
        freshness_boost(np.array([[-1.0, -1.5]]), np.array([[0, 1]]), np.array([100.0, 0.0]), decay=1.0, weight=1.0)


@pytest.mark.parametrize("decay,weight", [(-1.0, 0.1), (1.0, -0.1), (float("nan"), 0.1), (1.0, float("inf"))])
def test_bad_parameters(decay, weight):
    with pytest.raises(ValueError, match="freshness"):
        freshness_multiplier(np.zeros(2), decay=decay, weight=weight)
