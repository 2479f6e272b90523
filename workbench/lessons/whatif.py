"""The reranking what-if: what one slider move recomputes, and nothing more.

Candidate retrieval and ranking (stages 1–2) are expensive and do not depend on the
reranking knobs, so they run once and their ranked `CandidateSet` is kept. A move of
λ, the freshness decay, the exploration rate or k re-runs only stage 3 (reranking)
for every user and the metrics table (`workbench.metrics.evaluate`). Notebook 04,
the Jupyter panel (`workbench.viz.panel`) and ``benchmarks/bench_slider.py`` all call
this class; `prepare` builds it from a fitted pipeline (`workbench.lessons.kit.trained`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.lessons.kit import ranks
from workbench.metrics import relevance_matrix
from workbench.metrics.evaluate import evaluate
from workbench.pipeline import Pipeline
from workbench.rerank import RerankConfig, rerank
from workbench.types import CandidateSet, Slate

if TYPE_CHECKING:
    from workbench.store import Trained

RerankFn = Callable[[CandidateSet, int, RerankConfig], Slate]
HEADLINE = {
    "ndcg": "NDCG",
    "recall": "recall",
    "intra_list_diversity": "intra-list diversity",
    "catalogue_coverage": "catalogue coverage",
    "novelty_bits": "novelty (bits)",
    "mean_item_age_days": "mean item age (days)",
}
DECAY_STEPS = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # freshness decay per 30 days: the slider's stops
LAM_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
FRONTIER_WORKERS = min(2, os.cpu_count() or 1)  # threads that rerank the frontier's λ values side by side


@dataclass(frozen=True)
class Knobs(RerankConfig):
    """The what-if controls: every stage-3 knob of `RerankConfig` (validated there; the sliders move
    λ, the freshness decay and the exploration rate ε) and the slate size ``k``.

    ``WhatIf.knobs`` holds the pipeline's own stage-3 config and k; a slider move is
    ``dataclasses.replace(whatif.knobs, lam=...)``, so the fields no slider moves keep the
    pipeline's values.
    """

    k: int = 10

    @classmethod
    def of(cls, config: RerankConfig, k: int) -> Knobs:
        """The knobs of a stage-3 config and a slate size."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(RerankConfig)}, k=k)

    def config(self) -> RerankConfig:
        """The `RerankConfig` these knobs set (without ``k``)."""
        return RerankConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RerankConfig)})


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
        with the train set's item arrays and seen items (`prepare` passes the pipeline's
        ``rerank_stage``).
    knobs: where the controls start: the stage-3 config whose fields no slider moves
        (α, freshness weight, pins, ...) stay as they are, and the slate size.
    pipeline: the fitted Pipeline behind ``ranked``, when there is one (kept for display and timing).
    """

    def __init__(self, ranked: CandidateSet, train: Dataset, test: Dataset, rerank_fn: RerankFn | None = None,
                 knobs: Knobs = Knobs(), pipeline: Pipeline | None = None) -> None:  # fmt: skip
        if ranked.items.size and ranked.items.max() >= train.n_items:
            raise ValueError(f"ranked holds item {ranked.items.max()}, beyond the {train.n_items} items of {train.name!r}")
        self.ranked = ranked
        self.train = train
        self.test = test
        self.knobs = knobs
        self.pipeline = pipeline
        self.relevance = relevance_matrix(test)
        self._rerank = rerank_fn or self._default_rerank
        self._items = train.item_arrays()

    def _default_rerank(self, ranked: CandidateSet, k: int, config: RerankConfig) -> Slate:
        return rerank(ranked, k, items=self._items, seen=self.train.matrix, config=config)

    def ranking_order(self, k: int) -> Knobs:
        """The knobs that keep the ranker's order: λ = 1, no freshness re-sort, no exploration
        (the business rules stay on); the baseline that the page compares a setting against."""
        return dataclasses.replace(self.knobs, lam=1.0, freshness_decay=0.0, exploration_rate=0.0, k=k)

    def slate(self, knobs: Knobs) -> Slate:
        """Stage 3 for every user at these knobs."""
        if int(knobs.k) != knobs.k or not 1 <= knobs.k <= self.ranked.n:
            raise ValueError(f"k={knobs.k!r}: expected 1..{self.ranked.n} (the ranked candidates per user)")
        return self._rerank(self.ranked, int(knobs.k), knobs)  # Knobs is a RerankConfig: validated once, by the move

    def metrics(self, slate: Slate) -> pd.DataFrame:
        """Accuracy and beyond-accuracy table of ``slate`` at its k, over every user."""
        return evaluate(slate.items, self.relevance, ks=(slate.k,), users=slate.users, items=self._items)

    def run(self, knobs: Knobs) -> WhatIfResult:
        """What one slider move recomputes: rerank every user, then the metrics table."""
        slate = self.slate(knobs)
        return WhatIfResult(knobs, slate, self.metrics(slate))

    def headline_of(self, slate: Slate) -> dict[str, float]:
        """The ``HEADLINE`` means of ``slate``: the figures `WhatIfResult.headline` reads from the whole
        table, computed alone (`workbench.metrics.evaluate` with ``only=``: the same code, so the same numbers)."""
        table = evaluate(slate.items, self.relevance, ks=(slate.k,), users=slate.users, items=self._items,
                         only=tuple(HEADLINE))  # fmt: skip
        m = table.set_index("metric")["mean"]
        return {name: float(m[name]) for name in HEADLINE if name in m.index}

    def frontier(self, knobs: Knobs, lams: Sequence[float] = LAM_GRID) -> pd.DataFrame:
        """Headline metrics at each λ in ``lams``, the other knobs fixed: the accuracy–diversity frontier."""
        return self.frontier_runs(knobs, lams)[0]

    def frontier_runs(self, knobs: Knobs, lams: Sequence[float] = LAM_GRID, keep: Sequence[float] = (),
                      workers: int = FRONTIER_WORKERS) -> tuple[pd.DataFrame, dict[float, WhatIfResult]]:  # fmt: skip
        """`frontier`, and the whole `WhatIfResult` at each λ of ``keep`` (run once with the frontier's
        points when ``lams`` holds it: a page that shows both pays once). The frontier's other points are
        scored on the headline metrics alone (`headline_of`); the kept results carry no ``stages`` (the
        ranked candidates are ``self.ranked``), so that they stay small on disk. The λ values run on
        ``workers`` threads (numpy works outside the GIL): each is independent and seeded by its knobs, so
        the figures do not depend on ``workers``."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: expected a positive integer (threads)")
        keep = [float(x) for x in keep]
        points = [float(x) for x in lams]

        def one(lam: float) -> tuple[dict[str, float], WhatIfResult | None]:
            at = dataclasses.replace(knobs, lam=lam)
            slate = self.slate(at)
            if lam not in keep:
                return self.headline_of(slate), None
            slate = dataclasses.replace(slate, stages={})
            res = WhatIfResult(at, slate, self.metrics(slate))
            return res.headline(), res

        todo = list(dict.fromkeys(points + keep))
        if workers == 1 or len(todo) == 1:
            done = [one(lam) for lam in todo]
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(todo))) as pool:
                done = list(pool.map(one, todo))
        by_lam = dict(zip(todo, done))
        rows = [{"lam": lam, **by_lam[lam][0]} for lam in points]
        return pd.DataFrame(rows), {lam: by_lam[lam][1] for lam in keep}

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
        after = after[after["item"] >= 0].copy()
        for col in ("ranked_position", "place_before_mmr"):  # the trace counts from 0; pages count from 1 (kit.RANKS)
            if col in after:
                after[col] = ranks(after[col].to_numpy() + 1).set_axis(after.index)
        titles = self.train.items["title"].to_numpy()
        held_out = set(self.relevance[user].indices.tolist())
        for df in (before, after):
            df["title"] = titles[df["item"].to_numpy()]
            df["in_test"] = df["item"].isin(held_out)
        return before.reset_index(drop=True), after.reset_index(drop=True)


