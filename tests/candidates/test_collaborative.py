"""Item-kNN, EASE and ALS against independent computations and block-structured known answers."""

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.candidates import ALS, EASE, ItemKNN
from workbench.candidates.als import _cg_step


@pytest.mark.parametrize("source", [ItemKNN(), EASE(lam=1.0), ALS(factors=4, regularization=0.1, iterations=10),
                                    ALS(factors=4, regularization=0.1, iterations=10, backend="numpy")])  # fmt: skip
def test_block_world_top_candidate_is_the_missing_block_item(source, block_world, missing):
    ds = block_world()
    users = np.arange(ds.n_users)
    cs = source.fit(ds).retrieve(users, k=1)
    assert cs.items[:, 0].tolist() == [missing(u) for u in users]


def test_itemknn_similarity_matches_per_pair_cosine(tiny_world):
    rng = np.random.default_rng(3)
    X = (rng.random((30, 8)) < 0.35).astype(float)
    ds = tiny_world(np.argwhere(X), n_users=30, n_items=8)
    src = ItemKNN(neighbours=3, shrink=2.0).fit(ds)
    expected = np.zeros((8, 8))
    for i in range(8):
        row = [(X[:, i] @ X[:, j]) / (np.sqrt(X[:, i].sum() * X[:, j].sum()) + 2.0) if j != i else 0.0 for j in range(8)]
        keep = np.argsort(row)[::-1][:3]
        expected[i, keep] = np.array(row)[keep]
    np.testing.assert_allclose(src.similarity_.toarray(), expected, rtol=1e-5)
    user = 4
    np.testing.assert_allclose(src._score(np.array([user]))[0][X[user] @ expected > 0],
                               (X[user] @ expected)[X[user] @ expected > 0], rtol=1e-5)  # fmt: skip


def test_itemknn_block_world_proposes_nothing_across_blocks(block_world):
    ds = block_world()
    cs = ItemKNN().fit(ds).retrieve([0, 7], k=8)
    assert (cs.items[:, 1:] == -1).all()  # only the missing block item has any similarity


