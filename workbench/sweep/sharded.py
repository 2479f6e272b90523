"""Every user's list from a stored pipeline, in fixed shards of users: in this process or on a Dask cluster.

Evaluation is embarrassingly parallel over users: each user's list depends on the fitted
pipeline and that user alone. `recommend_all` cuts the users into shards of `SHARD_USERS`
(consecutive, in the order given; the cut depends on the shard size only, never on how many
workers there are) and runs ``Pipeline.recommend`` on each shard:

- ``client=None``: shard after shard in this process, with the pipeline given;
- with a `distributed.Client` (a LocalCluster, or ``--scheduler ADDRESS``): one task per
  shard. The task ships only the shard's user ids and the config; each worker reads the
  artefact from the model store's folder and the data from the data cache (paths that must
  be the same on every machine: a shared file system) and keeps the loaded pipeline for its
  later shards (`workbench.sweep.cache`).

The same shards go through the same ``recommend`` call either way, so the lists, and the
metrics computed from them, are identical (``tests/sweep/test_sharded.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from workbench.sweep.cache import cached, count

SHARD_USERS = 4096


def shards(users: np.ndarray, size: int = SHARD_USERS) -> list[np.ndarray]:
    """``users`` cut into consecutive pieces of ``size`` (the last may be shorter)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"shard size {size!r}: expected a positive number of users")
    users = np.asarray(users, dtype=np.int64).reshape(-1)
    return [users[lo : lo + size] for lo in range(0, len(users), size)]


def recommend_shard(folder: str, spec: dict[str, Any], cache_dir: str, config: dict[str, Any], users: np.ndarray,
                    k: int) -> np.ndarray:  # fmt: skip
    """On a worker: the stored pipeline in ``folder`` (loaded once per process, its train split
    rebuilt from ``spec`` in ``cache_dir``), served with ``config``; the lists of ``users``."""
    from workbench.pipeline import PipelineConfig
    from workbench.store import DataSpec, load_pipeline

    def load():
        count("loads")
        train, _ = DataSpec(**spec).load(cache_dir)
        return load_pipeline(folder, train)

    pipe = cached(("pipeline-folder", str(folder)), load)
    served = _served(pipe, PipelineConfig.from_dict(config))
    return served.recommend(users, k).items


def _served(pipe: Any, config: Any) -> Any:
    """A shallow copy of ``pipe`` serving with ``config`` (the fitted stages shared)."""
    import copy

    out = copy.copy(pipe)
    out.config = config
    return out


def recommend_all(pipeline: Any, users: np.ndarray, k: int, *, client: Any = None, folder: str | Path | None = None,
                  spec: Any = None, cache_dir: str | Path = "data", shard_users: int = SHARD_USERS) -> np.ndarray:  # fmt: skip
    """The ``k``-item lists of ``users`` (row ``i`` = ``users[i]``), shard by shard; see the module docstring.

    ``pipeline``: the fitted pipeline (its config is the one served). With ``client``,
    ``folder`` (its stored artefact) and ``spec`` (its `workbench.store.DataSpec`) are needed."""
    parts = shards(users, shard_users)
    if client is None:
        outs = [pipeline.recommend(part, k).items for part in parts]
    else:
        if folder is None or spec is None:
            raise ValueError("recommend_all on a cluster needs the artefact folder and its data spec")
        config = pipeline.config.to_dict()
        args = (str(Path(folder).resolve()), dataclasses.asdict(spec), str(Path(cache_dir).resolve()), config)
        futures = [client.submit(recommend_shard, *args, part, k, pure=False) for part in parts]
        outs = client.gather(futures)
    width = max((o.shape[1] for o in outs), default=k)
    out = np.full((len(np.asarray(users).reshape(-1)), width), -1, dtype=np.int64)
    lo = 0
    for o in outs:
        out[lo : lo + len(o), : o.shape[1]] = o
        lo += len(o)
    return out
