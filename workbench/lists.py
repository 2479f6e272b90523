"""Padded per-user lists, the arrays every stage passes on: ``items`` int ``[U, m]``, one row per
user, item ids in display order and ``-1`` (`workbench.types.PAD`) at the row ends.

A reordering is an ``order``: int ``[U, m']`` column indices into a list, ``-1`` where a
cell left it (those sit at the row ends); `apply_order` applies one to any per-cell array.
Stage 1 drops seen items from its sources' lists and stage 3 from the ranked lists, both with
`seen_mask` and `compact`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

BATCH_CELLS = 1 << 22  # users per batch × items: about 16 MB of float32 scores


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


def compact(keep: np.ndarray, width: int | None = None) -> np.ndarray:
    """``order`` ``[U, width]`` (default: as wide as ``keep``) holding the columns of the True cells
    of bool ``keep [U, m]`` in their order, then -1. O(U·m): each kept cell's slot is a running count."""
    keep = np.asarray(keep, dtype=bool)
    width = keep.shape[1] if width is None else int(width)
    slot = np.cumsum(keep, axis=1) - 1
    rows, cols = np.nonzero(keep & (slot < width))
    order = np.full((keep.shape[0], width), -1, dtype=np.int64)
    order[rows, slot[rows, cols]] = cols
    return order


def seen_mask(items: np.ndarray, users: np.ndarray, seen: sp.spmatrix) -> np.ndarray:
    """bool ``[U, m]``: True where ``items[u, j]`` is a stored non-zero of ``seen[users[u]]``
    (``-1`` padding: False).

    seen: ``[n_users_total, n_items]`` (e.g. ``Dataset.matrix`` of the training split), rows
    indexed by ``users`` (the CandidateSet's user row indices). Two vectorised lookups, by
    cost: short lists (``5·m < n_items``) as a sparse intersection, the candidates as a CSR
    matrix holding their column position + 1 multiplied elementwise by the users' seen rows
    (the products that survive are the seen candidates, their values say where they sit);
    long lists by gathering from the users' seen rows made dense, a batch of users at a time.
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
    out = np.zeros(items.shape, dtype=bool)
    seen = sp.csr_matrix(seen)
    if 5 * items.shape[1] >= n_cols:
        step = max(1, BATCH_CELLS // max(n_cols, 1))
        for lo in range(0, len(users), step):
            rows = seen[users[lo : lo + step]].toarray() != 0
            out[lo : lo + step] = np.take_along_axis(rows, np.maximum(items[lo : lo + step], 0), axis=1)
        return out & real
    position = np.broadcast_to(np.arange(1, items.shape[1] + 1, dtype=np.float64), items.shape)[real]
    indptr = np.r_[0, np.cumsum(real.sum(axis=1))]
    candidates = sp.csr_matrix((position, items[real], indptr), shape=(len(users), n_cols))
    rows_seen = seen[users]
    rows_seen.data = (rows_seen.data != 0).astype(np.float64)
    hit = candidates.multiply(rows_seen).tocoo()
    out[hit.row, hit.data.astype(np.int64) - 1] = True
    return out
