"""Freshness boost: multiply relevance by 1 + w · exp(−decay · age_days / 30).

- decay = 0: every item gets the same factor 1 + w, so the order does not change.
- decay large: only items of age ~0 days get ~(1 + w); older items get ~1.
- decay = 1: the boost falls by e each 30 days (half-life 30 · ln 2 ≈ 20.8 days).

Negative scores: a model score of −2 multiplied by 1.5 becomes −3, so a raw boost
would *punish* fresh items whose score is negative. The boost therefore applies to
relevance min-max normalised per user to [0, 1] (`workbench.rerank.mmr.minmax_normalise`,
the same relevance MMR uses); `freshness_boost` refuses negative input. One
consequence: each user's worst candidate has relevance 0 and stays 0 whatever its age.

Items with negative age (release after the data set's "now") count as age 0.
"""

from __future__ import annotations

import numpy as np

DAYS_PER_UNIT = 30.0


def freshness_multiplier(age_days: np.ndarray, *, decay: float, weight: float) -> np.ndarray:
    """float64 factor 1 + weight · exp(−decay · max(age_days, 0) / 30), same shape as ``age_days``."""
    if not np.isfinite(decay) or decay < 0:
        raise ValueError(f"freshness decay must be a finite number >= 0, got {decay!r}")
    if not np.isfinite(weight) or weight < 0:
        raise ValueError(f"freshness weight must be a finite number >= 0, got {weight!r}")
    age = np.maximum(np.asarray(age_days, dtype=np.float64), 0.0)
    if np.isnan(age).any():
        raise ValueError("item ages contain NaN; expected ages in days")
    return 1.0 + weight * np.exp(-decay * age / DAYS_PER_UNIT)


def freshness_boost(
    relevance: np.ndarray,
    items: np.ndarray,
    item_age_days: np.ndarray,
    *,
    decay: float,
    weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Boost non-negative relevance ``[U, n]`` of items ``[U, n]`` (``-1`` padding).

    Returns (boosted relevance, multiplier), both float64 ``[U, n]``; padding cells
    keep their relevance and get multiplier 1. Raises ValueError if a real cell's
    relevance is negative (normalise first, see the module docstring).
    """
    items = np.asarray(items, dtype=np.int64)
    rel = np.asarray(relevance, dtype=np.float64)
    if rel.shape != items.shape:
        raise ValueError(f"relevance {rel.shape} and items {items.shape} must have the same [U, n] shape")
    mask = items >= 0
    if (rel[mask] < 0).any():
        raise ValueError(
            f"freshness_boost needs relevance >= 0 (got min {rel[mask].min():.4g}): a boost > 1 would lower a "
            "negative score; pass relevance through minmax_normalise first"
        )
    age = np.asarray(item_age_days)
    if items.size and items.max() >= len(age):
        raise ValueError(f"item id {items.max()} outside item_age_days of length {len(age)}")
    mult = np.where(mask, freshness_multiplier(age, decay=decay, weight=weight)[np.where(mask, items, 0)], 1.0)
    return rel * mult, mult
