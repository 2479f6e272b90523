"""The strict settings loader (workbench.settings, workbench.pipeline_settings): every hostile
pipeline TOML is refused naming the file and the dotted key, before any data loads, and a file
never fails for a key it does not hold."""

from __future__ import annotations

import dataclasses
import re

import pytest

import workbench.data
from workbench.cli import main
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.ranking import TrainConfig
from workbench.ranking.gbdt import GBDTConfig
from workbench.rerank import RerankConfig
from workbench.settings import SettingsError


def refused(tmp_path, text: str, key: str, expected: str) -> str:
    """``text`` as a TOML file is refused; the message names the file, ``key`` and ``expected`` (a regex)."""
    path = tmp_path / "hostile.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        PipelineConfig.from_toml(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert re.search(expected, message), message
    return message


# ---- the issue's hostile cases


def test_a_quoted_bool_is_refused_not_read_as_true(tmp_path):
    refused(tmp_path, 'use_quotas = "false"\n', "use_quotas", r"'false' \(str\): expected true or false")


def test_a_quoted_number_is_refused_naming_the_key(tmp_path):
    refused(tmp_path, 'n_candidates = "300"\n', "n_candidates", r"'300' \(str\): expected an integer")
    refused(tmp_path, '[train]\nepochs = "many"\n', "train.epochs", r"'many' \(str\): expected an integer")
    refused(tmp_path, '[source_params.ease]\nlam = "big"\n', "source_params.ease.lam", r"'big' \(str\): expected a number")


def test_ranges_the_fit_used_to_find_are_refused_by_the_loader(tmp_path):
    refused(tmp_path, "[train]\nlr = -0.1\n", "train.lr", r"lr=-0.1: expected a positive")
    refused(tmp_path, "[train]\nweight_decay = -1.0\n", "train.weight_decay", r"expected a non-negative")
    refused(tmp_path, "[source_params.ease]\nlam = -5.0\n", "source_params.ease.lam", r"lam=-5.0: expected a positive")


def test_a_fractional_slate_length_is_refused(tmp_path):
    refused(tmp_path, "k = 10.5\n", "k", r"10.5 \(float\): expected an integer")


def test_negative_and_all_zero_weights_are_refused(tmp_path):
    refused(tmp_path, "[weights]\nease = -1.0\nals = 1.0\n", "weights.ease", r"-1.0: expected a non-negative")
    refused(tmp_path, "[weights]\nease = 0.0\nals = 0.0\n", "weights", r"expected at least one positive weight")
    with pytest.raises(ValueError, match="at least one of them positive"):  # the same rule from Python
        PipelineConfig(weights={"ease": 0.0})
    with pytest.raises(ValueError, match="non-negative"):
        PipelineConfig(weights={"ease": -1.0, "als": 1.0})


def test_defaults_the_user_did_not_write_never_leak_in(tmp_path):
    path = tmp_path / "ease.toml"
    path.write_text("[weights]\nease = 1.0\n")
    config = PipelineConfig.from_toml(path)
    assert config.weights == {"ease": 1.0}
    assert set(config.source_params) == {"ease"}  # the tuned EASE settings, not item-kNN's
    assert config.source_params["ease"] == PipelineConfig().source_params["ease"]
    Pipeline(config).make_generator()  # and it builds


def test_gbdt_refuses_the_torch_training_keys_it_would_ignore(tmp_path):
    for name in ("epochs", "batch_size", "lr", "weight_decay", "patience"):
        value = {"lr": "0.01", "weight_decay": "0.1"}.get(name, "3")
        refused(tmp_path, f'ranker = "gbdt"\n[train]\n{name} = {value}\n', f"train.{name}", r"GBDT does not read this")
    # the sampling keys GBDT does read are accepted, and so is a stored config at its defaults
    path = tmp_path / "gbdt.toml"
    path.write_text('ranker = "gbdt"\n[train]\nhard_negatives = 4\n')
    assert PipelineConfig.from_toml(path).train.hard_negatives == 4
    stored = dataclasses.replace(PipelineConfig(), ranker="gbdt").to_dict()
    assert PipelineConfig.from_dict(stored).ranker == "gbdt"


