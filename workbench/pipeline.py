"""The whole recommender: candidates → ranking → reranking, timed per stage and explainable.

``Pipeline(PipelineConfig()).fit(train)`` fits the candidate sources and trains the
ranker the two-stage way (`workbench.ranking.fit_two_stage`: the ranker learns on
candidates retrieved from an earlier slice of ``train``, labelled by its last slice),
then refits the sources on all of ``train`` for serving.

The model store (`workbench.store`: ``save_pipeline``, ``load_pipeline``) writes and reads a
fitted pipeline; this module does not import it. ``check_fitted`` is the public test of what
is fitted, for the store and the service.

``recommend(users, k)`` runs the three stages for a batch of users. The two expensive
stages are also available alone (`rank_stage`) so that a notebook can cache them and
let a slider re-run only `rerank_stage`.

Latency: every call records each stage's wall time. For a batch, the per-user figure
is the batch time divided by the number of users (amortised), which is what a
throughput budget needs; `profile_latency` issues one-user requests and reports the
per-request p50/p99 that a latency budget (the textbook's: candidates 1-10 ms,
ranking 10-50 ms, reranking 5-20 ms, total < 100 ms p99) is about.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from workbench.candidates import SOURCES, TUNED_SOURCE_PARAMS, TUNED_WEIGHTS
from workbench.candidates.context import session_retrieve, split_context
from workbench.candidates.fusion import FUSION_METHODS, CandidateGenerator
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.metrics import relevance_matrix
from workbench.metrics.evaluate import evaluate
from workbench.ranking import RANKERS, FeatureConfig, Ranker, TrainConfig, fit_two_stage
from workbench.pipeline_settings import pipeline_settings
from workbench.rerank import RerankConfig, rerank
from workbench.settings import check_fields, read_toml
from workbench.types import CandidateSet, Slate

# The tuned stage-1 preset plus ALS and popularity, equal weights: what feeds the ranker best.
PIPELINE_WEIGHTS = {**TUNED_WEIGHTS, "als": 1.0, "popular": 1.0}
LATENCY_BUDGET_MS = {"candidates": (1.0, 10.0), "ranking": (10.0, 50.0), "rerank": (5.0, 20.0), "total": (None, 100.0)}
STAGES = ("candidates", "ranking", "rerank")


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of the pipeline, with defaults that work on the synthetic world.

    weights: candidate source → fusion weight. The default feeds the ranker: recency-weighted
        EASE, windowed item-kNN, two-tower, ALS and popularity, equal weights, no quotas, each
        proposing its top ``per_source_k`` (measured best for the ranker on MovieLens-100K:
        benchmarks/RESULTS.md). The textbook's split with quotas is ``DEFAULT_WEIGHTS`` with
        ``use_quotas=True``; it reaches lower candidate recall (a 30% content quota).
    fusion: "rrf" (reciprocal-rank fusion, default) or "max_score" (max of raw scores; a pitfall shown for teaching).
    use_quotas: give each source slots in proportion to its weight (`workbench.candidates.fuse`).
    per_source_k: how many items each source proposes before fusion (None: ``n_candidates``).
    n_candidates: candidates per user after fusion (stage 1 output).
    ranker: "deepfm", "wide_deep", "ncf" or "gbdt".
    n_ranked: candidates kept after ranking (stage 2 output).
    k: slate length (stage 3 output).
    future_fraction: each user's latest share of ``train`` that the ranker learns to predict.
    source_params: source name → constructor arguments (e.g. ``{"two_tower": {"epochs": 2}}``);
        only for sources in ``weights``. None (default): ``TUNED_SOURCE_PARAMS`` for the sources
        of ``weights`` (so a config naming only ``ease`` never carries item-kNN's settings).
    ranker_params: constructor arguments of the ranker's model config (``RANKERS[ranker]``:
        e.g. GBDT's ``n_estimators``, ``learning_rate``, ``num_leaves``; DeepFM's ``embed_dim``);
        empty: its defaults.
    train: the ranker's training settings (`workbench.ranking.TrainConfig`). GBDT reads only the
        pair-sampling ones; ``epochs``, ``batch_size``, ``lr``, ``weight_decay`` and ``patience``
        are the torch rankers' (a TOML that sets them with ``ranker = "gbdt"`` is refused: GBDT's
        own are in ``ranker_params``).
    rerank: the stage-3 knobs (`workbench.rerank.RerankConfig`).
    seed: seeds every random draw of the pipeline: each source that takes a ``seed``
        (two-tower, ALS) unless ``source_params`` sets one, the ranker's training
        (``train.seed``) and its feature SVD, and reranking's exploration (``rerank.seed``).
        ``train.seed`` and ``rerank.seed`` are None by default, meaning "the pipeline's seed";
        set one explicitly and it wins for its stage. Same config, same data → same numbers.

    TOML: top-level keys are fields; ``[weights]``, ``[source_params.NAME]``, ``[ranker_params]``,
    ``[train]`` and ``[rerank]`` are tables (see ``configs/default.toml``), read strictly by
    `from_dict` (`workbench.settings`: types, ranges, cross-field rules, errors naming file and key).
    """

    weights: dict[str, float] = field(default_factory=lambda: dict(PIPELINE_WEIGHTS))
    fusion: str = "rrf"
    use_quotas: bool = False
    per_source_k: int | None = 200
    n_candidates: int = 300
    ranker: str = "wide_deep"
    n_ranked: int = 100
    k: int = 10
    future_fraction: float = 0.2
    source_params: dict[str, dict[str, Any]] | None = None
    ranker_params: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)  # types, as a file's are checked (workbench.settings): no string, bool or NaN for a number
        if self.source_params is None:
            tuned = {name: dict(TUNED_SOURCE_PARAMS[name]) for name in self.weights if name in TUNED_SOURCE_PARAMS}
            object.__setattr__(self, "source_params", tuned)
        check_count("k", self.k, 1)
        check_count("n_ranked", self.n_ranked, 1)
        check_count("n_candidates", self.n_candidates, 1)
        if not 1 <= self.k <= self.n_ranked <= self.n_candidates:
            raise ValueError(
                f"k={self.k}, n_ranked={self.n_ranked}, n_candidates={self.n_candidates}: "
                "expected 1 <= k <= n_ranked <= n_candidates (each stage narrows the list)"
            )
        if self.fusion not in FUSION_METHODS:
            raise ValueError(f"fusion={self.fusion!r}: expected one of {FUSION_METHODS}")
        if self.ranker not in RANKERS:
            raise ValueError(f"ranker={self.ranker!r}: expected one of {sorted(RANKERS)}")
        if self.per_source_k is not None:
            check_count("per_source_k (None: n_candidates)", self.per_source_k, 1)
        if not 0.0 < self.future_fraction < 1.0:
            raise ValueError(f"future_fraction={self.future_fraction!r}: expected a number in (0, 1)")
        check_count("seed", self.seed, 0)
        bad_weights = {n: w for n, w in self.weights.items() if w < 0}
        if bad_weights or not any(w > 0 for w in self.weights.values()):
            raise ValueError(f"weights {bad_weights or self.weights}: expected finite, non-negative fusion weights, "
                             "at least one of them positive")  # fmt: skip
        unknown = sorted((set(self.weights) | set(self.source_params)) - set(SOURCES))
        if unknown:
            raise ValueError(f"unknown candidate source(s) {unknown} in the config; expected some of {sorted(SOURCES)}")
        unused = sorted(set(self.source_params) - set(self.weights))
        if unused:
            raise ValueError(f"source_params for {unused}, which have no weight; expected sources of weights "
                             f"{sorted(self.weights)}")  # fmt: skip
        for name, params in self.source_params.items():
            accepted = set(inspect.signature(SOURCES[name]).parameters)
            bad = sorted(set(params) - accepted)
            if bad:
                raise ValueError(f"source_params.{name}: unknown argument(s) {bad}; {name} takes {sorted(accepted)}")
        self.ranker_model()  # the ranker's own settings: unknown names and ranges refused here

    def ranker_model(self) -> Any:
        """The ranker's model config (``RANKERS[ranker]``) with ``ranker_params``."""
        fields = {f.name for f in dataclasses.fields(RANKERS[self.ranker])}
        bad = sorted(set(self.ranker_params) - fields)
        if bad:
            raise ValueError(f"ranker_params: {bad} are not settings of the {self.ranker} ranker; "
                             f"it takes {sorted(fields)}")  # fmt: skip
        return RANKERS[self.ranker](**self.ranker_params)

    def source_arguments(self, name: str) -> dict[str, Any]:
        """Constructor arguments of source ``name``: its ``source_params``, plus ``seed`` = the
        pipeline's seed when the source takes a seed and ``source_params`` does not set one."""
        params = dict(self.source_params.get(name, {}))
        if "seed" in inspect.signature(SOURCES[name]).parameters:
            params.setdefault("seed", self.seed)
        return params

    def train_config(self) -> TrainConfig:
        """``train`` with its seed resolved (None → the pipeline's seed)."""
        return self.train if self.train.seed is not None else dataclasses.replace(self.train, seed=self.seed)

    def rerank_config(self, config: RerankConfig | None = None) -> RerankConfig:
        """``config`` (default: ``rerank``) with its seed resolved (None → the pipeline's seed)."""
        config = config or self.rerank
        return config if config.seed is not None else dataclasses.replace(config, seed=self.seed)

    @classmethod
    def from_toml(cls, path: str | Path) -> PipelineConfig:
        """Read a config from a TOML file (see the class docstring for its tables); `SettingsError`
        naming the file and the dotted key of a wrong setting."""
        return cls.from_dict(read_toml(path, "a pipeline TOML file such as configs/default.toml"), source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> PipelineConfig:
        """The config a mapping describes (a TOML file's tables, a stored config.json), read strictly
        (`workbench.pipeline_settings.pipeline_settings`)."""
        return cls(**pipeline_settings(raw, source, cls))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Pipeline:
    """Three stages over one config; see the module docstring."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()

    # --- fitting ---------------------------------------------------------------
    def fit(self, train: Dataset, progress: Callable[[str], None] | None = None) -> Pipeline:
        """Fit stage 1 and train the ranker the two-stage way (module docstring); ``progress``
        receives one line as each step starts."""
        cfg = self.config
        say = progress or (lambda _msg: None)
        t0 = time.perf_counter()
        train_cfg = cfg.train_config()  # one seed for the ranker: its training and its feature SVD
        self.ranker_ = Ranker(cfg.ranker_model(), train=train_cfg, features=FeatureConfig(seed=train_cfg.seed))

        carved: list[CandidateGenerator] = []

        def retrieve(history: Dataset, users: np.ndarray) -> CandidateSet:
            say(f"stage 1 on the carved history ({len(users):,} users)")
            carved.append(self.make_generator().fit(history))
            cands = carved[-1].retrieve(users, cfg.n_candidates)
            say(f"training the {cfg.ranker} ranker")
            return cands

        fit_two_stage(train, retrieve, self.ranker_, cfg.future_fraction)
        say("stage 1 on all of train, for serving (warm-started from the carved fit where a source can)")
        self.fit_candidates(train, warm_start=carved[-1] if carved else None)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def fit_candidates(self, train: Dataset, warm_start: CandidateGenerator | None = None) -> Pipeline:
        """Fit stage 1 alone on ``train``: enough for `candidate_stage`. ``warm_start``: stage 1 fitted
        on a prefix of ``train`` (`CandidateGenerator.fit`); `fit` passes its carved-history stage 1,
        and ends with exactly this. Without it, two-tower trains afresh on all of ``train``."""
        self.generator_ = self.make_generator().fit(train, warm_start=warm_start)
        self.train_ = train
        return self

    def make_generator(self) -> CandidateGenerator:
        """An unfitted `CandidateGenerator` exactly as the config describes stage 1
        (sources built with `PipelineConfig.source_arguments`, weights, fusion, quotas, per_source_k)."""
        cfg = self.config
        sources = {name: SOURCES[name](**cfg.source_arguments(name)) for name in cfg.weights}
        return CandidateGenerator(sources=sources, weights=cfg.weights, method=cfg.fusion, use_quotas=cfg.use_quotas,
                                  per_source_k=cfg.per_source_k)  # fmt: skip

    def check_fitted(self, ranker: bool = False) -> None:
        """RuntimeError unless stage 1 is fitted (and, with ``ranker``, the ranker trained too)."""
        if not hasattr(self, "generator_"):
            raise RuntimeError("Pipeline is not fitted: call fit(train) before recommend()")
        if ranker and not hasattr(self, "ranker_"):
            raise RuntimeError("Pipeline has only stage 1 fitted (fit_candidates): call fit(train) to train the ranker")

    # --- the stages ------------------------------------------------------------
    def candidate_stage(self, users: np.ndarray, session: list[list[int]] | None = None) -> CandidateSet:
        """Stage 1; ``session``: each user's current-session items (`workbench.candidates.context`)."""
        self.check_fitted()
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        if session is not None:
            return session_retrieve(self.generator_, users, self.config.n_candidates, session)
        return self.generator_.retrieve(users, self.config.n_candidates)

    def rank_stage(self, users: np.ndarray, context: Any = None, candidates: CandidateSet | None = None) -> CandidateSet:
        """Stages 1-2: fused candidates ranked, the top ``n_ranked`` kept (the cacheable part)."""
        self.check_fitted(ranker=True)
        cands = candidates if candidates is not None else self.candidate_stage(users)
        return self.ranker_.rank(None, cands, context, top_k=self.config.n_ranked)

    def rerank_stage(self, ranked: CandidateSet, k: int | None = None, rerank_config: RerankConfig | None = None) -> Slate:
        """Stage 3 over cached ranked candidates: what a slider re-runs (``rerank_config`` default:
        the config's; a None seed in it is the pipeline's seed)."""
        self.check_fitted()
        return rerank_ranked(self.config, self.train_, ranked, self._check_k(k, ranked), rerank_config)

    def _check_k(self, k: int | None, ranked: CandidateSet | None = None) -> int:
        k = self.config.k if k is None else k
        limit = self.config.n_ranked if ranked is None else ranked.n
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
            raise ValueError(f"k={k!r}: expected an integer in [1, {limit}] (the ranked pool holds {limit} per user)")
        return int(k)

    def recommend(self, users: np.ndarray | list[int] | int, k: int | None = None, context: Any = None) -> Slate:
        """The final slates for ``users`` (row indices; unknown-history users get the popular fallback).

        context: the ranker's `Context`, or a mapping with ``session`` (each user's current-session
        items, read by session-aware sources such as SASRec and excluded from the slate),
        ``timestamp`` and ``device`` (`workbench.candidates.context.split_context`)."""
        self.check_fitted(ranker=True)
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        k = self._check_k(k)
        context, session = split_context(context, len(users))
        t0 = time.perf_counter()
        cands = self.candidate_stage(users, session)
        t1 = time.perf_counter()
        ranked = self.rank_stage(users, context, candidates=cands)
        t2 = time.perf_counter()
        slate = self.rerank_stage(ranked, k)
        t3 = time.perf_counter()
        ms = {"candidates": (t1 - t0) * 1e3, "ranking": (t2 - t1) * 1e3, "rerank": (t3 - t2) * 1e3}
        n = len(users)
        slate.stages.update(candidates=cands, ranked=ranked)
        slate.timings_ms = {s: np.full(n, ms[s] / n) for s in STAGES}
        slate.timings_ms["total"] = sum(slate.timings_ms[s] for s in STAGES)
        slate.meta.update(k=k, amortised_timings=n > 1)
        return slate

    # --- latency ---------------------------------------------------------------
    def profile_latency(self, users: np.ndarray, k: int | None = None) -> pd.DataFrame:
        """One request per user (a batch of one each); per-request p50/p99 per stage against the budget."""
        users = np.asarray(users, dtype=np.int64).reshape(-1)
        rows = {s: [] for s in (*STAGES, "total")}
        for u in users:  # one request per user on purpose: this measures per-request latency
            slate = self.recommend(np.array([u]), k)
            for s in rows:
                rows[s].append(float(slate.timings_ms[s][0]))
        return latency_table({s: np.asarray(v) for s, v in rows.items()})

    def latency_table(self, slate: Slate) -> pd.DataFrame:
        return latency_table(slate.timings_ms)

    # --- explanation and evaluation ---------------------------------------------
    def explain(self, user: int, slate: Slate) -> pd.DataFrame:
        """For each item of ``user``'s slate: sources and their ranks, ranking score, what reranking did."""
        rows = np.flatnonzero(slate.users == user)
        if len(rows) == 0:
            raise KeyError(f"user {user} is not in this slate (it holds {len(slate.users)} users)")
        r = int(rows[0])
        items = slate.items[r]
        keep = items >= 0
        ds = self.train_
        out = pd.DataFrame(
            {
                "position": np.flatnonzero(keep) + 1,
                "item": items[keep],
                "title": ds.items["title"].to_numpy()[items[keep]],
                "category": np.asarray(ds.category_names, dtype=object)[ds.item_category[items[keep]]],
                "age_days": np.round(ds.item_age_days[items[keep]], 1),
                "ranking_score": slate.scores[r, keep],
                "propensity": slate.propensities[r, keep],
            }
        )
        for name, arr in slate.trace.items():
            out[name] = np.asarray(arr)[r, keep]
        for col in ("ranked_position", "place_before_mmr"):  # shown counting from 1, like "position"; <NA>: absent
            if col in out:
                out[col] = (out[col] + 1).where(out[col] >= 0).astype("Int64")
        ranked = slate.stages.get("ranked")
        if ranked is not None and ranked.source_ranks is not None:
            rrow = int(np.flatnonzero(ranked.users == user)[0])
            col = _column_of(ranked.items[rrow], items[keep])
            labels = ranked.source_labels()[rrow]
            out.insert(2, "sources", np.where(col >= 0, labels[np.maximum(col, 0)], "(explored)"))
            for s, name in enumerate(ranked.source_names):
                rank = ranked.source_ranks[rrow, np.maximum(col, 0), s]
                out[f"rank in {name}"] = pd.Series(rank + 1, index=out.index).where((col >= 0) & (rank >= 0)).astype("Int64")
        out["what reranking did"] = _reranking_story(out)
        return out

    def evaluate(self, slate: Slate, test: Dataset, ks: tuple[int, ...] | None = None) -> pd.DataFrame:
        """Accuracy and beyond-accuracy table of ``slate`` against ``test`` (`workbench.metrics.evaluate`)."""
        return evaluate(slate.items, relevance_matrix(test), ks or (slate.k,), users=slate.users,
                        items=self.train_.item_arrays())  # fmt: skip


def rerank_ranked(config: PipelineConfig, train: Dataset, ranked: CandidateSet, k: int,
                  rerank_config: RerankConfig | None = None) -> Slate:  # fmt: skip
    """Stage 3 of ``config`` over ranked candidates, with ``train``'s item arrays: all that
    `Pipeline.rerank_stage` needs, so a sweep task scores a config without the fitted stages 1-2."""
    return rerank(ranked, k, items=train.item_arrays(), seen=train.matrix, config=config.rerank_config(rerank_config))


def _column_of(row_items: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each ``wanted`` item in ``row_items`` (-1 where absent)."""
    hit = row_items[None, :] == wanted[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1)


def _reranking_story(frame: pd.DataFrame) -> list[str]:
    story = []
    for rec in frame.to_dict("records"):  # one user's slate, for display only
        parts = []
        if rec.get("explored"):
            parts.append(f"inserted by exploration (shown with p={rec['propensity']:.3f})")
        if rec.get("pinned"):
            parts.append("pinned (promoted)")
        moved = int(rec.get("moved_by_mmr", 0) or 0)
        if moved:  # counted in the list MMR was given (after filtering and the freshness re-sort): place_before_mmr
            before = rec.get("place_before_mmr")
            where = f" (place {before} → {before - moved} of the list MMR was given)" if pd.notna(before) else ""
            parts.append(f"MMR moved it {'up' if moved > 0 else 'down'} {abs(moved)}{where}")
        boost = float(rec.get("freshness_boost", 1.0) or 1.0)
        if boost > 1.005:
            parts.append(f"freshness ×{boost:.2f}")
        story.append("; ".join(parts) or "kept its ranked order")
    return story


def latency_table(timings_ms: dict[str, np.ndarray]) -> pd.DataFrame:
    """p50/p99 per stage in ms beside the textbook's budget."""
    rows = []
    for stage in (*STAGES, "total"):
        t = np.asarray(timings_ms[stage], dtype=np.float64)
        lo, hi = LATENCY_BUDGET_MS[stage]
        p99 = float(np.percentile(t, 99))
        rows.append(
            {
                "stage": stage,
                "p50_ms": round(float(np.percentile(t, 50)), 3),
                "p99_ms": round(p99, 3),
                "budget_ms": f"{lo:g}-{hi:g}" if lo is not None else f"< {hi:g} (p99)",
                "within_budget": p99 <= hi,
            }
        )
    return pd.DataFrame(rows)
