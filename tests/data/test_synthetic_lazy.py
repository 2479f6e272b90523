"""The synthetic world drawn in O(impressions): its lists against Plackett–Luce probabilities
worked out by hand, its truth and its logged data against the dense computation of the same model."""

import itertools
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from workbench.data import make_synthetic
from workbench.data.synthetic import sample_lists

LOG_WEIGHT = np.log([4.0, 1.0, 2.0, 0.5, 3.0, 1.0, 0.25])
GROUP = np.array([0, 0, 1, 1, 2, 2, 2])
TASTES = np.array([[0.0, 1.0, -1.0], [1.5, 0.0, -0.5]])  # two kinds of user, a log-weight per group


def plackett_luce(weights: np.ndarray, order: tuple[int, ...]) -> float:
    """P(the list starts with ``order``) = Π_k w_{o_k} / (W − w_{o_1} − … − w_{o_{k−1}})."""
    p, left = 1.0, weights.sum()
    for i in order:
        p *= weights[i] / left
        left -= weights[i]
    return p


@pytest.mark.parametrize("method", ["draws", "dense"])
def test_lists_follow_plackett_luce_exactly(method):
    """Ordered top-3 lists of 7 items, 30,000 users of each kind: the frequency of every ordered
    triple matches the product formula (chi-square, cells with fewer than 5 expected pooled)."""
    n = 30_000
    lists = sample_lists(LOG_WEIGHT, GROUP, np.repeat(TASTES, n, axis=0), 3, np.random.default_rng(11), method=method)
    assert lists.shape == (2 * n, 3)
    assert (np.diff(np.sort(lists, axis=1), axis=1) > 0).all()  # distinct items in each list
    for kind in range(2):
        w = np.exp(LOG_WEIGHT + TASTES[kind, GROUP])
        rows = lists[kind * n : (kind + 1) * n]
        triples = list(itertools.permutations(range(7), 3))
        expected = np.array([plackett_luce(w, t) for t in triples]) * n
        code = rows[:, 0] * 49 + rows[:, 1] * 7 + rows[:, 2]
        counts = np.bincount(code, minlength=343)
        observed = np.array([counts[a * 49 + b * 7 + c] for a, b, c in triples])
        assert observed.sum() == n and np.isclose(expected.sum(), n)
        small = expected < 5
        obs = np.append(observed[~small], observed[small].sum())
        exp = np.append(expected[~small], expected[small].sum())
        assert stats.chisquare(obs, exp).pvalue > 1e-3


def test_draws_and_dense_agree_on_a_long_tailed_catalogue():
    """The two methods on a Zipf-like catalogue of 400 items, lists of 20: each item's share of
    the top position (against the weights) and of the whole list (between the two) agree within
    sampling noise."""
    rng = np.random.default_rng(0)
    log_weight = -np.log1p(rng.permutation(400)) + rng.normal(0, 0.5, 400)
    group = rng.integers(0, 5, 400)
    taste = np.repeat(rng.normal(0, 1.0, (1, 5)), 8000, axis=0)
    a = sample_lists(log_weight, group, taste, 20, np.random.default_rng(1), method="draws")
    b = sample_lists(log_weight, group, taste, 20, np.random.default_rng(2), method="dense")
    top_a, top_b = np.bincount(a[:, 0], minlength=400), np.bincount(b[:, 0], minlength=400)
    w = np.exp(log_weight + taste[0, group])
    expected_top = w / w.sum() * 8000
    for top in (top_a, top_b):
        keep = expected_top >= 5
        assert stats.chisquare(np.append(top[keep], top[~keep].sum()),
                               np.append(expected_top[keep], expected_top[~keep].sum())).pvalue > 1e-3  # fmt: skip
    shown_a, shown_b = np.bincount(a.ravel(), minlength=400), np.bincount(b.ravel(), minlength=400)
    busy = (shown_a + shown_b) >= 40
    table = np.vstack([shown_a[busy], shown_b[busy]])
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_bad_list_requests_are_named():
    with pytest.raises(ValueError, match="length=8"):
        sample_lists(LOG_WEIGHT, GROUP, TASTES, 8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="method='gumbel'"):
        sample_lists(LOG_WEIGHT, GROUP, TASTES, 2, np.random.default_rng(0), method="gumbel")


@pytest.fixture(scope="module")
def world():
    # 1,000 items against lists of 40: the draws method (more than ten lists per catalogue)
    return make_synthetic(n_users=1500, n_items=1000, impressions_per_user=40, seed=4)


