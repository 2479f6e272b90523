"""The ipywidgets panels (`workbench.viz.panel`) in a real Jupyter kernel (nbclient) and in-process.

notebooks/jupyter_panel.ipynb and notebooks/experiments_panel.ipynb are executed as JupyterLab
would (a python3 kernel on the small synthetic world); the widget state the kernel saved is then
read back: the sliders hold the values the notebook set from Python, and the metrics, figures and
charts the panels show are the ones `workbench.lessons` computes here for those values.
"""

import dataclasses
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from workbench.lessons.lab import ALPHA, daily_readings, interleaving_readings
from workbench.lessons.whatif import HEADLINE
from workbench.viz.panel import ABPanel, InterleavingPanel, RerankPanel

from .conftest import ROOT

RERANK = ROOT / "notebooks" / "jupyter_panel.ipynb"
EXPERIMENTS = ROOT / "notebooks" / "experiments_panel.ipynb"


EXECUTE = """
import sys, time
from queue import Empty

import nbformat
from nbclient import NotebookClient


def polled(get_msg):
    # A message that has arrived can go unseen by zmq.asyncio's poll until its timeout ends (nbclient#312:
    # "when cell contains ipywidget, execute cell will sometimes block"); seen here as a client waiting out
    # its whole cell timeout on an idle kernel. Poll in steps of at most 0.5 s: each step looks at the
    # socket afresh, so a reply is read within half a second of its arrival, and the timeout still holds.
    async def get(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=step)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
    return get


class Client(NotebookClient):
    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        kc.shell_channel.get_msg = polled(kc.shell_channel.get_msg)
        kc.iopub_channel.get_msg = polled(kc.iopub_channel.get_msg)
        return kc


nb = nbformat.read(sys.argv[1], as_version=4)
Client(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def _execute(path, env, tmp_path):
    """Run the notebook as JupyterLab would, its client in a process of its own whose kernel channels
    are polled in short steps (see ``polled`` above: the client was seen waiting out its whole timeout
    on an idle kernel, in this process and in a fresh one)."""
    out = tmp_path / path.name
    subprocess.run([sys.executable, "-c", EXECUTE, str(path), str(out), str(ROOT / "notebooks")], env=env, check=True,
                   timeout=900)  # fmt: skip
    return nbformat.read(out, as_version=4)


def _states(nb) -> list[dict]:
    return [s["state"] for s in nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"].values()]


def _values(states, description: str) -> list[float]:
    """The values of the controls labelled ``description`` (a selection slider saves the label it shows)."""
    return [s["value"] if "value" in s else float(s["_options_labels"][s["index"]])
            for s in states if s.get("description") == description]  # fmt: skip


def _html_containing(states, text: str) -> str:
    found = [s["value"] for s in states if s.get("_model_name") == "HTMLModel" and text in s.get("value", "")]
    assert len(found) == 1, f"expected one HTML widget containing {text!r}, found {len(found)}"
    return found[0]


def _svg_outputs(states) -> list[str]:
    """The SVG charts the panels' Output areas hold, in order."""
    return [out["data"]["image/svg+xml"] for s in states if s.get("_model_name") == "OutputModel"
            for out in s.get("outputs", []) if "image/svg+xml" in out.get("data", {})]  # fmt: skip


def _metric_rows(html_text: str) -> dict[str, float]:
    return {m: float(v) for m, v in re.findall(r"<td[^>]*>([^<]+@\d+)</td><td[^>]*>(-?[\d.]+)</td>", html_text)}


@pytest.mark.slow  # a Jupyter kernel runs the whole notebook
def test_rerank_notebook_in_a_kernel_keeps_the_value_python_set(small_env, small_whatif, tmp_path):
    nb = _execute(RERANK, small_env, tmp_path)
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[1].outputs[-1]["data"]
    states = _states(nb)
    assert _values(states, "MMR λ (relevance weight)") == [0.5]  # set from Python; the sweep moved nothing

    with threadpool_limits(1):
        expected = small_whatif.run(dataclasses.replace(small_whatif.knobs, lam=0.5)).headline()
    shown = _metric_rows(_html_containing(states, "Every user, at λ = 0.50"))
    assert set(shown) == {f"{label}@10" for label in HEADLINE.values()}
    for name, label in HEADLINE.items():
        assert shown[f"{label}@10"] == pytest.approx(expected[name], abs=1e-4), name
    assert "lam 0.7 → 0.5" in _html_containing(states, "moved from the start")

    svgs = _svg_outputs(states)
    assert len(svgs) == 2 and "What reranking did to the slate of user" in svgs[0]
    assert "The accuracy–diversity frontier traced by λ" in svgs[1]
    assert f"current λ=0.50: NDCG@10 {expected['ndcg']:.4f}" in svgs[1]  # the marked point is the slider's

    table = nb.cells[5].outputs[-1]["data"]["text/plain"]
    assert "the slider still shows λ = 0.50" in nb.cells[5].outputs[0]["text"]
    diversity = next(line for line in table.splitlines() if line.startswith("intra_list_diversity")).split()[1:]
    assert float(diversity[0]) < float(diversity[1]) < float(diversity[2])  # λ 1.0, 0.7, 0.3


