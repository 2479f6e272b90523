"""Amazon item pages, the Netflix page of rows, and the click-by-click session, on hand-made cases."""

import numpy as np
import pandas as pd
import pytest

from workbench.casestudies.itempages import ItemPages, first_items, last_items
from workbench.casestudies.rows import Page, PageConfig, RowSources, build_page, compare_pages, page_metrics
from workbench.data.dataset import Dataset


def dataset(rows, n_users, n_items, features=None, genres=None):
    """``rows``: (user, item, timestamp, rating)."""
    inter = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating"]).astype({"rating": np.float32})
    items = pd.DataFrame({"item_id": np.arange(n_items), "title": [f"t{i}" for i in range(n_items)], "category": 0,
                          "release_ts": 0, "age_days": 1.0, "available": True, "promoted": False})  # fmt: skip
    users = pd.DataFrame({"user_id": np.arange(n_users)})
    genres = np.eye(n_items, 2, dtype=np.float32) if genres is None else np.asarray(genres, np.float32)
    features = genres if features is None else np.asarray(features, np.float32)
    return Dataset("hand", inter, items, users, genres, features, ("g0", "g1"), ("c",), 10_000).with_interactions(inter)


def pages_world():
    """Users 0-2 rate items 0 and 1 highly (bought together) but browse 2 right after 0; user 3 views
    item 3 then item 2. Item 4 shares item 0's content vector only."""
    rows = []
    for u in range(3):
        rows += [(u, 0, 100, 5.0), (u, 2, 101, 2.0), (u, 3, 500, 2.0), (u, 1, 900, 5.0)]
    rows += [(3, 3, 100, 3.0), (3, 2, 101, 3.0)]
    feats = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.6, 0.8], [0.9, 0.1, 0]], dtype=np.float32)
    return dataset(rows, 4, 5, features=feats)


def test_each_list_answers_its_own_question():
    ds = pages_world()
    pages = ItemPages(bought_rating=4.0, view_window=1, neighbours=5).fit(ds)
    lists = pages.lists([0], k=2)
    assert lists["also bought"][0].tolist() == [1, -1]  # only item 1 was bought with item 0
    assert lists["also viewed"][0].tolist() == [2, -1]  # item 2 was viewed right after item 0; item 1 much later
    assert lists["similar"][0].tolist() == [4, 1]  # cosines 0.994, then 0 (ties by index: 1)
    table = pages.page(0, k=2)
    assert table.loc[1].tolist() == ["t1", "t2", "t4"] and table.loc[2, "also bought"] == ""
    with pytest.raises(ValueError, match=r"unknown item index\(es\) \[7\]"):
        pages.lists([7])


def test_first_and_last_items_per_user():
    ds = pages_world()
    assert last_items(ds).tolist() == [1, 1, 1, 2]
    assert first_items(ds).tolist() == [0, 0, 0, 3]


def test_hit_rates_count_next_items_by_hand():
    train = pages_world()
    test = dataset([(0, 4, 1000, 5.0), (1, 2, 1000, 1.0), (1, 4, 1001, 5.0)], 4, 5, features=train.item_features)
    pages = ItemPages(view_window=1, neighbours=5).fit(train)
    table = pages.hit_rates(train, test, k=1)
    # users 0 and 1 (last item 1): next items 4 and 2; next bought item 4 for both
    assert table.loc["also viewed", "users (next item)"] == 2
    similar_to_1 = pages.lists([1], 1)["similar"][0, 0]
    assert table.loc["similar", "next item in top 1"] == ((similar_to_1 == 4) + (similar_to_1 == 2)) / 2
    assert table.loc["similar", "next bought item in top 1"] == float(similar_to_1 == 4)


def test_rows_are_ordered_per_user_and_deduplicated_top_to_bottom():
    lists = np.array([[[1, 2, 3, 4], [2, 5, 6, 7], [3, 1, 8, 9]]])  # 1 user, 3 rows of depth 4
    titles = np.array([["a", "b", "c"]], dtype=object)
    score = np.array([[0.1, 0.9, 0.5]])  # row b first, then c, then a
    page = build_page(np.array([0]), lists, titles, score, PageConfig(row_length=2, depth=4), n_items=10)
    assert page.titles[0].tolist() == ["b", "c", "a"]
    assert page.items[0].tolist() == [[2, 5], [3, 1], [4, -1]]  # a keeps 4, its only unshown item, then pads
    fixed = build_page(np.array([0]), lists, titles, score, PageConfig(row_length=2, depth=4, order="fixed"), 10)
    assert fixed.items[0].tolist() == [[1, 2], [5, 6], [3, 8]]
    repeats = build_page(np.array([0]), lists, titles, score, PageConfig(row_length=2, depth=4, dedupe=False), 10)
    assert repeats.items[0].tolist() == [[2, 5], [3, 1], [1, 2]]


