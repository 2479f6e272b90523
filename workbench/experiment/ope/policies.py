"""Policies over candidate slates: which slates does a policy show, with what probability, and does a
target have support under a logger?

Policies are distributions over slates with marginals ``π(j at p | u)``: `EpsilonMixture`
(a ranker's slate, or with probability ε a uniformly random slate: every cell has support)
and `ExplorationPolicy` (the workbench's own ε-exploration: only a few fixed slots are
random, so it supports only targets that keep the other slots). `check_support` measures the
share of a target's mass on cells a logger never shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.experiment.ope.estimators import SupportError
from workbench.rerank.exploration import explore, explore_positions, n_explore_slots

CHUNK_USERS = 4096


def _check_rate(name: str, x: float) -> float:
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name}={x!r}: expected a probability in [0, 1]")
    return float(x)


@dataclass(frozen=True, eq=False)
class EpsilonMixture:
    """With probability ``1 − epsilon`` (per impression) show ``slates[u]`` (candidate columns, ``[U, k]``);
    otherwise a uniformly random ordered slate of ``k`` distinct candidates out of ``n_candidates``.

    Marginal: ``π(j at p | u) = (1 − ε)·[j = slates[u, p]] + ε / A``: every cell has
    probability ≥ ε/A, so with ε > 0 it supports any target over the same candidates.
    """

    slates: np.ndarray
    n_candidates: int
    epsilon: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        s = np.asarray(self.slates, dtype=np.int64)
        object.__setattr__(self, "slates", s)
        _check_rate("epsilon", self.epsilon)
        if s.ndim != 2 or not 1 <= s.shape[1] <= self.n_candidates:
            raise ValueError(f"slates must be [U, k] with 1 <= k <= n_candidates={self.n_candidates}, got {s.shape}")
        if s.min() < 0 or s.max() >= self.n_candidates:
            raise ValueError(f"slates hold columns in [{s.min()}, {s.max()}], expected [0, {self.n_candidates})")

    @property
    def k(self) -> int:
        return self.slates.shape[1]

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Candidate columns ``[n, k]`` shown to ``users`` (one impression each)."""
        users = np.asarray(users, dtype=np.int64)
        out = self.slates[users].copy()
        rand = np.flatnonzero(rng.random(len(users)) < self.epsilon)
        if len(rand):
            key = rng.random((len(rand), self.n_candidates))
            top = np.argpartition(key, self.k - 1, axis=1)[:, : self.k] if self.k < self.n_candidates else np.argsort(key, axis=1)
            out[rand] = np.take_along_axis(top, np.argsort(np.take_along_axis(key, top, axis=1), axis=1), axis=1)
        return out

    def marginals(self, users: np.ndarray) -> np.ndarray:
        """``π(j at p | u)`` as ``[n, k, A]``."""
        users = np.asarray(users, dtype=np.int64)
        out = np.full((len(users), self.k, self.n_candidates), self.epsilon / self.n_candidates)
        rows = np.arange(len(users))[:, None]
        out[rows, np.arange(self.k)[None, :], self.slates[users]] += 1.0 - self.epsilon
        return out

    def gram(self) -> np.ndarray:
        """``Γ = E[1_s 1_sᵀ]`` over (slot, column) cells, ``[kA, kA]``; needs the same slate for every user."""
        s0 = _shared_row(self.slates, "EpsilonMixture.gram")
        k, a = self.k, self.n_candidates
        g = self.epsilon * _component_gram(np.full(k, -1), np.ones(a, dtype=bool), a)
        return g + (1.0 - self.epsilon) * _component_gram(s0, np.zeros(a, dtype=bool), a)


