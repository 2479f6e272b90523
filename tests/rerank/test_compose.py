from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.rerank.compose import RerankConfig, rerank
from workbench.types import CandidateSet

N_ITEMS = 60


def world(seed=0, n_users=6, n=25):
    rng = np.random.default_rng(seed)
    items = np.argsort(rng.random((n_users, N_ITEMS)), axis=1)[:, :n]
    scores = -np.sort(rng.normal(size=(n_users, n)), axis=1)  # sorted, best first
    counts = np.array([n, n, n - 5, 12, 3, n])[:n_users]
    items = np.where(np.arange(n) < counts[:, None], items, -1)
    scores = np.where(items >= 0, scores, -np.inf)
    ranked = CandidateSet(users=np.arange(n_users) + 2, items=items, scores=scores)
    inputs = {
        "item_vectors": rng.normal(size=(N_ITEMS, 5)).astype(np.float32),
        "item_category": rng.integers(0, 4, N_ITEMS),
        "item_age_days": rng.uniform(0, 400, N_ITEMS),
        "item_available": rng.random(N_ITEMS) > 0.1,
        "item_promoted": rng.random(N_ITEMS) < 0.15,
    }
    return ranked, inputs


def real(row):
    return row[row >= 0]


def test_relevance_only_is_top_k_by_score():
    ranked, inputs = world()
    slate = rerank(ranked, 10, **inputs, config=RerankConfig(lam=1.0, order=("mmr",)))
    expected = ranked.top(10).items
    np.testing.assert_array_equal(slate.items, expected)
    np.testing.assert_array_equal(slate.trace["ranked_position"], np.where(expected >= 0, np.arange(10), -1))
    assert (slate.trace["moved_by_mmr"] == 0).all()
    np.testing.assert_array_equal(slate.propensities, np.where(expected >= 0, 1.0, 0.0))


def test_unsorted_input_is_ranked_by_score_first():
    ranked, inputs = world()
    shuffled = ranked.take(np.argsort(np.random.default_rng(1).random(ranked.items.shape), axis=1))
    slate = rerank(shuffled, 10, **inputs, config=RerankConfig(lam=1.0, order=("mmr",)))
    np.testing.assert_array_equal(slate.items, ranked.top(10).items)


def test_moved_by_mmr_is_rank_minus_slot():
    ranked, inputs = world()
    slate = rerank(ranked, 10, **inputs, config=RerankConfig(lam=0.3, order=("mmr",)))
    rp = slate.trace["ranked_position"]
    live = slate.items >= 0
    np.testing.assert_array_equal(slate.trace["moved_by_mmr"][live], (rp - np.arange(10))[live])
    assert (slate.trace["moved_by_mmr"] != 0).any()
    # MMR alone was given the ranked order: the place it started from is the ranked position
    np.testing.assert_array_equal(slate.trace["place_before_mmr"][live], rp[live])
    assert np.isfinite(slate.trace["mmr_score"][live]).all()


def test_default_pipeline_respects_rules():
    ranked, inputs = world()
    seen = sp.random(10, N_ITEMS, density=0.2, format="csr", random_state=0)
    config = RerankConfig(max_pins=2, category_cap=3)
    slate = rerank(ranked, 10, **inputs, seen=seen, config=config)
    dense_seen = seen.toarray() != 0
    for u in range(ranked.n_users):
        row = real(slate.items[u])
        assert len(set(row.tolist())) == len(row)
        assert not dense_seen[ranked.users[u], row].any()
        assert inputs["item_available"][row].all()
        pinned = slate.trace["pinned"][u]
        n_pins = pinned.sum()
        assert pinned[:n_pins].all() and not pinned[n_pins:].any()
        assert inputs["item_promoted"][slate.items[u, pinned]].all()
        counts = Counter(inputs["item_category"][row[n_pins:]].tolist())
        pin_counts = Counter(inputs["item_category"][row[:n_pins]].tolist())
        assert all(c + pin_counts[cat] <= 3 for cat, c in counts.items())
    assert slate.trace["pinned"].any()
    expected_keys = {"ranked_position", "freshness_boost", "relevance", "mmr_score", "moved_by_mmr", "place_before_mmr",
                     "pinned", "explored"}
    assert expected_keys <= set(slate.trace)


