"""The retraining job: the log's clicks become training data, versions are published and found again."""

import numpy as np
import pandas as pd
import pytest
import torch

from workbench.data.dataset import SECONDS_PER_DAY
from workbench.loop.versions import Versions, day_ts, training_data, version_key
from workbench.serving.eventlog import EVENT_COLUMNS
from workbench.store import ModelStore
from workbench.store.codec import ArtefactError


def _log(train, rows):
    """An event log frame from (request, position, type, user row, item row, seconds after the data's now)."""
    uid, iid = train.users["user_id"].to_numpy(), train.items["item_id"].to_numpy()
    t0 = train.reference_ts
    return pd.DataFrame([{"request_id": r, "position": p, "event_type": t, "user_id": int(uid[u]), "item_id": int(iid[i]),
                          "propensity": 0.5 if t == "impression" else None, "event_ts": float(t0 + s)}
                         for r, p, t, u, i, s in rows], columns=list(EVENT_COLUMNS))  # fmt: skip


def test_training_data_is_the_base_plus_the_clicks_logged_before_the_day(base):
    train = base.train
    day = 2
    cut = day_ts(train, day)
    log = _log(train, [
        ("a", 1, "impression", 5, 7, 100), ("a", 1, "click", 5, 7, 101), ("a", 1, "conversion", 5, 7, 102),
        ("b", 3, "click", 9, 11, 86_400 + 5), ("c", 2, "impression", 9, 12, 86_400 + 9),
        ("d", 1, "click", 6, 13, 2 * 86_400),  # at the cut: the next day's, not in
        ("e", 1, "click", 6, 14, 3 * 86_400),
    ])  # fmt: skip
    grown = training_data(train, log, day)
    assert grown.n_interactions == train.n_interactions + 2  # the two clicks before the cut, nothing else
    new = grown.interactions.merge(train.interactions, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"].sort_values("timestamp")
    assert new[["user", "item"]].to_numpy().tolist() == [[5, 7], [9, 11]]
    assert new["timestamp"].tolist() == [train.reference_ts + 101, train.reference_ts + 86_400 + 5]
    assert (new["rating"] == 1.0).all()
    assert grown.reference_ts == cut == train.reference_ts + 2 * 86_400
    release = train.items["release_ts"].to_numpy(np.float64)
    np.testing.assert_array_equal(grown.item_age_days, (cut - release) / SECONDS_PER_DAY)  # counted to the cut
    np.testing.assert_allclose(grown.item_age_days, train.item_age_days + 2.0, atol=1e-4)  # (release times are whole s)
    assert grown.fingerprint != train.fingerprint
    assert training_data(train, log.iloc[:0], 0).n_interactions == train.n_interactions


def test_training_data_refuses_items_outside_the_catalogue(base):
    log = _log(base.train, [("a", 1, "click", 0, 0, 10)])
    log.loc[0, "item_id"] = 10**9
    with pytest.raises(ValueError, match="1000000000"):
        training_data(base.train, log, 1)


def test_refresh_keeps_the_rankers_weights_refits_stage_1_and_is_found_again(base, tmp_path):
    train = base.train
    rng = np.random.default_rng(0)
    rows = [(f"r{j}", 1, "click", int(u), int(i), 10 + j) for j, (u, i) in
            enumerate(zip(rng.integers(0, 40, 300), rng.integers(0, train.n_items, 300)))]  # fmt: skip
    log = _log(train, rows)
    store = ModelStore(tmp_path)
    v = Versions(base, store).retrain(1, "refresh", log)
    assert not v.loaded and v.mode == "refresh" and v.day == 1
    assert (tmp_path / v.key / "manifest.json").is_file()
    assert v.key == version_key(base.key, "refresh", training_data(train, log, 1).fingerprint)
    fresh = Versions(base, store)
    pipe = fresh.pipeline(base.key)
    new = Versions(base, store)
    again = new.retrain(1, "refresh", log)
    assert again.key == v.key and again.loaded
    p1 = new.pipeline(v.key)
    # the ranker's weights are the starting model's; its statistics and stage 1 saw the clicks
    for a, b in zip(pipe.ranker_.model_.module.state_dict().values(), p1.ranker_.model_.module.state_dict().values()):
        assert torch.equal(a, b)
    assert p1.train_.n_interactions == train.n_interactions + 300
    assert p1.ranker_.features_.now_ == train.reference_ts + 10 + 299
    users = np.arange(40)
    assert not np.array_equal(pipe.recommend(users).items, p1.recommend(users).items)
    # a log that no longer matches the version is refused, naming it
    with pytest.raises(ArtefactError, match=v.key):
        Versions(base, store).reopen(again, log.iloc[:-1])


def test_full_retrain_trains_the_ranker_again(base, tmp_path):
    train = base.train
    log = _log(train, [(f"r{j}", 1, "click", j % 50, (7 * j) % train.n_items, 10 + j) for j in range(200)])
    versions = Versions(base, ModelStore(tmp_path))
    full = versions.retrain(1, "full", log)
    refresh = versions.retrain(1, "refresh", log)
    assert full.key != refresh.key
    a = versions.pipeline(full.key).ranker_.model_.module.state_dict()
    b = base.pipeline.ranker_.model_.module.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in b)
    assert versions.pipeline(full.key).train_.n_interactions == train.n_interactions + 200
    assert day_ts(train, 1) - train.reference_ts == SECONDS_PER_DAY
