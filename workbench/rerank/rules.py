"""Business rules over ranked lists of many users: filters, pins and a per-category cap.

Every function takes ``items`` int ``[U, m]`` (item ids in the current display order,
``-1`` padding at row ends) and answers with a mask or with ``order``: int ``[U, m]``
column indices into ``items`` giving the new order, ``-1`` where an item left the
list (those cells sit at the row ends). Apply it with `workbench.lists.apply_order`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.checks import check_count
from workbench.lists import compact, partition, seen_mask


def eligible(
    items: np.ndarray,
    *,
    users: np.ndarray | None = None,
    seen: sp.spmatrix | None = None,
    available: np.ndarray | None = None,
) -> np.ndarray:
    """bool ``[U, m]``: real items that are not seen (if ``seen`` given) and available
    (if ``available`` bool ``[n_items]`` given)."""
    items = np.asarray(items, dtype=np.int64)
    keep = items >= 0
    if available is not None:
        available = np.asarray(available, dtype=bool)
        if items.size and items.max() >= len(available):
            raise ValueError(f"item id {items.max()} outside item_available of length {len(available)}")
        keep &= available[np.maximum(items, 0)]
    if seen is not None:
        if users is None:
            raise ValueError("dropping seen items needs the users (rows of seen) of each row")
        keep &= ~seen_mask(items, users, seen)
    return keep


def pin_promoted(items: np.ndarray, promoted: np.ndarray, max_pins: int) -> tuple[np.ndarray, np.ndarray]:
    """Move the first ``max_pins`` promoted items of each row to the front.

    Pinned items keep their relative order, and so do the others behind them.
    Returns (order ``[U, m]``, pinned bool ``[U, m]`` in the new order).
    """
    check_count("max_pins", max_pins, 0)
    items = np.asarray(items, dtype=np.int64)
    promoted = np.asarray(promoted, dtype=bool)
    if items.size and items.max() >= len(promoted):
        raise ValueError(f"item id {items.max()} outside item_promoted of length {len(promoted)}")
    is_promo = (items >= 0) & promoted[np.maximum(items, 0)]
    pin = is_promo & (np.cumsum(is_promo, axis=1) <= max_pins)
    order = partition(pin, items >= 0)
    return order, np.arange(items.shape[1]) < pin.sum(axis=1, keepdims=True)


def category_rank(items: np.ndarray, item_category: np.ndarray) -> np.ndarray:
    """int ``[U, m]``: how many items of the same category precede each cell in its row
    (0 for the first of its category; -1 at padding). Vectorised: a stable sort of each
    row by category orders the cells by (row, category, position); count from the start
    of each category's run."""
    items = np.asarray(items, dtype=np.int64)
    cat = np.asarray(item_category, dtype=np.int64)
    if items.size and items.max() >= len(cat):
        raise ValueError(f"item id {items.max()} outside item_category of length {len(cat)}")
    if cat.size and cat.min() < 0:
        raise ValueError(f"item_category holds code {cat.min()}; expected category codes >= 0")
    n_users, m = items.shape
    cats = np.where(items >= 0, cat[np.maximum(items, 0)], -1)
    cats = cats.astype(np.int16 if cat.size == 0 or cat.max() < 2**15 - 1 else np.int64)
    srt = np.argsort(cats, axis=1, kind="stable")
    grouped = np.take_along_axis(cats, srt, axis=1)
    start = np.ones((n_users, m), dtype=bool)
    start[:, 1:] = grouped[:, 1:] != grouped[:, :-1]
    col = np.arange(m)
    rank = col - np.maximum.accumulate(np.where(start, col, 0), axis=1)
    out = np.empty((n_users, m), dtype=np.int64)
    np.put_along_axis(out, srt, rank, axis=1)
    return np.where(items >= 0, out, -1)


def category_cap(
    items: np.ndarray, item_category: np.ndarray, cap: int, exempt: np.ndarray | None = None
) -> np.ndarray:
    """``order`` keeping at most ``cap`` items per category in each row, in order.

    The (cap+1)-th and later items of a category leave the list (``-1`` at the row
    end), so the list may come out shorter. ``exempt`` (bool ``[U, m]``, e.g. pinned
    items) are never removed but still count toward their category's cap.
    """
    check_count("category_cap (None for no cap)", cap, 1)
    keep = (np.asarray(items) >= 0) & (category_rank(items, item_category) < cap)
    if exempt is not None:
        keep |= np.asarray(exempt, dtype=bool) & (np.asarray(items) >= 0)
    return compact(keep)