def test_pins_come_from_anywhere_in_the_pool():
    ranked, inputs = world()
    promoted = np.zeros(N_ITEMS, dtype=bool)
    promoted[ranked.items[0, 20]] = True
    slate = rerank(ranked, 5, **inputs | {"item_promoted": promoted}, config=RerankConfig(lam=1.0, order=("pins",)))
    assert slate.items[0, 0] == ranked.items[0, 20] and slate.trace["pinned"][0, 0]
    np.testing.assert_array_equal(slate.items[0, 1:], ranked.items[0, :4])


def test_nothing_eligible_gives_padding_row():
    ranked, inputs = world()
    rows, cols = np.nonzero(ranked.mask[:1])
    seen = sp.csr_matrix((np.ones(len(cols)), (ranked.users[rows], ranked.items[0, cols])), shape=(10, N_ITEMS))
    slate = rerank(ranked, 10, **inputs, seen=seen, config=RerankConfig(exploration_rate=0.2))
    assert (slate.items[0] == -1).all()
    assert (slate.propensities[0] == 0).all() and np.isneginf(slate.scores[0]).all()
    assert (slate.trace["ranked_position"][0] == -1).all()
    assert (slate.items[1] >= 0).all()


def test_users_without_candidates_get_padding():
    _, inputs = world()
    empty = CandidateSet(users=[0, 1], items=np.zeros((2, 0), dtype=int), scores=np.zeros((2, 0)))
    slate = rerank(empty, 4, **inputs, config=RerankConfig(exploration_rate=0.5, category_cap=1))
    assert slate.items.shape == (2, 4) and (slate.items == -1).all() and (slate.propensities == 0).all()


def test_k_larger_than_pool_pads_row_ends():
    ranked, inputs = world()
    slate = rerank(ranked, 40, **inputs, config=RerankConfig(exploration_rate=0.1))
    eligible = inputs["item_available"][np.maximum(ranked.items, 0)] & ranked.mask
    np.testing.assert_array_equal((slate.items >= 0).sum(axis=1), eligible.sum(axis=1))
    for u in range(ranked.n_users):
        n_real = eligible[u].sum()
        assert (slate.items[u, :n_real] >= 0).all() and (slate.items[u, n_real:] == -1).all()
    assert not slate.trace["explored"].any()  # no pool below a slate that holds everything


