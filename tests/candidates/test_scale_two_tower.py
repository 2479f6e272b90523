"""Two-tower training whose cost per step does not grow with the catalogue, and its warm start.

A step pools only the batch's histories and its gradients touch only the embedding rows the
batch used (sparse), so no step reads or writes a whole table; `fit_warm` continues a fit.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from workbench.candidates import CandidateGenerator, Popular, TwoTower
from workbench.candidates.two_tower import _History, _Towers
from workbench.data import temporal_split


def test_batch_pooling_equals_the_dense_product():
    """``embedding_bag`` over a batch's CSR rows = ``X[users] @ W`` computed by scipy."""
    rng = np.random.default_rng(0)
    X = sp.random(50, 30, density=0.2, format="csr", random_state=1, dtype=np.float32)
    keep = np.ones(50, np.float32)
    keep[17] = 0.0  # an empty history pools to zero
    X = (sp.diags(keep) @ X).tocsr()
    X.eliminate_zeros()
    X.sort_indices()
    assert X[17].nnz == 0
    W = rng.normal(size=(30, 4)).astype(np.float32)
    users = np.array([3, 0, 49, 3, 17])
    items, weights, offsets = _History(X).rows(torch.from_numpy(users))
    pooled = torch.nn.functional.embedding_bag(items, torch.from_numpy(W), offsets, mode="sum", per_sample_weights=weights)
    np.testing.assert_allclose(pooled.numpy(), X[users] @ W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_History(X).totals.numpy(), np.asarray(X.sum(axis=1)).ravel(), rtol=1e-6)


def test_a_step_touches_only_the_rows_of_its_batch():
    """The gradient of every embedding table is sparse, with rows only for the batch's users, its
    target items and the items of its users' histories: a step costs the same on any catalogue."""
    torch.manual_seed(0)
    n_users, n_items = 40, 10_000
    rng = np.random.default_rng(2)
    X = sp.csr_matrix((np.ones(120, np.float32), (rng.integers(0, n_users, 120), rng.integers(0, n_items, 120))),
                      shape=(n_users, n_items))  # fmt: skip
    X.sum_duplicates()
    X.data[:] = 1.0
    history = _History(X)
    model = _Towers(n_users, n_items, 2, 3, 8, 16)
    users, targets = torch.tensor([1, 5, 7]), torch.tensor([11, 222, 3333])
    uv = model.users(users, history, torch.zeros(n_users, 2), leave_out=targets, leave_weight=torch.zeros(3))
    loss = (uv @ model.items(targets, torch.zeros(n_items, 3)).T).logsumexp(1).sum()
    loss.backward()
    in_history = set(X[[1, 5, 7]].indices.tolist())
    for table, allowed in ((model.user_id, {1, 5, 7}), (model.item_id, {11, 222, 3333}),
                           (model.history, in_history | {11, 222, 3333})):  # fmt: skip
        grad = table.weight.grad
        assert grad.is_sparse
        assert set(grad.coalesce().indices()[0].tolist()) <= allowed
    for p in model.user_mlp.parameters():
        assert not p.grad.is_sparse


@pytest.fixture
def blocks_and_prefix(tiny_world):
    """3 blocks of 20 users and 10 items, each user consuming half of their block's items; and the
    same data without each user's last item (a prefix, as the pipeline's carved history is)."""
    rng = np.random.default_rng(0)
    pairs = [(b * 20 + u, b * 10 + i) for b in range(3) for u in range(20) for i in rng.choice(10, 5, replace=False)]
    ds = tiny_world(pairs, n_users=60, n_items=30)
    prefix, _ = temporal_split(ds, 0.2)
    return ds, prefix


KW = dict(dim=8, hidden=16, epochs=5, batch_size=32, lr=0.02, temperature=0.1, seed=3)


