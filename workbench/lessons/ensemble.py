"""Notebook 12's heavier ranker: an ensemble of trained stage-2 rankers, each scoring the same candidates.

    ranker = EnsembleRanker({"wide_deep": wd.ranker_, "gbdt": gb.ranker_})
    top = ranker.rank(None, candidates, context, top_k=100)
    heavy = ensemble_pipeline({"wide_deep": default_pipeline, "gbdt": gbdt_pipeline})

Members score on different scales (a GBDT's raw margin, a network's logit), so each member's scores
are standardised over each user's candidates (z-scores: minus the row's mean, over its standard
deviation) before the average: the ensemble's order is the mean z-score's. Each member builds its own
features and runs its own model, so an ensemble costs about the sum of its members' scoring time: a
more accurate ranker that is slower (notebook 12's latency reason, `workbench.lessons.served_latency`).

The members must have been trained on candidates from the same stage 1 (the same pipeline config
but the ranker); `ensemble_pipeline` checks that and builds a `Pipeline` serving the ensemble. It
composes pipelines the model store already holds (it trains nothing), and it lives here rather than
in `workbench.ranking` because the store's artefact keys digest that package's code
(`workbench.store.store.FIT_CODE`): a new file there would make every stored pipeline train again.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from workbench.ranking.features import Context
from workbench.ranking.ranker import Ranker
from workbench.types import CandidateSet


def row_zscores(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``scores [U, n]`` standardised within each row over ``mask`` (0 where masked out; a row whose
    scores are all equal is all 0)."""
    s = np.where(mask, scores, 0.0).astype(np.float64)
    n = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    mean = s.sum(axis=1, keepdims=True) / n
    var = (np.where(mask, s - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / n
    sd = np.sqrt(var)
    return np.where(mask & (sd > 0), (s - mean) / np.where(sd > 0, sd, 1.0), 0.0)


class EnsembleRanker(Ranker):
    """Several trained `Ranker` s, one order: the mean over members of each member's per-user z-scores."""

    def __init__(self, members: dict[str, Ranker]) -> None:
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 trained rankers; got {sorted(members)}")
        untrained = sorted(name for name, r in members.items() if not r.fitted)
        if untrained:
            raise ValueError(f"ensemble members {untrained} are not trained: fit them first")
        self.members = dict(members)
        first = next(iter(self.members.values()))
        self.config, self.train_config, self.feature_config = first.config, first.train_config, first.feature_config
        self.features_ = first.features_  # the service reads its clock ("now") and device shares from here
        self.model_ = None  # `fitted`: the members are

    @property
    def name(self) -> str:
        return "ensemble of " + " + ".join(self.members)

    def use_history(self, history):
        for r in self.members.values():
            r.use_history(history)
        self.features_ = next(iter(self.members.values())).features_
        return self

    def member_scores(self, candidates: CandidateSet, context: Context | None = None) -> dict[str, np.ndarray]:
        return {name: r.score(candidates, context) for name, r in self.members.items()}

    def score(self, candidates: CandidateSet, context: Context | None = None) -> np.ndarray:
        """float32 ``[U, n]``: the members' mean per-user z-score, ``-inf`` at padding."""
        mask = candidates.mask
        z = np.mean([row_zscores(s, mask) for s in self.member_scores(candidates, context).values()], axis=0)
        return np.where(mask, z, -np.inf).astype(np.float32)

    def predict_proba(self, candidates: CandidateSet, context: Context | None = None) -> np.ndarray:
        """The members' mean click probability."""
        return np.mean([r.predict_proba(candidates, context) for r in self.members.values()], axis=0)


def same_stage_one(configs: list) -> None:
    """ValueError unless the pipeline configs differ only in their ranker (so their stage 1 is one)."""
    strip = [dataclasses.replace(c, ranker=configs[0].ranker, ranker_params={}, train=configs[0].train) for c in configs]
    bad = [i for i, c in enumerate(strip) if c != strip[0]]
    if bad:
        raise ValueError(f"ensemble members {bad} have another stage 1 than member 0 (configs must differ only in "
                         "ranker, ranker_params and train)")  # fmt: skip


def ensemble_pipeline(pipelines: dict):
    """A `Pipeline` serving an `EnsembleRanker` of ``pipelines`` (name → fitted `Pipeline`, same stage 1 and
    the same training data): the first one's stage 1 and stage 3, every member's ranker."""
    pipes = list(pipelines.values())
    same_stage_one([p.config for p in pipes])
    prints = {p.train_.fingerprint for p in pipes}
    if len(prints) > 1:
        raise ValueError(f"ensemble members were fitted on different data (fingerprints {sorted(prints)})")
    out = copy.copy(pipes[0])
    out.ranker_ = EnsembleRanker({name: p.ranker_ for name, p in pipelines.items()})
    return out
