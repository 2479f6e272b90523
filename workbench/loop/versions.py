"""Model versions of the loop: the starting artefact, and the ones the retraining job publishes.

The retraining job reads the event log, turns every click logged before day ``d`` into an
interaction (the user, the item, the click's time, rating 1), appends them to the data the
starting model was trained on, and fits a new version on that (`training_data`):

- ``refresh``: stage 1 refitted on the grown history and the ranker's feature statistics
  refreshed from it (`Ranker.use_history`); the ranker's weights are the starting model's.
- ``full``: the whole pipeline fitted again (`Pipeline.fit`), ranker included.

Each version is written to the model store (`workbench.store.save_pipeline`) under a key that
digests the starting artefact's key, the mode, the fingerprint of its training data and the
code version, so a resumed loop that retrains on the same log finds the version already
published and loads it instead. Its manifest records no data spec: the training data is the
log's, and `Versions.train_at` rebuilds it (load a version with `Versions.load`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset
from workbench.pipeline import Pipeline
from workbench.store import ModelStore, code_version, load_pipeline, save_pipeline
from workbench.store.codec import ArtefactError

Progress = Callable[[str], None]


@dataclass
class Base:
    """What the loop starts from: a fitted pipeline, the data it was fitted on, the world's truth.

    key: the artefact key (the first model version); spec: the `workbench.store.DataSpec` that
    rebuilds ``train`` (None for a world the store cannot rebuild, e.g. a custom-sized synthetic one).
    """

    pipeline: Pipeline
    train: Dataset
    world: Any
    key: str
    description: str
    spec: Any = None


def load_base(data: str = "synthetic", seed: int = 0, small: bool = False, pipeline_config: Any = None,
              store: ModelStore | None = None, cache_dir: Any = None, progress: Progress | None = None,
              key: str | None = None) -> Base:  # fmt: skip
    """The starting point from the model store, and the world's truth (`workbench.experiment.oracle.world_for`
    on the whole data set: the synthetic truth, or the MovieLens oracle fitted on train and test).

    Without ``key``: the pipeline for (data, config, seed), loaded or trained and stored
    (`workbench.store.load_or_train`). With ``key`` (a resumed loop, a served version): that artefact
    exactly, whatever the code version is now, so an edit to the fitting code elsewhere does not change
    the model a loop started from. pipeline_config: a `PipelineConfig`, a TOML path, or None (the
    defaults); its seed is set to ``seed``; its serving knobs (k, n_ranked, rerank) apply.
    """
    from workbench.experiment.oracle import world_for
    from workbench.pipeline import PipelineConfig
    from workbench.store import DataSpec, load_or_train
    from workbench.store.store import read_manifest

    if isinstance(pipeline_config, (str, Path)):
        pipeline_config = PipelineConfig.from_toml(pipeline_config)
    if pipeline_config is None:
        pipeline_config = PipelineConfig(seed=seed)
    elif pipeline_config.seed != seed:
        pipeline_config = dataclasses.replace(pipeline_config, seed=seed)
    spec = DataSpec(data, seed, small)
    store = store if isinstance(store, ModelStore) else ModelStore(store)
    if key is None:
        trained = load_or_train(data, pipeline_config, seed=seed, small=small, store=store, cache_dir=cache_dir,
                                progress=progress)  # fmt: skip
        pipe, train, test, key, description = trained.pipeline, trained.train, trained.test, trained.key, trained.describe()
    else:
        folder = store.path(key)
        if not folder.is_dir():
            raise ArtefactError(f"the loop's starting model {key} is not in the model store {store.root} any more "
                                "(removed?): start a new loop (a new state folder)")  # fmt: skip
        t0 = time.perf_counter()
        train, test = spec.load(cache_dir)
        pipe = load_pipeline(folder, train)
        pipe.config = pipeline_config  # same fitted part (the key); serving knobs as asked
        description = (f"loaded artefact {key} (trained {read_manifest(folder)['created']}) from {folder} "
                       f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    full = train.with_interactions(pd.concat([train.interactions, test.interactions]))
    return Base(pipe, train, world_for(full), key, description, spec)


def start_ts(train: Dataset) -> int:
    """The loop's clock origin: day 0 starts at the training data's "now" (its ``reference_ts``)."""
    return int(train.reference_ts)


def day_ts(train: Dataset, day: int) -> int:
    return start_ts(train) + int(day) * int(SECONDS_PER_DAY)


def log_clicks(events: pd.DataFrame, before_ts: float | None = None, after_ts: float | None = None) -> pd.DataFrame:
    """The clicks of an event log (`workbench.serving.eventlog.read_events`) with ``after_ts <= event_ts < before_ts``."""
    keep = (events["event_type"] == "click").to_numpy().copy()
    ts = events["event_ts"].to_numpy(np.float64)
    if before_ts is not None:
        keep &= ts < before_ts
    if after_ts is not None:
        keep &= ts >= after_ts
    return events[keep]


def training_data(base_train: Dataset, events: pd.DataFrame, day: int) -> Dataset:
    """``base_train`` plus every click logged before day ``day`` as an interaction, the data "as of"
    that day: its ``reference_ts`` is the day's start and item ages are counted to it."""
    cut = day_ts(base_train, day)
    clicks = log_clicks(events, before_ts=cut)
    users = base_train.user_index(clicks["user_id"].to_numpy())
    items = pd.Index(base_train.items["item_id"].to_numpy()).get_indexer(clicks["item_id"].to_numpy())
    if (items < 0).any():
        bad = clicks["item_id"].to_numpy()[items < 0][:5].tolist()
        raise ValueError(f"the event log holds item ids {bad} outside the catalogue of {base_train.name!r}")
    new = pd.DataFrame({"user": users, "item": items.astype(np.int64),
                        "timestamp": clicks["event_ts"].to_numpy(np.float64).astype(np.int64),
                        "rating": np.ones(len(clicks), np.float32)})  # fmt: skip
    inter = pd.concat([base_train.interactions, new], ignore_index=True)
    ages = (cut - base_train.items["release_ts"].to_numpy(np.float64)) / SECONDS_PER_DAY
    grown = base_train.with_interactions(inter, name=f"{base_train.name} + loop clicks before day {day}")
    return dataclasses.replace(grown, items=base_train.items.assign(age_days=ages), reference_ts=cut)


