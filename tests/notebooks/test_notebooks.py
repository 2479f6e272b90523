"""Every notebook passes `marimo check --strict`, runs as a plain script, and exports to HTML
without a cell error, on the small synthetic world. Each notebook is run once per mode."""

import json
import subprocess
import sys

import pytest

from workbench.report import NotebookSettings, export_reports, list_notebooks

from .conftest import MARIMO, ROOT

NOTEBOOKS = list_notebooks(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]

# Numbers a reader must see in each exported page (worked out independently, see tests/viz).
EXPECTED_TEXT = {
    "05_metrics": ["0.2961", "0.3333", "0.6667", "Conventions"],
}


def test_notebooks_folder_holds_the_teaching_sequence():
    prefixes = sorted(p.name[:2] for p in NOTEBOOKS)
    assert prefixes == sorted(set(prefixes)), "two notebooks share a number"
    assert "05" in prefixes


def test_every_notebook_passes_marimo_check_strict():
    run = subprocess.run([MARIMO, "check", "--strict", *map(str, NOTEBOOKS)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_runs_as_a_script(notebook, small_env):
    run = subprocess.run([sys.executable, str(notebook), "--small"], capture_output=True, text=True, cwd=ROOT,
                         env=small_env, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exports_to_stamped_html_without_a_cell_error(notebook, tmp_path, small_env, monkeypatch):
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    settings = NotebookSettings(data="synthetic", seed=0, small=True)
    [page] = export_reports(tmp_path, settings, [notebook])
    text = page.read_text(encoding="utf-8")
    assert 'id="workbench-stamp"' in text
    assert f"python notebooks/{notebook.name} --data synthetic --seed 0 --small" in text
    for expected in EXPECTED_TEXT.get(notebook.stem, []):
        assert expected in text, f"{expected!r} missing from the exported {notebook.name}"
    prov = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
    assert prov["seed"] == 0 and prov["data"] == "synthetic" and prov["versions"]["marimo"] != "absent"
    assert notebook.stem in (tmp_path / "index.html").read_text()
