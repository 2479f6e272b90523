"""Business rules over ranked lists of many users: filters, pins and a per-category cap.

Every function takes ``items`` int ``[U, m]`` (item ids in the current display order,
``-1`` padding at row ends) and answers with a mask or with ``order``: int ``[U, m]``
column indices into ``items`` giving the new order, ``-1`` where an item left the
list (those cells sit at the row ends). Apply it with `apply_order`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def apply_order(values: np.ndarray, order: np.ndarray, fill=-1) -> np.ndarray:
    """``values[u, order[u, j]]``, with ``fill`` where ``order`` is -1."""
    rows = np.arange(order.shape[0])[:, None]
    out = values[rows, np.maximum(order, 0)]
    return np.where(order >= 0, out, np.asarray(fill, dtype=out.dtype))


def compact(keep: np.ndarray) -> np.ndarray:
    """``order`` that keeps the True cells of bool ``[U, m]`` in their order, then -1."""
    order = np.argsort(~keep, axis=1, kind="stable")
    return np.where(np.take_along_axis(keep, order, axis=1), order, -1)


def seen_mask(items: np.ndarray, users: np.ndarray, seen: sp.spmatrix) -> np.ndarray:
    """bool ``[U, m]``: True where ``items[u, j]`` is a stored non-zero of ``seen[users[u]]``.

    seen: CSR ``[n_users_total, n_items]`` (e.g. ``Dataset.matrix`` of the training
    split), rows indexed by ``users`` (the CandidateSet's user row indices).
    """
    items = np.asarray(items, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64)
    if len(users) != items.shape[0]:
        raise ValueError(f"{len(users)} users for {items.shape[0]} rows of items")
    n_rows, n_cols = seen.shape
    if users.size and (users.min() < 0 or users.max() >= n_rows):
        raise ValueError(f"user rows span [{users.min()}, {users.max()}] but seen has {n_rows} rows")
    if items.size and items.max() >= n_cols:
        raise ValueError(f"item id {items.max()} outside seen's {n_cols} columns")
    sub = sp.csr_matrix(seen)[users]
    sub.eliminate_zeros()
    sub.sort_indices()
    keys = np.repeat(np.arange(len(users), dtype=np.int64), np.diff(sub.indptr)) * n_cols + sub.indices
    query = np.arange(len(users), dtype=np.int64)[:, None] * n_cols + items
    if keys.size == 0:
        return np.zeros(items.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return (keys[pos] == query) & (items >= 0)


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
    if int(max_pins) != max_pins or max_pins < 0:
        raise ValueError(f"max_pins must be an integer >= 0, got {max_pins!r}")
    items = np.asarray(items, dtype=np.int64)
    promoted = np.asarray(promoted, dtype=bool)
    if items.size and items.max() >= len(promoted):
        raise ValueError(f"item id {items.max()} outside item_promoted of length {len(promoted)}")
    is_promo = (items >= 0) & promoted[np.maximum(items, 0)]
    pin = is_promo & (np.cumsum(is_promo, axis=1) <= max_pins)
    rank = np.where(pin, 0, np.where(items >= 0, 1, 2))
    order = np.argsort(rank, axis=1, kind="stable")
    order = np.where(np.take_along_axis(items, order, axis=1) >= 0, order, -1)
    return order, np.take_along_axis(pin, np.maximum(order, 0), axis=1) & (order >= 0)


def category_rank(items: np.ndarray, item_category: np.ndarray) -> np.ndarray:
    """int ``[U, m]``: how many items of the same category precede each cell in its row
    (0 for the first of its category; -1 at padding). Vectorised: sort the cells by the
    key (row, category, position) and count from the start of each (row, category) group."""
    items = np.asarray(items, dtype=np.int64)
    cat = np.asarray(item_category, dtype=np.int64)
    if items.size and items.max() >= len(cat):
        raise ValueError(f"item id {items.max()} outside item_category of length {len(cat)}")
    if cat.size and cat.min() < 0:
        raise ValueError(f"item_category holds code {cat.min()}; expected category codes >= 0")
    n_users, m = items.shape
    cats = np.where(items >= 0, cat[np.maximum(items, 0)], -1) + 1
    key = (np.arange(n_users)[:, None] * (int(cats.max(initial=0)) + 1) + cats) * m + np.arange(m)
    srt = np.argsort(key.ravel())
    group = key.ravel()[srt] // m
    idx = np.arange(group.size)
    first = np.maximum.accumulate(np.where(np.r_[True, group[1:] != group[:-1]], idx, 0))
    out = np.empty(group.size, dtype=np.int64)
    out[srt] = idx - first
    return np.where(items >= 0, out.reshape(n_users, m), -1)


def category_cap(
    items: np.ndarray, item_category: np.ndarray, cap: int, exempt: np.ndarray | None = None
) -> np.ndarray:
    """``order`` keeping at most ``cap`` items per category in each row, in order.

    The (cap+1)-th and later items of a category leave the list (``-1`` at the row
    end), so the list may come out shorter. ``exempt`` (bool ``[U, m]``, e.g. pinned
    items) are never removed but still count toward their category's cap.
    """
    if int(cap) != cap or cap < 1:
        raise ValueError(f"category_cap must be an integer >= 1 (or None for no cap), got {cap!r}")
    keep = (np.asarray(items) >= 0) & (category_rank(items, item_category) < cap)
    if exempt is not None:
        keep |= np.asarray(exempt, dtype=bool) & (np.asarray(items) >= 0)
    return compact(keep)