def rank_every_user(trained: Trained) -> tuple[CandidateSet, float]:
    """Stages 1–2 for every user of the fitted pipeline (`Pipeline.rank_stage`), and their wall time in ms."""
    t0 = time.perf_counter()
    ranked = trained.pipeline.rank_stage(np.arange(trained.train.n_users))
    return ranked, (time.perf_counter() - t0) * 1e3


def prepare(trained: Trained, ranking: tuple[CandidateSet, float] | None = None) -> tuple[WhatIf, float]:
    """Stages 1–2, once: rank every user's candidates with the fitted pipeline (`rank_every_user`).

    trained: the fitted pipeline and its split (`workbench.lessons.kit.trained`).
    ranking: `rank_every_user`'s output for ``trained`` when the caller kept it (page 04 reads it back
        from disk, `workbench.lessons.results.kept`); computed here when None. It is shared, not copied:
        nothing here changes it in place.

    Returns the `WhatIf` over every user, starting at the pipeline's own stage-3 config and k,
    whose slider moves go through `Pipeline.rerank_stage`, and the wall time of the ranking in ms
    (when it was computed).
    """
    pipe, train, test = trained.pipeline, trained.train, trained.test
    ranked, ms = ranking if ranking is not None else rank_every_user(trained)
    whatif = WhatIf(ranked, train, test, rerank_fn=lambda r, k, c: pipe.rerank_stage(r, k, c),
                    knobs=Knobs.of(pipe.config.rerank_config(), pipe.config.k), pipeline=pipe)  # fmt: skip
    return whatif, ms
