"""Suite-wide: the model store lives in a fresh temporary folder for the whole run (inherited by the
notebook and CLI subprocesses), so tests never read or fill the user's data/models/."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_model_store(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBENCH_MODEL_STORE", str(tmp_path_factory.mktemp("model-store")))
    yield
    mp.undo()
