"""`Ranker`: fit any stage-2 model on labelled candidate pairs, then score and cut candidate sets.

    ranker = Ranker("gbdt").fit(history, future, candidates)   # see train.py for the recipe
    ranker.use_history(train)                                   # serve with features from all of train
    top = ranker.rank(users, candidates, context=None, top_k=100)
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Union

import numpy as np
import torch

from workbench.data.dataset import Dataset
from workbench.data.splits import temporal_split
from workbench.ranking.deepfm import DeepFMConfig
from workbench.ranking.features import Context, FeatureBuilder, FeatureConfig
from workbench.ranking.gbdt import GBDTConfig, GBDTModel
from workbench.ranking.ncf import NCFConfig
from workbench.ranking.train import PairSampler, Pairs, TrainConfig, first_times, train_torch
from workbench.ranking.wide_deep import WideDeepConfig
from workbench.types import CandidateSet

ModelConfig = Union[DeepFMConfig, WideDeepConfig, NCFConfig, GBDTConfig]
RANKERS: dict[str, type] = {"deepfm": DeepFMConfig, "wide_deep": WideDeepConfig, "ncf": NCFConfig, "gbdt": GBDTConfig}
CHUNK = 1 << 17  # pairs featurised and scored at once


class Ranker:
    """A stage-2 ranker: feature builder + one model (``deepfm``, ``wide_deep``, ``ncf`` or ``gbdt``).

    Hyper-parameters (set here): ``config`` (the model's config; a name means its defaults),
    ``train_config`` and ``feature_config``. Learned in `fit`: ``features_`` (the fitted
    `FeatureBuilder`), ``model_`` (a `TorchScorer` or `GBDTModel`) and ``report_`` (what
    training did: pairs, epochs or trees, validation loss, time).
    """

    def __init__(self, model: str | ModelConfig = "deepfm", train: TrainConfig | None = None,
                 features: FeatureConfig | None = None) -> None:  # fmt: skip
        if isinstance(model, str):
            if model not in RANKERS:
                raise ValueError(f"unknown ranker {model!r}: expected one of {sorted(RANKERS)}")
            model = RANKERS[model]()
        self.config = model
        self.train_config = train or TrainConfig()
        self.feature_config = features or FeatureConfig()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def fitted(self) -> bool:
        return hasattr(self, "model_")

    def __repr__(self) -> str:
        return f"Ranker({self.name!r}{', fitted' if self.fitted else ''})"

    def fit(self, history: Dataset, future: Dataset, candidates: CandidateSet | None = None) -> Ranker:
        """Train on pairs labelled by ``future``, with features from ``history`` and its ``candidates``.

        ``candidates`` should come from sources fitted on ``history`` only (`fit_two_stage` does
        this). Without candidates, negatives are all easy (catalogue) ones and source features
        are absent. Each user's request time is their first interaction in ``future``.
        """
        cfg, t0, c0 = self.train_config, time.perf_counter(), time.process_time()
        if cfg.seed is None:
            cfg = replace(cfg, seed=0)
        builder = FeatureBuilder(self.feature_config).fit(history, candidates.source_names if candidates is not None else ())
        fut_train, fut_valid = temporal_split(future, cfg.valid_fraction)
        n_items = history.n_items
        train_s = PairSampler(fut_train, candidates, n_items, exclude=fut_valid, unproposed_positives=cfg.unproposed_positives)
        valid_s = PairSampler(fut_valid, candidates, n_items, exclude=fut_train, unproposed_positives=cfg.unproposed_positives)
        if len(train_s.pos_users) == 0 or len(valid_s.pos_users) == 0:
            raise ValueError(
                f"no {'training' if len(train_s.pos_users) == 0 else 'validation'} positives: the future has "
                f"{future.n_interactions} interactions, of which the candidates hold too few; expected a longer future "
                "or candidates that contain some future items"
            )
        request = first_times(future, builder.now_)
        block = None
        if candidates is not None:
            block = builder.source_block(candidates).reshape(candidates.n_users * candidates.n, -1)

        def featurise(p: Pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            src = None if block is None else np.where(p.cell[:, None] >= 0, block[np.maximum(p.cell, 0)], 0.0)
            num, cat = builder.transform(p.users, p.items, request[p.users], None, src)
            return num, cat, p.labels

        hard = cfg.hard_negatives if candidates is not None else 0
        easy = cfg.easy_negatives if candidates is not None else cfg.hard_negatives + cfg.easy_negatives
        vrng = np.random.default_rng(cfg.seed + 1)
        valid_pairs = valid_s.sample(hard, easy, vrng).grouped(vrng)
        rng = np.random.default_rng(cfg.seed)
        if isinstance(self.config, GBDTConfig):
            train_pairs = train_s.sample(hard, easy, rng).grouped(rng)
            model = GBDTModel(builder.layout_, self.config)
            report = model.fit((*featurise(train_pairs), train_pairs.users), (*featurise(valid_pairs), valid_pairs.users), cfg.seed)
            n_pairs = len(train_pairs.users)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                module = self.config.build(builder.layout_)
                model, report = train_torch(module, lambda e: featurise(train_s.sample(hard, easy, rng)),
                                            featurise(valid_pairs), cfg)  # fmt: skip
            n_pairs = len(train_s.pos_users) * (1 + hard + easy)
        self.features_, self.model_ = builder, model
        self.report_ = {"model": self.name, "train_positives": len(train_s.pos_users), "pairs_per_epoch": n_pairs,
                       "valid_pairs": len(valid_pairs.users), **report, "fit_s": round(time.perf_counter() - t0, 2),
                       "fit_cpu_s": round(time.process_time() - c0, 2)}  # fmt: skip
        return self

    def use_history(self, history: Dataset) -> Ranker:
        """Serve with feature statistics refitted on ``history`` (e.g. the whole training split)."""
        self._check()
        self.features_ = self.features_.with_history(history)
        return self

    def _check(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"Ranker({self.name!r}) is not trained: call .fit(history, future, candidates) first")

    def _apply(self, candidates: CandidateSet, context: Context | None, method: str) -> np.ndarray:
        self._check()
        builder = self.features_
        ts, dev = builder.request_times(candidates, context)
        block = builder.source_block(candidates)
        rows, cols = np.nonzero(candidates.mask)
        out = np.full(candidates.items.shape, -np.inf, np.float32)
        for s in range(0, len(rows), CHUNK):
            r, c = rows[s : s + CHUNK], cols[s : s + CHUNK]
            num, cat = builder.transform(candidates.users[r], candidates.items[r, c], ts[r],
                                         None if dev is None else dev[r], block[r, c])  # fmt: skip
            out[r, c] = getattr(self.model_, method)(num, cat)
        return out

    def score(self, candidates: CandidateSet, context: Context | None = None) -> np.ndarray:
        """float32 ``[U, n]`` ranking scores (higher is better), ``-inf`` at padding."""
        return self._apply(candidates, context, "score")

    def predict_proba(self, candidates: CandidateSet, context: Context | None = None) -> np.ndarray:
        """float64 ``[U, n]`` click probabilities (GBDT: Platt-calibrated), 0 at padding."""
        return 1.0 / (1.0 + np.exp(-self._apply(candidates, context, "logits").astype(np.float64)))

    def rank(self, users: np.ndarray | None, candidates: CandidateSet, context: Context | None = None,
             top_k: int = 100) -> CandidateSet:  # fmt: skip
        """The ``top_k`` candidates of each user by model score, sorted; source ranks/scores carried along.

        users: ids of ``candidates.users`` to rank, in the order wanted (None: every row);
        context: aligned with those users.
        """
        self._check()
        if top_k < 1:
            raise ValueError(f"top_k={top_k}: expected a positive number of items to keep")
        if users is not None:
            users = np.asarray(users, np.int64).reshape(-1)
            lookup = np.full(max(int(candidates.users.max()), int(users.max())) + 1, -1, np.int64)
            lookup[candidates.users] = np.arange(candidates.n_users)
            if (users < 0).any() or (lookup[np.maximum(users, 0)] < 0).any():
                bad = users[(users < 0) | (lookup[np.maximum(users, 0)] < 0)][:5].tolist()
                raise KeyError(f"users {bad} have no row in the candidate set")
            candidates = candidates.select_users(lookup[users])
        scored = CandidateSet(candidates.users, candidates.items, self.score(candidates, context), candidates.sources,
                              candidates.source_names, candidates.source_ranks, candidates.source_scores)  # fmt: skip
        return scored.top(min(top_k, candidates.n))


def training_users(users: np.ndarray, config: TrainConfig) -> np.ndarray:
    """``users`` when at most ``config.max_users``; else that many of them, drawn uniformly without
    replacement with ``config.seed`` (None: 0), in increasing order. The others' future positives
    have no candidate row, so they label no pair (`workbench.ranking.train.PairSampler`)."""
    limit = config.max_users
    if limit is None or len(users) <= limit:
        return users
    rng = np.random.default_rng(0 if config.seed is None else config.seed)
    return np.sort(rng.choice(users, size=limit, replace=False))


def fit_two_stage(
    train: Dataset,
    retrieve: Callable[[Dataset, np.ndarray], CandidateSet],
    ranker: Ranker,
    future_fraction: float = 0.2,
) -> Ranker:
    """Carve each user's last ``future_fraction`` of ``train`` as the future, train ``ranker`` on it, serve on ``train``.

    ``retrieve(history, users)`` fits the candidate sources on ``history`` and returns a
    CandidateSet for ``users`` (those with a future, at most ``max_users`` of them: `training_users`);
    it is called once here (on the carved history). Afterwards
    the ranker's features are refreshed from the whole of ``train``; retrieve the serving
    candidates from sources fitted on ``train`` yourself.
    """
    history, future = temporal_split(train, future_fraction)
    users = np.unique(future.interactions["user"].to_numpy())
    users = training_users(users, ranker.train_config)
    ranker.fit(history, future, retrieve(history, users))
    return ranker.use_history(train)
