import math

import numpy as np
import pytest

from workbench.rerank.mmr import minmax_normalise, mmr


def naive_mmr(relevance, items, vectors, category, k, lam, alpha):
    """Per-item textbook MMR in plain Python (float64), one user at a time."""
    order = np.full((len(items), k), -1)
    marginal = np.full((len(items), k), np.nan)
    for u in range(len(items)):
        real = [j for j in range(items.shape[1]) if items[u, j] >= 0]
        if not real:
            continue
        lo, hi = min(relevance[u, j] for j in real), max(relevance[u, j] for j in real)
        rel = {j: 1.0 if hi == lo else (relevance[u, j] - lo) / (hi - lo) for j in real}

        def sim(a, b):
            va, vb = vectors[items[u, a]], vectors[items[u, b]]
            cos = sum(x * y for x, y in zip(va, vb)) / math.sqrt(sum(x * x for x in va) * sum(y * y for y in vb))
            return alpha * (category[items[u, a]] == category[items[u, b]]) + (1 - alpha) * cos

        picked = []
        for step in range(min(k, len(real))):
            best = None
            for j in real:
                if j in picked:
                    continue
                value = lam * rel[j] - (1 - lam) * max((sim(j, p) for p in picked), default=0.0)
                key = (value, rel[j], -j)
                if best is None or key > best[0]:
                    best = (key, j)
            picked.append(best[1])
            order[u, step], marginal[u, step] = best[1], best[0][0]
    return order, marginal


# Hand-worked example, λ = 0.5, α = 0.5. Scores [3, 2.7, 1.5, 0] normalise to
# rel = [1, 0.9, 0.5, 0]. Vectors A = B = (1, 0), C = (0, 1), D = (1, 1);
# categories A, B: 0 and C, D: 1. sim = 0.5·same + 0.5·cos:
#   sim(A,B) = 0.5 + 0.5·1 = 1          sim(A,C) = 0 + 0 = 0
#   sim(A,D) = 0 + 0.5·0.70711 = 0.35355 sim(B,C) = 0, sim(B,D) = 0.35355
#   sim(C,D) = 0.5 + 0.5·0.70711 = 0.85355
# step 1: 0.5·rel = [0.5, 0.45, 0.25, 0]                        -> A (0.5)
# step 2: B 0.45 − 0.5·1 = −0.05; C 0.25 − 0 = 0.25; D 0 − 0.5·0.35355 = −0.17678 -> C (0.25)
# step 3: B 0.45 − 0.5·max(1, 0) = −0.05; D 0 − 0.5·max(0.35355, 0.85355) = −0.42678 -> B
# step 4: D (−0.42678). MMR order A, C, B, D against relevance order A, B, C, D.
HAND_VECTORS = np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
HAND_CATEGORY = np.array([0, 0, 1, 1])
HAND_MARGINAL = [0.5, 0.25, -0.05, -0.5 * (0.5 + 0.5 * math.sqrt(0.5))]


def test_hand_worked_example_and_column_mapping():
    items = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    scores = np.array([[3.0, 2.7, 1.5, 0.0], [0.0, 1.5, 2.7, 3.0]])
    res = mmr(scores, items, HAND_VECTORS, HAND_CATEGORY, 4, lam=0.5, alpha=0.5)
    assert res.order[0].tolist() == [0, 2, 1, 3]
    assert items[1, res.order[1]].tolist() == [0, 2, 1, 3]
    np.testing.assert_allclose(res.marginal[0], HAND_MARGINAL, atol=1e-6)
    np.testing.assert_allclose(res.marginal[1], HAND_MARGINAL, atol=1e-6)


def random_inputs(seed, n_users=12, n=15, n_items=40, d=6, pad=True):
    rng = np.random.default_rng(seed)
    items = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :n]
    rel = rng.normal(size=(n_users, n))
    if pad:
        counts = rng.integers(0, n + 1, n_users)
        counts[:3] = [0, 1, n]
        items = np.where(np.arange(n) < counts[:, None], items, -1)
        rel = np.where(items >= 0, rel, -np.inf)
    return rel, items, rng.normal(size=(n_items, d)).astype(np.float32), rng.integers(0, 4, n_items)


@pytest.mark.parametrize("lam,alpha", [(0.7, 0.3), (0.3, 0.0), (0.5, 1.0), (0.0, 0.3), (0.9, 0.6)])
def test_running_max_matches_naive(lam, alpha):
    rel, items, vec, cat = random_inputs(seed=int(lam * 10 + alpha * 100))
    res = mmr(rel, items, vec, cat, 8, lam=lam, alpha=alpha)
    order, marginal = naive_mmr(rel, items, vec, cat, 8, lam, alpha)
    np.testing.assert_array_equal(res.order, order)
    np.testing.assert_allclose(res.marginal, marginal, atol=1e-5)