def test_truth_is_the_dense_computation(world):
    """``true_affinity`` and ``logging_logit`` on demand equal the users × items matrices computed
    densely from the vectors: exactly on the full grid, to rounding on per-user lists."""
    t, nu, ni = world.truth, world.n_users, world.n_items
    dense = 1.0 / (1.0 + np.exp(-(t.scale * (t.user_factors @ t.item_factors.T) + t.item_bias[None, :] + t.offset)))
    np.testing.assert_array_equal(t.true_affinity(np.arange(nu), np.arange(ni)), dense)
    lists = np.random.default_rng(0).integers(0, ni, size=(nu, 30))
    np.testing.assert_allclose(t.true_affinity(np.arange(nu), lists), np.take_along_axis(dense, lists, 1), rtol=1e-12)
    genre = world.item_category
    genre_taste = t.user_factors @ t.logging_genre_factors.T
    dense_log = t.logging_item_logit[None, :] + genre_taste[:, genre]
    np.testing.assert_array_equal(t.logging_logit(np.arange(nu), np.arange(ni)), dense_log)
    np.testing.assert_allclose(t.logging_logit(np.arange(nu), lists), np.take_along_axis(dense_log, lists, 1), rtol=1e-12)


def dense_reference_clicks(world, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The world's model computed densely (module docstring of workbench.data.synthetic): every
    user's logging log-weight for every item, Gumbel top-L lists, position-based clicks with the
    most attractive shown item always kept. Returns (user, item) of the clicks."""
    cfg, t = world.notes["config"], world.truth
    rng = np.random.default_rng(seed)
    nu, L = world.n_users, cfg.impressions_per_user
    score = t.logging_logit(np.arange(nu), np.arange(world.n_items)) + rng.gumbel(size=(nu, world.n_items))
    shown = np.argsort(-score, axis=1)[:, :L]
    p_click = t.true_affinity(np.arange(nu), shown)
    examine = (1.0 + np.arange(L) / cfg.position_scale) ** -cfg.position_exponent
    p = np.clip(examine[None, :] * rng.lognormal(0.0, 0.6, size=nu)[:, None], 0.0, 1.0) * p_click
    clicked = rng.random((nu, L)) < p
    clicked[np.arange(nu), np.argmax(p, axis=1)] = True
    u, pos = np.nonzero(clicked)
    return u, shown[u, pos]


def test_logged_data_match_the_dense_computation(world):
    """Same law, other draws: clicks per user, clicks per genre, the popularity skew and the
    true affinity of clicked items agree with the dense computation within sampling noise."""
    u_lazy, i_lazy = world.interactions["user"].to_numpy(), world.interactions["item"].to_numpy()
    u_dense, i_dense = dense_reference_clicks(world, seed=99)
    nu, genre = world.n_users, world.item_category
    per_user = [np.bincount(u, minlength=nu) for u in (u_lazy, u_dense)]
    assert abs(per_user[0].mean() - per_user[1].mean()) < 4 * np.hypot(*(c.std() / np.sqrt(nu) for c in per_user))
    assert stats.ks_2samp(*per_user).pvalue > 1e-3
    by_genre = np.vstack([np.bincount(genre[i], minlength=genre.max() + 1) for i in (i_lazy, i_dense)])
    by_genre = by_genre[:, by_genre.sum(0) >= 20]
    assert stats.chi2_contingency(by_genre).pvalue > 1e-3
    order = np.argsort(-world.truth.logging_item_logit)  # items by the logging policy's own weight
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    head = [np.mean(rank[i] < len(order) // 10) for i in (i_lazy, i_dense)]  # clicks on the top decile
    assert abs(head[0] - head[1]) < 4 * np.sqrt(head[1] * (1 - head[1]) * (1 / len(i_lazy) + 1 / len(i_dense)))
    aff = [world.truth.true_affinity(u, i[:, None])[:, 0] for u, i in ((u_lazy, i_lazy), (u_dense, i_dense))]
    assert abs(aff[0].mean() - aff[1].mean()) < 4 * np.hypot(*(a.std() / np.sqrt(len(a)) for a in aff))


def test_generation_never_holds_a_users_by_items_array():
    """1,000 users × 50,000 items: one float64 users × items array would be 400 MB; the whole
    generation peaks below a fifth of that (the item tables dominate)."""
    tracemalloc.start()
    try:
        ds = make_synthetic(n_users=1000, n_items=50_000, impressions_per_user=20, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.n_interactions > 1000
    assert peak < 1000 * 50_000 * 8 / 5


def test_truth_and_tables_do_not_depend_on_the_lists():
    """The impression lists draw from their own stream: longer lists change the clicks, not the
    tastes, the item table or the user table."""
    a = make_synthetic(n_users=120, n_items=200, impressions_per_user=15, seed=2)
    b = make_synthetic(n_users=120, n_items=200, impressions_per_user=25, seed=2)
    for name in ("user_factors", "item_factors", "item_bias", "logging_item_logit", "logging_genre_factors"):
        np.testing.assert_array_equal(getattr(a.truth, name), getattr(b.truth, name))
    assert a.items.equals(b.items) and a.users.equals(b.users)
    np.testing.assert_array_equal(a.item_features, b.item_features)
    assert not a.interactions.equals(b.interactions)