@dataclass(frozen=True, eq=False)
class ExplorationPolicy:
    """The workbench's ε-exploration (`workbench.rerank.exploration.explore`) of a ranking of candidate columns.

    ``ranking [U, A]``: each user's candidate columns in the policy's rank order (a
    permutation of ``0..A-1``). ``m = ⌊rate·k + ½⌋`` fixed slots show uniform draws from the
    pool (ranks ``k..A-1``, ``P = A − k`` of them); the other slots show the top ``k − m``
    ranks in order. Marginal: 1 at a deterministic slot's item, ``1/P`` for pool items at
    explored slots, 0 elsewhere: a target that changes any deterministic slot has no support.
    """

    ranking: np.ndarray
    k: int
    rate: float = 0.1
    name: str = ""

    def __post_init__(self) -> None:
        r = np.asarray(self.ranking, dtype=np.int64)
        object.__setattr__(self, "ranking", r)
        _check_rate("rate", self.rate)
        if r.ndim != 2 or not 1 <= self.k < r.shape[1]:
            raise ValueError(f"ranking must be [U, A] with A > k={self.k}, got shape {r.shape}")
        if not (np.sort(r, axis=1) == np.arange(r.shape[1])).all():
            raise ValueError("each row of ranking must be a permutation of the candidate columns 0..A-1")

    @property
    def n_candidates(self) -> int:
        return self.ranking.shape[1]

    def _layout(self) -> tuple[np.ndarray, np.ndarray]:
        """(explored bool [k], rank shown at each deterministic slot [k], -1 at explored)."""
        m = min(n_explore_slots(self.k, self.rate), self.n_candidates - self.k)
        explored = np.zeros(self.k, dtype=bool)
        explored[explore_positions(self.k, m)] = True
        det_rank = np.where(explored, -1, np.arange(self.k) - np.cumsum(explored))
        return explored, det_rank

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        ranked = self.ranking[np.asarray(users, dtype=np.int64)]
        res = explore(ranked, self.k, self.rate, rng)
        return np.take_along_axis(ranked, res.order, axis=1)

    def marginals(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        explored, det_rank = self._layout()
        a, pool = self.n_candidates, self.n_candidates - self.k
        by_rank = np.zeros((self.k, a))  # [slot, rank]
        by_rank[~explored, det_rank[~explored]] = 1.0
        by_rank[np.ix_(explored, np.arange(self.k, a))] = 1.0 / pool
        out = np.empty((len(users), self.k, a))
        rows = np.arange(len(users))[:, None, None]
        out[rows, np.arange(self.k)[None, :, None], self.ranking[users][:, None, :]] = by_rank[None]
        return out

    def gram(self) -> np.ndarray:
        r0 = _shared_row(self.ranking, "ExplorationPolicy.gram")
        explored, det_rank = self._layout()
        fixed = np.where(explored, -1, r0[np.maximum(det_rank, 0)])
        pool = np.zeros(self.n_candidates, dtype=bool)
        pool[r0[self.k :]] = True
        return _component_gram(fixed, pool, self.n_candidates)


def _shared_row(rows: np.ndarray, what: str) -> np.ndarray:
    if not (rows == rows[:1]).all():
        raise ValueError(f"{what}: the logger must act the same for every user (candidate columns in the logger's "
                         "rank order) for one Γ to serve all users")  # fmt: skip
    return rows[0]


def _component_gram(fixed: np.ndarray, pool: np.ndarray, a: int) -> np.ndarray:
    """``E[1_s 1_sᵀ]`` for slates whose slot ``p`` holds column ``fixed[p]`` or, where ``fixed[p] = -1``,
    a draw without replacement, uniform over the ``pool`` columns."""
    k = len(fixed)
    det = fixed >= 0
    f = np.zeros((k, a))
    f[np.flatnonzero(det), fixed[det]] = 1.0
    g = np.einsum("pj,qi->pjqi", f, f)
    n_pool = int(pool.sum())
    rand = ~det
    if rand.any():
        if n_pool < rand.sum():
            raise ValueError(f"{rand.sum()} random slots but only {n_pool} pool columns")
        r = np.outer(rand, pool).astype(np.float64)  # cells a random slot can hold
        g += (np.einsum("pj,qi->pjqi", f, r) + np.einsum("pj,qi->pjqi", r, f)) / n_pool
        same_slot = np.eye(k, dtype=bool)[:, None, :, None] & np.eye(a, dtype=bool)[None, :, None, :]
        diff = ~np.eye(k, dtype=bool)[:, None, :, None] & ~np.eye(a, dtype=bool)[None, :, None, :]
        rr = np.einsum("pj,qi->pjqi", r, r) > 0
        pair = 1.0 / (n_pool * (n_pool - 1)) if n_pool > 1 else 0.0
        g += np.where(rr & same_slot, 1.0 / n_pool, 0.0) + np.where(rr & diff, pair, 0.0)
    return g.reshape(k * a, k * a)


def _by_user_chunks(users: np.ndarray, fn, chunk: int = CHUNK_USERS) -> np.ndarray:
    return np.concatenate([fn(users[lo : lo + chunk]) for lo in range(0, len(users), chunk)], axis=0)


def check_support(logger, target, users: np.ndarray, counts: np.ndarray | None = None, tol: float = 0.0) -> float:
    """Share of the target's (slot, candidate) mass, over ``users`` (weighted by ``counts``), on cells the
    logger never shows. Raises `SupportError` when it exceeds ``tol``; returns it otherwise."""
    users = np.asarray(users, dtype=np.int64)
    counts = np.ones(len(users)) if counts is None else np.asarray(counts, dtype=np.float64)
    if target.k != logger.k or target.n_candidates != logger.n_candidates:
        raise ValueError(f"target shows {target.k} of {target.n_candidates} candidates, the logger {logger.k} of "
                         f"{logger.n_candidates}: expected the same slate shape")  # fmt: skip
    lost = total = 0.0
    first = None
    for lo in range(0, len(users), CHUNK_USERS):
        u, c = users[lo : lo + CHUNK_USERS], counts[lo : lo + CHUNK_USERS]
        q_t, q_b = target.marginals(u), logger.marginals(u)
        bad = (q_t > 0) & (q_b <= 0)
        lost += float((q_t * bad).sum(axis=(1, 2)) @ c)
        total += float(q_t.sum(axis=(1, 2)) @ c)
        if first is None and bad.any():
            i, p, j = np.argwhere(bad)[0]
            first = (int(u[i]), int(p), int(j))
    share = lost / total if total else 0.0
    if share > tol:
        name = getattr(target, "name", "") or type(target).__name__
        raise SupportError(
            f"target {name!r} puts {share:.1%} of its mass on (slot, candidate) cells the logger never shows "
            f"(first: user {first[0]}, slot {first[1]}, candidate column {first[2]}); IPS and DR would miss that "
            "mass's reward. Log with exploration of every slot (EpsilonMixture, ε > 0) or evaluate a target that "
            "keeps the logger's deterministic slots", share)  # fmt: skip
    return share
