"""Feature shapes and meanings on a hand-made data set whose every value is worked out below."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from workbench.data.dataset import Dataset
from workbench.ranking.features import (
    DEVICES,
    FEATURES,
    Context,
    FeatureBuilder,
    FeatureConfig,
    feature_table,
    simulated_device,
)
from workbench.types import CandidateSet

DAY = 86_400
T_REQ = 3000 + 2 * DAY  # request time: 2 days after user 0's last interaction


def tiny() -> Dataset:
    # users 0 and 1 have history, user 2 has none; item 3 has never been seen.
    inter = pd.DataFrame(
        [(0, 0, 1000, 5.0), (0, 1, 2000, 3.0), (0, 2, 3000, 4.0), (1, 0, 1500, 2.0)],
        columns=["user", "item", "timestamp", "rating"],
    )
    items = pd.DataFrame(
        {
            "item_id": [10, 11, 12, 13],
            "title": list("abcd"),
            "category": [0, 1, 0, 0],
            "release_ts": [0, 0, -365 * DAY, 0],
            "age_days": [1.0, 1.0, 1.0, 1.0],
            "available": [True, True, False, True],
            "promoted": [False, True, False, False],
        }
    )
    users = pd.DataFrame({"user_id": [1, 2, 3], "age": [20, 40, 60], "gender": ["F", "M", "F"],
                          "occupation": ["x", "y", "x"]})  # fmt: skip
    genres = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], np.float32)
    return Dataset("tiny", inter, items, users, genres, genres, ("g0", "g1"), ("c0", "c1"), 3000).with_interactions(inter)


@pytest.fixture(scope="module")
def built():
    ds = tiny()
    b = FeatureBuilder(FeatureConfig(recent_items=1)).fit(ds, ("a", "b", "c"))
    users = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 2, 3, 0, 2, 0, 2])
    num, cat = b.transform(users, items, np.full(len(users), T_REQ))
    col = {n: num[:, j] for j, n in enumerate(b.layout_.numeric)}
    ccol = {n: cat[:, j] for j, n in enumerate(b.layout_.categorical)}
    return ds, b, users, items, col, ccol


def test_every_column_is_defined_once_in_the_feature_table(built):
    _, b, *_ = built
    table = feature_table()
    assert list(table.columns) == ["name", "group", "kind", "meaning"]
    assert set(table["group"]) == {"user", "item", "context", "cross", "source"}
    patterns = [f.name.replace("<genre>", "g0").replace("<source>", "a") for f in FEATURES]
    patterns += [f.name.replace("<genre>", "g1").replace("<source>", "b") for f in FEATURES]
    patterns += [f.name.replace("<source>", "c") for f in FEATURES]
    for name in (*b.layout_.numeric, *b.layout_.categorical):
        assert name in patterns, name
    kinds = dict(zip(table["name"], table["kind"]))
    assert all(kinds[n] == "categorical" for n in b.layout_.categorical)


def test_user_features_match_hand_computation(built):
    _, _, users, _, col, ccol = built
    assert np.allclose(col["user_log_activity"][[0, 4, 6]], np.log1p([3, 1, 0]))
    assert np.allclose(col["user_log_recency_days"][0], np.log1p(2.0))
    assert np.allclose(col["user_log_recency_days"][4], np.log1p((T_REQ - 1500) / DAY))
    assert np.allclose(col["user_log_tenure_days"][0], np.log1p((T_REQ - 1000) / DAY))
    # mean rating shrunk to the global mean 3.5 with 10 prior votes
    assert np.isclose(col["user_mean_rating"][0], (12 + 35) / 13)
    assert np.isclose(col["user_mean_rating"][6], 3.5)
    assert list(col["user_is_cold"][[0, 4, 6]]) == [0, 0, 1]
    # genre profile: user 0 saw g0,g1,g0+g1 -> [2,2]/4; user 1 saw g0; cold user 2 gets the catalogue mix [3,2]/5
    prof = np.column_stack([col["user_genre_g0"], col["user_genre_g1"]])
    assert np.allclose(prof[[0, 4, 6]], [[0.5, 0.5], [1.0, 0.0], [0.6, 0.4]])
    # demographics: gender vocabulary (F, M), occupation (x, y), age brackets 18-25 / 35-45 / 56+
    assert list(ccol["user_gender"][[0, 4, 6]]) == [1, 2, 1]
    assert list(ccol["user_occupation"][[0, 4, 6]]) == [1, 2, 1]
    assert list(ccol["user_age_bucket"][[0, 4, 6]]) == [2, 4, 7]
    assert list(ccol["user"][[0, 4, 6]]) == [1, 2, 3]


def test_item_and_cross_features_match_hand_computation(built):
    _, _, _, _, col, ccol = built
    assert np.allclose(col["item_log_popularity"][:4], np.log1p([2, 1, 1, 0]))
    assert np.allclose(col["item_log_trend"][:4], np.log1p([2, 1, 1, 0]))  # all history is within 30 days
    assert list(col["item_is_new"][:4]) == [0, 0, 0, 1]
    assert list(col["item_available"][:4]) == [1, 1, 0, 1]
    assert list(col["item_promoted"][:4]) == [0, 1, 0, 0]
    assert np.isclose(col["item_log_age_days"][2], np.log1p(T_REQ / DAY + 365))
    assert list(ccol["item_category"][:4]) == [1, 2, 1, 1]
    # profile · genres / number of genres
    assert np.allclose(col["cross_genre_affinity"][[0, 2, 4, 5]], [0.5, 0.5, 1.0, 0.5])
    # with recent_items=1, user 0's recent taste is item 2 itself
    assert np.isclose(col["cross_recent_sim"][2], 1.0, atol=1e-5)


def test_svd_dot_is_the_truncated_svd_reconstruction(built):
    ds, _, users, items, col, _ = built
    X = ds.matrix.toarray().astype(np.float64)
    U, S, Vt = np.linalg.svd(X)
    k = 2  # embedding_dim is capped at min(n_users, n_items) - 1
    rec = (U[:, :k] * S[:k]) @ Vt[:k]
    assert np.allclose(col["cross_svd_dot"], rec[users, items], atol=1e-5)


def test_context_hour_weekday_and_simulated_device(built):
    *_, ccol = built
    when = datetime.fromtimestamp(T_REQ, tz=timezone.utc)
    assert (ccol["hour"] == when.hour + 1).all() and (ccol["weekday"] == when.weekday() + 1).all()
    many = simulated_device(np.arange(20_000), np.full(20_000, T_REQ), (0.55, 0.30, 0.15))
    assert np.allclose(np.bincount(many, minlength=3) / 20_000, (0.55, 0.30, 0.15), atol=0.02)
    again = simulated_device(np.arange(20_000), np.full(20_000, T_REQ + 60), (0.55, 0.30, 0.15))
    assert np.array_equal(many, again)  # same user, same day: same device
    assert set(np.unique(ccol["device"])) <= set(range(1, len(DEVICES) + 1))


def test_source_features_and_padding_in_a_candidate_set(built):
    _, b, *_ = built
    cands = CandidateSet(
        users=[0, 2],
        items=[[3, 1, -1], [0, -1, -1]],
        scores=[[0.5, 0.9, -np.inf], [1.0, -np.inf, -np.inf]],
        sources=[[2, 3, 0], [5, 0, 0]],
        source_names=("b", "a", "unknown"),  # a different order, and a source the builder never saw
        source_ranks=np.array([[[-1, 0, -1], [0, 2, -1], [-1, -1, -1]], [[4, -1, 0], [-1, -1, -1], [-1, -1, -1]]]),
        source_scores=np.array([[[np.nan, 2.0, np.nan], [5.0, 0.0, np.nan], [np.nan] * 3],
                                [[1.0, np.nan, 7.0], [np.nan] * 3, [np.nan] * 3]]),
    )  # fmt: skip
    num, cat = b.build(cands, Context(T_REQ))
    assert num.shape == (2, 3, len(b.layout_.numeric)) and cat.shape == (2, 3, len(b.layout_.categorical))
    f = {n: num[..., j] for j, n in enumerate(b.layout_.numeric)}
    assert np.allclose(f["src_a_in"][0, :2], [1, 1]) and np.allclose(f["src_a_rr"][0, :2], [1, 1 / 3])
    assert np.allclose(f["src_a_z"][0, :2], [1, -1])  # scores 2 and 0: mean 1, std 1
    assert np.allclose(f["src_b_in"][0, :2], [0, 1]) and np.allclose(f["src_b_rr"][0, :2], [0, 1])
    assert np.allclose(f["src_b_z"][0, :2], [0, 0])  # one score: no spread, neutral
    assert np.allclose(f["src_b_rr"][1, 0], 1 / 5)
    assert (f["src_c_in"] == 0).all() and (f["src_c_rr"] == 0).all()
    assert np.allclose(f["n_sources"][0, :2], [1, 2])
    assert np.allclose(f["fused_rr"][0, :2], [1 / 2, 1])  # item 1 has the higher fused score
    assert (num[0, 2] == 0).all() and (cat[1, 1:] == 0).all()  # padding
    assert np.isfinite(num).all()


def test_unknown_ids_and_categories_get_neutral_values(built):
    ds, b, *_ = built
    num, cat = b.transform(np.array([7]), np.array([9]), np.array([T_REQ]))
    c = dict(zip(b.layout_.categorical, cat[0]))
    n = dict(zip(b.layout_.numeric, num[0]))
    assert c["user"] == 0 and c["item"] == 0 and c["item_category"] == 0 and c["user_gender"] == 0
    assert n["user_is_cold"] == 1 and n["item_is_new"] == 1 and np.isfinite(num).all()
    # refitted on a history with a new item in a new category: the old layout keeps bucket 0 for them
    bigger = tiny()
    items = pd.concat([bigger.items, pd.DataFrame([{**bigger.items.iloc[0].to_dict(), "item_id": 99, "category": 5}])],
                      ignore_index=True)  # fmt: skip
    genres = np.vstack([bigger.item_genres, [[0, 1]]]).astype(np.float32)
    grown = Dataset("grown", bigger.interactions, items, bigger.users, genres, genres, ("g0", "g1"),
                    tuple(f"c{i}" for i in range(6)), 3000)  # fmt: skip
    served = b.with_history(grown)
    assert served.layout_ == b.layout_
    _, cat2 = served.transform(np.array([0]), np.array([4]), np.array([T_REQ]))
    c2 = dict(zip(b.layout_.categorical, cat2[0]))
    assert c2["item"] == 0 and c2["item_category"] == 0


def test_bad_input_is_refused(built):
    _, b, *_ = built
    with pytest.raises(ValueError, match="padding"):
        b.transform(np.array([0]), np.array([-1]), np.array([T_REQ]))
    with pytest.raises(ValueError, match="device"):
        b.transform(np.array([0]), np.array([0]), np.array([T_REQ]), device=np.array([5]))
    with pytest.raises(RuntimeError, match="not fitted"):
        FeatureBuilder().transform(np.array([0]), np.array([0]), np.array([T_REQ]))
