"""The model store: fitted pipelines as versioned artefact folders under ``data/models/`` (no pickle).

``load_or_train(data, config, seed=…)`` is what notebooks, reports, the CLI, the service and
the sweeps call: it loads the matching artefact, or trains, stores and returns one.
"""

from workbench.store.codec import ArtefactError, read_state, write_state
from workbench.store.store import (
    DataSpec, ModelStore, Trained, artefact_key, code_version, default_root, load_or_train, load_pipeline,
    save_pipeline, verify,
)  # fmt: skip

__all__ = [
    "ArtefactError", "DataSpec", "ModelStore", "Trained", "artefact_key", "code_version", "default_root",
    "load_or_train", "load_pipeline", "read_state", "save_pipeline", "verify", "write_state",
]  # fmt: skip
