import numpy as np
import pandas as pd
import pytest

from workbench.data import leave_last_out, make_synthetic, random_split, split, temporal_split, time_cut_split
from workbench.data.dataset import Dataset


def tiny(interactions):
    inter = pd.DataFrame(interactions, columns=["user", "item", "timestamp", "rating"])
    n_items = int(inter["item"].max()) + 1
    n_users = int(inter["user"].max()) + 1
    items = pd.DataFrame(
        {
            "item_id": np.arange(n_items) + 100,
            "title": [f"t{i}" for i in range(n_items)],
            "category": np.zeros(n_items, dtype=int),
            "release_ts": np.zeros(n_items, dtype=int),
            "age_days": np.ones(n_items),
            "available": True,
            "promoted": False,
        }
    )
    users = pd.DataFrame({"user_id": np.arange(n_users) + 10})
    return Dataset("tiny", inter, items, users, np.ones((n_items, 1), np.float32), np.ones((n_items, 2), np.float32),
                   ("g",), ("c",), reference_ts=10).with_interactions(inter)


def test_temporal_split_takes_each_users_last_fraction_with_ties_broken_by_item():
    # user 0: 5 interactions, times 1..4 with a tie at t=4 between items 3 and 4 → last 2 (t=4 tie) go to test
    # user 1: 3 interactions → floor(3*0.4)=1 goes to test
    ds = tiny([(0, 0, 1, 1), (0, 1, 2, 1), (0, 2, 3, 1), (0, 4, 4, 1), (0, 3, 4, 1),
               (1, 0, 5, 1), (1, 1, 7, 1), (1, 2, 6, 1)])
    train, test = temporal_split(ds, 0.4)
    got = set(map(tuple, test.interactions[["user", "item"]].to_numpy()))
    assert got == {(0, 3), (0, 4), (1, 1)}
    assert train.n_interactions + test.n_interactions == ds.n_interactions
    # same id space
    assert train.n_items == test.n_items == ds.n_items


def test_temporal_split_tie_break_is_deterministic_by_item_index():
    ds = tiny([(0, 5, 9, 1), (0, 2, 9, 1), (0, 7, 1, 1)])
    _, test = temporal_split(ds, 0.34)  # floor(3 * 0.34) = 1: the latest by (time, item) is item 5
    assert test.interactions["item"].tolist() == [5]


def test_leave_last_out_keeps_single_interaction_users_in_train():
    ds = tiny([(0, 0, 1, 1), (0, 1, 2, 1), (1, 2, 3, 1)])
    train, test = leave_last_out(ds)
    assert test.interactions[["user", "item"]].to_numpy().tolist() == [[0, 1]]
    assert set(train.interactions["user"]) == {0, 1}


def test_random_split_is_seeded_and_near_fraction():
    ds = make_synthetic(n_users=200, n_items=150, impressions_per_user=50, seed=1)
    a = random_split(ds, 0.25, seed=7)[1].interactions
    b = random_split(ds, 0.25, seed=7)[1].interactions
    c = random_split(ds, 0.25, seed=8)[1].interactions
    assert a.equals(b) and not a.equals(c)
    assert abs(len(a) / ds.n_interactions - 0.25) < 0.03


def test_time_cut_split_puts_everything_after_the_cut_in_test():
    ds = make_synthetic(n_users=200, n_items=150, impressions_per_user=50, seed=1)
    train, test = time_cut_split(ds, test_fraction=0.3)
    assert train.interactions["timestamp"].max() < test.interactions["timestamp"].min()
    assert abs(test.n_interactions / ds.n_interactions - 0.3) < 0.02


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 2])
def test_bad_fraction_is_named(bad):
    ds = tiny([(0, 0, 1, 1), (0, 1, 2, 1)])
    with pytest.raises(ValueError, match=f"test_fraction={bad!r}"):
        temporal_split(ds, bad)


def test_unknown_split_and_bad_cut_are_named():
    ds = tiny([(0, 0, 1, 1), (0, 1, 2, 1)])
    with pytest.raises(ValueError, match="unknown split 'weekly'"):
        split(ds, "weekly")
    with pytest.raises(ValueError, match="cut_ts=100"):
        time_cut_split(ds, cut_ts=100)


def test_user_index_maps_original_ids_and_names_unknown_ones():
    ds = tiny([(0, 0, 1, 1), (1, 1, 2, 1)])
    assert ds.user_index([11, 10]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="999"):
        ds.user_index([10, 999])
