"""The reranking what-if: what one slider move recomputes, and nothing more.

Candidate retrieval and ranking (stages 1–2) are expensive and do not depend on the
reranking knobs, so they run once and their ranked `CandidateSet` is kept. A move of
λ, the freshness decay, the exploration rate or k re-runs only stage 3 (reranking)
for every user and the metrics table (`workbench.metrics.evaluate`). Notebook 04,
the Jupyter panel and ``benchmarks/bench_slider.py`` all call this class.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.metrics import evaluate, relevance_matrix
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.report import NotebookSettings, load_data
from workbench.rerank import RerankConfig, rerank
from workbench.types import CandidateSet, Slate

RerankFn = Callable[[CandidateSet, int, RerankConfig], Slate]
HEADLINE = {
    "ndcg": "NDCG",
    "recall": "recall",
    "intra_list_diversity": "intra-list diversity",
    "catalogue_coverage": "catalogue coverage",
    "novelty_bits": "novelty (bits)",
    "mean_item_age_days": "mean item age (days)",
}
LAM_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Knobs:
    """The what-if controls: MMR λ, freshness decay (per 30 days), exploration rate ε, slate size k."""

    lam: float = 0.7
    freshness_decay: float = 1.0
    exploration_rate: float = 0.0
    k: int = 10


@dataclass(eq=False)
class WhatIfResult:
    """One setting's outcome: the slates of every user and their metrics table."""

    knobs: Knobs
    slate: Slate
    metrics: pd.DataFrame

    def headline(self) -> dict[str, float]:
        """Mean of each ``HEADLINE`` metric at the slate's k (the figures the notebook shows)."""
        m = self.metrics.set_index("metric")["mean"]
        return {name: float(m[name]) for name in HEADLINE if name in m.index}


