"""Users who can leave and come back, requests abandoned for latency, items with a value and a price.

The plain simulator (`workbench.experiment.simulator`) draws each user's visits from a fixed
rate: nothing a ranker does changes whether a user comes back. Here it does.

**Item value and price** (`Catalogue`). Each item has a *value*: the mean seconds a click on it
is watched, which is what the user gets out of it (their satisfaction), and a *price*: the
revenue of one conversion (log-normal, mean ``mean_price``). A share ``clickbait_share`` of
items is *clickbait*: it draws more clicks (`BaitedWorld` raises ``a(u, i)`` to
``a + boost · (1 − a)``) and is worth a fraction ``clickbait_value`` of a normal item's value.

**Returning** (`RetentionSimulator`). Day 0 is every user's first visit. After each visit the
user comes back (on some later day) with probability

    ρ(V) = floor + (ceiling − floor) · (1 − exp(−V / value_scale))

where ``V`` is the value consumed in that visit: the sum of the values of the items clicked
(the truth, not the clicks: ten clickbait clicks are worth less than two good ones). A user
who does not come back has left for good. A user who will come back visits on each later
day with probability ``visit_prob``.

**Abandoning** (`abandonment`). A request served in ``L`` ms is abandoned before the page
loads with probability ``1 − (1 − loss_per_100ms) ** (L / 100)``: each 100 ms loses the same
share of the requests still waiting. An abandoned request shows nothing and consumes no
value (so it lowers the chance of coming back too). This is a **modelling assumption**,
calibrated on published findings that measured sales or searches, not abandonment itself:

- Amazon: every 100 ms of added latency cost about 1% of sales (G. Linden, "Make Data
  Useful", 2006 talk slides); the default ``loss_per_100ms = 0.01`` is this figure;
- Google: 100–400 ms of injected server delay cut searches per user by 0.2–0.6%
  (J. Brutlag, "Speed Matters for Google Web Search", Google, 2009): a smaller effect;
- Akamai: a 100 ms delay in load time cut conversion rates by 7% ("The State of Online
  Retail Performance", Akamai, 2017): a larger one.

**Truth** (`RetentionSimulator.truth`), exact under the position click model: with
``p = e·a`` per slot (clicks independent), ``s = 1 − P(abandon)``,
``E[exp(−V/scale)] = Π_r (1 − p_r (1 − exp(−v_r / scale)))``, so
``ρ = (1 − s)·floor + s·(ceiling − (ceiling − floor)·Π)``. With ``q = visit_prob``, a user
has a session on day ``n ≥ 1`` with probability ``ρ q (1 − q + q ρ)^(n − 1)`` (D7 retention
at ``n = 7``) and comes back within ``D`` days with probability ``ρ (1 − (1 − q)^(D − 1))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.experiment.hashing import key64, stable_normal, stable_uniform
from workbench.experiment.simulator import SimulatorConfig, UserDays, UserSimulator

LATENCY_SOURCES = (
    "Linden 2006 (Amazon: +100 ms cost about 1% of sales)",
    "Brutlag 2009 (Google: +100-400 ms cut searches per user by 0.2-0.6%)",
    "Akamai 2017 (+100 ms cut conversion rates by 7%)",
)


def abandonment(latency_ms, loss_per_100ms: float = 0.01) -> np.ndarray:
    """P(a request served in ``latency_ms`` is abandoned) ``= 1 − (1 − loss_per_100ms) ** (latency_ms / 100)``."""
    lat = np.asarray(latency_ms, dtype=np.float64)
    if not 0.0 <= loss_per_100ms < 1.0:
        raise ValueError(f"loss_per_100ms={loss_per_100ms!r}: expected a share in [0, 1)")
    if not np.isfinite(lat).all() or (lat < 0).any():
        raise ValueError(f"latency_ms={latency_ms!r}: expected finite, non-negative milliseconds")
    return -np.expm1(lat / 100.0 * np.log1p(-loss_per_100ms))


@dataclass(frozen=True)
class RetentionConfig:
    """How users come back and how latency makes them abandon; see the module docstring."""

    visit_prob: float = 0.6
    return_floor: float = 0.5
    return_ceiling: float = 0.95
    value_scale: float = 120.0
    loss_per_100ms: float = 0.01

    def __post_init__(self) -> None:
        for name in ("visit_prob", "return_floor", "return_ceiling"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"RetentionConfig.{name}={getattr(self, name)!r}: expected a probability in [0, 1]")
        if self.visit_prob == 0.0:
            raise ValueError("RetentionConfig.visit_prob=0.0: expected > 0 (nobody would ever come back)")
        if self.return_floor > self.return_ceiling:
            raise ValueError(f"RetentionConfig.return_floor={self.return_floor!r} exceeds return_ceiling="
                             f"{self.return_ceiling!r}: expected floor <= ceiling")  # fmt: skip
        if not self.value_scale > 0:
            raise ValueError(f"RetentionConfig.value_scale={self.value_scale!r}: expected > 0 seconds")
        if not 0.0 <= self.loss_per_100ms < 1.0:
            raise ValueError(f"RetentionConfig.loss_per_100ms={self.loss_per_100ms!r}: expected a share in [0, 1)")

    def return_prob(self, value) -> np.ndarray:
        """ρ(V): the chance of coming back after a visit that consumed ``value`` seconds of value."""
        v = np.asarray(value, dtype=np.float64)
        return self.return_ceiling - (self.return_ceiling - self.return_floor) * np.exp(-v / self.value_scale)


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Per item: ``value`` (mean watch seconds of a click: the satisfaction it gives), ``price`` (revenue of a
    conversion), ``clickbait`` (bool) and ``boost`` (how much clickbait raises the chance of a click)."""

    value: np.ndarray
    price: np.ndarray
    clickbait: np.ndarray
    boost: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.value)
        if len(self.price) != n or len(self.clickbait) != n:
            raise ValueError(f"value, price and clickbait must have one entry per item, got {n}, {len(self.price)}, "
                             f"{len(self.clickbait)}")  # fmt: skip
        if (np.asarray(self.value) < 0).any() or (np.asarray(self.price) < 0).any():
            raise ValueError("item values and prices must be non-negative")
        if not 0.0 <= self.boost <= 1.0:
            raise ValueError(f"Catalogue.boost={self.boost!r}: expected a share in [0, 1]")

    @property
    def n_items(self) -> int:
        return len(self.value)