@pytest.mark.slow  # one small GBDT pipeline fit
def test_gbdt_settings_are_reachable_from_toml_and_reach_the_fit(tmp_path):
    path = tmp_path / "gbdt.toml"
    path.write_text('ranker = "gbdt"\nn_candidates = 60\nn_ranked = 30\n[weights]\npopular = 1.0\nitemknn = 1.0\n'
                    "[ranker_params]\nn_estimators = 3\nnum_leaves = 4\nlearning_rate = 0.2\n")
    config = PipelineConfig.from_toml(path)
    assert config.ranker_model() == GBDTConfig(n_estimators=3, num_leaves=4, learning_rate=0.2)
    train, _ = workbench.data.temporal_split(workbench.data.load("synthetic", seed=0, small=True), 0.2)
    pipe = Pipeline(config).fit(train)
    booster = pipe.ranker_.model_.booster_
    assert booster.num_trees() <= 3  # at most n_estimators trees (early stopping may keep fewer)
    assert booster.params["num_leaves"] == 4


# ---- more hostile files


@pytest.mark.parametrize("text, key, expected", [
    ("foo = 1\n", "foo", r"unknown pipeline setting\(s\) \['foo'\]"),
    ("[rerank]\nlamb = 0.5\n", "rerank.lamb", r"unknown \[rerank\] setting"),
    ("[train]\nepoch = 3\n", "train.epoch", r"unknown \[train\] setting"),
    ("[rerank]\nlam = 1.5\n", "rerank.lam", r"λ"),
    ("[rerank]\nlam = nan\n", "rerank.lam", r"nan: expected a finite number"),
    ('[rerank]\nexploration_rate = "0.1"\n', "rerank.exploration_rate", r"expected a number"),
    ('[rerank]\norder = ["filter", "shuffle"]\n', "rerank.order", r"unknown: \['shuffle'\]"),
    ("[rerank]\ncategory_cap = 0\n", "rerank.category_cap", r"category_cap"),
    ("[rerank]\nmax_pins = 1.5\n", "rerank.max_pins", r"expected an integer"),
    ("[train]\nvalid_fraction = 1.0\n", "train.valid_fraction", r"expected a number in \(0, 1\)"),
    ("[train]\nhard_negatives = 0\neasy_negatives = 0\n", "train.hard_negatives, train.easy_negatives", r"not both 0"),
    ("[train]\nlr = inf\n", "train.lr", r"expected a finite number"),
    ("seed = -1\n", "seed", r"seed must be an integer >= 0"),
    ("seed = true\n", "seed", r"True \(bool\): expected an integer"),
    ('fusion = "mean"\n', "fusion", r"fusion='mean'"),
    ("fusion = 1\n", "fusion", r"expected a string"),
    ('ranker = "xgboost"\n', "ranker", r"expected one of"),
    ("per_source_k = 0\n", "per_source_k", r"per_source_k"),
    ("future_fraction = 1.5\n", "future_fraction", r"expected a number in \(0, 1\)"),
    ("k = 200\n", "k", r"1 <= k <= n_ranked"),
    ("k = 50\nn_ranked = 40\n", "k, n_ranked", r"1 <= k <= n_ranked"),
    ("k = true\n", "k", r"expected an integer"),
    ("weights = 3\n", "weights", r"expected a table"),
    ("[weights]\nnetflix = 1.0\n", "weights.netflix", r"unknown candidate source"),
    ('[weights]\nease = "1"\n', "weights.ease", r"expected a number"),
    ("[source_params.content]\nhalf_life_days = 3.0\n", "source_params.content", r"content has no weight"),
    ("[source_params]\nease = 5\n", "source_params.ease", r"expected a table"),
    ("[source_params.ease]\nmax_items = 2.5\n", "source_params.ease.max_items", r"expected an integer"),
    ("[source_params.ease]\nlambda = 3.0\n", "source_params.ease.lambda", r"unknown argument\(s\) \['lambda'\]"),
    ("[source_params.itemknn]\nneighbours = 0\n", "source_params.itemknn.neighbours", r"neighbours=0"),
    ('[weights]\ncontent = 1.0\n[source_params.content.index]\nkind = "flat"\n', "source_params.content.index.kind",
     r"expected one of"),
    ("[weights]\ncontent = 1.0\n[source_params.content]\nindex = 5\n", "source_params.content.index",
     r"expected a table"),
    ('ranker = "gbdt"\n[ranker_params]\nlearning_rate = 0.0\n', "ranker_params.learning_rate", r"positive"),
    ('ranker = "gbdt"\n[ranker_params]\nsubsample = 1.5\n', "ranker_params.subsample", r"\(0, 1\]"),
    ('ranker = "gbdt"\n[ranker_params]\nuse_ids = 1\n', "ranker_params.use_ids", r"expected true or false"),
    ("[ranker_params]\nnum_leaves = 31\n", "ranker_params.num_leaves", r"unknown setting\(s\) of the wide_deep ranker"),
    ("[ranker_params]\nhidden = [64, 0]\n", "ranker_params.hidden", r"hidden must be an integer >= 1, got 0"),
    ("[ranker_params]\ndropout = 1.0\n", "ranker_params.dropout", r"dropout=1.0"),
])  # fmt: skip
def test_hostile_settings_are_refused_naming_file_and_key(tmp_path, text, key, expected):
    refused(tmp_path, text, key, expected)


