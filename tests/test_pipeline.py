import dataclasses
from pathlib import Path

import numpy as np
import pytest

from workbench.data import make_synthetic, temporal_split
from workbench.pipeline import LATENCY_BUDGET_MS, Pipeline, PipelineConfig
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
    assert real.all(axis=1).mean() > 0.9
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


def test_timings_and_latency_table(fitted):
    pipe, _, _ = fitted
    slate = pipe.recommend(np.arange(8), k=5)
    for stage in ("candidates", "ranking", "rerank", "total"):
        assert slate.timings_ms[stage].shape == (8,) and (slate.timings_ms[stage] >= 0).all()
    assert np.allclose(slate.timings_ms["total"],
                       slate.timings_ms["candidates"] + slate.timings_ms["ranking"] + slate.timings_ms["rerank"])
    table = pipe.profile_latency(np.arange(3), k=5)
    assert table["stage"].tolist() == ["candidates", "ranking", "rerank", "total"]
    assert (table["p99_ms"] >= table["p50_ms"]).all()
    assert table["within_budget"].tolist() == [p <= LATENCY_BUDGET_MS[s][1] for s, p in zip(table["stage"], table["p99_ms"])]


def test_explain_tells_each_items_story(fitted):
    pipe, train, _ = fitted
    slate = pipe.rerank_stage(pipe.rank_stage(np.arange(5)), 10, RerankConfig(exploration_rate=0.2, seed=1))
    frame = pipe.explain(3, slate)
    assert frame["item"].tolist() == [i for i in slate.items[3] if i >= 0]
    assert frame["position"].tolist() == list(range(1, len(frame) + 1))
    explored = frame["explored"].to_numpy()
    assert explored.sum() == 2  # round(0.2 * 10) slots
    assert all("exploration" in s for s in frame.loc[explored, "what reranking did"])
    assert (frame.loc[explored, "propensity"] < 1).all() and (frame.loc[~explored, "propensity"] == 1).all()
    names = set(pipe.config.weights)
    for label in frame.loc[~explored, "sources"]:
        assert label and set(label.split("+")) <= names
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
    assert 0 < ndcg <= 1


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
    alone = Pipeline(pipe.config).fit_candidates(train)
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
