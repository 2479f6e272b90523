"""Shared helpers for notebook tests: the venv's executables, a model store for the session, a
small-world environment for notebook subprocesses, and each notebook's script run (made once)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARIMO = str(BIN / "marimo") if (BIN / "marimo").exists() else "marimo"
STORE_ENV = "WORKBENCH_MODEL_STORE"


@pytest.fixture(scope="session")
def model_store(tmp_path_factory):
    """One model store for the whole session, shared by this process and every notebook it runs:
    the first user of a pipeline trains and stores it, the others load it (as on a reader's machine)."""
    folder = tmp_path_factory.mktemp("models")
    before = os.environ.get(STORE_ENV)
    os.environ[STORE_ENV] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(STORE_ENV, None)
    else:
        os.environ[STORE_ENV] = before


@pytest.fixture(scope="session")
def small_env(model_store, tmp_path_factory):
    """Environment for notebook subprocesses: the small synthetic world, single-threaded BLAS, the session's store,
    and the session's own folders for persisted page results and typed answers (never the project's data/)."""
    return {**os.environ, "WORKBENCH_SMALL": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", STORE_ENV: str(model_store),
            "WORKBENCH_PAGE_RESULTS": str(tmp_path_factory.mktemp("page-results")),
            "WORKBENCH_ANSWERS": str(tmp_path_factory.mktemp("answers"))}  # fmt: skip


@pytest.fixture(scope="session")
def small_built(model_store):
    """The default pipeline on the small synthetic world, from the session's store (trained there once),
    single-threaded like the notebook subprocesses (`small_env`): float sums in BLAS and torch depend
    on the thread count, and the tests compare this process's numbers with theirs to 4 decimals."""
    import torch
    from threadpoolctl import threadpool_limits  # installed with implicit

    from workbench.lessons import kit

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return kit.trained(kit.NotebookSettings(small=True))
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def small_whatif(small_built):
    """The reranking what-if over `small_built` (stages 1–2 for every user, single-threaded)."""
    import torch
    from threadpoolctl import threadpool_limits

    from workbench.lessons.whatif import prepare

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return prepare(small_built)[0]
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def script_runs(small_env, tmp_path_factory):
    """``run(notebook, *args)``: the notebook run as a plain script on the small world, once per
    (notebook, args); returns (completed process, folder of the charts it drew)."""
    done: dict[tuple, tuple[subprocess.CompletedProcess, Path]] = {}

    def run(notebook: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
        key = (notebook.name, *args)
        if key not in done:
            charts = tmp_path_factory.mktemp(f"charts-{notebook.stem}")
            proc = subprocess.run([sys.executable, str(notebook), *args], capture_output=True, text=True, cwd=ROOT,
                                  env={**small_env, "WORKBENCH_CHART_DIR": str(charts)}, timeout=900)  # fmt: skip
            done[key] = (proc, charts)
        return done[key]

    return run