def version_key(base_key: str, mode: str, fingerprint: str) -> str:
    """16 hex digits over the starting artefact, the retraining mode, the data's fingerprint and the code."""
    blob = json.dumps({"base": base_key, "mode": mode, "data": fingerprint, "code": code_version()}, sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


@dataclass
class Version:
    """One model version: its key, the first day it served, how it was made and how long that took."""

    key: str
    day: int  # trained on the log's clicks before this day (0: the starting model)
    mode: str  # "base", "refresh" or "full"
    seconds: float = 0.0
    loaded: bool = False  # found in the store (published earlier) rather than fitted now

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Versions:
    """The loop's versions in a model store; each is loaded once and kept (``pipeline``, ``train``)."""

    def __init__(self, base: Base, store: ModelStore | None = None, progress: Progress | None = None) -> None:
        self.base = base
        self.store = store or ModelStore()
        self.say = progress or (lambda _msg: None)
        self._pipes: dict[str, Pipeline] = {base.key: base.pipeline}
        self._trains: dict[str, Dataset] = {base.key: base.train}

    def pipeline(self, key: str) -> Pipeline:
        return self._pipes[key]

    def train(self, key: str) -> Dataset:
        return self._trains[key]

    def loaded(self, key: str) -> bool:
        return key in self._pipes

    def retrain(self, day: int, mode: str, events: pd.DataFrame) -> Version:
        """The version trained on the log's clicks before ``day`` (``mode``: refresh or full): loaded from
        the store when published already, else fitted now and published."""
        t0 = time.perf_counter()
        train = training_data(self.base.train, events, day)
        key = version_key(self.base.key, mode, train.fingerprint)
        if key in self._pipes:
            return Version(key, day, mode, 0.0, True)
        folder = self.store.path(key)
        if folder.is_dir():
            try:
                self._keep(key, self._load(folder, train), train)
                return Version(key, day, mode, time.perf_counter() - t0, True)
            except ArtefactError as exc:
                self.say(f"version {key} could not be loaded ({exc}); retraining it")
        self.say(f"retraining ({mode}) on {train.n_interactions:,} interactions, {train.n_interactions - self.base.train.n_interactions:,} "
                 f"of them clicks from the loop's log before day {day}")  # fmt: skip
        pipe = self._fit(mode, train)
        save_pipeline(pipe, folder, None, key)
        self._keep(key, pipe, train)
        return Version(key, day, mode, time.perf_counter() - t0, False)

    def reopen(self, version: Version, events: pd.DataFrame) -> None:
        """Load a version published earlier (a resumed loop, a served version), rebuilding its training data
        from the log; `load_pipeline` checks that data's fingerprint against the one the version was fitted on."""
        if version.key in self._pipes:
            return
        train = training_data(self.base.train, events, version.day)
        try:
            pipe = self._load(self.store.path(version.key), train)
        except ArtefactError as exc:
            raise ArtefactError(f"version {version.key} (day {version.day}, {version.mode}) cannot be reopened: {exc} "
                                "(was the event log changed, or the version removed from the store?)") from exc  # fmt: skip
        self._keep(version.key, pipe, train)

    def _load(self, folder, train: Dataset) -> Pipeline:
        pipe = load_pipeline(folder, train)
        pipe.config = self.base.pipeline.config  # serving knobs as the loop was started with
        return pipe

    def _keep(self, key: str, pipe: Pipeline, train: Dataset) -> None:
        self._pipes[key], self._trains[key] = pipe, train

    def _fit(self, mode: str, train: Dataset) -> Pipeline:
        config = self.base.pipeline.config
        t0 = time.perf_counter()
        if mode == "full":
            return Pipeline(config).fit(train, progress=self.say)
        if mode != "refresh":
            raise ValueError(f"retrain mode {mode!r}: expected refresh or full")
        pipe = Pipeline(config)
        ranker = copy.copy(self.base.pipeline.ranker_)  # the weights are shared, the statistics refreshed
        ranker.features_ = ranker.features_.with_history(train)
        pipe.ranker_ = ranker
        pipe.fit_candidates(train)
        pipe.fit_seconds_ = time.perf_counter() - t0
        return pipe
