"""Every notebook passes `marimo check --strict`, runs as a plain script, and exports to HTML
without a cell error, on the small synthetic world. Each notebook is run once per mode."""

import json
import re
import subprocess
import sys

import pytest

from workbench.report import NotebookSettings, export_reports, list_notebooks

from .conftest import MARIMO, ROOT

NOTEBOOKS = list_notebooks(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]

# What a reader must see in each exported page: computed outputs (patterns that the notebook's
# source code, which the page also embeds, cannot match).
EXPECTED_OUTPUT = {
    "01_tour": [r"catalogue 300 \\u2192 candidates \d+", r"a request takes [\d.]+ ms at the median", r"NDCG@10 \S*0\.\d{4}"],
    "02_candidates": [r"at N=\d+: best \w+ \(\d+\.\d%\)", r"max-of-raw-scores: \w+ wins \d+%"],
    "03_ranking": [r"best: \w+ \(NDCG@10 0\.\d{4}", r"scrambling .{1,80} costs -?0\.\d{4} of NDCG@10"],
    "04_reranking": [r"Top of the slate:\S* [A-Z]", r"metrics: NDCG 0\.\d{4}", r"This move took \S*strong\S* ?\d+ ms"],
    "05_metrics": [r"\[1/log2\(3\)\] / \[1/log2\(2\) \+ 1/log2\(3\) \+ 1/log2\(4\)\]", r"0\.2961"],
    "06_ab_testing": [r"the test reads \S*[+-]\d+\.\d%", r"peeking declares \d+% of A/A tests"],
    "07_interleaving": [r"correct: A/B needs ~[\d,]+ users", r"credit for this impression: A \d+, B \d+"],
}


def test_notebooks_folder_holds_the_teaching_sequence():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]
    assert NOTEBOOKS[0].name == "01_tour.py"
    assert set(EXPECTED_OUTPUT) == {p.stem for p in NOTEBOOKS}


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
    for pattern in EXPECTED_OUTPUT.get(notebook.stem, []):
        assert re.search(pattern, text), f"no output matching {pattern!r} in the exported {notebook.name}"
    prov = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
    assert prov["seed"] == 0 and prov["data"] == "synthetic" and prov["versions"]["marimo"] != "absent"
    assert notebook.stem in (tmp_path / "index.html").read_text()
