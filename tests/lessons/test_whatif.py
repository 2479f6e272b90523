"""The what-if path: stage 3 and the metrics for every user, over cached ranked candidates."""

import dataclasses

import numpy as np
import pytest

from workbench.data import make_synthetic, temporal_split
from workbench.lessons.whatif import HEADLINE, Knobs, WhatIf
from workbench.rerank import RerankConfig
from workbench.types import CandidateSet


def at(whatif, **changes):
    """The what-if's own knobs with some changed (what a slider move does)."""
    return dataclasses.replace(whatif.knobs, **changes)


@pytest.fixture(scope="module")
def whatif():
    ds = make_synthetic(seed=3, n_users=80, n_items=120, impressions_per_user=60)
    train, test = temporal_split(ds)
    rng = np.random.default_rng(0)
    users = np.arange(train.n_users)
    items = np.argsort(rng.random((train.n_users, train.n_items)), axis=1)[:, :40]
    scores = rng.normal(size=items.shape).astype(np.float32)
    ranked = CandidateSet(users=users, items=items, scores=scores)
    # no pins, no freshness weight: λ = 1 must then reproduce the ranking order exactly
    return WhatIf(ranked, train, test, knobs=Knobs(max_pins=0, freshness_weight=0.0))


def test_lambda_one_keeps_the_ranking_order_of_unseen_items(whatif):
    res = whatif.run(at(whatif, lam=1.0, exploration_rate=0.0, k=10))
    ranked = whatif.ranked
    seen = whatif.train.matrix
    available = whatif.train.item_available
    for row in range(5):  # check a few users by hand against a plain Python reading of the rules
        order = np.argsort(-ranked.scores[row], kind="stable")
        expected = [int(i) for i in ranked.items[row][order]
                    if seen[ranked.users[row], i] == 0 and available[i]][:10]  # fmt: skip
        assert res.slate.items[row].tolist() == expected


def test_lower_lambda_raises_mean_diversity(whatif):
    div = [whatif.run(at(whatif, lam=lam)).headline()["intra_list_diversity"] for lam in (1.0, 0.5, 0.0)]
    assert div[0] < div[1] < div[2]


def test_headline_holds_every_named_metric_and_exploration_changes_the_slates(whatif):
    plain = whatif.run(at(whatif, exploration_rate=0.0))
    explored = whatif.run(at(whatif, exploration_rate=0.3))
    assert set(plain.headline()) == set(HEADLINE)
    assert explored.slate.trace["explored"].sum(axis=1).max() == 3  # ⌊0.3·10 + ½⌋ slots
    assert not np.array_equal(plain.slate.items, explored.slate.items)


def test_frontier_has_one_row_per_lambda_and_matches_single_runs(whatif):
    front = whatif.frontier(at(whatif, k=5), lams=(0.0, 0.5, 1.0))
    assert front["lam"].tolist() == [0.0, 0.5, 1.0]
    single = whatif.run(at(whatif, lam=0.5, k=5)).headline()
    assert front.loc[1, "ndcg"] == pytest.approx(single["ndcg"])


def test_headline_of_a_slate_is_the_whole_tables_headline(whatif):
    for knobs in (at(whatif, lam=0.4, k=7), at(whatif, lam=0.9, exploration_rate=0.2)):
        res = whatif.run(knobs)
        assert whatif.headline_of(res.slate) == res.headline()  # the same code: equal, not approximately


def test_frontier_runs_keep_whole_results_equal_to_single_runs(whatif):
    knobs = at(whatif, k=6, exploration_rate=0.1)
    front, kept = whatif.frontier_runs(knobs, lams=(0.0, 0.3, 1.0), keep=(0.3, 0.6))
    assert front["lam"].tolist() == [0.0, 0.3, 1.0] and sorted(kept) == [0.3, 0.6]  # 0.6: kept, not a point
    for lam in (0.3, 0.6):
        alone = whatif.run(at(whatif, k=6, exploration_rate=0.1, lam=lam))
        assert kept[lam].knobs == alone.knobs and kept[lam].slate.stages == {}
        np.testing.assert_array_equal(kept[lam].slate.items, alone.slate.items)
        assert kept[lam].headline() == alone.headline()
    assert front.set_index("lam").loc[0.0].to_dict() == whatif.run(dataclasses.replace(knobs, lam=0.0)).headline()
    assert front.equals(whatif.frontier(knobs, lams=(0.0, 0.3, 1.0)))
    alone, kept_alone = whatif.frontier_runs(knobs, lams=(0.0, 0.3, 1.0), keep=(0.3, 0.6), workers=1)  # no threads
    assert alone.equals(front) and kept_alone[0.6].headline() == kept[0.6].headline()
    with pytest.raises(ValueError, match="workers=0"):
        whatif.frontier_runs(knobs, workers=0)


