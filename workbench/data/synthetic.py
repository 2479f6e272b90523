"""The embedded default data set: a seeded synthetic world whose ground truth is known.

Every user and item has a hidden taste vector; genres are clusters in that taste
space, so content (genres) carries real but partial signal. The logged
interactions are what a biased production system would record:

1. **Exposure** (popularity bias): each user is shown an impression list chosen by a
   logging policy that favours popular and recent items (a Zipf popularity skew)
   and only weakly follows the user's true taste.
2. **Examination** (position bias): the item at 0-based position ``r`` of that list
   is looked at with probability ``(1 + r / position_scale) ** -position_exponent``.
3. **Attraction**: an examined item is clicked with probability
   ``true_affinity(u, i) = sigmoid(scale · <p_u, q_i> + b_i + offset)``
   (position-based click model; Richardson et al. 2007, Chuklin et al. 2015).

Clicks become interactions with timestamps after both the user's join date and the
item's release date. ``SyntheticTruth.true_affinity`` keeps step 3 for the online
experiment simulators, which can then measure what a recommender really earns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset

GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family", "Fantasy",
    "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Sport", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS = ("student", "engineer", "educator", "artist", "healthcare", "retired", "sales", "other")
REFERENCE_TS = 1_767_225_600  # 2026-01-01T00:00:00Z, the synthetic world's "now"


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and biases of the synthetic world (defaults: ~3k users, ~2k items, ~90k clicks, ~1 s)."""

    n_users: int = 3000
    n_items: int = 2000
    n_genres: int = 18
    dim: int = 16
    impressions_per_user: int = 200
    popularity_exponent: float = 1.0  # Zipf exponent of the logging policy's exposure
    taste_in_logging: float = 0.5  # how much the logging policy follows true taste (0 = none)
    position_scale: float = 10.0
    position_exponent: float = 0.6
    affinity_scale: float = 3.0
    affinity_offset: float = -1.5
    catalogue_days: float = 1095.0  # items released over the last three years
    history_days: float = 365.0  # users joined over the last year
    available_fraction: float = 0.95
    promoted_fraction: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items", "n_genres", "dim", "impressions_per_user"):
            if getattr(self, name) < 1:
                raise ValueError(f"SyntheticConfig.{name}={getattr(self, name)!r}: expected a positive integer")
        if self.impressions_per_user > self.n_items:
            raise ValueError(
                f"SyntheticConfig.impressions_per_user={self.impressions_per_user} exceeds n_items={self.n_items}"
            )
        if not 1 <= self.n_genres <= len(GENRES):
            raise ValueError(f"SyntheticConfig.n_genres={self.n_genres}: expected 1..{len(GENRES)}")


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """The hidden tastes behind the synthetic world."""

    user_factors: np.ndarray  # [n_users, dim]
    item_factors: np.ndarray  # [n_items, dim]
    item_bias: np.ndarray  # [n_items], intrinsic quality
    scale: float
    offset: float

    def affinity_logit(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``scale · <p_u, q_i> + b_i + offset`` for ``users [U]`` and ``items [U, m]`` or ``[m]``."""
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.asarray(items, dtype=np.int64)
        if items.ndim == 1:
            safe = np.where(items >= 0, items, 0)
            return self.scale * (self.user_factors[users] @ self.item_factors[safe].T) + self.item_bias[safe] + self.offset
        if items.shape[0] != len(users):
            raise ValueError(f"items has {items.shape[0]} rows but {len(users)} users were given")
        safe = np.where(items >= 0, items, 0)
        dots = np.einsum("ud,umd->um", self.user_factors[users], self.item_factors[safe])
        return self.scale * dots + self.item_bias[safe] + self.offset

    def true_affinity(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Probability in (0, 1) that user ``u`` clicks item ``i`` once examined.

        users: int ``[U]``; items: int ``[U, m]`` (per-user lists) or ``[m]`` (same for all).
        Returns float64 ``[U, m]``; padding cells (item ``-1``) get 0.
        """
        items_arr = np.asarray(items)
        prob = 1.0 / (1.0 + np.exp(-self.affinity_logit(users, items_arr)))
        mask = np.broadcast_to(items_arr >= 0, prob.shape)
        return np.where(mask, prob, 0.0)


def make_synthetic(config: SyntheticConfig | None = None, **overrides) -> Dataset:
    """Generate the synthetic world. ``make_synthetic(seed=1, n_users=500)`` overrides config fields."""
    cfg = config or SyntheticConfig()
    if overrides:
        cfg = SyntheticConfig(**{**cfg.__dict__, **overrides})
    rng = np.random.default_rng(cfg.seed)
    nu, ni, ng, d = cfg.n_users, cfg.n_items, cfg.n_genres, cfg.dim

    # Genres are directions in taste space; items sit near the mean of their genres.
    centroids = rng.normal(size=(ng, d)) / np.sqrt(d) * 1.5
    genre_weight = rng.dirichlet(np.full(ng, 2.0))
    primary = rng.choice(ng, size=ni, p=genre_weight)
    extra = rng.random((ni, ng)) < 0.08
    genres = extra.astype(np.float32)
    genres[np.arange(ni), primary] = 1.0
    item_factors = (genres @ centroids) / genres.sum(1, keepdims=True) + rng.normal(size=(ni, d)) / np.sqrt(d) * 0.7
    item_bias = rng.normal(0.0, 0.5, size=ni)

    fav = rng.dirichlet(np.full(ng, 0.3), size=nu)
    user_factors = fav @ centroids + rng.normal(size=(nu, d)) / np.sqrt(d) * 0.7
    truth = SyntheticTruth(user_factors, item_factors, item_bias, cfg.affinity_scale, cfg.affinity_offset)

    # Item release dates and the logging policy's popularity skew.
    age_days = rng.uniform(0.0, cfg.catalogue_days, size=ni)
    release_ts = (REFERENCE_TS - age_days * SECONDS_PER_DAY).astype(np.int64)
    pop_rank = rng.permutation(ni)
    log_pop = -cfg.popularity_exponent * np.log1p(pop_rank)

    logit = truth.affinity_logit(np.arange(nu), np.arange(ni))
    logging_score = log_pop[None, :] + cfg.taste_in_logging * logit - age_days[None, :] / 365.0
    logging_score += rng.gumbel(size=(nu, ni))
    L = cfg.impressions_per_user
    shown = np.argpartition(-logging_score, L - 1, axis=1)[:, :L]
    order = np.argsort(-np.take_along_axis(logging_score, shown, axis=1), axis=1)
    shown = np.take_along_axis(shown, order, axis=1)

    activity = rng.lognormal(0.0, 0.6, size=nu)
    examine = (1.0 + np.arange(L) / cfg.position_scale) ** -cfg.position_exponent
    p_examine = np.clip(examine[None, :] * activity[:, None], 0.0, 1.0)
    p_click = 1.0 / (1.0 + np.exp(-np.take_along_axis(logit, shown, axis=1)))
    clicked = rng.random((nu, L)) < p_examine * p_click
    # Every user keeps at least their most attractive shown item, so no user is empty.
    best = np.argmax(p_click * p_examine, axis=1)
    clicked[np.arange(nu), best] = True

    u_idx, pos = np.nonzero(clicked)
    i_idx = shown[u_idx, pos]
    join_ts = REFERENCE_TS - rng.uniform(0.0, cfg.history_days, size=nu) * SECONDS_PER_DAY
    start = np.maximum(join_ts[u_idx], release_ts[i_idx])
    ts = (start + rng.random(len(u_idx)) * (REFERENCE_TS - start)).astype(np.int64)
    p = p_click[u_idx, pos]
    rating = np.clip(np.rint(1.0 + 4.0 * p + rng.normal(0.0, 0.7, size=len(p))), 1, 5).astype(np.float32)
    interactions = pd.DataFrame({"user": u_idx, "item": i_idx, "timestamp": ts, "rating": rating})

    genre_names = GENRES[:ng]
    items = pd.DataFrame(
        {
            "item_id": np.arange(ni),
            "title": [f"{genre_names[g]} title {i:05d}" for i, g in enumerate(primary)],
            "category": primary.astype(np.int64),
            "release_ts": release_ts,
            "release_year": pd.to_datetime(release_ts, unit="s").year.to_numpy(),
            "age_days": age_days,
            "available": rng.random(ni) < cfg.available_fraction,
            "promoted": rng.random(ni) < cfg.promoted_fraction,
        }
    )
    users = pd.DataFrame(
        {
            "user_id": np.arange(nu),
            "age": rng.integers(16, 70, size=nu),
            "gender": rng.choice(np.array(["F", "M"]), size=nu),
            "occupation": rng.choice(np.array(OCCUPATIONS), size=nu),
        }
    )
    # Content vectors: genres (unit-normalised), release era, and a noisy "content embedding"
    # that a text/image model might extract (a random projection of the true item taste).
    projection = rng.normal(size=(d, 8)) / np.sqrt(d)
    embed = item_factors @ projection + rng.normal(size=(ni, 8)) * 0.3
    features = np.hstack(
        [
            genres / np.sqrt(genres.sum(1, keepdims=True)),
            (age_days / cfg.catalogue_days)[:, None],
            embed / np.linalg.norm(embed, axis=1, keepdims=True),
        ]
    ).astype(np.float32)
    ds = Dataset(
        name="synthetic",
        interactions=interactions,
        items=items,
        users=users,
        item_genres=genres,
        item_features=features,
        genre_names=genre_names,
        category_names=genre_names,
        reference_ts=REFERENCE_TS,
        truth=truth,
        notes={"config": cfg},
    )
    return ds.with_interactions(interactions)
