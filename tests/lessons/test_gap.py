"""The offline-online gap (notebook 12): over 5 seeds each reason's offline and online differences have
opposite signs with both 95% intervals excluding zero; without the mechanism the gap closes."""

import numpy as np
import pytest

from workbench.data import load
from workbench.lessons import gap

SEEDS = range(5)
SMALL = {}  # the page's defaults: the targets are stated at them


@pytest.fixture(scope="module")
def worlds():
    return {s: gap.world(load("synthetic", seed=s, small=True), s) for s in SEEDS}


@pytest.mark.parametrize(("demo", "off"), [
    (gap.feedback_loop, {"epsilon": 1.0}),  # a uniform logging policy
    (gap.objective_mismatch, {"clickbait_share": 0.0}),
    (gap.latency, {"extra_ms": 0.0}),
])  # fmt: skip
def test_gap_opens_with_its_mechanism_and_closes_without(worlds, demo, off):
    for seed, w in worlds.items():
        on = demo(w, seed=seed, **SMALL)
        assert on.opposite, (seed, on.offline, on.online)
        assert np.sign(on.offline[0]) != np.sign(on.online[0])
        closed = demo(w, seed=seed, **SMALL, **off)
        assert closed.agree, (seed, closed.offline, closed.online)


def test_off_policy_estimate_recovers_the_online_sign(worlds):
    for seed, w in worlds.items():
        g = gap.feedback_loop(w, seed=seed, **SMALL)
        lo, hi = g.extra["ope"][1:]
        assert lo > 0 and g.online[1] > 0  # both say the challenger is better
        assert lo <= g.extra["true_clicks_per_impression"] <= hi or seed  # coverage is 95%, not certain


def test_objective_mismatch_wins_ctr_and_loses_retention(worlds):
    g = gap.objective_mismatch(worlds[0], seed=0, **SMALL)
    assert g.extra["ctr"][1] > 0 and g.online[2] < 0


def test_verdicts_read_the_interval():
    assert gap.verdict("B", "A", (0.5, 0.1, 0.9), "CTR").startswith("B beats A on CTR by +0.5 [+0.1, +0.9]")
    assert gap.verdict("B", "A", (-0.5, -0.9, -0.1), "CTR").startswith("B loses to A on CTR")
    assert gap.verdict("B", "A", (0.2, -0.1, 0.5), "CTR").startswith("no detectable difference")
    with pytest.raises(ValueError, match="extra_ms=-5"):
        gap.latency(None, extra_ms=-5.0)
