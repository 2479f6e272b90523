"""Every config besides the pipeline's on the one strict loader (workbench.settings): the loop TOML, the
service config, the notebook settings (the sweep spec: tests/sweep/test_spec.py). Hostile values (a string
for a number or a bool, NaN, a negative count, an unknown key, a key in the wrong table) are refused naming
the file and the dotted key, before any data loads; the valid files still load as before."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import workbench.data
from workbench.cli import main
from workbench.lessons.kit import NotebookSettings
from workbench.loop.config import LoopConfig
from workbench.monitoring import AlertConfig
from workbench.monitoring.alerts import DEFAULT_RULES, AlertRule
from workbench.serving.service import ServiceConfig
from workbench.settings import SettingsError, check_fields

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ('days = "14"', "days", r"'14' \(str\): expected an integer"),
        ('small = "false"', "small", r"'false' \(str\): expected true or false"),
        ("repeat_consumption = 1", "repeat_consumption", r"1 \(int\): expected true or false"),
        ("visit_rate = nan", "visit_rate", r"nan: expected a finite number"),
        ("ranker_budget_ms = inf", "ranker_budget_ms", r"inf: expected a finite number"),
        ("epsilon = -0.1", "epsilon", r"-0\.1"),
        ("days = -3", "days", r"days must be an integer >= 1, got -3"),
        ("k = 10.5", "k", r"10\.5 \(float\): expected an integer"),
        ("users = 1", "users", r"must be an integer >= 2, got 1"),
        ('retrain = "weekly"', "retrain", r"retrain='weekly': expected one of"),
        ("epsilonn = 0.1", "epsilonn", r"unknown setting\(s\) \['epsilonn'\]"),
        ("baseline_days = 3", "baseline_days", r"unknown setting\(s\)"),  # an [alerts] key at the top level
        ("[alerts]\ndays = 3", "alerts.days", r"unknown setting\(s\) \['days'\]"),  # a top-level key in [alerts]
        ("[alerts]\nfor_days = 1.5", "alerts.for_days", r"1\.5 \(float\): expected an integer"),
        ("[alerts]\nbaseline_days = 0", "alerts.baseline_days", r"expected >= 1"),
        ('[[alerts.rules]]\nmetric = "ctr"\nabove = "0.2"', "alerts.rules[0].above", r"'0\.2' \(str\): expected a number"),
        ('[[alerts.rules]]\nmetric = "ctr"\nabove = nan', "alerts.rules[0].above", r"nan: expected a finite number"),
        ('[[alerts.rules]]\nmetric = "ctr"\nabove = 1.0\n[[alerts.rules]]\nmetric = "x"\nover = 1',
         "alerts.rules[1].over", r"unknown setting\(s\) \['over'\]"),
        ("alerts = 3", "alerts", r"3 \(int\): expected a table"),
        ("[train]\nepochs = 3", "train", r"unknown setting\(s\) \['train'\]"),  # a pipeline table in the loop file
    ],
)
def test_a_hostile_loop_file_is_refused_naming_file_and_key(tmp_path, text, key, expected):
    path = tmp_path / "loop.toml"
    path.write_text(text + "\n")
    with pytest.raises(SettingsError) as info:
        LoopConfig.from_toml(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert re.search(expected, message), message


def test_valid_loop_files_load_as_before(tmp_path):
    # the documented file is the defaults, alert rules included; the state folder's record reads back
    assert LoopConfig.from_toml(ROOT / "configs" / "loop.toml") == LoopConfig()
    assert LoopConfig.from_dict(LoopConfig(epsilon=0.2, users=50).to_dict()) == LoopConfig(epsilon=0.2, users=50)
    # a file of one key is that key over the defaults (no error about keys it does not hold)
    path = tmp_path / "one.toml"
    path.write_text('[[alerts.rules]]\nmetric = "ctr"\nbelow = -0.2\nrelative = true\n')
    config = LoopConfig.from_toml(path)
    assert config.alerts == AlertConfig(rules=(AlertRule("ctr", below=-0.2, relative=True),))
    assert config.differences(LoopConfig()) == [f"alerts: {config.to_dict()['alerts']!r} → {LoopConfig().to_dict()['alerts']!r}"]
    path.write_text("visit_rate = 1\n")  # an integer for a float: the same number
    assert LoopConfig.from_toml(path).visit_rate == 1.0 and LoopConfig.from_toml(path, days=3).days == 3


def test_loop_command_refuses_a_hostile_file_before_loading_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(workbench.data, "load", lambda *a, **k: pytest.fail("data loaded before the refusal"))
    path = tmp_path / "loop.toml"
    path.write_text('[alerts]\nrepeat = "no"\n')
    assert main(["loop", "--small", "--config", str(path), "--state", str(tmp_path / "state")]) == 2
    err = capsys.readouterr().err
    assert f"--config {path}: alerts.repeat: 'no' (str): expected true or false" in err, err
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    "settings, key, expected",
    [
        ({"ranker_budget_ms": math.nan}, "ranker_budget_ms", "nan: expected a finite number"),
        ({"redis_cooldown_s": math.nan}, "redis_cooldown_s", "nan: expected a finite number"),
        ({"cache_ttl_s": "60"}, "cache_ttl_s", "'60' (str): expected a number"),
        ({"cache_enabled": "false"}, "cache_enabled", "'false' (str): expected true or false"),
        ({"max_batch": 2.0}, "max_batch", "2.0 (float): expected an integer"),
        ({"k_max": True}, "k_max", "True (bool): expected an integer"),
        ({"exploration_rate": math.inf}, "exploration_rate", "inf: expected a finite number"),
    ],
)
def test_hostile_service_settings_are_refused_naming_the_key(settings, key, expected):
    with pytest.raises(SettingsError) as info:
        ServiceConfig(**settings)
    assert str(info.value).startswith(f"ServiceConfig: {key}: {expected}"), str(info.value)


def test_service_ranges_and_valid_values():
    with pytest.raises(ValueError, match=r"redis_cooldown_s=-1\.0.*expected numbers >= 0"):
        ServiceConfig(redis_cooldown_s=-1.0)
    with pytest.raises(ValueError, match=r"max_events=0: expected a positive number"):
        ServiceConfig(max_events=0)
    config = ServiceConfig(k_max=20, cache_ttl_s=5, exploration_rate=None, switch_interval_ms=None)
    assert config.cache_ttl_s == 5 and config.k_max == 20  # an integer for a float is the same number


@pytest.mark.parametrize(
    "settings, key, expected",
    [
        ({"seed": "3"}, "seed", r"'3' \(str\): expected an integer"),
        ({"seed": 1.0}, "seed", r"1\.0 \(float\): expected an integer"),
        ({"small": 1}, "small", r"1 \(int\): expected true or false"),
        ({"small": "false"}, "small", r"'false' \(str\): expected true or false"),
        ({"out": 3}, "out", r"3 \(int\): expected a string"),
    ],
)
def test_hostile_notebook_settings_are_refused_naming_the_key(settings, key, expected):
    with pytest.raises(SettingsError) as info:
        NotebookSettings(**settings)
    assert re.match(rf"NotebookSettings: {key}: {expected}", str(info.value)), str(info.value)


def test_check_fields_wants_the_object_not_its_table():
    """A table (dict) or a list where a config object or a tuple belongs is refused, not kept half-read."""
    with pytest.raises(SettingsError, match=r"LoopConfig: alerts: \{\} \(dict\): expected"):
        LoopConfig(alerts={})
    with pytest.raises(SettingsError, match=r"AlertConfig: rules: \[.*\(list\): expected"):
        AlertConfig(rules=list(DEFAULT_RULES))
    check_fields(AlertConfig())  # the defaults pass


def test_numpy_scalars_built_in_python_become_python_values():
    import numpy as np

    config = LoopConfig(seed=np.int64(2), small=np.bool_(True), epsilon=np.float64(0.25))
    assert (type(config.seed), type(config.small), type(config.epsilon)) == (int, bool, float)
    assert config == LoopConfig(seed=2, small=True, epsilon=0.25)


@pytest.mark.parametrize(
    "settings, key, expected",
    [
        ({"use_quotas": "false"}, "use_quotas", r"'false' \(str\): expected true or false"),
        ({"weights": {"ease": math.nan, "itemknn": 1.0}}, "weights", r"\{.ease.: nan, .itemknn.: 1\.0\}: expected a finite number"),
        ({"weights": {"ease": "1"}}, "weights.ease", r"'1' \(str\): expected a number"),
        ({"k": 10.5}, "k", r"10\.5 \(float\): expected an integer"),
        ({"future_fraction": math.nan}, "future_fraction", r"nan: expected a finite number"),
    ],
)
def test_a_pipeline_config_built_in_python_is_as_strict_as_a_file(settings, key, expected):
    from workbench.pipeline import PipelineConfig

    with pytest.raises(SettingsError) as info:
        PipelineConfig(**settings)
    assert re.match(rf"PipelineConfig: {re.escape(key)}: {expected}", str(info.value)), str(info.value)
