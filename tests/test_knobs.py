"""Every knob does what it says: each field of PipelineConfig, TrainConfig and RerankConfig, and
every ``source_params`` entry of the default config, changes the fitted pipeline's output.

The walk is driven by ``dataclasses.fields``: a field added to one of the three configs fails
`test_every_field_is_walked` until it has a row in the tables below. Each row names the new
value, the output that must change and how the pipeline is built:

- ``stage1``: ``Pipeline(config).fit_candidates(train)``, compared on the candidates
  (fields that only stage 1 reads: fitting the ranker would not add a check);
- ``fit``: ``Pipeline(config).fit(train)``, compared on the ranked scores of the *same*
  candidates (the base pipeline's), so the difference is the ranker's own;
- ``serve``: the base fitted pipeline served with the changed config (``k``, ``n_ranked`` and
  ``rerank`` are read only when serving; the model store treats them the same way), compared
  on the ranked list or the slate.

Where a field has no effect on some data, `EXCEPTIONS` says so with the reason, and
`test_documented_exception` asserts that the output is then unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from workbench.data import load, temporal_split
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.ranking import TrainConfig
from workbench.rerank import RerankConfig

# Fast settings: the small synthetic world, a narrow funnel, one-epoch 16-d two-tower, 2 ranker epochs.
# The base explores 20 % of the slate so that the rerank seed has draws to seed.
DEFAULT = PipelineConfig()
BASE = PipelineConfig(
    n_candidates=60, n_ranked=30, k=10,
    source_params={**DEFAULT.source_params, "two_tower": {"epochs": 1, "dim": 16, "hidden": 32}},
    train=TrainConfig(epochs=2), rerank=RerankConfig(exploration_rate=0.2),
)  # fmt: skip
TEXTBOOK_ORDER = ("filter", "mmr", "freshness", "pins", "cap", "explore")
pytestmark = pytest.mark.slow  # dozens of pipeline fits


@dataclass(frozen=True)
class Change:
    value: Any
    output: str  # "candidates" | "ranked" | "slate"
    build: str  # "stage1" | "fit" | "serve"


PIPELINE_CHANGES = {
    "weights": Change({**BASE.weights, "ease": 4.0}, "candidates", "stage1"),
    "fusion": Change("max_score", "candidates", "stage1"),
    "use_quotas": Change(True, "candidates", "stage1"),
    "per_source_k": Change(20, "candidates", "stage1"),
    "n_candidates": Change(40, "ranked", "fit"),
    "ranker": Change("ncf", "ranked", "fit"),
    "ranker_params": Change({"embed_dim": 4}, "ranked", "fit"),  # the default ranker's (wide_deep) own settings
    "n_ranked": Change(20, "ranked", "serve"),
    "k": Change(5, "slate", "serve"),
    "future_fraction": Change(0.4, "ranked", "fit"),
    "seed": Change(1, "candidates", "stage1"),  # and the ranker and exploration: test_pipeline_seed_*
    # The nested configs are walked field by field below, each change made through PipelineConfig.
    "source_params": None,
    "train": None,
    "rerank": None,
}
TRAIN_CHANGES = {
    "hard_negatives": Change(2, "ranked", "fit"),
    "easy_negatives": Change(6, "ranked", "fit"),
    "unproposed_positives": Change(True, "ranked", "fit"),
    "valid_fraction": Change(0.5, "ranked", "fit"),
    "epochs": Change(3, "ranked", "fit"),
    "batch_size": Change(256, "ranked", "fit"),
    "lr": Change(1e-2, "ranked", "fit"),
    "weight_decay": Change(1e-2, "ranked", "fit"),
    "patience": None,  # test_patience: it cuts training; the scores change only if the loss falls again later
    "seed": Change(5, "ranked", "fit"),
    "max_users": Change(100, "ranked", "fit"),  # the small world's 400 users: the ranker learns on a sample of 100
}
RERANK_CHANGES = {
    "lam": Change(0.2, "slate", "serve"),
    "alpha": Change(1.0, "slate", "serve"),
    "freshness_decay": Change(0.0, "slate", "serve"),
    "freshness_weight": Change(1.0, "slate", "serve"),
    "exploration_rate": Change(0.5, "slate", "serve"),
    "max_pins": Change(0, "slate", "serve"),
    "category_cap": Change(2, "slate", "serve"),
    "order": Change(TEXTBOOK_ORDER, "slate", "serve"),
    "seed": Change(7, "slate", "serve"),
}
SOURCE_PARAM_CHANGES = {
    ("ease", "lam"): 50.0,
    ("ease", "history_half_life"): None,
    ("itemknn", "neighbours"): 5,
    ("itemknn", "window"): None,
    ("itemknn", "history_half_life"): None,
}
# (what, condition, two values that must give the same output, the output, why).
EXCEPTIONS = [
    ("rerank.seed", {"exploration_rate": 0.0}, (0, 7), "slate", "no exploration: nothing is drawn at random"),
    ("rerank.alpha", {"lam": 1.0}, (0.0, 1.0), "slate", "λ = 1: MMR weighs similarity by 1 − λ = 0"),
    ("rerank.freshness_decay", {"freshness_weight": 0.0}, (0.0, 5.0), "slate",
     "weight 0: the boost 1 + 0·exp(…) is 1 whatever the decay"),
    ("per_source_k", {}, (300, 1000), "candidates",
     "at or above the catalogue (300 items) every source already proposes every item it can score"),
]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def world():
    train, _ = temporal_split(load("synthetic", small=True), 0.2)
    return train, np.arange(0, train.n_users, 2)


@pytest.fixture(scope="module")
def base(world):
    train, users = world
    pipe = Pipeline(BASE).fit(train)
    cands = pipe.candidate_stage(users)
    ranked = pipe.rank_stage(users, candidates=cands)
    return pipe, cands, ranked


def _served(pipe: Pipeline, **changes) -> Pipeline:
    """The fitted ``pipe`` serving with ``changes`` (only for fields that fitting does not read)."""
    out = copy.copy(pipe)
    out.config = dataclasses.replace(pipe.config, **changes)
    return out


def _output(pipe: Pipeline, output: str, users: np.ndarray, base) -> tuple[np.ndarray, ...]:
    """The named output as arrays: candidates of ``users``; ranking of the base candidates; slate of
    the base ranking (when ``pipe`` has the base ranker) or of its own."""
    _, base_cands, base_ranked = base
    if output == "candidates":
        cs = pipe.candidate_stage(users)
        return cs.items, cs.scores
    if output == "ranked":
        cs = pipe.rank_stage(users, candidates=base_cands)
        return cs.items, cs.scores
    ranked = base_ranked if pipe.ranker_ is base[0].ranker_ else pipe.rank_stage(users)
    slate = pipe.rerank_stage(ranked)
    return slate.items, slate.propensities


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _build(config: PipelineConfig, build: str, world, base) -> Pipeline:
    train, _ = world
    if build == "stage1":
        return Pipeline(config).fit_candidates(train)
    if build == "fit":
        return Pipeline(config).fit(train)
    changed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
               if getattr(config, f.name) != getattr(BASE, f.name)}  # fmt: skip
    assert set(changed) <= {"k", "n_ranked", "rerank"}, f"{sorted(changed)} are read when fitting"
    return _served(base[0], **changed)


def _check_changes(config: PipelineConfig, change: Change, world, base) -> None:
    users = world[1]
    pipe = _build(config, change.build, world, base)
    before = _output(base[0], change.output, users, base)
    after = _output(pipe, change.output, users, base)
    assert not _same(before, after), f"{change.output} did not change"


def test_every_field_is_walked():
    """A new config field fails here until it has a row (and so a check) in the tables above."""
    for cls, table in ((PipelineConfig, PIPELINE_CHANGES), (TrainConfig, TRAIN_CHANGES),
                       (RerankConfig, RERANK_CHANGES)):  # fmt: skip
        assert {f.name for f in dataclasses.fields(cls)} == set(table), cls.__name__
    assert set(SOURCE_PARAM_CHANGES) == {(s, p) for s, params in DEFAULT.source_params.items() for p in params}
    for (source, param), value in SOURCE_PARAM_CHANGES.items():
        assert DEFAULT.source_params[source][param] != value


@pytest.mark.parametrize("name", [n for n, c in PIPELINE_CHANGES.items() if c is not None])
def test_pipeline_field(name, world, base):
    change = PIPELINE_CHANGES[name]
    assert getattr(BASE, name) != change.value
    _check_changes(dataclasses.replace(BASE, **{name: change.value}), change, world, base)


@pytest.mark.parametrize("name", [n for n, c in TRAIN_CHANGES.items() if c is not None])
def test_train_field(name, world, base):
    change = TRAIN_CHANGES[name]
    assert getattr(BASE.train, name) != change.value
    config = dataclasses.replace(BASE, train=dataclasses.replace(BASE.train, **{name: change.value}))
    _check_changes(config, change, world, base)


@pytest.mark.parametrize("name", list(RERANK_CHANGES))
def test_rerank_field(name, world, base):
    change = RERANK_CHANGES[name]
    assert getattr(BASE.rerank, name) != change.value
    config = dataclasses.replace(BASE, rerank=dataclasses.replace(BASE.rerank, **{name: change.value}))
    _check_changes(config, change, world, base)


@pytest.mark.parametrize("source, param", list(SOURCE_PARAM_CHANGES))
def test_source_param(source, param, world, base):
    params = {**BASE.source_params, source: {**BASE.source_params[source], param: SOURCE_PARAM_CHANGES[source, param]}}
    _check_changes(dataclasses.replace(BASE, source_params=params), Change(None, "candidates", "stage1"), world, base)


@pytest.mark.parametrize("what, condition, values, output, why", EXCEPTIONS, ids=[e[0] for e in EXCEPTIONS])
def test_documented_exception(what, condition, values, output, why, world, base):
    """Each documented no-effect case: under ``condition``, the two values give the same output."""
    users = world[1]
    group, _, name = what.rpartition(".")
    outs = []
    for value in values:
        if group == "rerank":
            rerank = dataclasses.replace(BASE.rerank, **condition, **{name: value})
            pipe = _build(dataclasses.replace(BASE, rerank=rerank), "serve", world, base)
        else:
            pipe = _build(dataclasses.replace(BASE, **condition, **{name: value}), "stage1", world, base)
        outs.append(_output(pipe, output, users, base))
    assert _same(*outs), f"{what} changed the {output} although {why}"


def test_patience(world, base):
    """Early stopping ends training after ``patience`` epochs without a validation improvement, and
    keeps the best epoch. With small batches the ranker overfits within a few epochs, so patience 0
    against patience 5 (5 epochs: never stops) must cut the validation curve after its first
    non-improving epoch; the ranked scores then differ exactly when the curve improves again later
    (otherwise both keep the same best epoch)."""
    train, users = world
    fitted = {}
    for patience in (0, 5):
        train_cfg = dataclasses.replace(BASE.train, epochs=5, lr=1e-2, batch_size=128, patience=patience)
        fitted[patience] = Pipeline(dataclasses.replace(BASE, train=train_cfg)).fit(train)
    curve = fitted[5].ranker_.report_["valid_logloss"]
    assert len(curve) == 5
    bad = [e for e in range(1, 5) if not curve[e] < min(curve[:e]) - 1e-5]
    assert bad, f"this setting no longer has a non-improving epoch to stop at: {curve}"
    assert fitted[0].ranker_.report_["valid_logloss"] == curve[: bad[0] + 1]
    improves_later = min(curve[bad[0] + 1 :], default=np.inf) < min(curve[: bad[0] + 1]) - 1e-5
    outs = [_output(fitted[p], "ranked", users, base) for p in (0, 5)]
    assert _same(*outs) is not improves_later


def test_pipeline_seed_reaches_the_ranker_and_explicit_seeds_win(world, base):
    """With the sources' seeds pinned in source_params, the pipeline seed still changes the ranker
    (its training and feature SVD) but not the candidates; an explicit train.seed pins the ranker."""
    train, users = world
    pinned = {**BASE.source_params, "als": {"seed": 0}, "two_tower": {**BASE.source_params["two_tower"], "seed": 0}}
    reseeded = Pipeline(dataclasses.replace(BASE, seed=1, source_params=pinned)).fit(train)
    assert _same(_output(reseeded, "candidates", users, base), _output(base[0], "candidates", users, base))
    assert not _same(_output(reseeded, "ranked", users, base), _output(base[0], "ranked", users, base))
    pinned_train = dataclasses.replace(BASE, seed=1, source_params=pinned, train=dataclasses.replace(BASE.train, seed=0))
    again = Pipeline(pinned_train).fit(train)
    assert _same(_output(again, "ranked", users, base), _output(base[0], "ranked", users, base))


def test_pipeline_seed_reaches_exploration(base, world):
    """rerank.seed None follows the pipeline seed; an explicit rerank.seed wins over it."""
    users = world[1]
    pipe = base[0]
    follow = _served(pipe, seed=1)
    assert not _same(_output(follow, "slate", users, base), _output(pipe, "slate", users, base))
    pinned = _served(pipe, seed=1, rerank=dataclasses.replace(BASE.rerank, seed=0))
    assert _same(_output(pinned, "slate", users, base), _output(pipe, "slate", users, base))
