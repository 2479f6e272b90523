import numpy as np
import pytest
import scipy.sparse as sp

from workbench.lists import apply_order, compact, seen_mask
from workbench.rerank.rules import category_cap, category_rank, eligible, pin_promoted


def test_seen_and_available():
    # user rows 0..2; user 2 has seen items 1 and 4, user 0 item 3 (with an explicit zero on 2)
    seen = sp.csr_matrix((np.array([1.0, 0.0, 1.0, 1.0]), (np.array([0, 0, 2, 2]), np.array([3, 2, 1, 4]))), shape=(3, 6))
    items = np.array([[1, 4, 3, -1], [3, 2, 0, 5]])
    users = np.array([2, 0])
    np.testing.assert_array_equal(seen_mask(items, users, seen), [[1, 1, 0, 0], [1, 0, 0, 0]])
    available = np.array([True, True, True, True, True, False])
    keep = eligible(items, users=users, seen=seen, available=available)
    np.testing.assert_array_equal(keep, [[0, 0, 1, 0], [0, 1, 1, 0]])
    np.testing.assert_array_equal(apply_order(items, compact(keep)), [[3, -1, -1, -1], [2, 0, -1, -1]])


def test_seen_needs_users_and_valid_rows():
    seen = sp.csr_matrix((2, 5))
    with pytest.raises(ValueError, match="users"):
        eligible(np.array([[0]]), seen=seen)
    with pytest.raises(ValueError, match="seen has 2 rows"):
        seen_mask(np.array([[0]]), np.array([4]), seen)


def test_pins_keep_relative_order_and_cap():
    promoted = np.zeros(10, dtype=bool)
    promoted[[7, 9, 1]] = True
    items = np.array([[5, 1, 7, 3, 9, -1], [2, 3, 4, 9, -1, -1]])
    order, pinned = pin_promoted(items, promoted, max_pins=2)
    np.testing.assert_array_equal(apply_order(items, order), [[1, 7, 5, 3, 9, -1], [9, 2, 3, 4, -1, -1]])
    np.testing.assert_array_equal(pinned, [[1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    order0, pinned0 = pin_promoted(items, promoted, max_pins=0)
    np.testing.assert_array_equal(apply_order(items, order0), items)
    assert not pinned0.any()


def test_category_rank_and_cap():
    cat = np.array([0, 0, 1, 0, 1, 0, 2])  # by item id
    items = np.array([[0, 1, 2, 3, 4, 5, -1], [6, 5, 4, 3, 2, 1, 0]])
    np.testing.assert_array_equal(category_rank(items, cat), [[0, 1, 0, 2, 1, 3, -1], [0, 0, 0, 1, 1, 2, 3]])
    order = category_cap(items, cat, 2)
    np.testing.assert_array_equal(apply_order(items, order), [[0, 1, 2, 4, -1, -1, -1], [6, 5, 4, 3, 2, -1, -1]])


def test_cap_spares_exempt_items_but_counts_them():
    cat = np.array([0, 0, 0, 1])
    items = np.array([[0, 1, 3, 2]])
    exempt = np.array([[True, True, False, False]])
    order = category_cap(items, cat, 1, exempt=exempt)
    np.testing.assert_array_equal(apply_order(items, order), [[0, 1, 3, -1]])


def test_bad_rule_parameters():
    with pytest.raises(ValueError, match="max_pins"):
        pin_promoted(np.array([[0]]), np.array([True]), -1)
    with pytest.raises(ValueError, match="category_cap"):
        category_cap(np.array([[0]]), np.array([0]), 0)
    with pytest.raises(ValueError, match="item_available"):
        eligible(np.array([[3]]), available=np.array([True]))
