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
