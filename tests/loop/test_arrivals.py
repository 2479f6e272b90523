"""A living catalogue: items arrive on their day and not before, the starting model never saw them, the
fresh-arrivals pool is built as documented, the settings are checked, and repeat consumption does what it says."""

import numpy as np
import pandas as pd
import pytest

from workbench.loop import Loop, LoopConfig
from workbench.loop.arrivals import catalogue_at_start, schedule, with_fresh
from workbench.loop.versions import day_ts
from workbench.types import PAD, CandidateSet

DAY = 86_400


def test_schedule_brings_the_rate_each_day_seeded():
    a = schedule(300, 4, 5, seed=1)
    assert np.bincount(a, minlength=6).tolist() == [300 - 20, 4, 4, 4, 4, 4]
    assert (schedule(300, 4, 5, seed=1) == a).all()
    assert not (schedule(300, 4, 5, seed=2) == a).all()
    assert (schedule(300, 0, 5, seed=1) == 0).all()
    with pytest.raises(ValueError, match="expected fewer than the catalogue's 300 items"):
        schedule(300, 10, 30, seed=0)


def test_the_starting_data_holds_no_arriving_item(base):
    arrival = schedule(base.train.n_items, 3, 4, seed=0)
    start = catalogue_at_start(base.train, arrival)
    new = arrival > 0
    assert start.item_popularity[new].sum() == 0
    assert start.n_interactions == base.train.n_interactions - int(np.isin(base.train.interactions["item"], np.flatnonzero(new)).sum())
    release = start.items["release_ts"].to_numpy()
    assert (release[new] == base.train.reference_ts + arrival[new] * DAY).all()
    assert (release[~new] == base.train.items["release_ts"].to_numpy()[~new]).all()


def test_with_fresh_appends_what_a_row_lacks_below_its_lowest_score():
    # user 0 holds items 5, 9 (and padding); user 1 holds 7, 3, 8; fresh items 8 and 2
    cands = CandidateSet(np.array([0, 1]), np.array([[5, 9, PAD], [7, 3, 8]]),
                         np.array([[2.0, 1.5, -np.inf], [4.0, 3.0, 0.5]]), np.array([[1, 2, 0], [1, 1, 2]]), ("a", "b"))
    out = with_fresh(cands, np.array([8, 2]))
    assert out.items.tolist() == [[5, 9, 8, 2, PAD], [7, 3, 8, 2, PAD]]
    assert out.scores[0].tolist() == [2.0, 1.5, 0.5, 0.5, -np.inf]  # fresh: the row's lowest (1.5) minus 1
    assert out.scores[1, :4].tolist() == [4.0, 3.0, 0.5, -0.5] and out.scores[1, 4] == -np.inf
    assert out.sources.tolist() == [[1, 2, 0, 0, 0], [1, 1, 2, 0, 0]]


@pytest.mark.parametrize("settings, says", [
    ({"arrivals_per_day": -1}, "arrivals_per_day (0: a fixed catalogue) must be an integer >= 0"),
    ({"arrivals_per_day": 2.5}, "LoopConfig: arrivals_per_day: 2.5 (float): expected an integer"),
    ({"arrival_days": 0}, "arrival_days must be an integer >= 1"),
    ({"repeat_consumption": "yes"}, "LoopConfig: repeat_consumption: 'yes' (str): expected true or false"),
])  # fmt: skip
def test_bad_settings_are_refused(settings, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        LoopConfig(**settings)


def test_served_loop_refuses_arrivals(tmp_path):
    with pytest.raises(ValueError, match="arrivals_per_day > 0"):
        Loop(LoopConfig(small=True, arrivals_per_day=1), tmp_path, serve=True)


def _run(tmp_path, base, **settings):
    config = LoopConfig(small=True, days=3, retrain_every=0, features="memory", **settings)
    with Loop(config, tmp_path, base=base) as loop:
        return loop.run(), loop.events(), loop


def test_items_arrive_on_their_day_and_not_before(tmp_path, base):
    result, events, loop = _run(tmp_path, base, epsilon=0.5, arrivals_per_day=4, arrival_days=2)
    arrival = pd.Series(loop.arrival, index=loop.item_ids)
    imp = events[events["event_type"] == "impression"]
    day = ((imp["event_ts"].to_numpy() - base.train.reference_ts) // DAY).astype(int)
    arrives = arrival.loc[imp["item_id"]].to_numpy()
    assert (day >= arrives).all()  # never shown before its day
    assert (arrives > 0).any()  # and shown after it (ε = 0.5 explores the pool the arrivals join)
    assert loop.versions.train(loop.current["A"]).item_popularity[loop.arrival > 0].sum() == 0  # the model never saw them
    assert result.daily["new_items"].tolist() == [0, 4, 8]
    shown = [set(imp["item_id"].to_numpy()[day <= d]) for d in range(3)]
    arrived = [set(loop.item_ids[(loop.arrival > 0) & (loop.arrival <= d)]) for d in range(3)]
    assert result.daily["new_ever_shown"].tolist()[1:] == [len(shown[d] & arrived[d]) / len(arrived[d]) for d in (1, 2)]
    assert day_ts(loop.train0, 1) == base.train.reference_ts + DAY


def test_repeat_consumption_lets_a_clicked_item_come_back(tmp_path, base):
    def repeats(folder, repeat):
        _, events, _ = _run(folder, base, epsilon=0.0, repeat_consumption=repeat)
        clicks = events[events["event_type"] == "click"].groupby(["user_id", "item_id"])["event_ts"].min()
        imp = events[events["event_type"] == "impression"].set_index(["user_id", "item_id"])["event_ts"]
        first = clicks.reindex(imp.index).to_numpy()
        return int((imp.to_numpy() > first).sum())  # impressions after the user clicked that item

    assert repeats(tmp_path / "once", False) == 0
    assert repeats(tmp_path / "again", True) > 0
