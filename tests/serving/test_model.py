"""Memory-mapped model artefacts: the served pipeline's arrays are read-only maps of the artefact's .npy
files (replicas share those pages), and it answers exactly as the pipeline read into memory does."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.pipeline import PipelineConfig
from workbench.serving.model import load_model
from workbench.serving.service import ServiceConfig


def arrays(obj, seen=None):
    """Every numpy array reachable from ``obj`` (attributes, containers, sparse matrices' buffers)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return [obj]
    if sp.issparse(obj):
        return [obj.data, obj.indices, obj.indptr]
    if isinstance(obj, dict):
        return [a for v in obj.values() for a in arrays(v, seen)]
    if isinstance(obj, (list, tuple)):
        return [a for v in obj for a in arrays(v, seen)]
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("workbench."):
        return [a for v in vars(obj).values() for a in arrays(v, seen)]
    return []


def test_mmapped_pipeline_shares_pages_and_answers_as_the_one_in_memory(stored_model, tiny_pipeline_toml, serve):
    config = PipelineConfig.from_toml(tiny_pipeline_toml)
    mapped = load_model("synthetic", config, seed=0, small=True, mmap=True)
    loaded = load_model("synthetic", config, seed=0, small=True)  # the same artefact, read into memory
    found = [a for a in arrays(mapped.pipeline) if a.nbytes >= 4096]
    found.sort(key=lambda a: -a.nbytes)
    mapped_ones = [a for a in found if isinstance(a, np.memmap) or isinstance(a.base, np.memmap)]
    in_memory = [a for a in arrays(loaded.pipeline) if isinstance(a, np.memmap) or isinstance(a.base, np.memmap)]
    assert mapped.version == loaded.version == stored_model.version
    assert found and (isinstance(found[0], np.memmap) or isinstance(found[0].base, np.memmap))  # the biggest one
    assert len(mapped_ones) >= 3 and not any(a.flags.writeable for a in mapped_ones) and in_memory == []
    patient = ServiceConfig(redis_timeout_ms=2000.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)
    users = [int(u) for u in loaded.train.users["user_id"].to_numpy()[:20]]
    answers = {}
    for name, model in (("mapped", mapped), ("loaded", loaded)):
        with serve(patient, served_model=model) as s:
            got = [s.client.get("/recommend", params={"user": u}).json() for u in users]
        answers[name] = [(a["items"], a["scores"], a["degraded"]) for a in got]
    assert answers["mapped"] == answers["loaded"] and all(d is None for _, _, d in answers["mapped"])
