import numpy as np
import pytest

from workbench.data import SyntheticConfig, make_synthetic


@pytest.fixture(scope="module")
def world():
    return make_synthetic(n_users=300, n_items=400, impressions_per_user=80, seed=3)


def test_same_seed_same_world_other_seed_other_world(world):
    again = make_synthetic(n_users=300, n_items=400, impressions_per_user=80, seed=3)
    assert world.interactions.equals(again.interactions)
    assert np.array_equal(world.item_features, again.item_features)
    other = make_synthetic(n_users=300, n_items=400, impressions_per_user=80, seed=4)
    assert not world.interactions.equals(other.interactions)


def test_ids_are_reindexed_and_every_user_has_history(world):
    inter = world.interactions
    assert inter["user"].between(0, world.n_users - 1).all()
    assert inter["item"].between(0, world.n_items - 1).all()
    assert (world.user_activity >= 1).all()
    assert not inter.duplicated(["user", "item"]).any()


def test_interactions_happen_after_release_and_before_now(world):
    inter = world.interactions
    release = world.items["release_ts"].to_numpy()[inter["item"].to_numpy()]
    assert (inter["timestamp"].to_numpy() >= release).all()
    assert (inter["timestamp"].to_numpy() <= world.reference_ts).all()
    age = (world.reference_ts - world.items["release_ts"]) / 86400
    assert np.allclose(age, world.items["age_days"], atol=1e-4)


def test_popularity_is_skewed(world):
    pop = np.sort(world.item_popularity)[::-1]
    top_decile = pop[: len(pop) // 10].sum() / pop.sum()
    assert top_decile > 0.3  # a uniform world would give 0.1


def test_clicked_items_have_higher_true_affinity_than_random_ones(world):
    inter = world.interactions
    users = inter["user"].to_numpy()
    clicked = world.truth.true_affinity(users, inter["item"].to_numpy()[:, None])[:, 0]
    rng = np.random.default_rng(0)
    random_items = rng.integers(0, world.n_items, size=(len(users), 1))
    random = world.truth.true_affinity(users, random_items)[:, 0]
    assert clicked.mean() > random.mean() + 0.05


def test_true_affinity_shapes_and_padding(world):
    p = world.truth.true_affinity(np.array([0, 1]), np.array([[0, 1, -1], [2, -1, -1]]))
    assert p.shape == (2, 3)
    assert p[0, 2] == 0 and p[1, 1] == 0
    assert ((p[:, 0] > 0) & (p[:, 0] < 1)).all()
    shared = world.truth.true_affinity(np.array([0, 1]), np.array([5, 6]))
    assert np.allclose(shared, world.truth.true_affinity(np.array([0, 1]), np.array([[5, 6], [5, 6]])))


def test_genres_align_with_taste(world):
    """Items sharing a primary genre have more similar true tastes than random pairs."""
    q = world.truth.item_factors
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    cat = world.item_category
    sims = q @ q.T
    same = cat[:, None] == cat[None, :]
    np.fill_diagonal(same, False)
    assert sims[same].mean() > sims[~same].mean() + 0.1


def test_bad_config_is_named():
    with pytest.raises(ValueError, match="n_users=0"):
        SyntheticConfig(n_users=0)
    with pytest.raises(ValueError, match="impressions_per_user=500"):
        make_synthetic(n_items=100, impressions_per_user=500)
