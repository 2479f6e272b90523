"""Injected incidents (`workbench.loop.incidents`): a pushed ranker with negated scores shows each visitor the bottom of
the pool, which the simulated users would click less (exact expected CTR, no click noise), and the loop's monitoring
reports it on the day it starts; the setting is checked."""

import numpy as np
import pandas as pd
import pytest

from workbench.loop import Loop, LoopConfig
from workbench.loop.incidents import invert_scores
from workbench.monitoring import LOOP_RULES, AlertConfig
from workbench.types import PAD, CandidateSet

SETTINGS = dict(small=True, days=2, retrain_every=0, features="memory", epsilon=0.0, drift_window=1,
                alerts=AlertConfig(rules=LOOP_RULES, baseline_window=1))  # fmt: skip


def test_invert_scores_negates_real_cells_and_keeps_items_and_padding():
    ranked = CandidateSet(np.array([0, 1]), np.array([[4, 2, 7], [3, PAD, PAD]]),
                          np.array([[0.9, 0.5, -0.2], [1.5, -np.inf, -np.inf]]))  # fmt: skip
    out = invert_scores(ranked)
    assert np.array_equal(out.items, ranked.items)
    np.testing.assert_array_equal(out.scores, np.array([[-0.9, -0.5, 0.2], [-1.5, -np.inf, -np.inf]], np.float32))
    assert list(out.items[0, np.argsort(-out.scores[0])]) == [7, 2, 4]  # the pool's order, upside down


def _slates(events: pd.DataFrame, day: int, loop: Loop) -> tuple[np.ndarray, np.ndarray]:
    """The day's slates from the log: (user rows, items [sessions, k]) in request order."""
    imp = events[(events["event_type"] == "impression") & events["request_id"].str.startswith(f"d{day}.")]
    wide = imp.pivot(index="request_id", columns="position", values="item_id")
    items = pd.Index(loop.item_ids).get_indexer(wide.to_numpy().ravel()).reshape(wide.shape)
    users = imp.groupby("request_id")["user_id"].first().loc[wide.index]
    return pd.Index(loop.user_ids).get_indexer(users.to_numpy()), items


def _run(folder, base, **settings):
    loop = Loop(LoopConfig(**{**SETTINGS, **settings}), folder, base=base)
    try:
        return loop.run(), loop.events(), loop
    finally:
        loop.close()


def test_a_ranker_push_with_negated_scores_lowers_ctr_and_is_reported_on_its_day(tmp_path, base):
    stable, ev0, l0 = _run(tmp_path / "stable", base)
    pushed, ev1, l1 = _run(tmp_path / "pushed", base, shift_day=1, shift_kind="ranker")
    cols = ["ctr", "coverage", "psi:score", "psi:item_popularity"]
    pd.testing.assert_series_equal(stable.daily[cols].iloc[0], pushed.daily[cols].iloc[0])  # day 0: the same day
    (r0, items0), (r1, items1) = _slates(ev0, 1, l0), _slates(ev1, 1, l1)
    assert np.array_equal(r0, r1)  # the same sessions on day 1, other slates
    assert (items0 != items1).any()
    ctr0, _ = l0.sim.expected_ctr(r0, items0)  # the simulated users' true click probabilities, no draw
    ctr1, _ = l1.sim.expected_ctr(r1, items1)
    assert ctr1.mean() < 0.95 * ctr0.mean()
    fired = {(a.metric, a.when[1]) for a in pushed.alerts if a.state == "firing"}
    assert ("psi:score", 1) in fired  # reported on the day of the push
    assert pushed.daily["psi:score"].iloc[1] > 10 * stable.daily["psi:score"].iloc[1]


def test_an_unknown_incident_is_refused():
    with pytest.raises(ValueError, match=r"shift_kind='outage': expected one of \('explore', 'ranker'\)"):
        LoopConfig(shift_kind="outage")
