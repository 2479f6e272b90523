"""Rule-based sources: all-time popular, trending (half-life decayed counts) and new releases.

They score every user alike, so one score vector over the catalogue is their whole model.
"""

from __future__ import annotations

import numpy as np

from workbench.candidates.base import CandidateSource
from workbench.data.dataset import SECONDS_PER_DAY, Dataset


class _Global(CandidateSource):
    """One ranking for everyone: ``ranking_`` (eligible items, best first) and ``ranking_scores_``."""

    personalised = False

    def _rank(self, scores: np.ndarray, tie_break: np.ndarray | None = None) -> None:
        """Order items by ``scores`` (``-inf`` = ineligible), then ``tie_break``, then item index."""
        keys = (-scores,) if tie_break is None else (-tie_break, -scores)
        order = np.lexsort(keys)
        self.ranking_ = order[np.isfinite(scores[order])]
        self.ranking_scores_ = scores[self.ranking_].astype(np.float32)

    def _retrieve_warm(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        width = k + (int(np.diff(self.seen_.indptr)[users].max(initial=0)) if exclude_seen else 0)
        items = np.broadcast_to(self.ranking_[:width], (len(users), min(width, len(self.ranking_))))
        scores = np.broadcast_to(self.ranking_scores_[:width], items.shape)
        return self._top_unseen(users, items, scores, k, exclude_seen)


class Popular(_Global):
    """Most interacted-with items of all time: score = number of distinct train users."""

    name = "popular"

    def _fit(self, train: Dataset) -> None:
        self._rank(self.popularity_)


class Trending(_Global):
    """Recently popular items: ``score_i = Σ_t 0.5 ** ((as_of − t) / half_life)`` over ``i``'s
    interactions at times ``t ≤ as_of``.

    half_life_days: days after which an interaction counts half. as_of: Unix seconds,
    the "now" of the ranking (default: the last train timestamp); later interactions are ignored,
    and items without any interaction up to ``as_of`` are not proposed.
    """

    name = "trending"

    def __init__(self, half_life_days: float = 14.0, as_of: int | None = None) -> None:
        if not half_life_days > 0:
            raise ValueError(f"half_life_days={half_life_days!r}: expected a positive number of days")
        self.half_life_days = half_life_days
        self.as_of = as_of

    def _fit(self, train: Dataset) -> None:
        ts = train.interactions["timestamp"].to_numpy(np.float64)
        self.as_of_ = int(ts.max()) if self.as_of is None and len(ts) else int(self.as_of or train.reference_ts)
        past = ts <= self.as_of_
        age_days = (self.as_of_ - ts[past]) / SECONDS_PER_DAY
        weight = 0.5 ** (age_days / self.half_life_days)
        items = train.interactions["item"].to_numpy()[past]
        score = np.bincount(items, weights=weight, minlength=self.n_items_)
        self._rank(np.where(score > 0, score, -np.inf))


class NewReleases(_Global):
    """Newest items with at least ``min_count`` train interactions, newest first.

    score = release day (days since the Unix epoch); items released the same day are
    ordered by popularity. Rarer items are ineligible.
    """

    name = "new"

    def __init__(self, min_count: int = 5) -> None:
        if min_count < 0:
            raise ValueError(f"min_count={min_count!r}: expected a non-negative interaction count")
        self.min_count = min_count

    def _fit(self, train: Dataset) -> None:
        day = train.items["release_ts"].to_numpy(np.float64) / SECONDS_PER_DAY
        self._rank(np.where(self.popularity_ >= self.min_count, day, -np.inf), tie_break=self.popularity_)
