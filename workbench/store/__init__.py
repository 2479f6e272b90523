"""The model store: fitted pipelines as versioned artefact folders under ``data/models/`` (no pickle).

``load_or_train(data, config, seed=…)`` is what notebooks, reports, the CLI, the service and
the sweeps call: it loads the matching artefact, or trains, stores and returns one.

The names below are imported when first used (PEP 562): the store imports the pipeline and with it
torch, which `workbench.store.memo`'s users (a page that shows only a kept data card) do not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.store.codec import ArtefactError, read_state, write_state
    from workbench.store.store import (
        DataSpec, ModelStore, Trained, artefact_key, code_version, default_root, load_or_train, load_pipeline,
        save_pipeline, verify,
    )  # fmt: skip

__all__ = [
    "ArtefactError", "DataSpec", "ModelStore", "Trained", "artefact_key", "code_version", "default_root",
    "load_or_train", "load_pipeline", "read_state", "save_pipeline", "verify", "write_state",
]  # fmt: skip
_FROM = {"ArtefactError": "codec", "read_state": "codec", "write_state": "codec"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_FROM.get(name, 'store')}"), name)
    globals()[name] = value
    return value
