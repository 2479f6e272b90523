"""``workbench loop``: bad arguments end with status 2 and a reason before any work; a run prints its report,
resumes when run again, refuses other settings on the same state, and reads its settings from a TOML file."""

import argparse
import json

import pandas as pd
import pytest

from workbench.cli import main
from workbench.loop.cli import state_folder
from workbench.loop.config import LoopConfig

ALERTS_TOML = """
days = 2
epsilon = 0.2
retrain_every = 0
[alerts]
baseline_days = 1
[[alerts.rules]]
metric = "ctr"
above = 0.0
name = "clicks seen"
"""


@pytest.mark.parametrize("argv, says", [
    (["--epsilon", "2"], "argument --epsilon: 2.0: expected an exploration rate in [0, 1]"),
    (["--days", "0"], "argument --days: 0: expected a positive number of days"),
    (["--ab-split", "1"], "ab_split=1.0: expected arm B's share of users in (0, 1)"),
    (["--serve", "--features", "memory"], "--serve with features = memory"),
    (["--config", "nowhere.toml"], "--config nowhere.toml: no such file"),
    (["--pipeline-config", "nowhere.toml"], "--pipeline-config nowhere.toml: no such file"),
    (["--small", "--data", "movielens-100k"], "--small shrinks only the synthetic world"),
    (["--retrain", "weekly"], "argument --retrain: invalid choice: 'weekly'"),
    (["--arrivals-per-day", "-1"], "argument --arrivals-per-day: -1: expected a number of items >= 0"),
    (["--arrival-days", "0"], "argument --arrival-days: 0: expected a positive number of days"),
    (["--serve", "--arrivals-per-day", "2"], "arrivals_per_day > 0"),
])  # fmt: skip
def test_bad_arguments_end_with_status_2_before_any_work(argv, says, capsys, tmp_path):
    assert main(["loop", "--state", str(tmp_path / "state"), *argv]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


def test_a_run_reports_resumes_and_keeps_its_settings(tmp_path, tiny_pipeline_toml, capsys):
    state, csv = tmp_path / "state", tmp_path / "daily.csv"
    common = ["loop", "--small", "--pipeline-config", str(tiny_pipeline_toml), "--state", str(state), "--retrain-every", "0",
              "--csv", str(csv)]  # fmt: skip
    assert main([*common, "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "Feedback loop on synthetic (small world), in-process, features in redis" in out and "Per day" in out
    two = pd.read_csv(csv)
    assert two["day"].tolist() == [0, 1]
    assert main([*common, "--days", "3"]) == 0
    err = capsys.readouterr().err
    assert f"resuming the loop in {state} after day 2" in err
    three = pd.read_csv(csv)
    drop = ["seconds", "retrain_seconds"]
    pd.testing.assert_frame_equal(three.iloc[:2].drop(columns=drop), two.drop(columns=drop))
    assert main([*common, "--days", "3", "--epsilon", "0.3"]) == 2
    assert "epsilon: None → 0.3" in capsys.readouterr().err
    assert main([*common, "--days", "1", "--fresh"]) == 0
    assert len(pd.read_csv(csv)) == 1


def test_settings_come_from_the_toml_and_options_override_it(tmp_path, tiny_pipeline_toml, capsys):
    config = tmp_path / "loop.toml"
    config.write_text(ALERTS_TOML)
    state = tmp_path / "state"
    assert main(["loop", "--small", "--config", str(config), "--epsilon", "0.1", "--pipeline-config", str(tiny_pipeline_toml),
                 "--state", str(state), "--features", "memory"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    saved = json.loads((state / "loop.json").read_text())["config"]
    assert saved["epsilon"] == 0.1 and saved["days"] == 2 and saved["features"] == "memory"
    assert saved["alerts"]["rules"] == [{"metric": "ctr", "above": 0.0, "below": None, "relative": False,
                                         "name": "clicks seen"}]  # fmt: skip
    assert "day 1 arm A: FIRING clicks seen: ctr = " in out


def test_the_default_state_folder_is_named_after_the_settings_but_not_the_days():
    args = argparse.Namespace(state=None, pipeline_config=None, serve=False)
    a = state_folder(args, LoopConfig(small=True, days=3))
    assert a == state_folder(args, LoopConfig(small=True, days=30))  # more days resume the same loop
    assert a != state_folder(args, LoopConfig(small=True, epsilon=0.1))
    assert a != state_folder(argparse.Namespace(state=None, pipeline_config=None, serve=True), LoopConfig(small=True))
    assert a.parent.as_posix() == "data/loop" and a.name.startswith("synthetic-small-seed0-")


def test_configs_loop_toml_spells_out_the_defaults():
    """configs/loop.toml is the documented default: reading it gives LoopConfig() (alert rules included)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "loop.toml"
    assert LoopConfig.from_toml(path) == LoopConfig()
    assert LoopConfig.from_toml(path, epsilon=0.1, days=30).differences(LoopConfig()) == ["epsilon: 0.1 → None"]
