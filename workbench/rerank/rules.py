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
    n_users, width = values.shape[0], values.shape[1]
    if width == 0:
        return np.full(order.shape + values.shape[2:], fill, dtype=values.dtype)
    flat = np.maximum(order, 0) + (np.arange(n_users) * width)[:, None]
    out = np.take(values.reshape(n_users * width, *values.shape[2:]), flat, axis=0)
    return np.where(order >= 0, out, np.asarray(fill, dtype=out.dtype)) if (order < 0).any() else out


def partition(first: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """``order`` listing per row the columns where bool ``first`` is True, then the other
    columns where ``keep`` is True, each group in its original order; ``-1`` after.
    (A stable sort of the key 0 = first, 1 = kept, 2 = dropped.)"""
    keep = first if keep is None else keep | first
    key = (2 - first.astype(np.int8) - keep).astype(np.int8)
    order = np.argsort(key, axis=1, kind="stable")
    return np.where(np.take_along_axis(key, order, axis=1) < 2, order, -1)


def compact(keep: np.ndarray) -> np.ndarray:
    """``order`` that keeps the True cells of bool ``[U, m]`` in their order, then -1."""
    return partition(np.asarray(keep, dtype=bool))


def seen_mask(items: np.ndarray, users: np.ndarray, seen: sp.spmatrix) -> np.ndarray:
    """bool ``[U, m]``: True where ``items[u, j]`` is a stored non-zero of ``seen[users[u]]``.

    seen: CSR ``[n_users_total, n_items]`` (e.g. ``Dataset.matrix`` of the training
    split), rows indexed by ``users`` (the CandidateSet's user row indices).
    Vectorised as a sparse intersection: the candidates as a CSR matrix holding their
    column position + 1, multiplied elementwise by the users' seen rows; the products
    that survive are the seen candidates, and their values say where they sit.
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
    real = items >= 0
    position = np.broadcast_to(np.arange(1, items.shape[1] + 1, dtype=np.float64), items.shape)[real]
    indptr = np.r_[0, np.cumsum(real.sum(axis=1))]
    candidates = sp.csr_matrix((position, items[real], indptr), shape=(len(users), n_cols))
    rows_seen = sp.csr_matrix(seen)[users]
    rows_seen.data = (rows_seen.data != 0).astype(np.float64)
    hit = candidates.multiply(rows_seen).tocoo()
    out = np.zeros(items.shape, dtype=bool)
    out[hit.row, hit.data.astype(np.int64) - 1] = True
    return out


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
    if int(cap) != cap or cap < 1:
        raise ValueError(f"category_cap must be an integer >= 1 (or None for no cap), got {cap!r}")
    keep = (np.asarray(items) >= 0) & (category_rank(items, item_category) < cap)
    if exempt is not None:
        keep |= np.asarray(exempt, dtype=bool) & (np.asarray(items) >= 0)
    return compact(keep)