def test_lambda_one_keeps_relevance_order_with_ties():
    rel, items, vec, cat = random_inputs(seed=3)
    rel = np.where(items >= 0, np.round(rel, 0), -np.inf)  # many exact ties
    res = mmr(rel, items, vec, cat, 10, lam=1.0, alpha=0.3)
    expected = np.argsort(np.where(items >= 0, -rel, np.inf), axis=1, kind="stable")[:, :10]
    expected = np.where(np.arange(10) < (items >= 0).sum(1)[:, None], expected, -1)
    np.testing.assert_array_equal(res.order, expected)


def test_lambda_zero_first_most_relevant_then_least_similar():
    rel, items, vec, cat = random_inputs(seed=4, pad=False)
    res = mmr(rel, items, vec, cat, 2, lam=0.0, alpha=0.3)
    first = np.argmax(rel, axis=1)
    np.testing.assert_array_equal(res.order[:, 0], first)
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    rows = np.arange(len(items))
    a = items[rows, first]
    sim = 0.3 * (cat[items] == cat[a][:, None]) + 0.7 * np.einsum("und,ud->un", unit[items], unit[a])
    sim[rows, first] = np.inf
    np.testing.assert_array_equal(res.order[:, 1], np.argmin(sim, axis=1))
    np.testing.assert_allclose(res.marginal[:, 0], 0.0)


def test_padding_never_picked_and_short_rows_padded():
    rel, items, vec, cat = random_inputs(seed=5)
    res = mmr(rel, items, vec, cat, 20, lam=0.6, alpha=0.3)
    counts = (items >= 0).sum(1)
    assert (res.order[0] == -1).all() and np.isnan(res.marginal[0]).all()
    for u in range(len(items)):
        got = res.order[u, : counts[u]]
        assert sorted(got.tolist()) == list(range(counts[u]))  # padding sits at row ends
        assert (res.order[u, counts[u]:] == -1).all()


def test_normalise_false_takes_relevance_as_given():
    # A and B share a category, C does not; α = 1 (similarity = same category), λ = 0.5.
    # Relevance 0.5, 0.5, 0 normalised is 1, 1, 0: A first (tie, earlier column); then B scores
    # 0.5·1 − 0.5·1 = 0 and C 0.5·0 − 0 = 0, a tie that the more relevant B wins: A, B, C.
    # Taken as given, B scores 0.5·0.5 − 0.5 = −0.25 < 0 = C's: A, C, B.
    # Relevance 0.5, 0.4, 0 as given: marginal values A 0.25, then C 0, then B 0.2 − 0.5 = −0.3.
    vec, cat = np.eye(3, dtype=np.float32), np.array([0, 0, 1])
    items = np.array([[0, 1, 2]])
    kw = dict(lam=0.5, alpha=1.0)
    assert mmr(np.array([[0.5, 0.5, 0.0]]), items, vec, cat, 3, **kw).order.tolist() == [[0, 1, 2]]
    assert mmr(np.array([[0.5, 0.5, 0.0]]), items, vec, cat, 3, normalise=False, **kw).order.tolist() == [[0, 2, 1]]
    res = mmr(np.array([[0.5, 0.4, 0.0]]), items, vec, cat, 3, normalise=False, **kw)
    np.testing.assert_allclose(res.marginal, [[0.25, 0.0, -0.3]], atol=1e-7)


def test_minmax_normalise_numbers():
    s = np.array([[2.0, -2.0, 0.0, 9.0], [5.0, 5.0, 0.0, 0.0], [7.0, 0.0, 0.0, 0.0]])
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(minmax_normalise(s, mask), [[1, 0, 0.5, 0], [1, 1, 0, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match="finite"):
        minmax_normalise(np.array([[np.nan, 1.0]]), np.array([[True, True]]))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"lam": -0.1}, "lam"), ({"lam": 1.5}, "lam"), ({"lam": float("nan")}, "lam"), ({"alpha": 2.0}, "alpha"), ({"k": 0}, "k must")],
)
def test_bad_parameters(kwargs, match):
    args = {"k": 2, "lam": 0.5, "alpha": 0.3} | kwargs
    with pytest.raises(ValueError, match=match):
        mmr(np.ones((1, 4)), np.array([[0, 1, 2, 3]]), HAND_VECTORS, HAND_CATEGORY, args.pop("k"), **args)


def test_bad_shapes():
    with pytest.raises(ValueError, match="relevance"):
        mmr(np.ones((1, 3)), np.array([[0, 1, 2, 3]]), HAND_VECTORS, HAND_CATEGORY, 2)
    with pytest.raises(ValueError, match="finite"):
        mmr(np.ones((1, 2)), np.array([[0, 1]]), np.array([[np.nan, 1.0], [1.0, 0.0]]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="ids"):
        mmr(np.ones((1, 2)), np.array([[0, 9]]), HAND_VECTORS, HAND_CATEGORY, 2)
