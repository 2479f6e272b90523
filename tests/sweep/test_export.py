"""The exported winner is a pipeline TOML that the rest of the workbench reads back as the same config."""

from __future__ import annotations

import dataclasses
import json
import tomllib

import pytest

from workbench.pipeline import PipelineConfig
from workbench.ranking import TrainConfig
from workbench.rerank import RerankConfig
from workbench.sweep import config_to_toml, export_config, row_config


def unusual() -> PipelineConfig:
    return PipelineConfig(
        weights={"ease": 0.25, "itemknn": 1.0, "content": 0.5}, fusion="max_score", use_quotas=True, per_source_k=77,
        n_candidates=150, ranker="ncf", ranker_params={"gmf_dim": 8, "hidden": (32, 16)}, n_ranked=40, k=7, future_fraction=0.3,
        source_params={"ease": {"lam": 123.5}, "itemknn": {"neighbours": 11, "window": 5}},
        train=TrainConfig(epochs=3, lr=1e-4, seed=9), seed=4,
        rerank=RerankConfig(lam=0.123456789, freshness_weight=0.0, category_cap=2, order=("filter", "mmr", "cap")),
    )  # fmt: skip


@pytest.mark.parametrize("config", [PipelineConfig(), unusual()], ids=["default", "unusual"])
def test_round_trip_through_from_toml(config, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(config, header="a header\nsecond line"))
    assert PipelineConfig.from_toml(path) == config


def test_train_serve_and_evaluate_read_the_export(tmp_path):
    from workbench.arguments import read_config
    from workbench.store.cli import _config

    row = {"label": "rerank.lam=0.1235", "config": json.dumps(unusual().to_dict())}
    path = export_config(row, tmp_path / "out" / "best.toml", note="chosen by: max ndcg@10")
    text = path.read_text()
    assert "# config: rerank.lam=0.1235" in text and "# chosen by: max ndcg@10" in text
    assert _config(str(path), 4) == unusual()  # workbench train (and serve: PipelineConfig.from_toml)
    assert read_config(str(path))[0] == unusual()  # workbench evaluate --config
    assert row_config(row) == unusual()


def test_none_is_left_out_only_where_it_is_the_default():
    raw = tomllib.loads(config_to_toml(unusual()))
    assert raw["rerank"]["category_cap"] == 2 and "seed" not in raw["rerank"]  # rerank.seed: None by default
    assert "category_cap" not in tomllib.loads(config_to_toml(PipelineConfig()))["rerank"]
    with pytest.raises(ValueError, match="per_source_k = None cannot be written"):
        config_to_toml(dataclasses.replace(PipelineConfig(), per_source_k=None))
    # absent, ItemKNN's window would read back as a different config (another artefact key)
    odd = dataclasses.replace(PipelineConfig(), source_params={"itemknn": {"window": None}})
    with pytest.raises(ValueError, match="source_params.itemknn.window = None cannot be written"):
        config_to_toml(odd)


def test_a_study_row_has_no_config_to_export(tmp_path):
    with pytest.raises(ValueError, match="study sweep"):
        export_config({"label": "x", "config": None, "params": "{}"}, tmp_path / "x.toml")
