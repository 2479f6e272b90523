import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.data import make_synthetic, temporal_split
from workbench.pipeline import Pipeline, PipelineConfig, latency_table
from workbench.ranking import TrainConfig
from workbench.rerank import RerankConfig

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(
    n_candidates=60, n_ranked=30, k=10, train=TrainConfig(epochs=2), source_params={"two_tower": {"epochs": 1}},
)


@pytest.fixture(scope="module")
def fitted():
    ds = make_synthetic(n_users=200, n_items=150, impressions_per_user=50, seed=2)
    train, test = temporal_split(ds, 0.2)
    return Pipeline(PipelineConfig(**FAST)).fit(train), train, test


def test_slates_are_valid_lists(fitted):
    pipe, train, _ = fitted
    users = np.arange(0, 200, 3)
    slate = pipe.recommend(users, k=10)
    assert slate.items.shape == (len(users), 10)
    real = slate.items >= 0
    # stage 1 already drops seen and unavailable items and nothing caps categories or explores,
    # so every user gets min(k, ranked candidates) items, padding only at the row end
    np.testing.assert_array_equal(real.sum(axis=1), np.minimum(10, slate.stages["ranked"].counts))
    assert (np.diff(real.astype(int), axis=1) <= 0).all()
    for row in slate.items:  # properties, checked per row on a small test batch
        kept = row[row >= 0]
        assert len(set(kept)) == len(kept)
    seen = train.matrix[users].toarray()
    rows, cols = np.nonzero(real)
    assert not seen[rows, slate.items[rows, cols]].any(), "a seen item was recommended"
    assert train.item_available[slate.items[real]].all(), "an unavailable item was recommended"
    assert set(slate.stages) == {"candidates", "ranked"}
    assert slate.stages["candidates"].n == 60 and slate.stages["ranked"].n == 30


def test_each_stage_narrows_the_previous_one(fitted):
    pipe, _, _ = fitted
    slate = pipe.recommend(np.arange(20), k=10)
    cands, ranked = slate.stages["candidates"], slate.stages["ranked"]
    for r in range(20):
        assert set(ranked.items[r][ranked.items[r] >= 0]) <= set(cands.items[r][cands.items[r] >= 0])
        assert set(slate.items[r][slate.items[r] >= 0]) <= set(ranked.items[r][ranked.items[r] >= 0])


def test_without_reranking_the_slate_is_the_ranking_top_k(fitted):
    pipe, _, _ = fitted
    ranked = pipe.rank_stage(np.arange(10))
    slate = pipe.rerank_stage(ranked, 5, RerankConfig(order=()))
    assert np.array_equal(slate.items, ranked.items[:, :5])


def test_batch_timings_are_amortised_and_fit_inside_the_call(fitted):
    pipe, _, _ = fitted
    start = time.perf_counter()
    slate = pipe.recommend(np.arange(8), k=5)
    wall_ms = (time.perf_counter() - start) * 1e3
    for stage in ("candidates", "ranking", "rerank", "total"):  # the batch time split evenly over 8 users
        assert slate.timings_ms[stage].shape == (8,) and np.ptp(slate.timings_ms[stage]) == 0
    np.testing.assert_allclose(slate.timings_ms["total"],
                               slate.timings_ms["candidates"] + slate.timings_ms["ranking"] + slate.timings_ms["rerank"])
    assert slate.timings_ms["total"].sum() <= wall_ms  # milliseconds of this call, each stage counted once
    assert slate.meta["amortised_timings"] and not pipe.recommend([0], k=5).meta["amortised_timings"]
    table = pipe.profile_latency(np.arange(3), k=5)
    assert table["stage"].tolist() == ["candidates", "ranking", "rerank", "total"]