def test_freshness_lifts_fresh_item_even_with_negative_scores():
    # Raw scores −1, −1.5, −3 normalise to 1, 0.75, 0. Item 1 is brand new: 0.75·2 = 1.5 > 1,
    # so it moves to the top; the raw product −1.5·2 = −3 would have sunk it instead. Divided by
    # the boost's ceiling 1 + w = 2, relevance stays in [0, 1]: 0.75, 0.5, 0.
    ranked = CandidateSet(users=[0], items=[[0, 1, 2]], scores=[[-1.0, -1.5, -3.0]])
    inputs = {
        "item_vectors": np.eye(3, dtype=np.float32),
        "item_category": np.arange(3),
        "item_age_days": np.array([900.0, 0.0, 900.0]),
    }
    config = RerankConfig(freshness_decay=1.0, freshness_weight=1.0, order=("freshness",))
    slate = rerank(ranked, 3, **inputs, config=config)
    assert slate.items[0].tolist() == [1, 0, 2]
    np.testing.assert_allclose(slate.trace["freshness_boost"][0], [2.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(slate.trace["relevance"][0], [0.75, 0.5, 0.0], atol=1e-12)
    np.testing.assert_array_equal(slate.trace["ranked_position"][0], [1, 0, 2])


def test_decay_zero_leaves_the_slate_unchanged():
    ranked, inputs = world()
    off = rerank(ranked, 10, **inputs, config=RerankConfig(freshness_weight=0.0))
    uniform = rerank(ranked, 10, **inputs, config=RerankConfig(freshness_weight=0.8, freshness_decay=0.0))
    np.testing.assert_array_equal(off.items, uniform.items)
    fresh = rerank(ranked, 10, **inputs, config=RerankConfig(freshness_weight=3.0, freshness_decay=5.0))
    assert (fresh.items != off.items).any()


def test_mmr_weighs_the_traced_relevance():
    # One relevance on the MMR path: the first pick has no penalty, so its MMR value is λ times its
    # traced (normalised, boosted) relevance, for every user.
    ranked, inputs = world()
    config = RerankConfig(lam=0.6, freshness_weight=0.5, order=("freshness", "mmr"))
    slate = rerank(ranked, 5, **inputs, config=config)
    np.testing.assert_allclose(slate.trace["mmr_score"][:, 0], 0.6 * slate.trace["relevance"][:, 0], rtol=1e-6)
    assert (slate.trace["relevance"][slate.items >= 0] <= 1.0).all()


def test_textbook_order_keeps_membership_but_undoes_mmr_order():
    ranked, inputs = world()
    base = dict(lam=0.3, freshness_weight=0.5, freshness_decay=0.0)
    ours = rerank(ranked, 10, **inputs, config=RerankConfig(**base, order=("mmr", "freshness")))
    mmr_only = rerank(ranked, 10, **inputs, config=RerankConfig(**base, order=("mmr",)))
    for u in range(ranked.n_users):
        assert set(real(ours.items[u]).tolist()) == set(real(mmr_only.items[u]).tolist())
        rp = ours.trace["ranked_position"][u]
        assert (np.diff(rp[rp >= 0]) > 0).all()  # back in relevance order
    assert (mmr_only.items != ours.items).any()


def test_exploration_through_config():
    ranked, inputs = world()
    config = RerankConfig(exploration_rate=0.2, seed=5, max_pins=0)
    a = rerank(ranked, 10, **inputs, config=config)
    b = rerank(ranked, 10, **inputs, config=config)
    c = rerank(ranked, 10, **inputs, config=replace(config, seed=6))
    np.testing.assert_array_equal(a.items, b.items)
    assert (a.items != c.items).any()
    eligible = (inputs["item_available"][np.maximum(ranked.items, 0)] & ranked.mask).sum(axis=1)
    pool = np.maximum(eligible - 10, 0)
    for u in range(ranked.n_users):
        explored = a.trace["explored"][u]
        if pool[u] >= 2:
            assert np.flatnonzero(explored).tolist() == [2, 7]
            np.testing.assert_allclose(a.propensities[u, explored], 1 / pool[u])
        elif pool[u] == 0:
            assert not explored.any()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"lam": 1.2}, "lam"),
        ({"alpha": -0.1}, "alpha"),
        ({"exploration_rate": 2.0}, "exploration"),
        ({"freshness_decay": -1.0}, "decay"),
        ({"max_pins": -1}, "max_pins"),
        ({"category_cap": 0}, "category_cap"),
        ({"order": ("mmr", "shuffle")}, "shuffle"),
        ({"order": ("mmr", "mmr")}, "distinct"),
        ({"order": ("explore", "mmr")}, "last"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RerankConfig(**kwargs)


def test_input_validation():
    ranked, inputs = world()
    with pytest.raises(ValueError, match="k must"):
        rerank(ranked, 0, **inputs)
    with pytest.raises(ValueError, match="item_category"):
        rerank(ranked, 5, **inputs | {"item_category": np.zeros(3, dtype=int)})
    with pytest.raises(ValueError, match="beyond"):
        rerank(ranked, 5, **{name: arr[:10] for name, arr in inputs.items()})
