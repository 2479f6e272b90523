import numpy as np
import pytest
import scipy.sparse as sp

from workbench.metrics import (
    accuracy_metrics,
    average_precision_at_k,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)

A, B, C, D, E, F = range(6)


def textbook():
    """A user who likes {A, B, C} is recommended [D, A, E, B, F] (binary relevance)."""
    rel = sp.csr_matrix(np.array([[1, 1, 1, 0, 0, 0]], dtype=float))
    return np.array([[D, A, E, B, F]]), rel


def test_textbook_example():
    rec, rel = textbook()
    # hits at ranks 2 (A) and 4 (B); R = 3
    assert precision_at_k(rec, rel, 3)[0] == pytest.approx(1 / 3)
    assert recall_at_k(rec, rel, 5)[0] == pytest.approx(2 / 3)
    # DCG@3 = 1/log2(3) = 0.630930; IDCG@3 = 1 + 1/log2(3) + 1/log2(4) = 2.130930
    assert ndcg_at_k(rec, rel, 3)[0] == pytest.approx(0.630930 / 2.130930, abs=1e-6)
    # AP@5 = (P@2 + P@4) / R = (1/2 + 2/4) / 3 = 1/3
    assert average_precision_at_k(rec, rel, 5)[0] == pytest.approx(1 / 3)
    # AP@3 = P@2 / 3 = 1/6 (divides by R = 3, not by min(k, R) hits)
    assert average_precision_at_k(rec, rel, 3)[0] == pytest.approx(1 / 6)
    # first relevant at rank 2 -> RR = 1/2 for k >= 2, 0 for k = 1; hit likewise
    assert reciprocal_rank_at_k(rec, rel, 5)[0] == pytest.approx(0.5)
    assert reciprocal_rank_at_k(rec, rel, 1)[0] == 0.0
    assert hit_rate_at_k(rec, rel, 5)[0] == 1.0
    assert hit_rate_at_k(rec, rel, 1)[0] == 0.0


def test_graded_gain_conventions():
    # grades A=3, B=1; list [B, A]: exp gains 1, 7; linear 1, 3; ideal order [A, B]
    rel = sp.csr_matrix(np.array([[3, 1]], dtype=float))
    rec = np.array([[B, A]])
    d = 1 / np.log2(3)
    assert ndcg_at_k(rec, rel, 2, gain="exp")[0] == pytest.approx((1 + 7 * d) / (7 + 1 * d))
    assert ndcg_at_k(rec, rel, 2, gain="linear")[0] == pytest.approx((1 + 3 * d) / (3 + 1 * d))
    # IDCG@1 uses the user's best grade (A=3) even though A sits at rank 2
    assert ndcg_at_k(rec, rel, 1, gain="exp")[0] == pytest.approx(1 / 7)


def test_padding_counts_as_non_relevant_and_precision_divides_by_k():
    rel = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=float))
    rec = np.array([[A, -1, -1, -1]])
    assert precision_at_k(rec, rel, 4)[0] == pytest.approx(1 / 4)
    assert recall_at_k(rec, rel, 4)[0] == pytest.approx(1 / 2)
    assert ndcg_at_k(rec, rel, 4)[0] == pytest.approx(1 / (1 + 1 / np.log2(3)))


def test_users_without_relevant_items_get_nan():
    rel = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]], dtype=float))
    m = accuracy_metrics(np.array([[A, B], [A, B]]), rel, ks=(2,))
    # user 0: its one relevant item A at rank 1 of 2, so P = 1/2 and every other metric is 1
    expected = {"precision": 0.5, "recall": 1.0, "map": 1.0, "ndcg": 1.0, "mrr": 1.0, "hit_rate": 1.0}
    assert {name for name, _ in m} == set(expected)
    for (name, k), v in m.items():
        assert v[0] == pytest.approx(expected[name]) and np.isnan(v[1]), name