def make_catalogue(n_items: int, clickbait_share: float = 0.0, boost: float = 0.5, clickbait_value: float = 0.2,
                   watch_seconds: float = 60.0, mean_price: float = 10.0, price_sigma: float = 0.5,
                   seed: int = 0) -> Catalogue:  # fmt: skip
    """Items ``0..n_items-1``: clickbait where ``stable_uniform(seed, item) < clickbait_share`` (so a larger share
    keeps the smaller share's items), value ``watch_seconds`` (times ``clickbait_value`` for clickbait),
    price log-normal with mean ``mean_price``."""
    if not 0.0 <= clickbait_share <= 1.0:
        raise ValueError(f"clickbait_share={clickbait_share!r}: expected a share in [0, 1]")
    if not 0.0 <= clickbait_value <= 1.0:
        raise ValueError(f"clickbait_value={clickbait_value!r}: expected a fraction in [0, 1]")
    if not (watch_seconds >= 0 and mean_price >= 0 and price_sigma >= 0):
        raise ValueError(f"watch_seconds={watch_seconds!r}, mean_price={mean_price!r}, price_sigma={price_sigma!r}: "
                         "expected >= 0")  # fmt: skip
    items = np.arange(n_items)
    bait = stable_uniform(key64(f"clickbait:{seed}"), items) < clickbait_share
    value = np.where(bait, clickbait_value * watch_seconds, watch_seconds)
    price = mean_price * np.exp(price_sigma * stable_normal(f"price:{seed}", items) - 0.5 * price_sigma**2)
    return Catalogue(value, price, bait, boost)


class BaitedWorld:
    """A world whose clickbait items draw more clicks: ``a'(u, i) = a + boost · (1 − a)`` where ``i`` is clickbait."""

    def __init__(self, world, catalogue: Catalogue) -> None:
        self.world, self.catalogue = world, catalogue

    def true_affinity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        a = np.asarray(self.world.true_affinity(users, items), dtype=np.float64)
        bait = self.catalogue.clickbait[np.asarray(items, dtype=np.int64)]
        return a + self.catalogue.boost * (1.0 - a) * bait


