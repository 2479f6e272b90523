import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench.data.dataset import Dataset
from workbench.metrics import relevance_matrix
from workbench.metrics.evaluate import evaluate


def tiny_test_set(rows):
    inter = pd.DataFrame(rows, columns=["user", "item", "timestamp", "rating"])
    n_items, n_users = 6, 3
    items = pd.DataFrame(
        {"item_id": np.arange(n_items), "title": [f"t{i}" for i in range(n_items)], "category": 0,
         "release_ts": 0, "age_days": 1.0, "available": True, "promoted": False}
    )  # fmt: skip
    users = pd.DataFrame({"user_id": np.arange(n_users)})
    return Dataset("tiny", inter, items, users, np.ones((n_items, 1), np.float32), np.ones((n_items, 2), np.float32),
                   ("g",), ("c",), reference_ts=10).with_interactions(inter)  # fmt: skip


def test_relevance_matrix_binary_and_graded():
    test = tiny_test_set([(0, 1, 5, 4.0), (0, 2, 6, 2.0), (2, 5, 7, 5.0)])
    np.testing.assert_array_equal(
        relevance_matrix(test).toarray(), [[0, 1, 1, 0, 0, 0], [0] * 6, [0, 0, 0, 0, 0, 1]]
    )
    np.testing.assert_array_equal(
        relevance_matrix(test, graded=True).toarray(), [[0, 4, 2, 0, 0, 0], [0] * 6, [0, 0, 0, 0, 0, 5]]
    )


def test_textbook_user_and_an_excluded_user():
    # user 0 likes {A,B,C} = {0,1,2}, gets [D,A,E,B,F]; user 1 has no test items; user 2 likes F=5
    test = tiny_test_set([(0, 0, 1, 1.0), (0, 1, 1, 1.0), (0, 2, 1, 1.0), (2, 5, 1, 1.0)])
    rec = np.array([[3, 0, 4, 1, 5], [0, 1, 2, 3, 4], [5, 0, -1, -1, -1]])
    df = evaluate(rec, relevance_matrix(test), ks=(1, 3))
    assert df.attrs["users_excluded"] == 1 and df.attrs["users_total"] == 3
    acc = df[df.metric.isin(["precision", "ndcg", "hit_rate"])].set_index(["metric", "k"])
    assert (acc["users"] == 2).all()
    assert acc["note"].str.contains("1 users without relevant test items excluded").all()
    # P@3: user 0 -> 1/3, user 2 -> 1/3; P@1: 0 and 1
    assert acc.loc[("precision", 3), "mean"] == pytest.approx(1 / 3)
    assert acc.loc[("precision", 3), "ci_low"] == pytest.approx(1 / 3)  # sd 0
    # P@1 values [0, 1]: mean 0.5, sd sqrt(0.5), half width 1.96 * sqrt(0.5) / sqrt(2) = 0.98
    assert acc.loc[("precision", 1), "mean"] == pytest.approx(0.5)
    assert acc.loc[("precision", 1), "ci_high"] == pytest.approx(0.5 + 0.98, abs=1e-4)
    # NDCG@3: user 0 0.630930/2.130930, user 2 1.0
    assert acc.loc[("ndcg", 3), "mean"] == pytest.approx((0.630930 / 2.130930 + 1) / 2, abs=1e-6)
    cat = df[df.metric == "catalogue_coverage"].set_index("k")
    assert cat.loc[1, "mean"] == pytest.approx(3 / 6)  # items 3, 0, 5
    assert np.isnan(cat["ci_low"]).all()


def test_users_argument_aligns_relevance_rows():
    rel = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=float))
    df = evaluate(np.array([[1], [2]]), rel, ks=(1,), users=np.array([2, 1]))
    assert df.set_index("metric").loc["precision", "mean"] == 1.0


