import argparse

import numpy as np
import pytest

import workbench.data
from workbench.cli import build_parser, main, plan_evaluate, _fit_model


@pytest.fixture
def no_load(monkeypatch):
    """The data loader, replaced by a tripwire: a bad argument must be refused before any data loads."""
    calls = []

    def tripwire(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError(f"data loaded for {args} {kwargs}: the argument should have been refused first")

    monkeypatch.setattr(workbench.data, "load", tripwire)
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    return calls


def refused(argv, capsys, no_load) -> str:
    """Run ``workbench argv``; assert exit status 2 with nothing loaded; return stderr."""
    assert main(argv) == 2
    assert no_load == []
    return capsys.readouterr().err


def test_evaluate_prints_the_metric_table_and_step_times(capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert main(["evaluate", "--small", "--model", "popular", "--k", "5", "--extra-k", "10"]) == 0
    out, err = capsys.readouterr()
    assert "popular on synthetic (small world) (temporal split, seed 0, binary relevance)" in out
    for metric in ("precision", "ndcg", "catalogue_coverage", "personalisation"):
        assert metric in out
    assert out.count("ndcg") == 2  # k = 5 and k = 10
    assert "step times: load synthetic" in out
    assert "fit popular ... " in err
    assert "users=400, items=300" in err  # --small reached the loader


def test_catalogue_metrics_explain_their_missing_interval(capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert main(["evaluate", "--small", "--model", "popular"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(" 10") or " NaN " in line]
    nan_rows = [r[0] for r in rows if r[3:5] == ["NaN", "NaN"]]
    assert nan_rows == ["catalogue_coverage", "exposure_gini", "personalisation"]
    assert f"(no interval for {', '.join(nan_rows)}: each is one figure for the whole set of lists" in out


def _table(capsys, argv) -> str:
    assert main(["evaluate", "--small", "--model", "popular", *argv]) == 0
    out = capsys.readouterr().out
    return out[out.index("metric"):out.index("step times")]


@pytest.mark.parametrize("option", [["--split", "leave-last-out"], ["--split", "random"], ["--graded"],
                                    ["--seed", "1"], ["--k", "5"]])  # fmt: skip
def test_each_evaluate_option_changes_the_table(option, capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert _table(capsys, option) != _table(capsys, [])


def test_random_split_follows_the_seed(capsys, monkeypatch):
    """Same world (popular ignores the seed), different random split: --seed reaches the split."""
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    monkeypatch.setattr(workbench.data, "load", lambda name, cache_dir, seed, small: workbench.data.make_synthetic(
        seed=0, **workbench.data.SMALL_WORLD))  # fmt: skip
    tables = [_table(capsys, ["--split", "random", "--seed", s]) for s in ("0", "1", "1")]
    assert tables[1] == tables[2] and tables[0] != tables[1]


def test_small_world_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_SMALL", "1")
    assert main(["evaluate", "--model", "popular"]) == 0
    assert "users=400, items=300" in capsys.readouterr().err


def test_argparse_errors_are_status_2_not_exceptions(capsys, no_load):
    assert "argument --k: 0: expected a positive list length" in refused(["evaluate", "--k", "0"], capsys, no_load)
    assert "invalid choice: 'magic'" in refused(["evaluate", "--model", "magic"], capsys, no_load)
    assert "argument --seed: -1: expected a non-negative integer seed" in refused(
        ["evaluate", "--seed", "-1"], capsys, no_load)
    assert "argument --port: 70000: expected a TCP port in 1..65535" in refused(
        ["notebooks", "--port", "70000"], capsys, no_load)
    assert main(["evaluate", "--help"]) == 0


def test_missing_config_fails_before_the_data_loads(tmp_path, capsys, no_load):
    path = tmp_path / "missing.toml"
    err = refused(["evaluate", "--model", "pipeline", "--config", str(path)], capsys, no_load)
    assert f"--config {path}: no such file; expected a pipeline TOML file" in err


def test_broken_toml_names_the_file_and_line(tmp_path, capsys, no_load):
    path = tmp_path / "broken.toml"
    path.write_text('fusion = "rrf"\nk = 10\nranker = \n')
    err = refused(["evaluate", "--model", "pipeline", "--config", str(path)], capsys, no_load)
    assert f"--config {path}: not valid TOML" in err
    assert "line 3" in err


def test_unknown_config_setting_names_file_and_setting(tmp_path, capsys, no_load):
    path = tmp_path / "typo.toml"
    path.write_text("n_candidate = 300\n")
    err = refused(["evaluate", "--model", "pipeline", "--config", str(path)], capsys, no_load)
    assert str(path) in err and "'n_candidate'" in err


@pytest.mark.parametrize("model", ["ease", "popular", "fused"])
def test_config_with_a_model_that_ignores_it_is_refused(model, capsys, no_load):
    err = refused(["evaluate", "--model", model, "--config", "configs/default.toml"], capsys, no_load)
    assert f"--config configs/default.toml with --model {model}" in err
    assert "applies only to deepfm, wide_deep, ncf, gbdt, pipeline" in err


def test_config_reaches_the_plan_and_bounds_k(tmp_path, capsys, no_load):
    path = tmp_path / "short.toml"
    path.write_text("n_candidates = 40\nn_ranked = 8\nk = 5\nseed = 4\n[train]\nepochs = 2\n")
    args = build_parser().parse_args(["evaluate", "--model", "ncf", "--config", str(path)])
    plan = plan_evaluate(args)
    assert plan.ks == (5,)  # the config's slate length, since --k was not given
    c = plan.config
    assert (c.n_candidates, c.n_ranked, c.k, c.seed, c.train.epochs, c.ranker) == (40, 8, 5, 4, 2, "ncf")
    assert c.rerank.order == ()  # a ranker alone: no reranking
    assert plan.seed == 4  # the file's seed, since --seed was not given
    args = build_parser().parse_args(["evaluate", "--model", "pipeline", "--config", str(path), "--seed", "7"])
    assert plan_evaluate(args).config.seed == 7
    assert f"--seed 7 overrides seed = 4 in {path}" in capsys.readouterr().err
    # k beyond the config's ranked pool: refused before loading, naming the file
    err = refused(["evaluate", "--model", "pipeline", "--config", str(path), "--extra-k", "9"], capsys, no_load)
    assert f"k = 9 (--k/--extra-k): expected at most n_ranked = 8 in {path}" in err


def test_extra_k_and_k_are_checked_before_fitting(capsys, no_load):
    assert "argument --extra-k: 0: expected a positive cut-off" in refused(
        ["evaluate", "--extra-k", "5", "0"], capsys, no_load)
    # the pipeline's default ranked pool is 100 per user
    assert "k = 101 (--k/--extra-k): expected at most n_ranked = 100, the pipeline list length" in refused(
        ["evaluate", "--model", "pipeline", "--k", "101"], capsys, no_load)
    # the small synthetic world has 300 items, MovieLens-100K 1682
    assert "k = 301 (--k/--extra-k): expected at most the 300 items of synthetic" in refused(
        ["evaluate", "--small", "--k", "301"], capsys, no_load)
    assert "expected at most the 1682 items of movielens-100k" in refused(
        ["evaluate", "--data", "movielens-100k", "--extra-k", "1683"], capsys, no_load)


def test_small_does_not_apply_to_movielens(capsys, no_load):
    err = refused(["evaluate", "--data", "movielens-100k", "--small"], capsys, no_load)
    assert "--small with --data movielens-100k: --small shrinks only the synthetic world" in err


@pytest.mark.parametrize("cmd", ["abtest", "interleave"])
@pytest.mark.parametrize(("days", "shown"), [("-1", "-1"), ("0", "0"), ("two", "'two'")])
def test_days_must_be_positive(cmd, days, shown, capsys, no_load):
    err = refused([cmd, "--days", days], capsys, no_load)
    assert f"argument --days: {shown}: expected a positive number of days" in err
    assert "lam < 0" not in err  # not numpy's message


def test_report_out_must_be_a_folder(tmp_path, capsys, no_load, monkeypatch):
    import workbench.report.command as report

    monkeypatch.setattr(report, "export_reports", lambda *a, **k: pytest.fail("export ran despite a bad --out"))
    path = tmp_path / "page.html"
    path.write_text("x")
    assert f"--out {path}: is a file; expected a folder" in refused(["report", "--out", str(path)], capsys, no_load)


@pytest.mark.parametrize("jobs, shown", [("0", "0"), ("-1", "-1"), ("two", "'two'")])
def test_report_jobs_must_be_a_positive_integer(jobs, shown, capsys, no_load, monkeypatch):
    import workbench.report.command as report

    monkeypatch.setattr(report, "export_reports", lambda *a, **k: pytest.fail("export ran despite a bad --jobs"))
    assert f"argument --jobs: {shown}: expected a positive number of pages exported at once" in refused(["report", "--jobs", jobs], capsys, no_load)


def test_every_option_has_help_text():
    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subs) == 1
    missing = []
    for name, sub in subs[0].choices.items():
        for action in sub._actions:
            if action.option_strings and not (action.help or "").strip():
                missing.append(f"{name} {'/'.join(action.option_strings)}")
    assert missing == []
    assert {"evaluate", "abtest", "interleave", "report", "notebooks"} <= set(subs[0].choices)


def test_seed_reaches_a_seeded_model():
    """ALS draws its starting factors: the same training data with --seed 0 and 1 gives different lists."""
    train, _ = workbench.data.split(workbench.data.load("synthetic", seed=0, small=True), "temporal")
    lists = {}
    for seed in (0, 1):
        plan = plan_evaluate(build_parser().parse_args(["evaluate", "--small", "--model", "als", "--seed", str(seed)]))
        lists[seed] = _fit_model("als", train, plan)(np.arange(50), 10)
    again = _fit_model("als", train, plan)(np.arange(50), 10)
    assert np.array_equal(again, lists[1])  # same seed, same lists
    assert not np.array_equal(lists[0], lists[1])


def test_abtest_prints_the_true_effect_and_units(capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert main(["abtest", "--small", "--days", "5", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "day 5 of 5" in out and "seed 2" in out
    assert "session_time (s)" in out
    # by default users can leave: every online metric but D7 retention (a 5-day test) is read, and the report says why
    table = out.split("difference [95% CI]")[1].split("Decisions")[0]
    assert [line.split()[1] for line in table.strip().splitlines()[1:]] == [
        "ctr", "conversion", "session_time", "revenue_per_user", "return_rate"]
    assert "Not measured: d7_retention (needs 8 days of data, the test has 5)" in out
    truth = out.split("True effect (known to the simulator")[1].splitlines()
    assert "over these 400 users" in truth[0] and "over 5 days" in truth[0]
    assert [line.split()[0] for line in truth[1:4]] == ["ctr", "revenue_per_user", "return_rate"]
    assert truth[4] == "  (no exact true value for conversion, session_time (s): visits here depend on what users consumed)"
    # --no-users-leave: the plain simulator, whose users visit at a fixed rate
    assert main(["abtest", "--small", "--days", "5", "--seed", "2", "--no-users-leave"]) == 0
    out = capsys.readouterr().out
    truth = out.split("True effect (known to the simulator")[1].splitlines()
    assert "over these 400 users" in truth[0] and "in 5 days" in truth[0]
    assert [line.split()[0] for line in truth[1:4]] == ["ctr", "conversion", "session_time"]
    assert "Not measured: revenue_per_user (this simulator's users never leave" in out


def test_true_means_match_a_long_simulation():
    """``true_means`` against a Monte-Carlo estimate: 400 users replicated 100 times, 3 days; each
    metric's mean over active users must lie within 4 standard errors of the exact value."""
    from workbench.experiment.ab import load_world, metric_values, true_means
    from workbench.experiment.rankers import make_ranker
    from workbench.experiment.simulator import SimulatorConfig, UserSimulator

    ds, world = load_world("synthetic", 0, small=True)
    sim = UserSimulator(world, SimulatorConfig(seed=0))
    users = np.arange(ds.n_users)
    lists = make_ranker("noisy:1.5", ds, world, 10, 0)(users)
    lists[:, -2:] = -1  # padding: slots and examination count only real items
    truth = true_means(sim, users, lists, days=3)
    reps = 100
    out = sim.simulate_days(np.tile(users, reps), np.tile(lists, (reps, 1)), 3, np.random.default_rng(1))
    totals = {n: getattr(out, n).sum(axis=1) for n in ("sessions", "slots", "clicks", "conversions", "seconds")}
    active = totals["sessions"] > 0
    assert 0.5 < active.mean() < 0.9  # activity matters here: conversion is weighted by it
    for metric, values in metric_values(**totals).items():
        v = values[active]
        se = v.std(ddof=1) / np.sqrt(len(v))
        assert abs(v.mean() - truth[metric]) < 4 * se, (metric, v.mean(), truth[metric], se)


def test_interleave_runs_on_the_small_world(capsys, monkeypatch):
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert main(["interleave", "--small", "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert "Interleaving on synthetic" in out and "400 users, 3 days" in out


def test_report_passes_data_seed_and_size_through(monkeypatch, tmp_path):
    import workbench.report.command as report

    seen = {}

    def fake_export(out_dir, settings, notebooks, fmt="static", jobs=None):
        seen.update(out=out_dir, settings=settings, fmt=fmt, jobs=jobs)
        return []

    monkeypatch.setattr(report, "export_reports", fake_export)
    assert main(["report", "--out", str(tmp_path), "--data", "movielens-100k", "--seed", "3", "--small"]) == 0
    assert seen["out"] == str(tmp_path) and seen["fmt"] == "static" and seen["jobs"] is None
    assert (seen["settings"].data, seen["settings"].seed, seen["settings"].small) == ("movielens-100k", 3, True)
    assert main(["report", "--out", str(tmp_path), "--jobs", "3"]) == 0 and seen["jobs"] == 3