@pytest.mark.slow  # a Jupyter kernel runs the whole notebook
def test_experiments_notebook_in_a_kernel_shows_the_labs_figures(small_env, tmp_path):
    from workbench.lessons import kit
    from workbench.lessons.lab import make_lab

    nb = _execute(EXPERIMENTS, small_env, tmp_path)
    states = _states(nb)
    lifts, per_day, days = (_values(states, d) for d in ("true CTR lift of B (%)", "new users per day", "days"))
    assert len(set(lifts)) == 1 and per_day == [100, 100] and days == [7, 7]

    lab = make_lab(kit.dataset(kit.NotebookSettings(small=True)), seed=0)
    sigma = lab.treatment(float(lifts[0]))
    ab = daily_readings(lab, sigma, 100, 7, runs=12, seed=0)
    last = ab[ab["run"] == 0].iloc[-1]
    ab_text = _html_containing(states, "the test reads")
    assert f"<b>{last['estimate']:+.1f}%</b> [{last['low']:+.1f}%, {last['high']:+.1f}%], p = {last['p_value']:.3g}" in ab_text
    power = (ab.groupby("run")["p_value"].last() < ALPHA).mean()
    assert f"<b>{power:.0%}</b> of 12 repeats end significant" in ab_text

    inter = interleaving_readings(lab, sigma, 100, 7, runs=12, method="team_draft", seed=0)
    first = inter[inter["run"] == 0].iloc[-1]
    il_text = _html_containing(states, "B preferred by")
    assert f"B preferred by {int(first['wins_b']):,}, A by {int(first['wins_a']):,}, {int(first['ties']):,} ties" in il_text
    svgs = "".join(_svg_outputs(states))
    for title in ("p-value day by day, in 12 repeats", "Power against users per arm", "Sign-test p-value day by day"):
        assert title in svgs
    il_power = (inter.groupby("run")[["p_value", "wins_a", "wins_b"]].last()
                .pipe(lambda e: ((e["p_value"] < ALPHA) & (e["wins_b"] > e["wins_a"])).mean()))
    assert f"interleaving <b>{il_power:.0%}</b>, an A/B test of the same users <b>{power:.0%}</b>" in il_text


# --- in-process: the panels' contract ------------------------------------------------------------------


def test_setting_from_python_moves_the_widget_and_the_figures(small_whatif):
    panel = RerankPanel(small_whatif)
    slider = panel._controls["lam"]
    panel.lam = 0.3
    assert slider.value == 0.3 and panel.lam == 0.3  # the slider the page draws holds the value
    with threadpool_limits(1):
        expected = small_whatif.run(dataclasses.replace(small_whatif.knobs, lam=0.3)).headline()
    assert panel.headline() == pytest.approx(expected, abs=1e-9)
    assert panel.moved() == {"lam": (0.7, 0.3)} and "lam 0.7 → 0.3" in panel.drift.value
    slider.value = 0.6  # a drag in the browser sets the widget's value: same path
    assert panel.lam == 0.6 and panel.metrics_view.value.count("λ = 0.60") == 1
    panel.reset()
    assert panel.lam == 0.7 and panel.moved() == {} and panel.reset_button.layout.display == "none"


def test_sweep_computes_without_moving_a_slider(small_whatif):
    panel = RerankPanel(small_whatif)
    before = panel.metrics
    table = panel.sweep(lam=[1.0, 0.3])
    assert panel.lam == 0.7 and panel.metrics == before
    with threadpool_limits(1):
        at_03 = small_whatif.run(dataclasses.replace(small_whatif.knobs, lam=0.3)).headline()
    assert table["lam=0.3"].to_dict() == pytest.approx(at_03, abs=1e-9)


def test_bad_values_are_refused_naming_the_value(small_whatif):
    panel = RerankPanel(small_whatif)
    before = panel.metrics
    with pytest.raises(ValueError, match=r"k=500: expected 1\.\.\d+"):
        panel.k = 500
    with pytest.raises(ValueError, match=r"freshness_decay=0\.5: expected one of"):
        panel.freshness_decay = 0.5
    with pytest.raises(ValueError, match="'colour': not a control"):
        panel.set(colour=1)
    assert panel.metrics == before
    panel.k = 5
    assert panel.error == "" and panel.metrics[0]["metric"].endswith("@5")


def test_experiment_panels_follow_their_sliders(small_built):
    from workbench.lessons.lab import make_lab

    lab = make_lab(small_built.train, seed=0)
    ab = ABPanel(lab, users_per_day=100, days=3, runs=4)
    first = ab.summary
    ab.days = 6
    expected = daily_readings(lab, lab.treatment(ab.lift), 100, 6, runs=4, seed=0)
    last = expected[expected["run"] == 0].iloc[-1]
    assert ab.summary["users"] == int(last["users"]) and ab.summary["p_value"] == pytest.approx(last["p_value"])
    assert ab.summary != first and ab._controls["days"].value == 6
    inter = InterleavingPanel(lab, users_per_day=50, days=2, runs=3)
    inter.method = "balanced"
    readings = interleaving_readings(lab, lab.treatment(inter.lift), 50, 2, runs=3, method="balanced", seed=0)
    assert inter.summary["wins_b"] == int(readings.iloc[1]["wins_b"])  # run 0, day 2
    with pytest.raises(ValueError, match="users_per_day=7"):
        ABPanel(lab, users_per_day=7)


def test_interleaving_readings_add_up(small_built):
    from workbench.experiment.interleaving import sign_test_p
    from workbench.lessons.lab import make_lab

    lab = make_lab(small_built.train, seed=0)
    r = interleaving_readings(lab, lab.treatment(10.0), 40, 3, runs=2, seed=1)
    assert list(r["users"]) == [40, 80, 120] * 2
    assert (r["wins_a"] + r["wins_b"] + r["ties"] == r["users"]).all()
    for _, run in r.groupby("run"):  # cumulative: never fewer wins on a later day
        assert np.all(np.diff(run["wins_a"]) >= 0) and np.all(np.diff(run["wins_b"]) >= 0)
    assert np.allclose(r["p_value"], sign_test_p(r["wins_a"].to_numpy(), r["wins_b"].to_numpy()))
    with pytest.raises(ValueError, match="users_per_day=1"):
        interleaving_readings(lab, lab.control_sigma, 1, 3)
