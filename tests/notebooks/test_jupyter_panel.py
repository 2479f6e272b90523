"""notebooks/jupyter_panel.ipynb runs in a real Jupyter kernel and its widget recomputes on a slider move."""

import dataclasses

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.lessons.whatif import HEADLINE
from workbench.viz.panel import RerankPanel

from .conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "jupyter_panel.ipynb"


def _panel_state(nb) -> dict:
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    panels = [s["state"] for s in states.values() if "lam" in s["state"] and "metrics" in s["state"]]
    assert len(panels) == 1, "expected one RerankPanel in the saved widget state"
    return panels[0]


def test_panel_notebook_executes_and_its_widget_follows_lambda(small_env, small_whatif, monkeypatch):
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()

    display = nb.cells[1].outputs[-1]
    assert "application/vnd.jupyter.widget-view+json" in display["data"]
    state = _panel_state(nb)
    assert state["lam"] == 0.3  # the last value the sweep set

    expected = small_whatif.run(dataclasses.replace(small_whatif.knobs, lam=0.3)).headline()
    shown = {row["metric"]: row["value"] for row in state["metrics"]}
    for name, label in HEADLINE.items():
        assert shown[f"{label}@10"] == pytest.approx(expected[name], abs=1e-4)
    assert len(state["slate"]) == 10

    table = nb.cells[3].outputs[-1]["data"]["text/plain"].splitlines()
    diversity = next(line for line in table if line.startswith("intra_list_diversity")).split()[1:]
    assert float(diversity[0]) < float(diversity[1]) < float(diversity[2])  # lambda 1.0, 0.7, 0.3


def test_panel_reports_bad_k_instead_of_raising(small_whatif):
    panel = RerankPanel(small_whatif)
    before = panel.metrics
    panel.k = 500
    assert "k=500" in panel.error
    assert panel.metrics == before
    panel.k = 5
    assert panel.error == "" and panel.metrics[0]["metric"].endswith("@5")
