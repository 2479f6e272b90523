import numpy as np
import pytest

from workbench.rerank.exploration import explore, explore_positions, n_explore_slots


def test_slot_count_and_positions():
    assert n_explore_slots(20, 0.1) == 2
    assert n_explore_slots(10, 0.25) == 3  # 2.5 rounds half up
    assert n_explore_slots(10, 0.0) == 0
    assert explore_positions(10, 2).tolist() == [2, 7]  # ⌊2.5⌋, ⌊7.5⌋
    assert explore_positions(20, 2).tolist() == [5, 15]
    assert explore_positions(10, 3).tolist() == [1, 5, 8]  # ⌊1.67⌋, ⌊5⌋, ⌊8.33⌋
    assert explore_positions(4, 4).tolist() == [0, 1, 2, 3]


def test_explored_slots_hold_pool_items_with_propensity():
    items = np.arange(100, 130)[None, :].repeat(3, axis=0)  # 30 ranked items, pool below k=10 is 20
    res = explore(items, 10, 0.2, seed=1)
    shown = np.take_along_axis(items, res.order, axis=1)
    for u in range(3):
        assert np.flatnonzero(res.explored[u]).tolist() == [2, 7]
        assert shown[u, ~res.explored[u]].tolist() == list(range(100, 108))
        assert (res.order[u, res.explored[u]] >= 10).all()
        assert len(set(shown[u].tolist())) == 10
    np.testing.assert_allclose(res.propensity[res.explored], 1 / 20)
    np.testing.assert_allclose(res.propensity[~res.explored], 1.0)


def test_seeded():
    items = np.arange(50)[None, :].repeat(20, axis=0)
    a, b, c = explore(items, 10, 0.3, seed=7), explore(items, 10, 0.3, seed=7), explore(items, 10, 0.3, seed=8)
    np.testing.assert_array_equal(a.order, b.order)
    assert (a.order != c.order).any()
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(explore(items, 10, 0.3, g1).order, explore(items, 10, 0.3, g2).order)


def test_small_pools_explore_fewer_slots():
    k = 10
    counts = np.array([30, 11, 10, 3, 0])
    items = np.where(np.arange(30) < counts[:, None], np.arange(30), -1)
    res = explore(items, k, 0.2, seed=0)
    np.testing.assert_array_equal(res.explored.sum(axis=1), [2, 1, 0, 0, 0])
    assert np.flatnonzero(res.explored[1]).tolist() == [5]  # one slot at ⌊0.5·10/1⌋
    assert res.order[1, 5] == 10 and res.propensity[1, 5] == 1.0  # pool of one: shown for sure
    np.testing.assert_array_equal(res.order[3], [0, 1, 2] + [-1] * 7)
    np.testing.assert_array_equal(res.propensity[3], [1, 1, 1] + [0] * 7)
    assert (res.order[4] == -1).all()


def test_logged_propensity_matches_empirical_frequency():
    # k = 4, ε = 0.5: slots 1 and 3 explored from a pool of P = 3 (items 4, 5, 6).
    # Every pool item shows in each explored slot with probability 1/3; the second slot is
    # not 1/(P − 1) = 1/2 (that is the probability conditional on the first draw).
    items = np.arange(7)[None, :].repeat(50, axis=0)
    shown = np.concatenate([explore(items, 4, 0.5, seed=s).order for s in range(80)])
    res = explore(items, 4, 0.5, seed=0)
    np.testing.assert_allclose(res.propensity[:, [1, 3]], 1 / 3)
    n = len(shown)  # 4000 draws; sd of a frequency near 1/3 is 0.0075
    for slot in (1, 3):
        freq = np.array([(shown[:, slot] == i).mean() for i in (4, 5, 6)])
        np.testing.assert_allclose(freq, 1 / 3, atol=4 * np.sqrt(2 / 9 / n))


def test_no_exploration_is_identity_cut():
    items = np.arange(12)[None, :]
    res = explore(items, 5, 0.0, seed=0)
    np.testing.assert_array_equal(res.order, [[0, 1, 2, 3, 4]])
    assert not res.explored.any()


@pytest.mark.parametrize("rate", [-0.1, 1.1, float("nan")])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="exploration rate"):
        explore(np.arange(12)[None, :], 5, rate)


def test_bad_k():
    with pytest.raises(ValueError, match="k must"):
        explore(np.arange(12)[None, :], 0, 0.1)
