"""Rule-based sources and the behaviour every source shares (fallbacks, padding, errors)."""

import numpy as np
import pytest

from workbench.candidates import SOURCES, NewReleases, NotFittedError, Popular, Trending
from workbench.candidates.base import top_k


def test_popular_orders_by_distinct_users_and_excludes_seen(tiny_world):
    # item 2: 3 users, item 0: 2 users, item 1: 1 user, item 3: none
    ds = tiny_world([(0, 2), (1, 2), (2, 2), (0, 0), (1, 0), (2, 1)], n_users=4, n_items=4)
    src = Popular().fit(ds)
    cs = src.retrieve([3, 0], k=4)
    assert cs.items[0].tolist() == [2, 0, 1, 3]
    assert cs.scores[0].tolist() == [3, 2, 1, 0]
    assert cs.items[1].tolist() == [1, 3, -1, -1]  # user 0 saw 2 and 0
    assert np.isneginf(cs.scores[1, 2:]).all()
    assert cs.items[1, :2].tolist() == Popular().fit(ds).retrieve([0], 2).items[0].tolist()
    assert Popular().fit(ds).retrieve([0], 2, exclude_seen=False).items[0].tolist() == [2, 0]


def test_trending_is_half_life_decayed_count(tiny_world):
    # item 0: one interaction now; item 1: three interactions two half-lives ago; item 2: after as_of.
    ds = tiny_world([(0, 0), (1, 1), (2, 1), (3, 1), (0, 2)], n_users=4, n_items=3,
                    days_ago=[0.0, 20.0, 20.0, 20.0, -5.0])  # fmt: skip
    as_of = int(ds.interactions["timestamp"].max()) - 5 * 86_400
    cs = Trending(half_life_days=10.0, as_of=as_of).fit(ds).retrieve([3], k=3, exclude_seen=False)
    assert cs.items[0].tolist() == [0, 1, -1]
    np.testing.assert_allclose(cs.scores[0, :2], [1.0, 3 * 0.25], rtol=1e-6)
    slow = Trending(half_life_days=1000.0, as_of=as_of).fit(ds).retrieve([3], k=2, exclude_seen=False)
    assert slow.items[0].tolist() == [1, 0]


def test_new_releases_newest_first_above_min_count_ties_by_popularity(tiny_world):
    pairs = [(u, 0) for u in range(5)] + [(u, 1) for u in range(2)] + [(u, 2) for u in range(3)] + [(0, 3)]
    ds = tiny_world(pairs, n_users=6, n_items=4, release_days_ago=[100.0, 10.0, 10.0, 1.0])
    cs = NewReleases(min_count=2).fit(ds).retrieve([5], k=4)
    # item 3 is newest but has 1 interaction; items 1 and 2 tie on date, 2 is more popular
    assert cs.items[0].tolist() == [2, 1, 0, -1]


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_errors_before_fit_and_on_bad_users(name, block_world):
    src = SOURCES[name]()
    with pytest.raises(NotFittedError, match="fit"):
        src.retrieve([0], 3)
    ds = block_world()
    src = SOURCES[name](**({"epochs": 1, "dim": 8} if name == "two_tower" else {})).fit(ds)
    with pytest.raises(ValueError, match=r"\[12, 99\].*0\.\.11"):
        src.retrieve([0, 12, 99], 3)
    with pytest.raises(ValueError, match=r"k \(candidates per user\) must be an integer >= 1, got 0"):
        src.retrieve([0], 0)


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_cold_user_gets_popular_and_big_k_pads(name, block_world):
    ds = block_world(extra_users=1)  # user 12 has no history
    kwargs = {"epochs": 1, "dim": 8} if name == "two_tower" else {}
    src = SOURCES[name](**kwargs).fit(ds)
    cs = src.retrieve([12, 0], k=20)
    assert cs.items.shape == (2, 20)
    if src.personalised:
        popular = Popular().fit(ds).retrieve([12], k=20)
        assert cs.items[0].tolist() == popular.items[0].tolist()
    real = cs.items[1][cs.items[1] >= 0]
    assert len(real) <= ds.n_items - 3 and len(set(real.tolist())) == len(real)
    assert not set(real.tolist()) & {1, 2, 3}  # user 0's history
    assert (cs.items[1, len(real):] == -1).all() and np.isneginf(cs.scores[1, len(real):]).all()
    assert (np.diff(cs.scores[1, : len(real)]) <= 1e-6).all()


def test_top_k_pads_and_sorts():
    scores = np.array([[0.1, -np.inf, 0.5, 0.3]], dtype=np.float32)
    items, top = top_k(scores, 6)
    assert items.tolist() == [[2, 3, 0, -1, -1, -1]]
    assert top[0, :3].tolist() == pytest.approx([0.5, 0.3, 0.1])
    items, _ = top_k(np.arange(10, dtype=np.float32)[None, :], 2)
    assert items.tolist() == [[9, 8]]
