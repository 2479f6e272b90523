"""Fixtures for the loop tests: the loop's starting point, tests/conftest.py's tiny pipeline on the small
synthetic world, trained once into the session's model store (``WORKBENCH_MODEL_STORE``) and shared
(`workbench.loop.Base`). The real redis-server is tests/conftest.py's ``redis``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def base(tiny_pipeline_toml):
    """The loop's starting point: the tiny pipeline on the small world (trained once per session) and its truth."""
    from workbench.loop import load_base

    return load_base("synthetic", seed=0, small=True, pipeline_config=tiny_pipeline_toml)
