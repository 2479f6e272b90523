"""Notebook 12's measured latency: the light and heavy pipelines on the served path (real Redis, real uvicorn)."""

import dataclasses

import numpy as np
import pytest

from workbench.lessons.served_latency import (
    HEAVY_MEMBERS,
    ServedLatency,
    configs,
    describe,
    measure,
)
from workbench.pipeline import PipelineConfig


def test_heavy_pipeline_averages_the_default_ranker_with_others_over_the_same_stage_one():
    light, members = configs(seed=3)
    assert light == PipelineConfig(seed=3) and members[0] == light
    assert [c.ranker for c in members[1:]] == list(HEAVY_MEMBERS) and light.ranker not in HEAVY_MEMBERS
    assert all(dataclasses.replace(c, ranker=light.ranker) == light for c in members)  # only the ranker differs
    assert describe(members) == f"an ensemble of {' + '.join([light.ranker, *HEAVY_MEMBERS])} (mean per-user z-score)"


def test_extra_latency_is_the_difference_of_the_medians_and_never_negative():
    base = dict(light="a", heavy="b", light_ranking_ms=1.0, heavy_ranking_ms=2.0, requests=10, degraded=0)
    assert ServedLatency(light_total_ms=8.0, heavy_total_ms=70.5, **base).extra_ms == 62.5
    assert ServedLatency(light_total_ms=8.0, heavy_total_ms=7.0, **base).extra_ms == 0.0
    assert "62.5 ms more" in ServedLatency(light_total_ms=8.0, heavy_total_ms=70.5, **base).sentence()


def test_measure_reads_the_server_timing_of_undegraded_uncached_answers(stored_model, tiny_pipeline_toml):
    from workbench.lessons.ensemble import ensemble_pipeline
    from workbench.store import load_or_train

    cfg = PipelineConfig.from_toml(tiny_pipeline_toml)
    trained = load_or_train("synthetic", cfg, seed=0, small=True)
    gbdt = load_or_train("synthetic", dataclasses.replace(cfg, ranker="gbdt", ranker_params={"n_estimators": 20}),
                         seed=0, small=True)  # fmt: skip
    heavy = dataclasses.replace(trained, pipeline=ensemble_pipeline({"wd": trained.pipeline, "gbdt": gbdt.pipeline}))
    with pytest.raises(ValueError, match="requests=0"):
        measure({"a": trained}, requests=0)  # refused before Redis or uvicorn start
    out = measure({"a": trained, "b": heavy}, requests=6, warmup=1, seed=1)  # the ensemble on the served path too
    assert set(out) == {"a", "b"}
    for total, ranking, degraded in out.values():
        assert degraded == 0 and len(total) == len(ranking) == 6
        assert (ranking > 0).all() and (total > ranking).all()  # every answer ran stage 2, inside the whole path
        assert np.isfinite(total).all()
