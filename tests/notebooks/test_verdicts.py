"""No page states a comparison that its own interval contradicts (issue 21).

Reads what every notebook printed in its script run on the small world (the suite's one run per
notebook, `script_runs`, shared with test_notebooks.py), finds each verdict the page printed
("B beats A by x (95% CI [lo, hi])", "no detectable difference ... (95% CI [lo, hi] covers 0)",
worded by `workbench.lessons.verdicts`) and checks it against its printed interval.
"""

import pytest

from workbench.lessons import verdicts
from workbench.report.export import list_notebooks

from .conftest import ROOT

NOTEBOOKS = list_notebooks(ROOT / "notebooks")
# Pages whose lesson is a comparison: each must print at least one verdict with its interval.
COMPARING = {"02_candidates", "03_ranking", "04_reranking"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_printed_verdict_agrees_with_its_interval(notebook, script_runs):
    run, _ = script_runs(notebook, "--small")
    assert run.returncode == 0, run.stderr[-4000:]
    found = verdicts.read(run.stdout)
    if notebook.stem in COMPARING:
        assert found, f"{notebook.name} printed no verdict with its interval"
    assert verdicts.contradictions(run.stdout) == []
    for v in found:  # a winner is never named inside the noise, and "no difference" never outside it
        assert (v["kind"] == "beats") == (v["low"] > 0 or v["high"] < 0), v["text"]
