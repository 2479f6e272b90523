"""EASE beyond a few thousand items: head EASE above ``max_items`` (announced, recorded), the
exact model below it, and a refusal naming the size and the memory when exact is demanded."""

import warnings

import numpy as np
import pytest

from workbench.candidates import EASE
from workbench.candidates.ease import MAX_ITEMS, ease_weights, exact_memory_gb


def closed_form(X: np.ndarray, lam: float) -> np.ndarray:
    """Steck's ``B = I − P · diag(1/diag P)``, ``P = (XᵀX + λI)⁻¹``, by a general inverse."""
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def test_cholesky_weights_equal_the_closed_form():
    X = (np.random.default_rng(0).random((300, 60)) < 0.15).astype(np.float64)
    np.testing.assert_allclose(ease_weights(X.T @ X, 40.0), closed_form(X, 40.0), atol=1e-6)


@pytest.fixture
def long_tail(tiny_world):
    """12 users, 8 items; item popularity 8, 7, 6, 5, 4, 3, 2 and 1 (users 0..7 hold items 0..6 by
    popularity; users 8-10 have no history; item 7 is user 11's only item)."""
    pairs = [(u, i) for i, n in enumerate([8, 7, 6, 5, 4, 3, 2]) for u in range(n)] + [(11, 7)]
    return tiny_world(pairs, n_users=12, n_items=8)


def test_head_ease_above_max_items_is_announced_and_exact_on_the_head(long_tail):
    with pytest.warns(UserWarning, match=r"8 items > max_items=5: fitting head EASE over the 5 most popular"):
        src = EASE(lam=2.0, max_items=5).fit(long_tail)
    np.testing.assert_array_equal(src.head_, [0, 1, 2, 3, 4])
    assert src.variant_.startswith("head EASE over the 5 most popular of 8 items")
    X = long_tail.matrix.toarray().astype(np.float64)
    np.testing.assert_allclose(src.weights_, closed_form(X[:, :5], 2.0), atol=1e-6)
    # scores: the head history times B on the head; items outside the head are never proposed
    cs = src.retrieve(np.arange(8), k=8, exclude_seen=False)
    assert set(cs.items[cs.items >= 0].tolist()) <= {0, 1, 2, 3, 4}
    expected = X[:, :5] @ closed_form(X[:, :5], 2.0)
    row = 6  # user 6 saw items 0 and 1
    np.testing.assert_allclose(cs.scores[row, :5], np.sort(expected[row])[::-1], rtol=1e-5)
    # user 11's whole history (item 7) lies outside the head: EASE proposes nothing
    assert (src.retrieve([11], k=3).items == -1).all()


def test_user_with_history_only_in_the_tail_gets_nothing(tiny_world):
    ds = tiny_world([(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (3, 2)], n_users=4, n_items=3)
    with pytest.warns(UserWarning, match="head EASE"):
        src = EASE(lam=1.0, max_items=2).fit(ds)
    assert (src.retrieve([3], k=2).items == -1).all()  # item 2 is outside the head {0, 1}
    assert src.retrieve([0], k=1).items[0, 0] == 1


def test_at_or_below_max_items_the_model_is_exact_and_silent(long_tail):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = EASE(lam=2.0, max_items=8).fit(long_tail)
    assert src.variant_ == "exact over all 8 items"
    np.testing.assert_allclose(src.weights_, closed_form(long_tail.matrix.toarray().astype(np.float64), 2.0), atol=1e-6)


def test_max_items_changes_the_lists(long_tail):
    exact = EASE(lam=2.0, max_items=None).fit(long_tail).retrieve(np.arange(11), k=4)
    with pytest.warns(UserWarning):
        head = EASE(lam=2.0, max_items=3).fit(long_tail).retrieve(np.arange(11), k=4)
    assert not np.array_equal(exact.items, head.items)


def test_exact_beyond_the_ceiling_is_refused_with_the_memory_it_needs(tiny_world):
    n = MAX_ITEMS + 1
    ds = tiny_world([(0, 0), (1, 1)], n_users=2, n_items=n)
    with pytest.raises(ValueError, match=rf"dense {n:,}×{n:,} matrix, about {exact_memory_gb(n):.1f} GB") as err:
        EASE(max_items=None).fit(ds)
    assert f"{n:,}" in str(err.value) and "max_items" in str(err.value)
    assert exact_memory_gb(n) == pytest.approx(n * n * 12 / 1e9)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "many"])
def test_bad_max_items_is_named(bad):
    with pytest.raises(ValueError, match=f"max_items={bad!r}"):
        EASE(max_items=bad)


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_head_ease_ranks_the_head_columns_only_with_the_general_paths_lists(tiny_world, exclude_seen):
    """Head EASE's own top-k over its h head columns gives what the general path gives over its [b, n] table
    (the items outside the head at -inf): the same scores at every k, the same items when k covers the head.
    The long tail's items numbered backwards, so that the head is not the first columns."""
    from workbench.candidates.base import CandidateSource

    pairs = [(u, 7 - i) for i, n in enumerate([8, 7, 6, 5, 4, 3, 2]) for u in range(n)] + [(11, 0)]
    with pytest.warns(UserWarning, match="head EASE"):
        src = EASE(lam=2.0, max_items=5).fit(tiny_world(pairs, n_users=12, n_items=8))
    np.testing.assert_array_equal(src.head_, [3, 4, 5, 6, 7])
    users = np.array([0, 3, 6, 7, 11])  # 11: history only outside the head
    for k in (2, 8):
        general = CandidateSource._retrieve_warm(src, users, k, exclude_seen)
        own = src._retrieve_warm(users, k, exclude_seen)
        np.testing.assert_array_equal(own[1], general[1])
    assert [set(r) for r in own[0]] == [set(r) for r in general[0]]
    assert (own[0][-1] == -1).all() and np.isin(own[0][own[0] >= 0], src.head_).all()
