"""Shared helpers for notebook tests: the venv's executables and a small-world environment."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARIMO = str(BIN / "marimo") if (BIN / "marimo").exists() else "marimo"


@pytest.fixture(scope="session")
def small_env():
    """Environment for notebook subprocesses: the small synthetic world, single-threaded BLAS."""
    return {**os.environ, "WORKBENCH_SMALL": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}  # fmt: skip


@pytest.fixture(scope="session")
def small_whatif():
    """The reranking what-if on the small synthetic world, prepared once for every test that needs it,
    single-threaded like the notebook subprocesses (`small_env`): float sums in BLAS and torch depend
    on the thread count, and the tests compare this process's numbers with theirs to 4 decimals."""
    import torch
    from threadpoolctl import threadpool_limits  # installed with implicit

    from workbench.report import NotebookSettings
    from workbench.viz.whatif import prepare

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            return prepare(NotebookSettings(small=True))[0]
    finally:
        torch.set_num_threads(threads)
