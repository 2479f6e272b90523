"""Simulated users: given the slates they are shown, draw examinations, clicks, conversions, time.

Click models (Chuklin, Markov & de Rijke 2015, *Click Models for Web Search*):

- ``position`` (position-based model; Richardson et al. 2007): the item at 0-based
  rank ``r`` is examined with probability ``min(1, e(r) · m_u)``, where
  ``e(r) = (1 + r / position_scale) ** -position_exponent`` and ``m_u`` is the user's
  activity (log-normal, mean 1, stable per user); an examined item is clicked with
  probability ``a(u, i)``, the world's ``true_affinity``. Clicks are independent.
  One uniform ``x`` per cell draws both: examined iff ``x < e``, clicked iff
  ``x < e · a``, so that ``P(click | examined) = a``.
- ``cascade`` (Craswell et al. 2008): the user reads top-down, clicks the first
  attractive item (probability ``a(u, i)``) and stops; after each unclicked item
  they read on with probability ``cascade_continue``. At most one click.

A click converts with probability ``min(1, conversion_scale · a(u, i))``. A session
lasts ``browse_seconds`` per examined item plus an exponential watch time of mean
``watch_seconds`` per click. Sessions per user per day are Poisson with mean
``visit_rate · v_u`` (``v_u`` log-normal, mean 1, stable per user).

The world is anything with ``true_affinity(users [U], items [U, k]) -> [U, k]``:
the synthetic world's ``SyntheticTruth`` or the MovieLens oracle
(``workbench.experiment.oracle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from workbench.experiment.hashing import stable_normal

CLICK_MODELS = ("position", "cascade")
CHUNK_ROWS = 65_536
TABLE_CELLS = 1 << 24


class World(Protocol):
    def true_affinity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class SimulatorConfig:
    """Click model and user behaviour. Times in seconds, rates per user per day."""

    click_model: str = "position"
    position_scale: float = 2.0
    position_exponent: float = 1.0
    activity_sigma: float = 0.5
    cascade_continue: float = 0.9
    conversion_scale: float = 0.1
    browse_seconds: float = 4.0
    watch_seconds: float = 60.0
    visit_rate: float = 0.5
    visit_sigma: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.click_model not in CLICK_MODELS:
            raise ValueError(f"SimulatorConfig.click_model={self.click_model!r}: expected one of {CLICK_MODELS}")
        for name in ("position_scale", "visit_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SimulatorConfig.{name}={getattr(self, name)!r}: expected > 0")
        for name in ("position_exponent", "activity_sigma", "conversion_scale", "browse_seconds", "watch_seconds",
                     "visit_sigma"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"SimulatorConfig.{name}={getattr(self, name)!r}: expected >= 0")
        if not 0.0 <= self.cascade_continue <= 1.0:
            raise ValueError(f"SimulatorConfig.cascade_continue={self.cascade_continue!r}: expected in [0, 1]")


@dataclass(eq=False)
class Impressions:
    """Outcomes of ``N`` impressions (one slate shown once): cell arrays are ``[N, k]``."""

    users: np.ndarray
    items: np.ndarray
    examined: np.ndarray
    clicks: np.ndarray
    conversions: np.ndarray
    seconds: np.ndarray  # [N] session time in seconds

    @property
    def slots(self) -> np.ndarray:
        """int64 ``[N]``: real (non-padding) items shown per impression."""
        return (self.items >= 0).sum(axis=1)


@dataclass(eq=False)
class UserDays:
    """Per-user, per-day totals of an experiment: arrays ``[U, D]`` (D days).

    ``revenue`` and ``abandoned`` (requests left before the page loaded) exist only where the
    simulator models them (`workbench.experiment.retention`); ``users_leave`` says whether users
    could stop coming back (there, retention and return rate measure something the ranker did).
    """

    users: np.ndarray
    sessions: np.ndarray
    slots: np.ndarray
    clicks: np.ndarray
    conversions: np.ndarray
    seconds: np.ndarray
    revenue: np.ndarray | None = None
    abandoned: np.ndarray | None = None
    users_leave: bool = False

    @property
    def days(self) -> int:
        return self.sessions.shape[1]

    def cumulative(self) -> UserDays:
        """Running totals: column ``d`` holds everything up to and including day ``d``."""
        c = lambda a: None if a is None else np.cumsum(a, axis=1)  # noqa: E731
        return UserDays(self.users, c(self.sessions), c(self.slots), c(self.clicks), c(self.conversions), c(self.seconds),
                        c(self.revenue), c(self.abandoned), self.users_leave)  # fmt: skip


def unique_inverse(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)`` for non-negative ints, in O(N) when ids are dense."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0 or ids.min() < 0 or ids.max() > 4 * len(ids) + 1024:
        return np.unique(ids, return_inverse=True)
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[ids]


class UserSimulator:
    """Vectorised, seeded user simulator over a world with ``true_affinity``."""

    def __init__(self, world: World, config: SimulatorConfig | None = None) -> None:
        if not callable(getattr(world, "true_affinity", None)):
            raise TypeError(f"world {type(world).__name__} has no true_affinity(users, items) method")
        self.world = world
        self.config = config or SimulatorConfig()

    def activity(self, users: np.ndarray) -> np.ndarray:
        """Per-user examination multiplier ``m_u`` (log-normal, mean 1), fixed by (config.seed, user)."""
        s = self.config.activity_sigma
        return np.exp(s * stable_normal(f"activity:{self.config.seed}", users) - 0.5 * s * s)

    def visit_factor(self, users: np.ndarray) -> np.ndarray:
        """Per-user visit-rate multiplier ``v_u`` (log-normal, mean 1), fixed by (config.seed, user)."""
        s = self.config.visit_sigma
        return np.exp(s * stable_normal(f"visits:{self.config.seed}", users) - 0.5 * s * s)

    def attractiveness(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``a(u, i)`` for ``users [N]``, ``items [N, k]`` (0 at padding).

        When few distinct users repeat over many rows, the world is asked once for a
        (distinct user × item) table and the cells are gathered from it; otherwise it
        is asked in row chunks.
        """
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if items.ndim != 2 or items.shape[0] != len(users):
            raise ValueError(f"items must be [N={len(users)}, k], got shape {items.shape}")
        if items.size == 0:
            return np.zeros(items.shape)
        safe = np.maximum(items, 0)
        uniq, inv = unique_inverse(users)
        width = int(safe.max()) + 1
        if len(uniq) * width <= min(TABLE_CELLS, items.size):
            table = np.asarray(self.world.true_affinity(uniq, np.arange(width)), dtype=np.float64)
            out = np.take(table.ravel(), inv[:, None] * width + safe)
        else:
            out = np.empty(items.shape, dtype=np.float64)
            for lo in range(0, len(users), CHUNK_ROWS):
                out[lo : lo + CHUNK_ROWS] = self.world.true_affinity(users[lo : lo + CHUNK_ROWS], safe[lo : lo + CHUNK_ROWS])
        pad = items < 0
        if pad.any():
            out[pad] = 0.0
        return out

    def examination(self, users: np.ndarray, k: int) -> np.ndarray:
        """Position-based examination probability ``[N, k]``: ``min(1, e(r) · m_u)``."""
        c = self.config
        e = (1.0 + np.arange(k) / c.position_scale) ** -c.position_exponent
        uniq, inv = unique_inverse(users)
        return np.minimum(1.0, e[None, :] * self.activity(uniq)[inv][:, None])

    def simulate(
        self,
        users: np.ndarray,
        items: np.ndarray,
        rng: np.random.Generator | int,
        attract: np.ndarray | None = None,
        examine: np.ndarray | None = None,
    ) -> Impressions:
        """Show ``items [N, k]`` once to ``users [N]`` and draw what they do.

        ``attract`` / ``examine`` may be passed precomputed (``[N, k]``) when the same
        (user, slate) pairs are shown many times.
        """
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        a = self.attractiveness(users, items) if attract is None else attract
        n, k = items.shape
        c = self.config
        pad = items < 0
        if c.click_model == "position":
            e = self.examination(users, k) if examine is None else examine
            draw = rng.random((n, k))
            examined = draw < e
            clicks = draw < e * a
        else:
            attractive = rng.random((n, k)) < a
            first = attractive.argmax(axis=1)
            first[~attractive[np.arange(n), first]] = k
            if c.cascade_continue < 1.0:
                reach = rng.geometric(1.0 - c.cascade_continue, size=n)  # P(reach > r) = continue ** r
                first = np.minimum(first, reach - 1)
            examined = np.arange(k)[None, :] <= first[:, None]
            clicks = examined & attractive
        if pad.any():
            examined &= ~pad
        rows, cols = np.nonzero(clicks)
        p_conv = np.minimum(1.0, c.conversion_scale * a[rows, cols])
        conversions = np.zeros_like(clicks)
        conversions[rows, cols] = rng.random(len(rows)) < p_conv
        watch = np.bincount(rows, weights=rng.exponential(c.watch_seconds, size=len(rows)), minlength=n)
        seconds = c.browse_seconds * np.count_nonzero(examined, axis=1) + watch
        return Impressions(users, items, examined, clicks, conversions, seconds)

    def simulate_days(
        self,
        users: np.ndarray,
        items: np.ndarray,
        days: int,
        rng: np.random.Generator | int,
        sessions: np.ndarray | None = None,
    ) -> UserDays:
        """Run ``days`` days: each user sees their slate ``items[u]`` in every session.

        Sessions per user-day ~ Poisson(``visit_rate · v_u``) unless ``sessions [U, days]``
        gives the counts. Simulated in blocks of sessions; returns per-user-day totals.
        """
        if days < 1:
            raise ValueError(f"days={days!r}: expected a positive integer")
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        u = len(users)
        if sessions is None:
            rate = self.config.visit_rate * self.visit_factor(users)
            sessions = rng.poisson(np.repeat(rate[:, None], days, axis=1))
        sessions = np.asarray(sessions, dtype=np.int64)
        if sessions.shape != (u, days) or (sessions < 0).any():
            raise ValueError(f"sessions must be non-negative counts of shape {(u, days)}, got {sessions.shape}")
        cell = np.repeat(np.arange(u * days), sessions.ravel())
        a = self.attractiveness(users, items)
        e = self.examination(users, items.shape[1]) if self.config.click_model == "position" else None
        totals = np.zeros((4, u * days))
        for lo in range(0, len(cell), CHUNK_ROWS * 4):
            c = cell[lo : lo + CHUNK_ROWS * 4]
            row = c // days
            imp = self.simulate(users[row], items[row], rng, attract=a[row], examine=None if e is None else e[row])
            for j, w in enumerate((imp.slots, imp.clicks.sum(axis=1), imp.conversions.sum(axis=1), imp.seconds)):
                totals[j] += np.bincount(c, weights=w, minlength=u * days)
        slots, clicks, conversions, seconds = (t.reshape(u, days) for t in totals)
        return UserDays(users, sessions, slots, clicks, conversions, seconds)

    def expected_ctr(self, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean and variance of one session's per-user CTR (clicks / slots), position model only.

        Clicks are independent Bernoulli(``e · a``), so the mean is ``Σ e·a / slots`` and the
        variance ``Σ e·a (1 − e·a) / slots²``.
        """
        if self.config.click_model != "position":
            raise ValueError(f"expected_ctr needs the position model, not {self.config.click_model!r}")
        items = np.asarray(items, dtype=np.int64)
        p = self.examination(users, items.shape[1]) * self.attractiveness(users, items)
        slots = np.maximum(1, (items >= 0).sum(axis=1))
        return p.sum(axis=1) / slots, (p * (1.0 - p)).sum(axis=1) / slots**2
