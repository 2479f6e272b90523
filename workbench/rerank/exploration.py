"""ε-exploration: give a fraction of a slate's slots to random items, and log propensities.

For a slate of k slots and rate ε:

- m = ⌊ε·k + ½⌋ slots are explored (ε·k rounded half up), at the evenly spaced
  positions p_j = ⌊(j + ½)·k / m⌋, j = 0..m−1 (0-based; k=10, m=2 → 2 and 7;
  k=20, m=2 → 5 and 15). Consecutive positions differ by k/m ≥ 1, so they are distinct.
- The pool is the user's real items ranked below the slate (input positions ≥ k),
  P of them. The explored slots hold m distinct pool items drawn uniformly at random
  without replacement; the j-th draw goes to the j-th explored position.
- The other k − m slots show the top k − m ranked items in order (the items ranked
  k − m .. k − 1 make way and are not shown).
- A user whose pool is smaller than m (P < m; P = 0 when the user has ≤ k real
  items) explores only m' = P slots, at ⌊(j + ½)·k / m'⌋.

Logged propensity (``propensity``): the probability that this item was shown in this
slot under the policy. Deterministic slots: 1.0. Explored slots: 1/P, for *every*
explored slot. Why not 1/P, 1/(P−1), 1/(P−2), …? Those are the conditional
probabilities of the j-th draw *given the earlier draws*; their product is the
probability of the whole explored sequence. Unconditionally, a uniform draw without
replacement puts each pool item in each explored slot with probability 1/P, which is
the per-slot propensity inverse-propensity estimators divide by (and the frequency
the tests observe over many seeds). Padding slots: 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from workbench.checks import check_count, check_unit_interval


class ExplorationResult(NamedTuple):
    """order: int64 ``[U, k]`` column indices into the input, ``-1`` padding.
    propensity: float64 ``[U, k]``. explored: bool ``[U, k]``."""

    order: np.ndarray
    propensity: np.ndarray
    explored: np.ndarray


def n_explore_slots(k: int, rate: float) -> int:
    """m = ⌊rate·k + ½⌋, the number of explored slots in a full slate of ``k``."""
    rate = check_unit_interval("exploration rate ε", rate)
    return int(np.floor(rate * k + 0.5))


def explore_positions(k: int, n_slots: int) -> np.ndarray:
    """0-based slot positions ⌊(j + ½)·k / n_slots⌋ for j < n_slots."""
    if not 0 <= n_slots <= k:
        raise ValueError(f"n_slots must lie in [0, k={k}], got {n_slots}")
    return np.floor((np.arange(n_slots) + 0.5) * k / max(n_slots, 1)).astype(np.int64)


def explore(
    items: np.ndarray, k: int, rate: float, seed: int | np.random.Generator = 0
) -> ExplorationResult:
    """Cut each ranked row of ``items`` (int ``[U, n]``, ``-1`` padding at row ends) to a
    slate of ``k``, exploring ``rate`` of the slots as described in the module docstring."""
    k = check_count("k", k, 1)
    m = n_explore_slots(k, rate)
    items = np.asarray(items, dtype=np.int64)
    n_users, n = items.shape
    cols = np.arange(k)
    order = np.where((cols < n) & (cols[None, :] < (items >= 0).sum(axis=1)[:, None]), cols, -1)
    explored = np.zeros((n_users, k), dtype=bool)
    if m == 0 or n <= k:
        return ExplorationResult(order, np.where(order >= 0, 1.0, 0.0), explored)

    rng = np.random.default_rng(seed)
    pool_real = items[:, k:] >= 0
    pool = pool_real.sum(axis=1)
    m_user = np.minimum(m, pool)
    key = np.where(pool_real, rng.random(pool_real.shape), np.inf)
    smallest = np.argpartition(key, m - 1, axis=1)[:, :m] if m < key.shape[1] else np.argsort(key, axis=1)[:, :m]
    draws = k + np.take_along_axis(smallest, np.argsort(np.take_along_axis(key, smallest, axis=1), axis=1), axis=1)

    j = np.arange(m)
    pos = np.floor((j + 0.5) * k / np.maximum(m_user, 1)[:, None]).astype(np.int64)
    live = j[None, :] < m_user[:, None]
    rows = np.broadcast_to(np.arange(n_users)[:, None], pos.shape)
    explored[rows[live], pos[live]] = True
    det = cols[None, :] - np.cumsum(explored, axis=1) + explored
    draw_index = np.cumsum(explored, axis=1) - 1
    pick = np.take_along_axis(draws, np.clip(draw_index, 0, m - 1), axis=1)
    order = np.where(explored, pick, np.where(m_user[:, None] > 0, det, order))
    propensity = np.where(explored, 1.0 / np.maximum(pool, 1)[:, None], np.where(order >= 0, 1.0, 0.0))
    return ExplorationResult(order, propensity, explored)