def random_case(seed, n_users=300, n_items=400, width=20):
    rng = np.random.default_rng(seed)
    rec = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :width]
    lengths = rng.integers(1, width + 1, n_users)
    lengths[: n_users // 2] = width
    rec[np.arange(width)[None, :] >= lengths[:, None]] = -1
    n_rel = rng.integers(1, 30, n_users)
    rows = np.repeat(np.arange(n_users), n_rel)
    # half of the relevant items drawn from the list itself, half from anywhere
    from_list = rec[rows, rng.integers(0, width, rows.size)]
    anywhere = rng.integers(0, n_items, rows.size)
    cols = np.where((rng.random(rows.size) < 0.5) & (from_list >= 0), from_list, anywhere)
    grades = rng.integers(1, 5, rows.size).astype(float)
    rel = sp.coo_matrix((grades, (rows, cols)), shape=(n_users, n_items)).tocsr()
    rel.sum_duplicates()
    rel.data = np.minimum(rel.data, 4)
    return rec, rel


def test_agrees_with_ranx_on_random_graded_input():
    ranx = pytest.importorskip("ranx")
    rec, rel = random_case(0)
    n_users, width = rec.shape
    qid = [f"u{u:04d}" for u in range(n_users)]
    qrels = ranx.Qrels.from_dict(
        {qid[u]: {f"i{i}": int(g) for i, g in zip(rel[u].indices, rel[u].data)} for u in range(n_users)}
    )
    run = ranx.Run.from_dict(
        {qid[u]: {f"i{i}": float(width - r) for r, i in enumerate(rec[u]) if i >= 0} for u in range(n_users)}
    )
    ks = (1, 5, 20)
    ours_exp = accuracy_metrics(rec, rel, ks, gain="exp")
    ours_lin = accuracy_metrics(rec, rel, ks, gain="linear")
    names = {"precision": "precision", "recall": "recall", "map": "map", "mrr": "mrr", "hit_rate": "hit_rate"}
    for k in ks:
        metrics = [f"{v}@{k}" for v in names.values()] + [f"ndcg@{k}", f"ndcg_burges@{k}"]
        theirs = ranx.evaluate(qrels, run, metrics, return_mean=False)
        for ours_name, their_name in names.items():
            np.testing.assert_allclose(ours_exp[(ours_name, k)], theirs[f"{their_name}@{k}"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours_exp[("ndcg", k)], theirs[f"ndcg_burges@{k}"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours_lin[("ndcg", k)], theirs[f"ndcg@{k}"], rtol=0, atol=1e-9)


def test_fancy_index_lookup_matches_dense_lookup():
    rec, rel = random_case(1, n_users=50, n_items=60, width=10)
    dense = rel.toarray()
    m = accuracy_metrics(rec, rel, (10,))
    hits = np.where(rec >= 0, dense[np.arange(50)[:, None], np.maximum(rec, 0)] > 0, False).sum(axis=1)
    np.testing.assert_allclose(m[("precision", 10)], hits / 10)
    np.testing.assert_allclose(m[("recall", 10)], hits / (dense > 0).sum(axis=1))


@pytest.mark.parametrize(
    "rec, rel, k, match",
    [
        (np.array([[A, B]]), np.array([[1.0, 0, 0]]), 3, "k=3 is larger"),
        (np.array([[A, B]]), np.array([[1.0, 0, 0]]), 0, "k must be an integer >= 1, got 0"),
        (np.array([[A, 7]]), np.array([[1.0, 0, 0]]), 2, r"item ids \[7\]"),
        (np.array([[A, -2]]), np.array([[1.0, 0, 0]]), 2, r"item ids \[-2\]"),
        (np.array([[A, B], [B, C]]), np.array([[1.0, 0, 0]]), 2, "relevance has 1 rows but recommended has 2"),
        (np.array([[A, B]]), np.array([[1.0, -1, 0]]), 2, "negative grade -1"),
        (np.array([[A, B]]), np.array([[1.0, np.nan, 0]]), 2, "NaN"),
        (np.array([[A, A]]), np.array([[1.0, 0, 0]]), 2, "item 0 more than once"),
        (np.array([[-1, A]]), np.array([[1.0, 0, 0]]), 2, "after -1 padding"),
        (np.array([A, B]), np.array([[1.0, 0, 0]]), 2, "2-D"),
        (np.array([[0.0, 1.0]]), np.array([[1.0, 0, 0]]), 2, "integer item ids"),
    ],
)
def test_bad_input_raises_clear_errors(rec, rel, k, match):
    with pytest.raises(ValueError, match=match):
        precision_at_k(rec, sp.csr_matrix(rel), k)


def test_unknown_gain_raises():
    rec, rel = textbook()
    with pytest.raises(ValueError, match="gain must be"):
        ndcg_at_k(rec, rel, 3, gain="log")