def test_before_after_lists_one_users_lists_with_titles(whatif):
    res = whatif.run(at(whatif, k=8))
    user = int(whatif.pickable_users()[0])
    before, after = whatif.before_after(res, user)
    assert before["position"].tolist() == list(range(1, 9))
    assert after["item"].tolist() == res.slate.items[whatif.user_row(user)][:len(after)].tolist()
    titles = whatif.train.items["title"].to_numpy()
    assert after["title"].tolist() == titles[after["item"]].tolist()
    held_out = set(whatif.relevance[user].indices)
    assert after["in_test"].tolist() == [i in held_out for i in after["item"]]


def test_bad_knobs_are_named(whatif):
    with pytest.raises(ValueError, match="k=41"):
        whatif.run(at(whatif, k=41))
    with pytest.raises(ValueError, match="lam"):
        at(whatif, lam=1.5)  # RerankConfig's own check
    with pytest.raises(ValueError, match="user 9999"):
        whatif.user_row(9999)


def test_knobs_are_the_rerank_config_plus_k():
    own = {f.name for f in dataclasses.fields(Knobs)} - {f.name for f in dataclasses.fields(RerankConfig)}
    assert own == {"k"}  # no stage-3 field is declared twice
    assert "lam" not in Knobs.__dict__.get("__annotations__", {})
    config = RerankConfig(lam=0.4, alpha=0.9, max_pins=0, category_cap=2, seed=5)
    knobs = Knobs.of(config, k=7)
    assert knobs.k == 7 and knobs.config() == config
    with pytest.raises(ValueError, match="max_pins"):
        Knobs(max_pins=-1)


def test_fields_no_slider_moves_keep_the_what_ifs_values(whatif):
    capped = WhatIf(whatif.ranked, whatif.train, whatif.test, knobs=Knobs(category_cap=1, max_pins=0))
    moved = dataclasses.replace(capped.knobs, lam=1.0, k=10)  # a slider move keeps the cap
    assert moved.category_cap == 1
    category = whatif.train.item_category

    def most_per_category(slate):
        return max(np.bincount(category[row[row >= 0]]).max() for row in slate.items)

    assert most_per_category(capped.run(moved).slate) == 1
    assert most_per_category(whatif.run(at(whatif, lam=1.0, k=10)).slate) > 1


def test_ranked_position_counts_from_one(whatif):
    res = whatif.run(at(whatif, lam=1.0, exploration_rate=0.0, k=6))
    user = int(whatif.pickable_users()[0])
    before, after = whatif.before_after(res, user)
    # λ = 1 without freshness keeps the ranker's order among eligible items: position p holds
    # the p-th eligible item of the ranked list, so ranked positions rise from at least 1
    ranked = after["ranked_position"]
    assert str(ranked.dtype) == "Int64" and ranked.notna().all()
    assert ranked.min() >= 1 and ranked.is_monotonic_increasing
    order = np.argsort(-whatif.ranked.scores[whatif.user_row(user)], kind="stable")
    items = whatif.ranked.items[whatif.user_row(user)][order]
    assert [int(np.flatnonzero(items == i)[0]) + 1 for i in after["item"]] == ranked.tolist()


def test_a_slider_move_validates_lambda_once(whatif, monkeypatch):
    """λ is checked in one place (`workbench.rerank.mmr.check_weights`), once per move: when the
    knobs are made; reranking and MMR do not check it again."""
    import workbench.rerank.compose as compose
    from workbench.rerank import mmr as mmr_module

    seen = []

    def counting(lam, alpha):
        seen.append(lam)
        return mmr_module.check_weights(lam, alpha)

    monkeypatch.setattr(compose, "check_weights", counting)
    whatif.run(at(whatif, lam=0.3))
    assert seen == [0.3]
    with pytest.raises(ValueError, match="λ"):
        at(whatif, lam=1.5)