def test_beyond_rows_only_when_inputs_given():
    rec = np.array([[0, 1], [1, 2]])
    rel = sp.csr_matrix(np.eye(2, 4))
    bare = set(evaluate(rec, rel, ks=(2,)).metric)
    assert bare == {"precision", "recall", "map", "ndcg", "mrr", "hit_rate",
                    "catalogue_coverage", "exposure_gini", "personalisation"}  # fmt: skip
    full = evaluate(
        rec, rel, ks=(2,), item_popularity=np.array([2, 1, 0, 0]), n_train_users=2,
        item_vectors=np.eye(4), item_category=np.array([0, 0, 1, 1]), item_age_days=np.array([1.0, 3, 5, 7]),
    ).set_index("metric")  # fmt: skip
    assert full.loc["mean_item_age_days", "mean"] == pytest.approx((2 + 4) / 2)
    assert full.loc["category_diversity", "mean"] == pytest.approx(0.5)  # {0,0} same, {0,1} differ
    assert full.loc["intra_list_diversity", "mean"] == pytest.approx(1.0)
    assert full.loc["personalisation", "mean"] == pytest.approx(1 - 1 / 3)


def test_beyond_only_without_relevance():
    df = evaluate(np.array([[0, 1], [0, 1]]), None, ks=(2,), n_items=4)
    assert list(df.metric) == ["catalogue_coverage", "exposure_gini", "personalisation"]
    assert df.set_index("metric").loc["personalisation", "mean"] == pytest.approx(0.0)


def test_bad_input():
    rec = np.array([[0, 1]])
    rel = sp.csr_matrix(np.eye(1, 4))
    with pytest.raises(ValueError, match="k=3 is larger"):
        evaluate(rec, rel, ks=(3,))
    with pytest.raises(ValueError, match="catalogue sizes disagree"):
        evaluate(rec, rel, item_age_days=np.ones(5), ks=(2,))
    with pytest.raises(ValueError, match="n_train_users"):
        evaluate(rec, rel, item_popularity=np.ones(4), ks=(2,))
    with pytest.raises(ValueError, match="relevance has 1 rows but recommended has 2"):
        evaluate(np.array([[0, 1], [1, 2]]), rel, ks=(2,))
    with pytest.raises(ValueError, match="users span"):
        evaluate(rec, rel, ks=(2,), users=np.array([3]))
    with pytest.raises(ValueError, match="relevance is None"):
        evaluate(rec, None, ks=(2,), n_items=4, users=np.array([0]))


def test_only_keeps_the_named_rows_of_the_whole_table():
    rec = np.array([[0, 1], [1, 2], [3, 0]])
    rel = sp.csr_matrix(np.eye(3, 4))
    arrays = dict(item_popularity=np.array([2, 1, 0, 0]), n_train_users=2, item_vectors=np.eye(4),
                  item_category=np.array([0, 0, 1, 1]), item_age_days=np.array([1.0, 3, 5, 7]))  # fmt: skip
    whole = evaluate(rec, rel, ks=(1, 2), **arrays)
    some = evaluate(rec, rel, ks=(1, 2), only=("ndcg", "mean_item_age_days", "catalogue_coverage"), **arrays)
    assert list(some.metric.unique()) == ["ndcg", "mean_item_age_days", "catalogue_coverage"]
    pd.testing.assert_frame_equal(some.reset_index(drop=True),
                                  whole[whole.metric.isin(some.metric.unique())].reset_index(drop=True))  # fmt: skip
    # the hand figure: mean age of [0, 1] is 2 days, of [1, 2] 4, of [3, 0] 4; at k = 2: 10 / 3
    assert some.set_index(["metric", "k"]).loc[("mean_item_age_days", 2), "mean"] == pytest.approx(10 / 3)
    beyond_only = evaluate(rec, rel, ks=(2,), only=("exposure_gini",), **arrays)
    assert list(beyond_only.metric) == ["exposure_gini"] and beyond_only.attrs["users_excluded"] == 0
    for bad in ((), ("ndcg", "nDCG"), "ndcg"):
        with pytest.raises(ValueError, match="only="):
            evaluate(rec, rel, ks=(2,), only=bad, **arrays)