def test_latency_table_against_the_budget():
    # percentiles of 1..100 (numpy's linear interpolation): p50 = 50.5, p99 = 1 + 0.99·99 = 99.01
    i = np.arange(1, 101, dtype=float)
    timings = {"candidates": 0.1 * i, "ranking": np.full(100, 60.0), "rerank": 0.2 * i, "total": 0.3 * i + 60.0}
    table = latency_table(timings).set_index("stage")
    np.testing.assert_allclose(table["p50_ms"], [5.05, 60.0, 10.1, 75.15])
    np.testing.assert_allclose(table["p99_ms"], [9.901, 60.0, 19.802, 89.703])
    assert table["budget_ms"].tolist() == ["1-10", "10-50", "5-20", "< 100 (p99)"]
    assert table["within_budget"].tolist() == [True, False, True, True]  # ranking's 60 ms p99 is over its 50


def test_explain_tells_each_items_story(fitted):
    pipe, train, _ = fitted
    ranked = pipe.rank_stage(np.arange(5))
    slate = pipe.rerank_stage(ranked, 10, RerankConfig(exploration_rate=0.2, seed=1))
    frame = pipe.explain(3, slate)
    assert frame["item"].tolist() == [i for i in slate.items[3] if i >= 0]
    assert frame["position"].tolist() == list(range(1, len(frame) + 1))
    explored = frame["explored"].to_numpy()
    assert explored.sum() == 2  # round(0.2 * 10) slots
    assert all("exploration" in s for s in frame.loc[explored, "what reranking did"])
    # each explored slot shows one of the P items ranked below the slate with probability 1/P
    # (nothing is filtered: the ranked items are unseen and available)
    np.testing.assert_allclose(frame.loc[explored, "propensity"], 1 / (ranked.counts[3] - 10))
    assert (frame.loc[~explored, "propensity"] == 1).all()
    names = set(pipe.config.weights)
    for label in frame.loc[~explored, "sources"]:
        assert label and set(label.split("+")) <= names
    # every MMR move is counted against a place the frame shows: place_before_mmr − moved = where MMR put it
    assert (frame["moved_by_mmr"] != 0).any()
    for rec in frame.loc[frame["moved_by_mmr"] != 0].to_dict("records"):
        before, moved = int(rec["place_before_mmr"]), int(rec["moved_by_mmr"])
        assert f"(place {before} → {before - moved} of the list MMR was given)" in rec["what reranking did"]
    with pytest.raises(KeyError, match="user 99 is not in this slate"):
        pipe.explain(99, slate)


def test_cold_start_user_gets_a_fallback_slate():
    ds = make_synthetic(n_users=200, n_items=150, impressions_per_user=50, seed=2)
    train, _ = temporal_split(ds, 0.2)
    inter = train.interactions
    train = train.with_interactions(inter[inter["user"] != 7])  # user 7 has no history at all
    pipe = Pipeline(PipelineConfig(**FAST)).fit(train)
    slate = pipe.recommend([7, 8], k=5)
    assert (slate.items[0] >= 0).all()
    assert np.isfinite(slate.scores[0]).all()


def test_evaluate_reports_accuracy_and_beyond_accuracy(fitted):
    pipe, _, test = fitted
    users = np.flatnonzero(test.user_activity > 0)
    table = pipe.evaluate(pipe.recommend(users, k=10), test)
    metrics = set(table["metric"])
    assert {"ndcg", "recall", "intra_list_diversity", "catalogue_coverage", "novelty_bits", "mean_item_age_days"} <= metrics
    ndcg = table.set_index("metric").loc["ndcg", "mean"]
    slate = pipe.recommend(users, k=10)
    by_hand = []  # binary relevance, log2 discount, ideal DCG over min(10, held-out items)
    for user, row in zip(users, slate.items.tolist()):
        held_out = set(test.matrix[user].indices.tolist())
        dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(row) if item in held_out)
        by_hand.append(dcg / sum(1 / np.log2(r + 2) for r in range(min(10, len(held_out)))))
    assert ndcg == pytest.approx(np.mean(by_hand))


