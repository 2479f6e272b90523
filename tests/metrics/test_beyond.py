import numpy as np
import pytest

from workbench.metrics import (
    catalogue_coverage,
    category_diversity,
    exposure,
    exposure_gini,
    gini,
    intra_list_diversity,
    mean_item_age,
    novelty,
    personalisation,
)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([0, 0, 0, 1], 0.75),  # one item holds everything: (n - 1) / n
        ([1, 1, 1, 1], 0.0),
        ([1, 2, 3, 4], 0.25),  # sum_{i<j}|x_i - x_j| = 10 over pairs; 2*10 / (2 * 4^2 * 2.5)
    ],
)
def test_gini_of_known_vectors(values, expected):
    assert gini(np.array(values)) == pytest.approx(expected)


def test_exposure_and_gini_count_never_recommended_items_as_zero():
    rec = np.array([[0, -1], [0, -1]])
    np.testing.assert_array_equal(exposure(rec, 4), [2, 0, 0, 0])
    assert exposure_gini(rec, 4) == pytest.approx(0.75)


def test_catalogue_coverage():
    assert catalogue_coverage(np.array([[0, 1], [1, 2]]), 6) == pytest.approx(0.5)


def test_intra_list_diversity_by_hand():
    vecs = np.array([[1.0, 0], [0, 1], [1, 1], [0, 0]])
    rec = np.array([[0, 1, 2], [0, 1, -1], [0, -1, -1], [0, 3, -1]])
    got = intra_list_diversity(rec, vecs)
    # pairs (0,1): cos 0; (0,2), (1,2): cos 1/sqrt2  -> mean distance 1 - sqrt2/3
    assert got[0] == pytest.approx(1 - np.sqrt(2) / 3)
    assert got[1] == pytest.approx(1.0)
    assert np.isnan(got[2])
    assert got[3] == pytest.approx(1.0)  # a zero vector has cosine 0 to everything


def test_intra_list_diversity_matches_pairwise_loop():
    rng = np.random.default_rng(3)
    vecs = rng.normal(size=(30, 5))
    rec = np.argsort(rng.random((8, 30)), axis=1)[:, :6]
    rec[2, 4:] = -1
    got = intra_list_diversity(rec, vecs)
    for u in range(8):
        items = rec[u][rec[u] >= 0]
        v = vecs[items] / np.linalg.norm(vecs[items], axis=1, keepdims=True)
        iu = np.triu_indices(len(items), 1)
        assert got[u] == pytest.approx(np.mean(1 - (v @ v.T)[iu]))


def test_category_diversity_by_hand():
    cats = np.array([0, 0, 1, 2])
    rec = np.array([[0, 1, 2], [0, 1, -1], [2, 3, -1], [3, -1, -1]])
    got = category_diversity(rec, cats)
    np.testing.assert_allclose(got[:3], [2 / 3, 0.0, 1.0])
    assert np.isnan(got[3])


def test_novelty_by_hand_with_add_one_smoothing():
    pop = np.array([9, 0, 4])  # 9 training users
    rec = np.array([[0, 2], [1, -1]])
    got = novelty(rec, pop, n_users=9)
    # I(0) = -log2(10/10) = 0, I(2) = -log2(5/10) = 1, I(1) = -log2(1/10)
    np.testing.assert_allclose(got, [0.5, np.log2(10)])


def test_mean_item_age():
    np.testing.assert_allclose(mean_item_age(np.array([[0, 2], [1, -1]]), np.array([10.0, 20, 40])), [25, 20])


def test_personalisation_by_hand_and_extremes():
    # Jaccard: {0,1}~{1,2} = 1/3, the other pairs 0 -> mean 1/9
    assert personalisation(np.array([[0, 1], [1, 2], [3, 4]]), 5) == pytest.approx(8 / 9)
    same = np.tile(np.arange(5), (40, 1))
    disjoint = np.arange(200).reshape(40, 5)
    for max_exact in (1000, 0):  # exact path and sampled path
        assert personalisation(same, 200, max_exact_users=max_exact, n_pairs=5000) == pytest.approx(0.0)
        assert personalisation(disjoint, 200, max_exact_users=max_exact, n_pairs=5000) == pytest.approx(1.0)


def test_sampled_personalisation_is_seeded_and_close_to_exact():
    rng = np.random.default_rng(0)
    rec = np.argsort(rng.random((300, 40)) + np.linspace(0, 1.5, 40), axis=1)[:, :8]
    exact = personalisation(rec, 40)
    a = personalisation(rec, 40, max_exact_users=0, n_pairs=100_000, seed=1)
    assert a == personalisation(rec, 40, max_exact_users=0, n_pairs=100_000, seed=1)
    assert a == pytest.approx(exact, abs=0.005)


def test_bad_inputs():
    rec = np.array([[0, 1]])
    with pytest.raises(ValueError, match="item_popularity spans"):
        novelty(rec, np.array([5, 1]), n_users=3)
    with pytest.raises(ValueError, match="item_vectors must be 2-D"):
        intra_list_diversity(rec, np.ones(2))
    with pytest.raises(ValueError, match="integer codes"):
        category_diversity(rec, np.array([0, -1]))
    with pytest.raises(ValueError, match="item ids \\[2\\]"):
        mean_item_age(np.array([[0, 2]]), np.ones(2))
    with pytest.raises(ValueError, match="values >= 0"):
        gini(np.array([1.0, -1.0]))
