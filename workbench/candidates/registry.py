"""The candidate sources by name (``SOURCES``), and the hyper-parameters tuned for the best of them.

Constructor arguments are a source's hyper-parameters, all with working defaults;
``TUNED_SOURCE_PARAMS`` holds the non-default ones measured best on MovieLens-100K's
temporal split (benchmarks/bench_candidates.py, benchmarks/RESULTS.md), which both
`CandidateGenerator.preset("tuned")` and the pipeline's default config use.
"""

from __future__ import annotations

from typing import Any

from workbench.candidates.als import ALS
from workbench.candidates.base import CandidateSource
from workbench.candidates.content import ContentBased
from workbench.candidates.ease import EASE
from workbench.candidates.itemknn import ItemKNN
from workbench.candidates.rules import NewReleases, Popular, Trending
from workbench.candidates.sasrec import SASRec
from workbench.candidates.two_tower import TwoTower

SOURCES: dict[str, type[CandidateSource]] = {
    "popular": Popular,
    "trending": Trending,
    "new": NewReleases,
    "itemknn": ItemKNN,
    "ease": EASE,
    "als": ALS,
    "content": ContentBased,
    "two_tower": TwoTower,
    "sasrec": SASRec,
}
# Sequence-aware variants: EASE scoring a recency-weighted history (half-life 20 positions);
# item-kNN counting co-occurrence within 20 positions, 100 neighbours, recency half-life 5.
TUNED_SOURCE_PARAMS: dict[str, dict[str, Any]] = {
    "ease": {"lam": 500.0, "history_half_life": 20.0},
    "itemknn": {"neighbours": 100, "window": 20, "history_half_life": 5.0},
}