class WhatIf:
    """Cached ranked candidates in; reranked slates and metrics for every user out.

    ranked: the stage-2 output (scores from the ranker), one row per user.
    train / test: the split the ranker was fitted on and is judged against; the
        item table, seen items and popularity come from ``train``.
    rerank_fn: ``(ranked, k, RerankConfig) -> Slate``; default `workbench.rerank.rerank`
        with the train set's item arrays and seen items (pass
        ``lambda r, k, c: pipe.rerank_stage(r, k=k, rerank=c)`` to go through a Pipeline).
    base: the RerankConfig whose other fields (α, freshness weight, pins, ...) stay fixed.
    pipeline: the fitted Pipeline behind ``ranked``, when there is one (kept for display and timing).
    """

    def __init__(self, ranked: CandidateSet, train: Dataset, test: Dataset, rerank_fn: RerankFn | None = None,
                 base: RerankConfig = RerankConfig(), pipeline: Pipeline | None = None) -> None:  # fmt: skip
        if ranked.items.size and ranked.items.max() >= train.n_items:
            raise ValueError(f"ranked holds item {ranked.items.max()}, beyond the {train.n_items} items of {train.name!r}")
        self.ranked = ranked
        self.train = train
        self.test = test
        self.base = base
        self.pipeline = pipeline
        self.relevance = relevance_matrix(test)
        self._rerank = rerank_fn or self._default_rerank
        self._item_args = dict(
            item_popularity=train.item_popularity,
            n_train_users=train.n_users,
            item_vectors=train.item_features,
            item_category=train.item_category,
            item_age_days=train.item_age_days,
        )

    def _default_rerank(self, ranked: CandidateSet, k: int, config: RerankConfig) -> Slate:
        t = self.train
        return rerank(ranked, k, item_vectors=t.item_features, item_category=t.item_category,
                      item_age_days=t.item_age_days, item_available=t.item_available,
                      item_promoted=t.item_promoted, seen=t.matrix, config=config)  # fmt: skip

    def config(self, knobs: Knobs) -> RerankConfig:
        """The base RerankConfig with the knobs' λ, decay and ε (validated by RerankConfig)."""
        return dataclasses.replace(self.base, lam=float(knobs.lam), freshness_decay=float(knobs.freshness_decay),
                                   exploration_rate=float(knobs.exploration_rate))  # fmt: skip

    def slate(self, knobs: Knobs) -> Slate:
        """Stage 3 for every user at these knobs."""
        if int(knobs.k) != knobs.k or not 1 <= knobs.k <= self.ranked.n:
            raise ValueError(f"k={knobs.k!r}: expected 1..{self.ranked.n} (the ranked candidates per user)")
        return self._rerank(self.ranked, int(knobs.k), self.config(knobs))

    def metrics(self, slate: Slate) -> pd.DataFrame:
        """Accuracy and beyond-accuracy table of ``slate`` at its k, over every user."""
        return evaluate(slate.items, self.relevance, ks=(slate.k,), users=slate.users, **self._item_args)

    def run(self, knobs: Knobs) -> WhatIfResult:
        """What one slider move recomputes: rerank every user, then the metrics table."""
        slate = self.slate(knobs)
        return WhatIfResult(knobs, slate, self.metrics(slate))

    def frontier(self, knobs: Knobs, lams: Sequence[float] = LAM_GRID) -> pd.DataFrame:
        """Headline metrics at each λ in ``lams``, the other knobs fixed: the accuracy–diversity frontier."""
        rows = []
        for lam in lams:
            res = self.run(dataclasses.replace(knobs, lam=float(lam)))
            rows.append({"lam": float(lam), **res.headline()})
        return pd.DataFrame(rows)

    def pickable_users(self, min_test_items: int = 2, limit: int = 300) -> np.ndarray:
        """Up to ``limit`` ranked users with at least ``min_test_items`` held-out items (for a user picker)."""
        counts = np.diff(self.relevance.indptr)[self.ranked.users]
        return self.ranked.users[counts >= min_test_items][:limit]

    def user_row(self, user: int) -> int:
        """Row of ``user`` (a user row index of the Dataset) in the ranked set; ValueError if absent."""
        rows = np.flatnonzero(self.ranked.users == user)
        if not len(rows):
            raise ValueError(f"user {user!r} has no ranked candidates here (users {self.ranked.users[:5].tolist()}...)")
        return int(rows[0])

    def before_after(self, result: WhatIfResult, user: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One user's top-k by ranking score (before) and final slate (after): item, position, title, ..."""
        row = self.user_row(user)
        k = result.slate.k
        before = self.ranked.select_users([row]).top(k).to_frame()
        before = before.rename(columns={"rank": "position"})[["item", "position", "score"]]
        s = result.slate
        after = pd.DataFrame({"item": s.items[row], "position": np.arange(1, k + 1), "score": s.scores[row],
                              **{name: np.asarray(v)[row] for name, v in s.trace.items()}})  # fmt: skip
        after = after[after["item"] >= 0]
        titles = self.train.items["title"].to_numpy()
        held_out = set(self.relevance[user].indices.tolist())
        for df in (before, after):
            df["title"] = titles[df["item"].to_numpy()]
            df["in_test"] = df["item"].isin(held_out)
        return before.reset_index(drop=True), after.reset_index(drop=True)


def fit_pipeline(settings: NotebookSettings, config: PipelineConfig | None = None) -> tuple[Pipeline, Dataset, Dataset, float]:
    """Load the data set the settings name, split it in time (last 20% of each user's history is
    test) and fit the whole pipeline on the train part. Returns (pipeline, train, test, seconds)."""
    from workbench.data import temporal_split

    t0 = time.perf_counter()
    train, test = temporal_split(load_data(settings))
    pipe = Pipeline(config or PipelineConfig(seed=settings.seed)).fit(train)
    return pipe, train, test, time.perf_counter() - t0


def prepare(settings: NotebookSettings, config: PipelineConfig | None = None) -> tuple[WhatIf, float]:
    """Stages 1–2, once: fit the pipeline and rank every user's candidates (`Pipeline.rank_stage`).

    Returns the `WhatIf` over every user, whose slider moves go through `Pipeline.rerank_stage`,
    and the wall time of this preparation in ms.
    """
    t0 = time.perf_counter()
    pipe, train, test, _ = fit_pipeline(settings, config)
    ranked = pipe.rank_stage(np.arange(train.n_users))
    whatif = WhatIf(ranked, train, test, rerank_fn=lambda r, k, c: pipe.rerank_stage(r, k, c), base=pipe.config.rerank,
                    pipeline=pipe)  # fmt: skip
    return whatif, (time.perf_counter() - t0) * 1e3
