"""Fixtures for the loop tests: a real redis-server, one tiny pipeline on the small synthetic world.

The pipeline (EASE, item-kNN and popularity fused, a two-epoch Wide & Deep ranker) is trained once
into the session's model store (``WORKBENCH_MODEL_STORE``, set by tests/conftest.py) and shared as
the loop's starting point (`workbench.loop.Base`). redis-server must be installed (`make test`
installs Debian's): without it the tests that need it fail, loudly, instead of being skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.serving.redis_server import RedisServer, find_redis_server

TINY_TOML = """
n_candidates = 100
per_source_k = 100
n_ranked = 50
ranker = "wide_deep"
[weights]
ease = 1.0
itemknn = 1.0
popular = 1.0
[train]
epochs = 2
"""


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("loop-config") / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


@pytest.fixture(scope="session")
def base(tiny_path):
    """The loop's starting point: the tiny pipeline on the small world (trained once per session) and its truth."""
    from workbench.loop import load_base

    return load_base("synthetic", seed=0, small=True, pipeline_config=tiny_path)


@pytest.fixture(scope="session")
def redis():
    find_redis_server()
    server = RedisServer().start()
    yield server
    server.stop(remove_dir=True)