def test_round_trip_of_every_ranker_with_its_own_settings():
    for ranker, params in (("deepfm", {"embed_dim": 4}), ("wide_deep", {"hidden": (16,)}), ("ncf", {"gmf_dim": 4}),
                           ("gbdt", {"n_estimators": 7})):  # fmt: skip
        config = PipelineConfig(ranker=ranker, ranker_params=params, train=TrainConfig(hard_negatives=3),
                                rerank=RerankConfig(lam=0.4, order=("filter", "mmr")))  # fmt: skip
        assert PipelineConfig.from_dict(config.to_dict()) == config


def test_a_nested_table_builds_its_dataclass():
    import tomllib

    from workbench.candidates import AnnConfig

    raw = tomllib.loads('[weights]\ncontent = 1.0\n[source_params.content.index]\nkind = "hnsw"\nhnsw_m = 8\n')
    config = PipelineConfig.from_dict(raw, source="nested.toml")
    assert config.source_params["content"]["index"] == AnnConfig(kind="hnsw", hnsw_m=8)
    assert PipelineConfig.from_dict(config.to_dict()) == config


def test_the_default_file_is_the_default_config():
    assert PipelineConfig.from_toml("configs/default.toml") == PipelineConfig()


def test_commands_refuse_a_hostile_config_before_loading_data(tmp_path, capsys, monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError("data loaded: the config should have been refused first")

    monkeypatch.setattr(workbench.data, "load", tripwire)
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nlr = -0.1\n")
    for argv in (["evaluate", "--model", "pipeline", "--config", str(path)],
                 ["train", "--small", "--config", str(path)]):  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{path}: train.lr: lr=-0.1" in err, err


def test_a_ranker_chosen_on_the_command_line_reads_the_file_as_its_own(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(workbench.data, "load", lambda *a, **k: pytest.fail("data loaded before the refusal"))
    path = tmp_path / "torch.toml"
    path.write_text("[train]\nepochs = 2\n")
    assert main(["evaluate", "--model", "gbdt", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} (with --model gbdt): train.epochs: GBDT does not read this" in err, err