def test_warm_start_continues_from_the_earlier_towers(blocks_and_prefix):
    ds, prefix = blocks_and_prefix
    earlier = TwoTower(**KW).fit(prefix)
    # a negligible learning rate: the warm fit keeps the earlier item tower; a cold one does not
    still = TwoTower(**{**KW, "lr": 1e-12}).fit_warm(ds, earlier)
    np.testing.assert_allclose(still.item_vectors_, earlier.item_vectors_, atol=1e-5)
    cold = TwoTower(**{**KW, "lr": 1e-12}).fit(ds)
    assert not np.allclose(cold.item_vectors_, earlier.item_vectors_, atol=1e-3)
    # one warm epoch on all the data learns the blocks
    warm = TwoTower(**KW, warm_epochs=1).fit_warm(ds, earlier)
    users = np.arange(60)
    top = warm.retrieve(users, k=3).items
    assert np.mean(top // 10 == (users // 20)[:, None]) >= 0.95
    again = TwoTower(**KW, warm_epochs=1).fit_warm(ds, earlier)
    np.testing.assert_array_equal(warm.item_vectors_, again.item_vectors_)  # seeded
    assert not hasattr(warm, "_warm_from")  # nothing of the earlier fit stays on the source


def test_warm_start_trains_only_on_the_new_pairs(blocks_and_prefix):
    """Warm-started on the very data it was fitted on, there is nothing new to learn: the towers
    come back unchanged; with new pairs they move."""
    ds, prefix = blocks_and_prefix
    earlier = TwoTower(**KW).fit(prefix)
    same = TwoTower(**KW, warm_epochs=3).fit_warm(prefix, earlier)
    np.testing.assert_array_equal(same.item_vectors_, earlier.item_vectors_)
    np.testing.assert_allclose(same.user_vectors_, earlier.user_vectors_, atol=1e-6)
    moved = TwoTower(**KW, warm_epochs=3).fit_warm(ds, earlier)
    assert not np.allclose(moved.item_vectors_, earlier.item_vectors_, atol=1e-4)


def test_warm_epochs_none_trains_from_scratch(blocks_and_prefix):
    ds, prefix = blocks_and_prefix
    earlier = TwoTower(**KW).fit(prefix)
    scratch = TwoTower(**KW, warm_epochs=None).fit_warm(ds, earlier)
    np.testing.assert_array_equal(scratch.item_vectors_, TwoTower(**KW).fit(ds).item_vectors_)


def test_warm_start_needs_the_same_shape(blocks_and_prefix, tiny_world):
    ds, prefix = blocks_and_prefix
    with pytest.raises(ValueError, match=r"\(users, items, dim, hidden\) = \(60, 30, 8, 16\).*\(60, 30, 4, 16\)"):
        TwoTower(**{**KW, "dim": 4}).fit_warm(ds, TwoTower(**KW).fit(prefix))
    with pytest.raises(TypeError, match="Popular"):
        TwoTower(**KW).fit_warm(ds, Popular().fit(prefix))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_warm_epochs_is_named(bad):
    with pytest.raises(ValueError, match=f"warm_epochs={bad!r}"):
        TwoTower(warm_epochs=bad)


def test_generator_warm_start_reaches_the_sources(blocks_and_prefix):
    """``CandidateGenerator.fit(train, warm_start=earlier)`` warm-starts each source that can
    (two-tower) from its namesake and fits the others afresh."""
    ds, prefix = blocks_and_prefix
    earlier = CandidateGenerator({"two_tower": TwoTower(**KW), "popular": Popular()}, use_quotas=False).fit(prefix)
    gen = CandidateGenerator({"two_tower": TwoTower(**KW), "popular": Popular()}, use_quotas=False)
    gen.fit(ds, warm_start=earlier)
    direct = TwoTower(**KW).fit_warm(ds, earlier.sources["two_tower"])
    np.testing.assert_array_equal(gen.sources["two_tower"].item_vectors_, direct.item_vectors_)
    np.testing.assert_array_equal(gen.sources["popular"].ranking_, Popular().fit(ds).ranking_)