def test_itemknn_window_counts_only_nearby_items(tiny_world):
    # user 0 consumes 0, 1, 2, 3 in that order; user 1 consumes 3, 2
    ds = tiny_world([(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (1, 2)], n_users=2, n_items=4,
                    days_ago=[4, 3, 2, 1, 2, 1])  # fmt: skip
    co = cooccurrence(ItemKNN(window=1).fit(ds), ds)
    expected = np.zeros((4, 4))
    for a, b, c in [(0, 1, 1), (1, 2, 1), (2, 3, 2)]:
        expected[a, b] = expected[b, a] = c
    np.testing.assert_array_equal(co, expected)


def cooccurrence(src, ds):
    """The streamed blocks of ``src``'s co-occurrence, stacked (rows in order, no row missing)."""
    blocks = list(src._cooccurrence_blocks(ds))
    assert [lo for lo, _, _ in blocks] == [0, *[hi for _, hi, _ in blocks[:-1]]] and blocks[-1][1] == ds.n_items
    return np.vstack([c for _, _, c in blocks])


@pytest.mark.parametrize("window", [None, 1, 3])
def test_itemknn_streamed_cooccurrence_counts_every_pair_in_small_blocks(window, tiny_world, monkeypatch):
    """Blocks of 3 rows and a pair budget of 5 (many flushes) give the per-user count of the definition."""
    import workbench.candidates.itemknn as itemknn

    rng = np.random.default_rng(7)
    n_users, n_items = 25, 11
    pairs = [(u, i) for u in range(n_users) for i in rng.permutation(n_items)[: rng.integers(1, 8)]]
    days = rng.permutation(len(pairs)).astype(float) + 1.0  # distinct times: one order per user
    ds = tiny_world(pairs, n_users=n_users, n_items=n_items, days_ago=days.tolist())
    monkeypatch.setattr(itemknn, "BATCH_CELLS", 3 * n_items)
    monkeypatch.setattr(itemknn, "PAIR_BUDGET", 5)
    expected = np.zeros((n_items, n_items))
    inter = ds.interactions.drop_duplicates(["user", "item"], keep="last")
    for _, seq in inter.groupby("user", sort=False)["item"]:  # one small user history at a time, by the definition
        seq = seq.to_numpy()
        for a in range(len(seq)):
            for b in range(len(seq)):
                if a != b and (window is None or abs(a - b) <= window):
                    expected[seq[a], seq[b]] += 1
    got = cooccurrence(ItemKNN(window=window).fit(ds), ds)
    np.fill_diagonal(got, 0.0)  # the full count's diagonal is each item's own users; the fit zeroes it
    np.testing.assert_array_equal(got, expected)


def test_ease_equals_per_column_ridge_regression(tiny_world):
    """B's column j is the ridge regression of item j on the other items (Steck 2019, eq. 3)."""
    rng = np.random.default_rng(0)
    X = (rng.random((40, 7)) < 0.4).astype(float)
    lam = 3.0
    ds = tiny_world(np.argwhere(X), n_users=40, n_items=7)
    B = EASE(lam=lam).fit(ds).weights_
    for j in range(7):
        others = [i for i in range(7) if i != j]
        Xo = X[:, others]
        beta = np.linalg.solve(Xo.T @ Xo + lam * np.eye(6), Xo.T @ X[:, j])
        np.testing.assert_allclose(B[others, j], beta, rtol=1e-4, atol=1e-6)
        assert B[j, j] == 0.0


def test_ease_recency_weighting_scores_recent_history_higher(tiny_world):
    # user 0: item 0 long ago, item 2 recently; item 1 co-occurs with 0, item 3 with 2, elsewhere
    pairs = [(0, 0), (0, 2)] + [(u, 0) for u in (1, 2)] + [(u, 1) for u in (1, 2)] + [(u, 2) for u in (3, 4)] + [(u, 3) for u in (3, 4)]
    ds = tiny_world(pairs, n_users=5, n_items=4, days_ago=[10, 1, 5, 5, 5, 5, 5, 5, 5, 5])
    plain = EASE(lam=1.0).fit(ds)
    recent = EASE(lam=1.0, history_half_life=1.0).fit(ds)
    p, r = plain._score(np.array([0]))[0], recent._score(np.array([0]))[0]
    assert p[1] == pytest.approx(p[3], rel=1e-5)
    # item 2 is the latest (weight 1), item 0 one position earlier (weight 0.5 ** (1 / 1))
    np.testing.assert_allclose(r, np.array([0.5, 0.0, 1.0, 0.0]) @ plain.weights_, rtol=1e-5)
    assert r[3] > r[1]


def test_cg_step_converges_to_the_exact_per_user_solution():
    """With as many CG steps as factors, one step solves (YᵀC_uY + λI) x_u = YᵀC_u p_u exactly."""
    rng = np.random.default_rng(1)
    R = sp.random(6, 9, density=0.4, random_state=2, format="csr")
    R.data[:] = 1.0
    C = R.copy()
    C.data = 1.0 + 4.0 * C.data
    Y = rng.normal(size=(9, 3))
    X0 = rng.normal(size=(6, 3))
    got = _cg_step(C, X0, Y, 0.5, cg_steps=3)
    for u in range(6):
        c = np.ones(9)
        c[R[u].indices] = 5.0
        p = R[u].toarray().ravel()
        exact = np.linalg.solve(Y.T @ (c[:, None] * Y) + 0.5 * np.eye(3), Y.T @ (c * p))
        np.testing.assert_allclose(got[u], exact, rtol=1e-6, atol=1e-8)


def test_als_backends_agree_on_a_synthetic_world(synthetic_split):
    train, test = synthetic_split
    users = np.flatnonzero(test.user_activity > 0)
    lists = [ALS(factors=8, iterations=8, backend=b).fit(train).retrieve(users, 20).items for b in ("implicit", "numpy")]
    overlap = np.mean([len(set(a) & set(b)) / 20 for a, b in zip(*lists)])
    assert overlap > 0.8


def test_als_is_seeded(block_world):
    ds = block_world()
    a, b = (ALS(factors=4, iterations=3, backend="numpy", seed=5).fit(ds).user_factors_ for _ in range(2))
    np.testing.assert_array_equal(a, b)
    c = ALS(factors=4, iterations=3, backend="numpy", seed=6).fit(ds).user_factors_
    assert not np.allclose(a, c)
