"""Logging and truth: what did a logger show and earn (`SlateLog`, `log_impressions`), and what is a
policy's value exactly (`true_value`, position click model) or on-policy (`monte_carlo_value`)?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.experiment.ope.estimators import _cells
from workbench.experiment.ope.policies import CHUNK_USERS, _by_user_chunks
from workbench.experiment.simulator import unique_inverse


@dataclass(eq=False)
class SlateLog:
    """Logged impressions. ``users [N]`` index rows of ``candidates [U, A]`` (item ids); ``slates [N, k]``
    are the shown candidate columns; ``pscore [N, k]`` the logger's probability of each shown cell;
    ``clicks [N, k]`` the rewards."""

    users: np.ndarray
    slates: np.ndarray
    pscore: np.ndarray
    clicks: np.ndarray
    candidates: np.ndarray
    logger: object = None

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64).reshape(-1)
        self.slates = np.asarray(self.slates, dtype=np.int64)
        self.candidates = np.asarray(self.candidates, dtype=np.int64)
        n = len(self.users)
        if self.slates.ndim != 2 or self.slates.shape[0] != n:
            raise ValueError(f"slates has shape {self.slates.shape}, expected [N={n}, k] (one row per logged user)")
        self.pscore = _cells("pscore", self.pscore, self.slates.shape)
        self.clicks = _cells("clicks", self.clicks, self.slates.shape)
        if self.users.min(initial=0) < 0 or self.users.max(initial=0) >= len(self.candidates):
            raise ValueError(f"users span [{self.users.min()}, {self.users.max()}], expected rows of candidates [0, {len(self.candidates)})")
        if self.slates.min(initial=0) < 0 or self.slates.max(initial=0) >= self.candidates.shape[1]:
            raise ValueError(f"slates hold columns outside [0, {self.candidates.shape[1]})")

    @property
    def n(self) -> int:
        return len(self.users)

    @property
    def items(self) -> np.ndarray:
        return np.take_along_axis(self.candidates[self.users], self.slates, axis=1)


def log_impressions(sim, candidates: np.ndarray, logger, users: np.ndarray, rng: np.random.Generator | int,
                    attract: np.ndarray | None = None) -> SlateLog:  # fmt: skip
    """Show ``users`` (one impression each) the logger's slates, simulate clicks, log propensities.

    ``attract [U, A]``: the world's ``a(u, candidate)``, precomputed, when the same
    population is logged many times."""
    rng = np.random.default_rng(rng)
    users = np.asarray(users, dtype=np.int64)
    cols = logger.sample(users, rng)
    items = np.take_along_axis(candidates[users], cols, axis=1)
    a = None if attract is None else np.take_along_axis(attract[users], cols, axis=1)
    imp = sim.simulate(users, items, rng, attract=a)
    pscore = np.take_along_axis(logger.marginals(users), cols[:, :, None], axis=2)[:, :, 0] \
        if len(users) <= CHUNK_USERS else _logged_pscore(logger, users, cols)  # fmt: skip
    return SlateLog(users, cols, pscore, imp.clicks.astype(np.float64), candidates, logger)


def _logged_pscore(policy, users: np.ndarray, cols: np.ndarray) -> np.ndarray:
    uniq, inv = unique_inverse(users)
    table = _by_user_chunks(uniq, policy.marginals)  # [u, k, A]
    k, a = table.shape[1:]
    return np.take(table.ravel(), inv[:, None] * (k * a) + np.arange(k)[None, :] * a + cols)



def true_value(sim, candidates: np.ndarray, policy, users: np.ndarray, attract: np.ndarray | None = None) -> float:
    """Exact expected clicks per impression of ``policy``, averaged over ``users`` (position model only):
    ``mean_u Σ_p Σ_j π(j at p | u) · e(u, p) · a(u, candidate j)``."""
    if sim.config.click_model != "position":
        raise ValueError(f"true_value needs the position click model (additive over slots), not "
                         f"{sim.config.click_model!r}: use monte_carlo_value")  # fmt: skip
    users = np.asarray(users, dtype=np.int64)
    a = attract if attract is not None else sim.attractiveness(np.arange(len(candidates)), candidates)

    def per_user(u: np.ndarray) -> np.ndarray:
        q = policy.marginals(u)
        return np.einsum("npj,np,nj->n", q, sim.examination(u, policy.k), a[u])

    return float(_by_user_chunks(users, per_user).mean())


def monte_carlo_value(sim, candidates: np.ndarray, policy, users: np.ndarray, n_impressions: int,
                      rng: np.random.Generator | int) -> tuple[float, float]:  # fmt: skip
    """On-policy Monte-Carlo: show ``policy``'s own slates to ``n_impressions`` users drawn from ``users``;
    returns (mean clicks per impression, its standard error)."""
    rng = np.random.default_rng(rng)
    draw = np.asarray(users, dtype=np.int64)[rng.integers(0, len(users), size=n_impressions)]
    log = log_impressions(sim, candidates, policy, draw, rng)
    total = log.clicks.sum(axis=1)
    return float(total.mean()), float(total.std(ddof=1) / np.sqrt(n_impressions))
