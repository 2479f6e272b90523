"""`workbench.lists`: the padded-list helpers that stages 1 and 3 share."""

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.lists import apply_order, compact, partition, seen_mask


def test_compact_keeps_the_true_cells_in_order_and_cuts_to_width():
    keep = np.array([[0, 1, 0, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(compact(keep), [[1, 3, 4, -1, -1], [0, -1, -1, -1, -1], [-1] * 5])
    np.testing.assert_array_equal(compact(keep, 2), [[1, 3], [0, -1], [-1, -1]])
    np.testing.assert_array_equal(compact(keep, 7)[:, 5:], -np.ones((3, 2)))
    np.testing.assert_array_equal(compact(keep), partition(keep))  # the same order, by a running count


def test_apply_order_fills_the_dropped_cells():
    values = np.array([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]])
    order = np.array([[2, 0, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(apply_order(values, order, np.nan), [[12.0, 10.0, np.nan], [np.nan] * 3])


@pytest.mark.parametrize("width", [3, 40])  # 5·3 < 50 items: sparse intersection; 5·40 >= 50: dense rows
def test_seen_mask_agrees_with_a_per_cell_lookup_on_both_paths(width):
    rng = np.random.default_rng(0)
    seen = sp.random(30, 50, density=0.2, format="csr", random_state=1)
    seen.data[::7] = 0.0  # explicit zeros are not seen
    users = rng.integers(0, 30, 12)
    items = np.argsort(rng.random((12, 50)), axis=1)[:, :width]
    items[:, -1] = -1
    expect = np.array([[i >= 0 and seen[u, i] != 0 for i in row] for u, row in zip(users, items)])
    np.testing.assert_array_equal(seen_mask(items, users, seen), expect)
