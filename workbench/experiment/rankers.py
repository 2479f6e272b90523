"""Rankers for online experiments: any callable ``rank(users int[U]) -> int[U, k]``.

A pipeline variant plugs in as such a callable (``as_ranker`` also accepts one that
returns a ``Slate``). The built-ins make the true difference between two variants
controllable: ``NoisyOracleRanker`` ranks by the world's true affinity logit plus
Gaussian noise of standard deviation ``sigma`` fixed per (user, item), so a smaller
``sigma`` is a better ranker (``sigma=0`` is the oracle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from workbench.data.dataset import Dataset
from workbench.types import Slate

ROW_CELLS = 1 << 22


class ListRanker(Protocol):
    """What an experiment compares: item lists for users (not `workbench.ranking.Ranker`, the stage-2 model)."""

    def __call__(self, users: np.ndarray) -> np.ndarray: ...


def item_lists(out: np.ndarray | Slate, n_users: int, name: str = "ranker") -> np.ndarray:
    """Validate a ranker's output (array or ``Slate``) as int64 ``[n_users, k]``."""
    arr = np.asarray(out.items if isinstance(out, Slate) else out)
    if arr.ndim != 2 or arr.shape[0] != n_users:
        raise ValueError(f"{name} returned shape {arr.shape}, expected [n_users={n_users}, k]")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} returned dtype {arr.dtype}, expected integer item ids")
    return arr.astype(np.int64)


class TableRanker:
    """A fixed top-k list per user, ``table [n_users, k]``; ``rank(users) = table[users]``."""

    def __init__(self, table: np.ndarray, name: str) -> None:
        self.table = np.asarray(table, dtype=np.int64)
        self.name = name

    def __call__(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        if len(users) and (users.min() < 0 or users.max() >= len(self.table)):
            raise IndexError(f"{self.name}: user ids span [{users.min()}, {users.max()}], expected [0, {len(self.table) - 1}]")
        return self.table[users]

    def __repr__(self) -> str:
        return self.name


def _check_k(k: int, n_items: int) -> None:
    if not 1 <= k <= n_items:
        raise ValueError(f"k={k!r}: expected 1..{n_items} (the catalogue size)")


def popularity_ranker(popularity: np.ndarray, n_users: int, k: int = 10) -> TableRanker:
    """Everyone gets the ``k`` most popular items (ties by lower item id)."""
    popularity = np.asarray(popularity)
    _check_k(k, len(popularity))
    top = np.argsort(-popularity, kind="stable")[:k]
    return TableRanker(np.broadcast_to(top, (n_users, k)), f"popularity(k={k})")


def noisy_oracle_ranker(
    world: object, n_users: int, n_items: int, k: int = 10, sigma: float = 1.0, seed: int = 0
) -> TableRanker:
    """Top-``k`` by ``logit a(u, i) + sigma · ε(u, i)``, ε ~ N(0, 1) fixed by ``seed``; precomputed for all users."""
    _check_k(k, n_items)
    if sigma < 0:
        raise ValueError(f"sigma={sigma!r}: expected >= 0")
    rng = np.random.default_rng(seed)
    rows = max(1, ROW_CELLS // n_items)
    table = np.empty((n_users, k), dtype=np.int64)
    for lo in range(0, n_users, rows):
        users = np.arange(lo, min(n_users, lo + rows))
        p = np.clip(world.true_affinity(users, np.arange(n_items)), 1e-12, 1 - 1e-12)
        score = np.log(p) - np.log1p(-p) + sigma * rng.standard_normal(p.shape)
        top = np.argpartition(-score, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1)
        table[users] = np.take_along_axis(top, order, axis=1)
    return TableRanker(table, f"noisy_oracle(sigma={sigma:g}, seed={seed})")


def random_ranker(n_users: int, n_items: int, k: int = 10, seed: int = 0) -> TableRanker:
    """``k`` distinct random items per user, fixed by ``seed``."""
    _check_k(k, n_items)
    rng = np.random.default_rng(seed)
    table = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    return TableRanker(table, f"random(seed={seed})")


RANKER_SPECS = ("popularity", "oracle", "random", "noisy:<sigma>")


def make_ranker(spec: str | Callable, ds: Dataset, world: object, k: int = 10, seed: int = 0) -> Callable:
    """A ranker from a spec string (``popularity``, ``oracle``, ``random``, ``noisy:<sigma>``) or a callable."""
    if callable(spec):
        return spec
    n_users, n_items = ds.n_users, ds.n_items
    if spec == "popularity":
        return popularity_ranker(ds.item_popularity, n_users, k)
    if spec == "oracle":
        return noisy_oracle_ranker(world, n_users, n_items, k, 0.0, seed)
    if spec == "random":
        return random_ranker(n_users, n_items, k, seed)
    if isinstance(spec, str) and spec.startswith("noisy:"):
        try:
            sigma = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"ranker spec {spec!r}: expected noisy:<sigma> with a number, e.g. noisy:1.5") from None
        return noisy_oracle_ranker(world, n_users, n_items, k, sigma, seed)
    raise ValueError(f"unknown ranker spec {spec!r}: expected one of {RANKER_SPECS} or a callable users -> int[U, k]")