def test_page_metrics_by_hand():
    genres = np.zeros((6, 2), np.float32)
    genres[[0, 1, 2], 0] = 1
    genres[[3, 4, 5], 1] = 1
    train = dataset([(0, 5, 1, 1.0)], 1, 6, genres=genres)
    test = dataset([(0, 1, 2, 1.0), (0, 3, 3, 1.0)], 1, 6, genres=genres)
    page = Page(np.array([0]), np.array([[[0, 1], [1, 3]]]), np.array([["r0", "r1"]], dtype=object))
    m = page_metrics(page, train, test)
    assert m["duplicate_slot_share"] == 0.25 and m["unique_items_per_page"] == 3 and m["genres_on_page"] == 2
    # item 1 counts once, where it first shows (row 0, column 1); item 3 at row 1, column 1
    np.testing.assert_allclose(m["discounted_page_hits"], 1 / np.log2(3) + 1 / np.log2(3) / np.log2(3))
    assert m["test_items_found"] == 1.0


@pytest.fixture(scope="module")
def small_split():
    from workbench.data import load, temporal_split

    return temporal_split(load("synthetic", small=True))


def test_page_comparison_on_the_small_world(small_split):
    train, test = small_split
    users = np.flatnonzero(test.user_activity > 0)[:60]
    table = compare_pages(RowSources(train), users, test, PageConfig(genre_rows=2, row_length=5, depth=30))
    dedup = table.loc["personal order, deduplicated"]
    assert dedup["duplicate_slot_share"] == 0 and table.loc["personal order, with repeats", "duplicate_slot_share"] > 0
    assert dedup["unique_items_per_page"] > table.loc["personal order, with repeats", "unique_items_per_page"]
    page = RowSources(train).page(users[:2], PageConfig(genre_rows=2, row_length=5, depth=30))
    assert page.items.shape == (2, 6, 5)
    assert all(t.endswith("for you") or t.startswith(("Because", "Trending", "New")) for t in page.titles.ravel())


@pytest.fixture(scope="module")
def cycle_split():
    """30 users walk the cycle 0 → 1 → … → 9 → 0 (one step an hour) from their own start: 6 steps
    in train, the next 2 in test."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for u in range(30):
        start = int(rng.integers(10))
        walk = [(u, (start + s) % 10, 3600 * s, 1.0) for s in range(8)]
        train += walk[:6]
        test += walk[6:]
    return dataset(train, 30, 10), dataset(test, 30, 10)


@pytest.fixture(scope="module")
def sasrec(cycle_split):
    from workbench.candidates import SASRec

    return SASRec(dim=16, blocks=1, max_len=8, dropout=0.0, epochs=150, batch_size=32, lr=5e-3, seed=0).fit(cycle_split[0])


def test_next_items_and_replay_follow_the_session(sasrec):
    from workbench.casestudies.session import next_items, replay

    top = next_items(sasrec, [3, 4], k=3)
    assert top["item"].iloc[0] == 5 and not {3, 4} & set(top["item"])
    steps = replay(sasrec, [2, 3, 4, 5, 6], k=3)
    assert steps["clicks so far"].tolist() == [1, 2, 3, 4] and steps["clicked next"].tolist() == [3, 4, 5, 6]
    assert (steps["position of next"] == 1).all()
    with pytest.raises(ValueError, match="at least 2 clicks"):
        replay(sasrec, [1])


def test_session_length_curve_encodes_only_the_last_items(cycle_split, sasrec):
    from workbench.casestudies.session import session_length_curve

    train, test = cycle_split
    curve = session_length_curve(sasrec, train, test, lengths=(1, 6), k=1)
    assert curve.index.tolist() == [1, 6]
    np.testing.assert_allclose(curve["ndcg@1"], 1.0)  # the last item alone names the next one
    last = last_items(train)
    np.testing.assert_allclose(sasrec.user_vectors(np.arange(30), 1) @ sasrec.item_vectors_.T,
                               sasrec.sequence_scores([[i] for i in last]), rtol=1e-5, atol=1e-5)  # fmt: skip
