"""Page 13's lesson module: the bench's saved figures read back (or the command to make them), and the
loopback demonstration run for real (a key revoked, an alert firing and resolving, the Redis-wipe drill)."""

from __future__ import annotations

import json

import pytest

from workbench.lessons.operations import (
    ALERT,
    BENCH_COMMAND,
    demonstrate,
    replicas_reading,
    replicas_statement,
)

FIGURES = {"command": "benchmarks/bench_replicas.py --quick", "cpus": 2, "load_before": "1.0 1.0 1.0",
           "load_after": "2.0 1.5 1.0", "p99_budget_ms": 50.0, "finished": "2026-12-06 05:00:00 UTC",
           "replicas": {"1": {"rate": 200.0, "p99_ms": 31.5}, "2": {"rate": 300.0, "p99_ms": 44.0}}}  # fmt: skip


def test_no_measurement_says_so_and_names_the_command(tmp_path):
    assert replicas_reading(tmp_path / "absent.json") is None
    text = replicas_statement(None)
    assert "no measurement yet" in text and BENCH_COMMAND in text


def test_saved_figures_are_read_and_the_ratio_computed(tmp_path):
    path = tmp_path / "replicas.json"
    path.write_text(json.dumps(FIGURES))
    text = replicas_statement(replicas_reading(path))
    # 300 / 200 = 1.5, worked by hand
    assert "200 req/s (p99 31.5 ms there) with one replica and 300 req/s (p99 44.0 ms there) with two" in text
    assert "a ratio of 1.50× on 2 CPUs" in text and "1.0 1.0 1.0 before, 2.0 1.5 1.0 after" in text
    none_held = {**FIGURES, "replicas": {"1": None, "2": FIGURES["replicas"]["2"]}}
    path.write_text(json.dumps(none_held))
    assert "none of the rates tried with one replica" in replicas_statement(replicas_reading(path))
    assert "no ratio (a count held none of the rates) on 2 CPUs" in replicas_statement(replicas_reading(path))


def test_figures_missing_a_key_are_refused_naming_it(tmp_path):
    path = tmp_path / "replicas.json"
    path.write_text(json.dumps({k: v for k, v in FIGURES.items() if k != "cpus"}))
    with pytest.raises(ValueError, match="'cpus' missing"):
        replicas_reading(path)


def test_step_timeout_is_checked_before_any_work():
    with pytest.raises(ValueError, match="step_timeout_s=0"):
        demonstrate(step_timeout_s=0)


@pytest.mark.slow  # about 20 s: Prometheus' 5 s window must fill and then empty; every wait bounded by 60 s
def test_demonstration_revokes_a_key_fires_and_resolves_an_alert_and_runs_the_drill(tmp_path):
    demo = demonstrate(step_timeout_s=60, workdir=tmp_path)
    assert demo.revoked == {"reader, before": 200, "reader, after": 401, "admin, after": 200}
    a = demo.alert
    assert a["degraded before"] == 0 and a["listed before"] == 0  # quiet before Redis froze
    assert 0 < a["degraded while frozen"] <= a["answers while frozen"] and a["seconds to fire"] > 0
    assert a["seconds to resolve"] > 0  # resolved: _wait raises otherwise
    assert demo.drill.users == 8 and demo.drill.equal == 8 and demo.drill.differing == []
    assert [s.what for s in demo.steps][-1].startswith("drill") and ALERT in demo.steps[-2].what
