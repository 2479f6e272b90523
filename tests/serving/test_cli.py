"""`workbench serve` / `workbench loadtest` arguments: checked before any work, and each reaches the service."""

from __future__ import annotations

from workbench.cli import build_parser, main
from workbench.serving.cli import service_config


def test_serve_options_reach_the_service_config():
    args = build_parser().parse_args(["serve", "--cache-ttl", "5", "--no-cache", "--redis-timeout-ms", "12",
                                      "--ranker-budget-ms", "30", "--exploration-rate", "0.25", "--k-max", "7"])  # fmt: skip
    config = service_config(args)
    assert (config.cache_ttl_s, config.cache_enabled, config.redis_timeout_ms) == (5.0, False, 12.0)
    assert (config.ranker_budget_ms, config.exploration_rate, config.k_max) == (30.0, 0.25, 7)
    default = service_config(build_parser().parse_args(["serve"]))
    assert (default.cache_enabled, default.exploration_rate, default.k_max, default.redis_timeout_ms) == (True, None, None, 8.0)


def test_bad_arguments_fail_before_any_work(capsys):
    assert main(["serve", "--port", "0"]) == 2
    assert main(["serve", "--exploration-rate", "1.5"]) == 2
    assert main(["serve", "--ranker-budget-ms", "-1"]) == 2
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "binds loopback only" in capsys.readouterr().err
    assert main(["serve", "--config", "no/such.toml"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["loadtest", "--url", "http://10.0.0.1:8000"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert main(["loadtest", "--rate", "0"]) == 2
