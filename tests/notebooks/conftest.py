"""Shared helpers for notebook tests: the venv's executables, a model store for the session, a
small-world environment for notebook subprocesses, and each notebook's one run (its export, read
as the page, the script's printed lines and the charts it drew; made once per session)."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MARIMO = str(BIN / "marimo") if (BIN / "marimo").exists() else "marimo"
STORE_ENV = "WORKBENCH_MODEL_STORE"


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


@dataclass(frozen=True)
class NotebookRun:
    """One run of a notebook (its marimo export on the small world), read three ways: ``printed``,
    the lines a script run prints (the kit's transcript); ``charts``, the folder of the charts it
    drew; ``page``, the exported HTML, with its provenance sidecar in ``folder``."""

    printed: str
    charts: Path
    page: Path
    folder: Path


@pytest.fixture(scope="session")
def notebook_runs(small_env, tmp_path_factory):
    """``run(notebook)``: the notebook exported once per session (`workbench.report.export.export_reports`,
    marimo's page) with the kit's transcript and the chart recorder on, so that the script check,
    the chart check and the export check share one run. An export that fails fails every test
    that reads it, with the same error, without running again."""
    from workbench.lessons import kit
    from workbench.report.export import export_reports
    from workbench.viz.charts import RECORD_ENV

    done: dict[str, NotebookRun | RuntimeError] = {}

    def run(notebook: Path) -> NotebookRun:
        if notebook.name not in done:
            folder = tmp_path_factory.mktemp(f"run-{notebook.stem}")
            charts, transcript = folder / "charts", folder / "printed.txt"
            charts.mkdir()
            with pytest.MonkeyPatch.context() as mp:
                for key, value in {**small_env, RECORD_ENV: str(charts), kit.TRANSCRIPT_ENV: str(transcript)}.items():
                    mp.setenv(key, value)
                settings = kit.NotebookSettings(data="synthetic", seed=0, small=True)
                try:
                    [page] = export_reports(folder / "export", settings, [notebook], fmt="marimo")
                except RuntimeError as exc:  # export_reports names the notebook and gives marimo's stderr
                    done[notebook.name] = exc
                else:
                    printed = transcript.read_text(encoding="utf-8") if transcript.exists() else ""
                    done[notebook.name] = NotebookRun(printed, charts, page, folder / "export")
        result = done[notebook.name]
        if isinstance(result, RuntimeError):
            raise result
        return result

    return run


@pytest.fixture(scope="session")
def script_runs(notebook_runs):
    """``run(notebook, "--small")``, for tests written against a script run: the notebook's one run
    (`notebook_runs`) as a finished process whose stdout is what a script run prints, and the folder
    of its charts. Only the small world is run once; other arguments are refused."""

    def run(notebook: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
        if args != ("--small",):
            raise ValueError(f"script_runs{args}: only the small world's one run is shared; expected ('--small',)")
        done = notebook_runs(notebook)
        return subprocess.CompletedProcess([sys.executable, str(notebook), *args], 0, done.printed, ""), done.charts

    return run