class RetentionSimulator(UserSimulator):
    """The position/cascade simulator with returning users, abandonment and revenue (module docstring)."""

    def __init__(self, world, catalogue: Catalogue, retention: RetentionConfig | None = None,
                 config: SimulatorConfig | None = None) -> None:  # fmt: skip
        super().__init__(BaitedWorld(world, catalogue), config)
        self.catalogue = catalogue
        self.retention = retention or RetentionConfig()

    def simulate_days(self, users: np.ndarray, items: np.ndarray, days: int, rng: np.random.Generator | int,
                      sessions: np.ndarray | None = None, latency_ms=0.0) -> UserDays:  # fmt: skip
        """Run ``days`` days from every user's first visit on day 0; each sees ``items[u]`` at every visit.

        ``latency_ms``: one figure or one per user. ``sessions`` must be None: here visits follow from
        what users got, not from a given schedule. Returns per-user-day totals with ``revenue``,
        ``abandoned`` and ``users_leave=True``; ``sessions`` counts requests (abandoned ones included).
        """
        if sessions is not None:
            raise ValueError("RetentionSimulator draws its own visits (users come back or leave): sessions must be None")
        if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
            raise ValueError(f"days={days!r}: expected a positive integer")
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        u, k = len(users), items.shape[1]
        if items.shape[0] != u:
            raise ValueError(f"items must be [U={u}, k], got shape {items.shape}")
        p_ab = np.broadcast_to(abandonment(latency_ms, self.retention.loss_per_100ms), (u,))
        a = self.attractiveness(users, items)
        e = self.examination(users, k) if self.config.click_model == "position" else None
        safe = np.maximum(items, 0)
        value = np.where(items >= 0, self.catalogue.value[safe], 0.0)
        price = np.where(items >= 0, self.catalogue.price[safe], 0.0)
        out = {n: np.zeros((u, days)) for n in ("sessions", "abandoned", "slots", "clicks", "conversions", "seconds", "revenue")}
        alive = np.ones(u, dtype=bool)
        for d in range(days):
            visit = alive & ((rng.random(u) < self.retention.visit_prob) if d else True)
            left = visit & (rng.random(u) < p_ab)
            served = np.flatnonzero(visit & ~left)
            consumed = np.zeros(u)
            imp = self.simulate(users[served], items[served], rng, attract=a[served], examine=None if e is None else e[served])
            rows, cols = np.nonzero(imp.clicks)
            watch = np.bincount(rows, weights=rng.exponential(value[served][rows, cols]), minlength=len(served))
            consumed[served] = (imp.clicks * value[served]).sum(axis=1)
            out["sessions"][:, d] = visit
            out["abandoned"][:, d] = left
            out["slots"][served, d] = imp.slots
            out["clicks"][served, d] = imp.clicks.sum(axis=1)
            out["conversions"][served, d] = imp.conversions.sum(axis=1)
            out["seconds"][served, d] = self.config.browse_seconds * imp.examined.sum(axis=1) + watch
            out["revenue"][served, d] = (imp.conversions * price[served]).sum(axis=1)
            stay = rng.random(u) < self.retention.return_prob(consumed)
            alive &= ~visit | stay
        return UserDays(users, out["sessions"], out["slots"], out["clicks"], out["conversions"], out["seconds"],
                        out["revenue"], out["abandoned"], users_leave=True)  # fmt: skip

    def truth(self, users: np.ndarray, items: np.ndarray, days: int = 28, latency_ms=0.0) -> pd.DataFrame:
        """Exact per-user expectations (position model): ``p_abandon``; per served visit ``clicks``, ``ctr``,
        ``value`` and ``revenue``; ``p_return`` (ρ); ``d7_retention``; ``return_rate`` within ``days``;
        ``visits`` (expected requests in ``days``) and ``revenue_per_user`` over ``days``."""
        if self.config.click_model != "position":
            raise ValueError(f"truth needs the position click model, not {self.config.click_model!r}")
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        r = self.retention
        pad = items >= 0
        p = self.examination(users, items.shape[1]) * self.attractiveness(users, items) * pad
        safe = np.maximum(items, 0)
        v = self.catalogue.value[safe] * pad
        conv = np.minimum(1.0, self.config.conversion_scale * self.attractiveness(users, items))
        s = 1.0 - np.broadcast_to(abandonment(latency_ms, r.loss_per_100ms), (len(users),))
        keep = np.prod(1.0 - p * -np.expm1(-v / r.value_scale), axis=1)
        served_rho = r.return_ceiling - (r.return_ceiling - r.return_floor) * keep
        rho = (1.0 - s) * r.return_floor + s * served_rho
        q = r.visit_prob
        stay = 1.0 - q + q * rho
        n = np.arange(1, days)
        visits = 1.0 + (rho[:, None] * q * stay[:, None] ** (n - 1)[None, :]).sum(axis=1)
        rev = (p * conv * self.catalogue.price[safe] * pad).sum(axis=1)
        return pd.DataFrame({
            "user": users, "p_abandon": 1.0 - s, "clicks": p.sum(axis=1),
            "ctr": p.sum(axis=1) / np.maximum(1, pad.sum(axis=1)), "value": (p * v).sum(axis=1), "revenue": rev,
            "p_return": rho, "d7_retention": rho * q * stay**6, "return_rate": rho * (1.0 - (1.0 - q) ** (days - 1)),
            "visits": visits, "revenue_per_user": visits * s * rev,
        })  # fmt: skip
