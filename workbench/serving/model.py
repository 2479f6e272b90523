"""The model the service serves: a fitted `Pipeline` from the model store, with its version.

`load_model` is the one place the service gets its pipeline: ``model_path`` loads an artefact
folder (`workbench.store.load_pipeline`); otherwise `workbench.store.load_or_train` loads the artefact that
matches (data, config, seed), training and storing it first when the store has none. The
artefact key is the ``model_version`` every answer carries and every feature-store key starts
with, so features are versioned with the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.data.dataset import Dataset
from workbench.pipeline import Pipeline, PipelineConfig


@dataclass
class ServedModel:
    pipeline: Pipeline
    train: Dataset  # what the pipeline was fitted on: the feature store is materialised from it
    version: str
    description: str


def load_model(data: str = "synthetic", config: PipelineConfig | None = None, seed: int = 0, small: bool = False,
               model_path: str | Path | None = None, progress: Callable[[str], None] | None = None,
               cache_dir: str | Path | None = None, mmap: bool = False) -> ServedModel:  # fmt: skip
    """The pipeline to serve and its version (see the module docstring)."""
    if model_path is not None:
        from workbench.store.store import load_pipeline, read_manifest

        folder = Path(model_path)
        if not folder.is_dir():
            raise FileNotFoundError(f"--model {model_path}: no such artefact folder (list them with `workbench models`)")
        t0 = time.perf_counter()
        pipeline = load_pipeline(folder, mmap=mmap)
        if config is not None:
            pipeline.config = config
        version = str(read_manifest(folder).get("key") or folder.name)
        return ServedModel(pipeline, pipeline.train_, version,
                           f"loaded artefact {version} from {folder} in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    from workbench.store import load_or_train

    trained = load_or_train(data, config, seed=seed, small=small, progress=progress, cache_dir=cache_dir, mmap=mmap)
    return ServedModel(trained.pipeline, trained.train, trained.key, trained.describe())
