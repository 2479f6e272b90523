"""Suite-wide fixtures.

- The model store lives in a fresh temporary folder for the whole run (inherited by the notebook and
  CLI subprocesses), so tests never read or fill the user's data/models/. Under pytest-xdist (`make
  test` runs two workers) the workers share one store: the store's lock makes a second worker wait
  for an artefact the first is training instead of training it again.
- ``tiny_pipeline_toml``: the cheap pipeline the serving and loop tests share (EASE, item-kNN and
  popularity fused, a two-epoch Wide & Deep ranker), as a TOML file.
- ``redis``: one real redis-server for the session (Debian's; `make test` installs it). Without it
  the tests that need it fail, loudly, instead of being skipped.
"""

import os
from pathlib import Path

import pytest

TINY_PIPELINE_TOML = """
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


def pytest_collection_modifyitems(config, items):
    """A test that drives a browser is slow too: ``pytest -m "not slow"`` (``make test-fast``) leaves
    every browser test out; ``make test`` runs everything."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def model_store(tmp_path_factory) -> Path:
    """The run's model store (see the module docstring). The only fixture that points
    ``WORKBENCH_MODEL_STORE`` anywhere for the session: two session fixtures each setting it, as the
    serving and notebook suites once did, leave it at whichever ran last, and a worker that runs both
    suites stores into one and looks into the other."""
    mp = pytest.MonkeyPatch()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one store for every worker of this run
        store = tmp_path_factory.getbasetemp().parent / "model-store"
        store.mkdir(exist_ok=True)
    else:
        store = tmp_path_factory.mktemp("model-store")
    mp.setenv("WORKBENCH_MODEL_STORE", str(store))
    yield store
    mp.undo()


@pytest.fixture(scope="session")
def tiny_pipeline_toml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-pipeline") / "tiny.toml"
    path.write_text(TINY_PIPELINE_TOML)
    return path


@pytest.fixture(scope="session")
def redis():
    from workbench.serving.redis_server import RedisServer, find_redis_server

    find_redis_server()
    server = RedisServer(die_with_parent=True).start()  # no orphan if the test run is killed
    yield server
    server.stop(remove_dir=True)