def test_bad_input_is_named(fitted):
    pipe, _, _ = fitted
    with pytest.raises(ValueError, match=r"k=31: expected an integer in \[1, 30\]"):
        pipe.recommend([0], k=31)
    with pytest.raises(ValueError, match="k=20, n_ranked=10"):
        PipelineConfig(k=20, n_ranked=10)
    with pytest.raises(RuntimeError, match="not fitted"):
        Pipeline().recommend([0])
    with pytest.raises(ValueError, match=r"unknown candidate source\(s\) \['tiktok'\]"):
        PipelineConfig(weights={"tiktok": 1.0})
    with pytest.raises(ValueError, match="λ"):
        RerankConfig(lam=1.5)
    with pytest.raises(ValueError, match=r"source_params.ease: unknown argument\(s\) \['lambda'\]"):
        PipelineConfig(source_params={"ease": {"lambda": 3.0}})
    with pytest.raises(ValueError, match=r"source_params for \['content'\], which have no weight"):
        PipelineConfig(source_params={"content": {"half_life_days": 3.0}})
    with pytest.raises(ValueError, match="fusion='mean'"):
        PipelineConfig(fusion="mean")
    with pytest.raises(ValueError, match="ranker='xgboost'"):
        PipelineConfig(ranker="xgboost")
    with pytest.raises(ValueError, match=r"per_source_k \(None: n_candidates\) must be an integer >= 1, got 0"):
        PipelineConfig(per_source_k=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        PipelineConfig(seed=-1)
    with pytest.raises(ValueError, match=r"TrainConfig.seed .* got 1.5"):
        TrainConfig(seed=1.5)


def test_seeds_resolve_to_the_pipeline_seed_unless_set():
    cfg = PipelineConfig(seed=4, source_params={"als": {"seed": 9}})
    gen = Pipeline(cfg).make_generator()
    assert gen.sources["als"].seed == 9 and gen.sources["two_tower"].seed == 4
    assert not hasattr(gen.sources["ease"], "seed")
    assert (gen.use_quotas, gen.per_source_k, gen.method) == (cfg.use_quotas, cfg.per_source_k, cfg.fusion)
    assert cfg.train_config().seed == 4 and cfg.rerank_config().seed == 4
    explicit = dataclasses.replace(cfg, train=TrainConfig(seed=1), rerank=RerankConfig(seed=2))
    assert explicit.train_config().seed == 1 and explicit.rerank_config().seed == 2
    assert cfg.rerank_config(RerankConfig(lam=0.1)) == RerankConfig(lam=0.1, seed=4)


def test_stage_one_alone_serves_candidates_but_not_slates(fitted):
    pipe, train, _ = fitted
    carved, _ = temporal_split(train, pipe.config.future_fraction)  # fit warm-starts stage 1 from its carved fit
    alone = Pipeline(pipe.config).fit_candidates(train, warm_start=pipe.make_generator().fit(carved))
    np.testing.assert_array_equal(alone.candidate_stage(np.arange(5)).items, pipe.candidate_stage(np.arange(5)).items)
    with pytest.raises(RuntimeError, match="only stage 1 fitted"):
        alone.recommend([0])


def test_default_toml_spells_out_the_defaults_and_unknown_keys_are_named(tmp_path):
    assert PipelineConfig.from_toml(ROOT / "configs" / "default.toml") == PipelineConfig()
    bad = tmp_path / "bad.toml"
    bad.write_text("k = 5\n[rerank]\nlambda = 0.5\n")
    with pytest.raises(ValueError, match=r"unknown \[rerank\] setting\(s\) \['lambda'\]"):
        PipelineConfig.from_toml(bad)
    good = tmp_path / "good.toml"
    good.write_text('ranker = "ncf"\n[rerank]\nlam = 0.2\norder = ["mmr"]\n')
    cfg = PipelineConfig.from_toml(good)
    assert cfg.ranker == "ncf" and cfg.rerank.lam == 0.2 and cfg.rerank.order == ("mmr",)
    assert dataclasses.replace(cfg, ranker="wide_deep", rerank=RerankConfig()) == PipelineConfig()
