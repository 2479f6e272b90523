"""Content retrieval, the FAISS indexes and the two-tower model."""

import numpy as np
import pytest

from workbench.candidates import AnnConfig, ContentBased, TwoTower, build_index, recall_vs_exact
from workbench.candidates.ann import search


def test_content_profile_is_recency_weighted_mean(tiny_world):
    # items 0, 1 point along e1 and e2; user 0 saw item 0 two days before item 1 (half-life 1 day)
    feats = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0], [0.8, 0.6, 0], [0, 0, 1]], dtype=np.float32)
    ds = tiny_world([(0, 0), (0, 1), (1, 4)], n_users=2, n_items=5, days_ago=[3.0, 1.0, 1.0], features=feats)
    cs = ContentBased(half_life_days=1.0).fit(ds).retrieve([0], k=3)
    profile = np.array([0.25, 1.0, 0.0]) / np.hypot(0.25, 1.0)
    assert cs.items[0].tolist() == [2, 3, 4]
    np.testing.assert_allclose(cs.scores[0], feats[[2, 3, 4]] @ profile, rtol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_find_most_exact_neighbours(kind):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(3000, 16)).astype(np.float32)
    queries = rng.normal(size=(50, 16)).astype(np.float32)
    exact, exact_scores = search(build_index(items), queries, 10)
    np.testing.assert_allclose(exact_scores[:, 0], (queries @ items.T).max(1), rtol=1e-4)
    approx, _ = search(build_index(items, AnnConfig(kind, nprobe=32)), queries, 10)
    assert recall_vs_exact(approx, exact) > 0.9


def test_recall_vs_exact_counts_shared_items():
    assert recall_vs_exact(np.array([[1, 2, 3, -1]]), np.array([[3, 4, 1, 2]])) == 0.75


def test_unknown_index_kind_is_an_error():
    with pytest.raises(ValueError, match="'annoy'"):
        AnnConfig("annoy")


def test_content_hnsw_index_recall_reported(synthetic_split):
    train, _ = synthetic_split
    src = ContentBased(index=AnnConfig("hnsw")).fit(train)
    assert 0.9 <= src.index_recall(np.arange(50), k=10) <= 1.0


def test_two_tower_learns_the_blocks_and_is_seeded(tiny_world):
    """3 blocks of 20 users and 10 items; each user consumed a random half of their block's items.
    The unseen half of the user's own block is the right answer."""
    rng = np.random.default_rng(0)
    pairs = [(b * 20 + u, b * 10 + i) for b in range(3) for u in range(20) for i in rng.choice(10, 5, replace=False)]
    ds = tiny_world(pairs, n_users=60, n_items=30)
    kwargs = dict(dim=8, hidden=16, epochs=5, batch_size=32, lr=0.02, temperature=0.1, seed=3)
    a = TwoTower(**kwargs).fit(ds)
    users = np.arange(60)
    top = a.retrieve(users, k=3).items
    assert np.mean(top // 10 == (users // 20)[:, None]) >= 0.95
    b = TwoTower(**kwargs).fit(ds)
    np.testing.assert_array_equal(a.item_vectors_, b.item_vectors_)
    assert np.allclose(np.linalg.norm(a.item_vectors_, axis=1), 1.0, atol=1e-5)
    c = TwoTower(**{**kwargs, "seed": 4}).fit(ds)
    assert not np.allclose(a.item_vectors_, c.item_vectors_)


def test_two_tower_runs_on_synthetic_world_with_hnsw(synthetic_split):
    train, test = synthetic_split
    src = TwoTower(dim=16, epochs=2, index=AnnConfig("hnsw")).fit(train)
    users = np.flatnonzero(test.user_activity > 0)
    cs = src.retrieve(users, k=30)
    assert (cs.counts == 30).all()
    assert src.index_recall(users, k=10) > 0.9
