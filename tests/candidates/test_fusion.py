"""Fusion by hand-computed RRF, quotas, filters and provenance; the generator and diagnostics end to end."""

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.candidates import DEFAULT_WEIGHTS, CandidateGenerator, Popular, fuse, quotas
from workbench.candidates.diagnostics import candidate_recall, overlap_table, recall_table, source_contribution
from workbench.types import CandidateSet


def cset(items, scores):
    items = np.atleast_2d(items)
    return CandidateSet(users=np.arange(len(items)), items=items, scores=np.atleast_2d(np.asarray(scores, float)))


A = cset([[0, 1, 2, 3]], [0.9, 0.8, 0.7, 0.6])  # a cosine-scale source
B = cset([[2, 4, 5, -1]], [90.0, 50.0, 10.0, -np.inf])  # a count-scale source


def test_rrf_scores_dedup_bitmask_and_provenance_by_hand():
    fused = fuse({"a": A, "b": B}, n=6, weights={"a": 1.0, "b": 2.0}, rrf_k=2.0, use_quotas=False)
    expected = {0: 1 / 3, 1: 1 / 4, 2: 1 / 5 + 2 / 3, 3: 1 / 6, 4: 2 / 4, 5: 2 / 5}
    order = sorted(expected, key=lambda i: -expected[i])
    assert fused.items[0].tolist() == order
    np.testing.assert_allclose(fused.scores[0], [expected[i] for i in order], rtol=1e-6)
    bits = dict(zip(fused.items[0].tolist(), fused.sources[0].tolist()))
    assert bits == {0: 1, 1: 1, 2: 3, 3: 1, 4: 2, 5: 2}
    assert fused.source_names == ("a", "b")
    at2 = fused.items[0].tolist().index(2)
    assert fused.source_ranks[0, at2].tolist() == [2, 0]
    assert fused.source_scores[0, at2].tolist() == pytest.approx([0.7, 90.0])
    at4 = fused.items[0].tolist().index(4)
    assert fused.source_ranks[0, at4].tolist() == [-1, 1] and np.isnan(fused.source_scores[0, at4, 0])


def test_max_score_lets_the_large_scale_source_win_rrf_interleaves():
    by_max = fuse({"a": A, "b": B}, n=3, method="max_score", use_quotas=False)
    assert by_max.items[0].tolist() == [2, 4, 5]  # all of B: its raw scores are 100× larger
    by_rrf = fuse({"a": A, "b": B}, n=3, use_quotas=False)
    assert by_rrf.items[0, :2].tolist() == [2, 0]  # 1/61 + 1/63, then A's top item at 1/61


def test_quotas_reserve_slots_and_duplicates_free_them():
    fused = fuse({"a": A, "b": B}, n=4, weights={"a": 0.75, "b": 0.25}, method="max_score")
    # quota: a gets 3 (items 0, 1, 2), b gets 1 (item 2, already in) -> one free slot -> best remaining by score: 4
    assert set(fused.items[0].tolist()) == {0, 1, 2, 4}


def test_quotas_largest_remainder():
    assert quotas(np.array([0.4, 0.3, 0.2, 0.1]), 7).tolist() == [3, 2, 1, 1]
    assert quotas(np.array([1.0, 1.0, 1.0]), 200).sum() == 200
    with pytest.raises(ValueError, match="positive sum"):
        quotas(np.array([0.0, 0.0]), 5)


def test_seen_and_unavailable_items_are_dropped_and_rows_padded():
    seen = sp.csr_matrix(([1.0], ([0], [2])), shape=(1, 6))
    available = np.array([True, False, True, True, True, True])
    fused = fuse({"a": A, "b": B}, n=8, seen=seen, available=available)
    assert set(fused.items[0][fused.items[0] >= 0].tolist()) == {0, 3, 4, 5}
    assert (fused.items[0, 4:] == -1).all() and (fused.sources[0, 4:] == 0).all()
    # source_ranks keep the position in the source's own list, dropped items included
    assert fused.source_ranks[0, fused.items[0].tolist().index(4)].tolist() == [-1, 1]


def test_fuse_rejects_mismatched_input():
    with pytest.raises(ValueError, match="no weight for \\['b'\\]"):
        fuse({"a": A, "b": B}, n=3, weights={"a": 1.0})
    with pytest.raises(ValueError, match="'median'"):
        fuse({"a": A}, n=3, method="median")
    other = CandidateSet(users=[5], items=[[1]], scores=[[1.0]])
    with pytest.raises(ValueError, match="same users"):
        fuse({"a": A, "b": other}, n=3)


