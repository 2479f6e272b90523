"""`best_columns` / `top_k` on wide rows (the grouped selection of a large catalogue) against a full sort."""

import numpy as np
import pytest

from workbench.candidates.base import GROUPED_FROM, GROUPED_MIN_COLUMNS, GROUPS, best_columns, top_k


@pytest.mark.parametrize("n_extra", [0, 3, GROUPS - 1])  # a width that GROUPS divides, and two that it does not
def test_best_columns_are_the_k_smallest_on_wide_rows(n_extra):
    rng = np.random.default_rng(n_extra)
    kk = 25
    n = max(GROUPED_FROM * GROUPS * kk, GROUPED_MIN_COLUMNS) + n_extra  # wide enough for the grouped path
    neg = rng.standard_normal((40, n)).astype(np.float32)
    neg[:, rng.random(n) < 0.3] = np.inf  # ineligible cells (−inf scores)
    neg[0, :] = np.inf
    neg[0, [1, n - 1, n // 2]] = [0.5, -1.0, 2.0]  # a row with fewer real cells than kk: all three kept
    neg[1, -n_extra or -1] = -100.0  # the row's best cell in the last columns (outside the groups when n_extra)
    cols = best_columns(neg, kk)
    assert cols.shape == (40, kk)
    got = np.sort(np.take_along_axis(neg, cols, axis=1), axis=1)
    assert np.array_equal(got, np.sort(neg, axis=1)[:, :kk])  # the same cells' values as a full sort
    assert all(len(set(row)) == kk for row in cols.tolist())  # no column twice
    assert {1, n - 1, n // 2} <= set(cols[0].tolist())
    assert (n - n_extra if n_extra else n - 1) in cols[1]


def test_top_k_wide_rows_match_a_full_sort_without_ties():
    rng = np.random.default_rng(7)
    scores = rng.permutation(30 * 5000).reshape(30, 5000).astype(np.float32)  # grouped: 5,000 ≥ 3 · 8 · 40  # distinct: no ties
    scores[:, ::7] = -np.inf
    items, top = top_k(scores, 40)
    order = np.argsort(-scores, axis=1)[:, :40]
    assert np.array_equal(items, order)
    assert np.array_equal(top, np.take_along_axis(scores, order, axis=1))
