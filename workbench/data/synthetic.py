"""The embedded default data set: a seeded synthetic world whose ground truth is known.

Every user and item has a hidden taste vector; genres are clusters in that taste
space, so content (genres) carries real but partial signal. The logged
interactions are what a biased production system would record:

1. **Exposure** (popularity bias): each user is shown an impression list of
   ``impressions_per_user`` distinct items, drawn by a logging policy that favours popular
   and recent items (a Zipf popularity skew) and only weakly follows the user's taste, at
   the level of categories: it knows how much the user likes each primary genre on average,
   not each item. Item ``i`` (primary genre ``c``) weighs
   ``w_ui = (1 + pop_rank_i) ** -popularity_exponent · exp(−age_i / 365 + taste_in_logging ·
   (b_i + scale · <p_u, q̄_c>))``, with ``q̄_c`` the mean true item vector of genre ``c``; the
   list is a Plackett–Luce draw from these weights (successive sampling without replacement,
   the first draw at the top).
2. **Examination** (position bias): the item at 0-based position ``r`` of that list
   is looked at with probability ``(1 + r / position_scale) ** -position_exponent``.
3. **Attraction**: an examined item is clicked with probability
   ``true_affinity(u, i) = sigmoid(scale · <p_u, q_i> + b_i + offset)``
   (position-based click model; Richardson et al. 2007, Chuklin et al. 2015).

Clicks become interactions with timestamps after both the user's join date and the
item's release date. ``SyntheticTruth.true_affinity`` keeps step 3 for the online
experiment simulators, which can then measure what a recommender really earns; it is
computed on demand from the taste vectors, for any users and items.

Cost: O(users · impressions_per_user), never O(users · items). Because the logging policy
weighs a user's items through their genre alone, a user's list is drawn in two steps (a genre
from ``A_c · exp(taste_in_logging · scale · <p_u, q̄_c>)``, ``A_c`` the genre's summed item
weight, then an item of that genre by its weight) with repeats skipped, and affinities are
computed only for the items shown. (Where the catalogue is at most ten lists long, the same
law is drawn as the top of Gumbel-perturbed log-weights over the whole catalogue.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset
from workbench.lists import apply_order, compact

GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family", "Fantasy",
    "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Sport", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS = ("student", "engineer", "educator", "artist", "healthcare", "retired", "sales", "other")
REFERENCE_TS = 1_767_225_600  # 2026-01-01T00:00:00Z, the synthetic world's "now"
CHUNK_CELLS = 1 << 22  # cells per chunk of users (about 32 MB of float64): bounds generation memory


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and biases of the synthetic world (defaults: ~3k users, ~2k items, ~70k clicks, under 1 s)."""

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
    """The hidden tastes behind the synthetic world, and the logging policy that exposed its items.

    Everything is computed on demand from the vectors, for any users and items (vectorised):
    ``true_affinity`` (the click probability once examined) and ``logging_logit`` (the log-weight
    of the logging policy's Plackett–Luce lists, up to a per-user constant).
    """

    user_factors: np.ndarray  # [n_users, dim]
    item_factors: np.ndarray  # [n_items, dim]
    item_bias: np.ndarray  # [n_items], intrinsic quality
    scale: float
    offset: float
    logging_item_logit: np.ndarray | None = None  # [n_items]: the logging policy's item term
    item_genre: np.ndarray | None = None  # [n_items]: primary genre
    logging_genre_factors: np.ndarray | None = None  # [n_genres, dim]: taste_in_logging · scale · mean q of the genre

    def logging_logit(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The logging policy's log-weight of each item for each user: ``logging_item_logit[i] +
        <p_u, logging_genre_factors[genre(i)]>``; ``users [U]``, ``items [U, m]`` or ``[m]`` → ``[U, m]``."""
        if self.logging_item_logit is None:
            raise ValueError("this truth carries no logging policy")
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        items = np.maximum(np.asarray(items, dtype=np.int64), 0)
        genre_logit = self.user_factors[users] @ self.logging_genre_factors.T  # [U, n_genres]
        if items.ndim == 1:
            return self.logging_item_logit[items][None, :] + genre_logit[:, self.item_genre[items]]
        return self.logging_item_logit[items] + np.take_along_axis(genre_logit, self.item_genre[items], axis=1)

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


def sample_lists(log_weight: np.ndarray, group: np.ndarray, user_group_logit: np.ndarray, length: int,
                 rng: np.random.Generator, method: str = "auto") -> np.ndarray:  # fmt: skip
    """Plackett–Luce lists: for each user ``u``, ``length`` distinct items drawn one after another
    without replacement, item ``i`` with weight ``exp(log_weight[i] + user_group_logit[u, group[i]])``.

    log_weight: float ``[n_items]``; group: int ``[n_items]`` in ``0..G-1``; user_group_logit:
    float ``[n_users, G]``. Returns int64 ``[n_users, length]``, the first draw first.

    method "draws": a group by its weight ``Σ_{i∈g} exp(log_weight[i]) · exp(user_group_logit[u, g])``,
    then an item of it by ``log_weight``, repeats skipped until ``length`` distinct items are drawn
    (the distinct values of an i.i.d. sequence, in order of first appearance, are a successive
    sample without replacement): O(users · length) when the lists are short against the catalogue.
    "dense": the top ``length`` of ``log-weight + Gumbel noise`` over all items (the same law;
    O(users · items), faster for short catalogues). "auto": dense when ``n_items <= 10 · length``, else draws.
    """
    n_items, n_groups = len(log_weight), user_group_logit.shape[1]
    if not 1 <= length <= n_items:
        raise ValueError(f"length={length}: expected 1..{n_items} (the number of items)")
    if method not in ("auto", "dense", "draws"):
        raise ValueError(f"method={method!r}: expected 'auto', 'dense' or 'draws'")
    n_users = user_group_logit.shape[0]
    out = np.empty((n_users, length), dtype=np.int64)
    if method == "dense" or (method == "auto" and n_items <= 10 * length):
        step = max(1, CHUNK_CELLS // n_items)
        for lo in range(0, n_users, step):
            score = log_weight[None, :] + user_group_logit[lo : lo + step][:, group] + rng.gumbel(size=(min(step, n_users - lo), n_items))
            top = np.argpartition(-score, length - 1, axis=1)[:, :length]
            order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1)
            out[lo : lo + step] = np.take_along_axis(top, order, axis=1)
        return out

    # Items sorted by group; within group g the keys g + (cumulative weight / group weight) end at g + 1.
    by_group = np.argsort(group, kind="stable")
    g_sorted = group[by_group]
    w = np.exp(log_weight - log_weight.max())[by_group]
    group_weight = np.bincount(g_sorted, weights=w, minlength=n_groups)
    cum = np.cumsum(w)
    start = np.searchsorted(g_sorted, np.arange(n_groups))  # first sorted position of each group
    end = np.searchsorted(g_sorted, np.arange(n_groups), side="right")
    before = np.concatenate([[0.0], cum])[start]
    keys = g_sorted + (cum - before[g_sorted]) / np.where(group_weight > 0, group_weight, 1.0)[g_sorted]
    keys[end[group_weight > 0] - 1] = np.flatnonzero(group_weight > 0) + 1.0
    log_group = np.log(np.where(group_weight > 0, group_weight, 1.0))
    absent = group_weight <= 0
    step = max(1, CHUNK_CELLS // (4 * length))
    for lo in range(0, n_users, step):
        logits = user_group_logit[lo : lo + step] + log_group[None, :]
        logits[:, absent] = -np.inf
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        cdf = np.cumsum(p, axis=1)
        cdf = cdf[:, :-1] / cdf[:, -1:]  # a group is the number of inner boundaries below a uniform draw

        def draw(rows: np.ndarray, m: int) -> np.ndarray:
            g = (rng.random((len(rows), m, 1)) >= cdf[rows][:, None, :]).sum(axis=2)
            at = np.searchsorted(keys, g + rng.random((len(rows), m)), side="right")
            return by_group[np.minimum(at, end[g] - 1)]

        # Draw 2·length per user; users still short of length distinct items draw as many again (doubling).
        rows = np.arange(len(cdf))
        drawn = draw(rows, 2 * length)
        while len(rows):
            first = _first_occurrence(drawn, n_items)
            done = first.sum(axis=1) >= length
            out[lo + rows[done]] = apply_order(drawn[done], compact(first[done], length))
            rows, drawn = rows[~done], drawn[~done]
            if len(rows):
                drawn = np.hstack([drawn, draw(rows, drawn.shape[1])])
    return out


def _first_occurrence(values: np.ndarray, n_values: int) -> np.ndarray:
    """bool, True at the first cell of each distinct value (``0..n_values-1``) of each row."""
    m = values.shape[1]
    dtype = np.int32 if n_values * m < 2**31 else np.int64
    key = np.sort(values.astype(dtype) * dtype(m) + np.arange(m, dtype=dtype), axis=1)  # by value, then by column: a run's head is its first cell
    head = np.ones(key.shape, dtype=bool)
    head[:, 1:] = key[:, 1:] // m != key[:, :-1] // m
    first = np.zeros(values.shape, dtype=bool)
    rows = np.broadcast_to(np.arange(len(values))[:, None], key.shape)
    first[rows[head], key[head] % m] = True
    return first


def make_synthetic(config: SyntheticConfig | None = None, **overrides) -> Dataset:
    """Generate the synthetic world. ``make_synthetic(seed=1, n_users=500)`` overrides config fields.

    The taste vectors, genres, item biases, release dates and popularity ranks are drawn from
    ``default_rng(seed)`` first; the impression lists, the clicks and the remaining tables each
    from their own stream spawned from it, so that a change in one does not move the others.
    """
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

    # Item release dates and the logging policy's popularity skew.
    age_days = rng.uniform(0.0, cfg.catalogue_days, size=ni)
    release_ts = (REFERENCE_TS - age_days * SECONDS_PER_DAY).astype(np.int64)
    pop_rank = rng.permutation(ni)
    log_rng, click_rng, table_rng = rng.spawn(3)

    # 1. Exposure: the logging policy's lists, from item weights and each user's taste per genre.
    t = cfg.taste_in_logging
    genre_mean = np.zeros((ng, d))
    np.add.at(genre_mean, primary, item_factors)
    genre_mean /= np.maximum(np.bincount(primary, minlength=ng), 1)[:, None]
    truth = SyntheticTruth(
        user_factors, item_factors, item_bias, cfg.affinity_scale, cfg.affinity_offset,
        logging_item_logit=-cfg.popularity_exponent * np.log1p(pop_rank) - age_days / 365.0 + t * item_bias,
        item_genre=primary.astype(np.int64), logging_genre_factors=t * cfg.affinity_scale * genre_mean,
    )  # fmt: skip
    L = cfg.impressions_per_user
    shown = sample_lists(truth.logging_item_logit, truth.item_genre, user_factors @ truth.logging_genre_factors.T,
                         L, log_rng)  # fmt: skip

    # 2-3. Examination and attraction, for the shown items only.
    activity = click_rng.lognormal(0.0, 0.6, size=nu)
    examine = (1.0 + np.arange(L) / cfg.position_scale) ** -cfg.position_exponent
    p_click = np.empty((nu, L))
    step = max(1, CHUNK_CELLS // (L * d))
    for lo in range(0, nu, step):
        p_click[lo : lo + step] = truth.true_affinity(np.arange(lo, min(lo + step, nu)), shown[lo : lo + step])
    p_seen_click = np.clip(examine[None, :] * activity[:, None], 0.0, 1.0) * p_click
    clicked = click_rng.random((nu, L)) < p_seen_click
    # Every user keeps at least their most attractive shown item, so no user is empty.
    clicked[np.arange(nu), np.argmax(p_seen_click, axis=1)] = True
    del p_seen_click

    u_idx, pos = np.nonzero(clicked)
    i_idx = shown[u_idx, pos]
    join_ts = REFERENCE_TS - click_rng.uniform(0.0, cfg.history_days, size=nu) * SECONDS_PER_DAY
    start = np.maximum(join_ts[u_idx], release_ts[i_idx])
    ts = (start + click_rng.random(len(u_idx)) * (REFERENCE_TS - start)).astype(np.int64)
    p = p_click[u_idx, pos]
    rating = np.clip(np.rint(1.0 + 4.0 * p + click_rng.normal(0.0, 0.7, size=len(p))), 1, 5).astype(np.float32)
    rng = table_rng
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