def test_generator_end_to_end_on_synthetic_world(synthetic_split):
    train, test = synthetic_split
    sources = {name: src for name, src in CandidateGenerator().sources.items()}
    sources["two_tower"].epochs = 1
    gen = CandidateGenerator(sources=sources).fit(train)
    assert set(gen.sources) == set(DEFAULT_WEIGHTS)
    users = np.flatnonzero(test.user_activity > 0)
    each = gen.retrieve_each(users, 40)
    fused = gen.retrieve(users, 40)
    assert fused.items.shape == (len(users), 40) and (fused.counts == 40).all()
    real = fused.mask
    assert not train.matrix[users[:, None].repeat(40, 1)[real], fused.items[real]].any()
    assert train.item_available[fused.items[real]].all()
    for s, name in enumerate(fused.source_names):  # a source's rank points back into its own list
        rank = fused.source_ranks[:, :, s]
        has = rank >= 0
        rows = np.nonzero(has)[0]
        assert (each[name].items[rows, rank[has]] == fused.items[has]).all()
        assert ((fused.sources[has] >> s) & 1 == 1).all()
    held_out = test.matrix[users].tolil().rows  # each user's test items (users all have some)
    by_hand = np.mean([len(set(row) & set(items)) / len(row) for row, items in zip(held_out, fused.items.tolist())])
    assert candidate_recall(fused, test) == pytest.approx(by_hand)
    table = recall_table({**each, "fused": fused}, test, (10, 40))
    assert table.loc["fused", "recall@40"] == pytest.approx(candidate_recall(fused, test))
    assert (table.loc["fused", "recall@40"] >= table["recall@40"].drop("fused").min())
    contrib = source_contribution(fused)
    assert ((contrib["only_source"] <= contrib["proposed"]) & (contrib["proposed"] <= 1)).all()


def test_candidate_recall_and_overlap_by_hand(tiny_world):
    test = tiny_world([(0, 1), (0, 2), (1, 3)], n_users=3, n_items=6)
    cs = CandidateSet(users=[0, 1, 2], items=[[1, 5], [0, 4], [2, 3]], scores=np.zeros((3, 2)))
    assert candidate_recall(cs, test) == pytest.approx((0.5 + 0.0) / 2)  # user 2 has no test items
    other = CandidateSet(users=[0, 1, 2], items=[[1, 0], [4, -1], [5, 0]], scores=np.zeros((3, 2)))
    table = overlap_table({"x": cs, "y": other}, n=2, n_items=6)
    assert table.loc["x", "y"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert table.loc["y", "x"] == pytest.approx((1 / 2 + 1 / 1 + 0) / 3)


def test_generator_cold_user_gets_popular_from_every_source(block_world):
    ds = block_world(extra_users=1)
    gen = CandidateGenerator(sources={"pop": Popular(), "knn": CandidateGenerator.preset("tuned").sources["itemknn"]},
                             weights={"pop": 1.0, "knn": 1.0}, exclude_unavailable=False).fit(ds)  # fmt: skip
    each = gen.retrieve_each([12], 5)
    assert each["knn"].items.tolist() == each["pop"].items.tolist()
    with pytest.raises(ValueError, match="13"):
        gen.retrieve([13], 5)


def test_a_wide_catalogue_fuses_among_the_proposed_cells_by_hand():
    """Beside 1,000 items the two lists are narrow (`fusion.WIDE`): the same hand-computed RRF as above."""
    fused = fuse({"a": A, "b": B}, n=6, weights={"a": 1.0, "b": 2.0}, rrf_k=2.0, use_quotas=False,
                 available=np.ones(1000, bool))  # fmt: skip
    expected = {0: 1 / 3, 1: 1 / 4, 2: 1 / 5 + 2 / 3, 3: 1 / 6, 4: 2 / 4, 5: 2 / 5}
    assert fused.items[0].tolist() == sorted(expected, key=lambda i: -expected[i])
    np.testing.assert_allclose(fused.scores[0], sorted(expected.values(), reverse=True), rtol=1e-6)
    assert dict(zip(fused.items[0].tolist(), fused.sources[0].tolist())) == {0: 1, 1: 1, 2: 3, 3: 1, 4: 2, 5: 2}


@pytest.mark.parametrize("method,use_quotas", [("rrf", False), ("rrf", True), ("max_score", False)])
def test_fusing_among_the_proposed_cells_equals_the_dense_table(monkeypatch, method, use_quotas):
    """Both ways of choosing the fused cells (`fusion.WIDE` forced each way) give the same candidates, with
    seen and unavailable items dropped, on lists without ties (continuous weights and scores)."""
    import workbench.candidates.fusion as fusion

    rng = np.random.default_rng(3)
    n_users, n_items, k = 30, 400, 40
    lists = {}
    for s in ("a", "b", "c"):
        items = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]  # distinct items per row
        items[rng.random(items.shape) < 0.1] = -1
        scores = np.where(items >= 0, -np.sort(-rng.random((n_users, k)), axis=1) * (1 + 9 * (s == "b")), -np.inf)
        lists[s] = CandidateSet(users=np.arange(n_users), items=items, scores=scores.astype(np.float32))
    seen = sp.random(n_users, n_items, density=0.05, format="csr", random_state=4)
    available = rng.random(n_items) > 0.1
    weights = dict(zip(lists, rng.random(3) + 0.5))
    out = {}
    for wide in (0, 10**9):  # 0: always among the proposed cells; 10**9: always the dense table
        monkeypatch.setattr(fusion, "WIDE", wide)
        out[wide] = fuse(lists, 50, weights, method=method, use_quotas=use_quotas, seen=seen, available=available)
    a, b = out[0], out[10**9]
    for field in ("items", "sources", "source_ranks"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not seen[np.arange(n_users)[:, None], np.maximum(a.items, 0)].toarray()[a.items >= 0].any()
    assert available[a.items[a.items >= 0]].all()
