"""Sweep files: every swept path reaches the config field it names, grids and draws expand as documented,
and bad files are refused before any work with a message naming the field."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from workbench.pipeline import PipelineConfig
from workbench.sweep import SweepError, load_sweep, parse_sweep
from workbench.sweep.evaluation import METRICS


def write(tmp_path, text: str, name: str = "sweep.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_each_dotted_path_sets_the_field_it_names():
    spec = parse_sweep({"sweep": {"small": True}, "grid": {
        "rerank.lam": [0.25], "weights.ease": [0.5], "source_params.itemknn.neighbours": [7], "ranker": ["ncf"],
        "train.epochs": [3], "k": [5], "rerank.order": [["filter", "mmr"]],
    }})  # fmt: skip
    (trial,) = spec.trials()
    c = trial.config
    default = PipelineConfig()
    assert (c.rerank.lam, c.weights["ease"], c.source_params["itemknn"]["neighbours"], c.ranker, c.train.epochs, c.k) \
        == (0.25, 0.5, 7, "ncf", 3, 5)  # fmt: skip
    assert c.rerank.order == ("filter", "mmr")
    # everything not swept is the base config's
    assert c.weights["itemknn"] == default.weights["itemknn"] and c.rerank.alpha == default.rerank.alpha
    assert c.source_params["itemknn"]["window"] == default.source_params["itemknn"]["window"]
    assert trial.values == {"rerank.lam": 0.25, "weights.ease": 0.5, "source_params.itemknn.neighbours": 7,
                            "ranker": "ncf", "train.epochs": 3, "k": 5, "rerank.order": ["filter", "mmr"]}  # fmt: skip


def test_grid_is_the_product_crossed_with_seeds_and_ids_are_distinct():
    spec = parse_sweep({"sweep": {"seeds": [0, 3]}, "grid": {"rerank.lam": [0.0, 0.5, 1.0], "k": [5, 10]}})
    trials = spec.trials()
    assert len(trials) == 3 * 2 * 2
    assert {(t.values["rerank.lam"], t.values["k"], t.seed) for t in trials} == {
        (lam, k, s) for lam in (0.0, 0.5, 1.0) for k in (5, 10) for s in (0, 3)
    }
    assert all(t.config.seed == t.seed for t in trials)
    assert len({t.config_id for t in trials}) == len(trials)


def test_random_draws_are_seeded_in_range_and_shared_by_grid_points():
    raw = {"sweep": {"samples": 50, "sample_seed": 4}, "grid": {"k": [5, 10]}, "random": {
        "rerank.lam": {"uniform": [0.2, 0.6]}, "rerank.freshness_weight": {"loguniform": [0.01, 1.0]},
        "rerank.max_pins": {"integers": [0, 2]}, "ranker": {"choice": ["gbdt", "ncf"]}}}  # fmt: skip
    trials = parse_sweep(raw).trials()
    assert len(trials) == 2 * 50
    lam = np.array([t.values["rerank.lam"] for t in trials if t.values["k"] == 5])
    assert ((lam >= 0.2) & (lam <= 0.6)).all()
    # the same draws at each grid point (paired comparison)
    assert [t.values["rerank.lam"] for t in trials if t.values["k"] == 10] == lam.tolist()
    fw = np.array([t.values["rerank.freshness_weight"] for t in trials[:50]])
    assert ((fw >= 0.01) & (fw <= 1.0)).all()
    # log-uniform: about half the draws below the geometric midpoint 0.1 (a uniform draw would put ~9% there)
    assert 0.3 < (fw < 0.1).mean() < 0.7
    assert {t.values["rerank.max_pins"] for t in trials} == {0, 1, 2}  # inclusive bounds
    assert {t.values["ranker"] for t in trials} == {"gbdt", "ncf"}
    assert [t.config_id for t in parse_sweep(raw).trials()] == [t.config_id for t in trials]  # same seed, same draws
    other = parse_sweep({**raw, "sweep": {"samples": 50, "sample_seed": 5}}).trials()
    assert [t.values["rerank.lam"] for t in other] != [t.values["rerank.lam"] for t in trials]


def test_the_config_id_covers_the_evaluation_not_just_the_config():
    base = {"grid": {"rerank.lam": [0.5]}}
    ids = {
        parse_sweep({**base, "sweep": extra}).trials()[0].config_id
        for extra in ({}, {"extra_k": [5]}, {"graded": True}, {"metrics": ["ndcg"]}, {"small": True}, {"seeds": [1]})
    }
    assert len(ids) == 6


def test_base_is_read_relative_to_the_sweep_file(tmp_path):
    write(tmp_path, 'ranker = "gbdt"\nk = 7\nsource_params = {}\n[weights]\nease = 1.0\n', "base.toml")
    path = write(tmp_path, """
        [sweep]
        base = "base.toml"
        [grid]
        "rerank.lam" = [0.1, 0.9]
    """)
    trials = load_sweep(path).trials()
    assert [(t.config.ranker, t.config.k, sorted(t.config.weights)) for t in trials] == [("gbdt", 7, ["ease"])] * 2


def test_duplicate_draws_are_run_once():
    trials = parse_sweep({"sweep": {"samples": 30}, "random": {"rerank.max_pins": {"choice": [0, 1]}}}).trials()
    assert sorted(t.values["rerank.max_pins"] for t in trials) == [0, 1]


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"grid": {"rerank.lamb": [0.5]}}, r"rerank\.lamb.*expected rerank\.FIELD"),
        ({"grid": {"colour": [1]}}, r"unknown config field 'colour'"),
        ({"grid": {"seed": [1, 2]}}, r"seeds = \[\.\.\.\]"),
        ({"grid": {"weights.netflix": [1.0]}}, r"weights\.SOURCE"),
        ({"grid": {"source_params.ease.lamda": [1.0]}}, r"unknown argument\(s\) \['lamda'\]"),
        ({"grid": {"source_params.ease.lam": [-1.0]}}, r"lam=-1\.0: expected a positive"),
        ({"grid": {"rerank.lam": [0.5, 1.5]}}, r"rerank\.lam=1\.5.*lam"),
        ({"grid": {"k": [500]}}, r"k=500.*n_ranked"),
        ({"grid": {"rerank.lam": []}}, r"non-empty list"),
        ({"grid": {"rerank.lam": 0.5}}, r"non-empty list"),
        ({"random": {"rerank.lam": {"uniform": [0.0, 1.0]}}}, r"samples = 0"),
        ({"sweep": {"samples": 3}, "random": {"rerank.lam": {"normal": [0, 1]}}}, r"uniform"),
        ({"sweep": {"samples": 3}, "random": {"rerank.lam": {"uniform": [1.0, 0.0]}}}, r"low <= high"),
        ({"sweep": {"samples": 3}, "random": {"rerank.freshness_weight": {"loguniform": [0.0, 1.0]}}}, r"> 0"),
        ({"sweep": {"metrics": ["ndgc"]}}, r"unknown \['ndgc'\]"),
        ({"sweep": {"seeds": [-1]}}, r"seeds.*integers >= 0"),
        ({"sweep": {"data": "netflix"}}, r"unknown data set 'netflix'"),
        ({"sweep": {"data": "movielens-100k", "small": True}}, r"small = True.*synthetic"),
        ({"sweep": {"split": "sideways"}}, r"split = 'sideways'"),
        ({"sweep": {"colour": 1}}, r"unknown \[sweep\] key"),
        ({"sweep": {"base": "missing.toml"}}, r"no such file"),
        ({"sweep": {"study": "nope"}}, r"s\.toml: sweep\.study: 'nope'"),
        ({"sweep": {"study": "power"}, "grid": {"rerank.lam": [0.5]}}, r"not a parameter of the power study"),
        ({"sweep": {"study": "power"}, "study": {"n_tests": "many"}}, r"s\.toml: study\.n_tests: 'many' \(str\): expected an integer"),
        # hostile values, each refused naming the file and the dotted key (workbench.settings)
        ({"sweep": {"small": "false"}}, r"s\.toml: sweep\.small: 'false' \(str\): expected true or false"),
        ({"sweep": {"samples": 2.5}}, r"s\.toml: sweep\.samples: 2\.5 \(float\): expected an integer"),
        ({"sweep": {"samples": -1}}, r"s\.toml: sweep\.samples: samples = -1: expected an integer >= 0"),
        ({"sweep": {"seeds": ["0"]}}, r"s\.toml: sweep\.seeds: '0' \(str\): expected an integer"),
        ({"sweep": {"graded": 1}}, r"s\.toml: sweep\.graded: 1 \(int\): expected true or false"),
        ({"grid": {"k": [5]}, "sweep": {"lam": 0.5}}, r"s\.toml: sweep\.lam: unknown \[sweep\] key"),
        ({"sweep": {"study": "power"}, "study": {"alpha": float("nan")}}, r"s\.toml: study\.alpha: nan: expected a finite number"),
        ({"sweep": {"study": "power"}, "study": {"n_tests": True}}, r"s\.toml: study\.n_tests: True \(bool\): expected an integer"),
        ({"sweep": {"samples": 3}, "random": {"rerank.lam": {"uniform": [float("nan"), 1.0]}}}, r"finite numbers"),
        ({"grid": {"rerank.lam": [float("nan")]}}, r"rerank\.lam: nan: expected a finite number"),
        ({"grid": {"use_quotas": ["false"]}}, r"use_quotas: 'false' \(str\): expected true or false"),
        ({"sweep": {"study": "aa"}, "grid": {"ranker": ["noisy:x"]}}, r"ranker='noisy:x'"),
        ({"study": {"n_tests": 5}}, r"needs \[sweep\] study"),
    ],
)
def test_bad_sweeps_are_refused_naming_the_field(raw, message, tmp_path):
    with pytest.raises(SweepError, match=message):
        parse_sweep(raw, source="s.toml", folder=tmp_path)


def test_a_missing_or_broken_file_is_named(tmp_path):
    with pytest.raises(SweepError, match="no such sweep file"):
        load_sweep(tmp_path / "nope.toml")
    bad = write(tmp_path, "[grid\n")
    with pytest.raises(SweepError, match=r"not valid TOML.*line 1"):
        load_sweep(bad)


def test_metrics_default_to_every_metric_and_ks_follow_evaluate():
    spec = parse_sweep({"sweep": {"extra_k": [20, 5]}, "grid": {"k": [10]}})
    assert spec.metrics == METRICS
    assert spec.ks(10) == (5, 10, 20) and spec.ks(5) == (5, 20)


def test_study_parameters_merge_over_defaults():
    from workbench.sweep.studies import STUDIES

    spec = parse_sweep({"sweep": {"study": "power", "seeds": [1, 2]}, "study": {"n_tests": 50},
                        "grid": {"b": ["noisy:1.0", "oracle"]}})  # fmt: skip
    trials = spec.trials()
    assert len(trials) == 4
    p = trials[0].params
    assert p["n_tests"] == 50 and p["b"] == "noisy:1.0" and p["a"] == STUDIES["power"].defaults["a"]
    assert math.isclose(p["alpha"], 0.05)


def test_the_example_sweep_file_is_a_thousand_rerank_configs():
    spec = load_sweep(Path(__file__).resolve().parents[2] / "configs" / "sweep_rerank.toml")
    assert len(spec.trials()) == 1000 and all(p.startswith("rerank.") for p in spec.swept)
