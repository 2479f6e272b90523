"""Sweeps on a real Dask LocalCluster (2 worker processes) over the small synthetic world.

One cluster serves the module, reached through its address string: the same entry point a
remote scheduler (``--scheduler tcp://host:8786``) goes through. The default path (a
LocalCluster started by the sweep itself) runs once, through the CLI.
"""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from workbench.pipeline import PipelineConfig
from workbench.store import ModelStore, load_or_train
from workbench.sweep import load_sweep, read_results, row_config, run_sweep
from workbench.sweep.evaluation import evaluation_users, metric_table, wide_row

pytestmark = pytest.mark.slow

LIGHT = """\
ranker = "gbdt"
n_candidates = 100
per_source_k = 100
n_ranked = 50
k = 10
[weights]
ease = 1.0
itemknn = 1.0
popular = 1.0
[source_params.ease]
lam = 100.0
"""
RERANK_GRID = {"rerank.lam": [0.3, 1.0], "rerank.exploration_rate": [0.0, 0.2], "rerank.freshness_weight": [0.0, 0.5]}


def sweep_file(folder, grid: dict, head: str = "", name: str = "t"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "light.toml").write_text(LIGHT)
    lines = [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in grid.items()]
    text = f'[sweep]\nname = "{name}"\nsmall = true\nbase = "light.toml"\n{head}\n[grid]\n' + "\n".join(lines) + "\n"
    path = folder / "sweep.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """The light pipeline fitted once in this process and stored: a warm model store."""
    folder = tmp_path_factory.mktemp("base")
    spec = load_sweep(sweep_file(folder, {"rerank.lam": [0.5]}))
    return load_or_train("synthetic", spec.trials()[0].config, seed=0, small=True)


def metric_columns(row) -> list[str]:
    return [c for c in row.index if "@" in c]


def assert_same_figures(row, expected: dict) -> None:
    got = row[list(expected)].to_numpy(dtype=float)
    want = np.array(list(expected.values()), dtype=float)
    assert np.array_equal(got, want, equal_nan=True), dict(zip(expected, zip(got, want)))


def test_rerank_sweep_loads_once_per_worker_never_refits_and_matches_in_process(cluster, stored, tmp_path):
    spec = load_sweep(sweep_file(tmp_path, RERANK_GRID, head="extra_k = [5]"))
    # warm again just before: others editing the fitting code in this tree would change the artefact key
    warm = load_or_train("synthetic", spec.trials()[0].config, seed=0, small=True)
    run = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert (run.computed, run.failed, run.skipped, run.fits, run.workers) == (8, 0, 0, 0, 2)
    assert run.scheduler == cluster.scheduler_address
    t = run.table
    assert (t["status"] == "ok").all() and set(t["artefact"]) == {warm.key} and not t["artefact_trained"].any()
    # stages 1-2 ran once, in one task, for all eight configs (its timing is the same in every row)
    assert t[["upstream_seconds", "upstream_cpu_seconds", "upstream_worker"]].drop_duplicates().shape[0] == 1
    # every metric at both cut-offs, with intervals; provenance
    assert {"ndcg@5", "ndcg@10", "ndcg@10_ci_low", "personalisation@10", "intra_list_diversity@5_ci_high"} <= set(t)
    assert {"code_version", "commit", "worker", "host", "seconds", "finished", "config", "label"} <= set(t)
    # each swept field changes the figures: pairs differing in that field alone differ
    for field in RERANK_GRID:
        others = [f for f in RERANK_GRID if f != field]
        for _, pair in t.groupby(others):
            a, b = pair.iloc[0], pair.iloc[1]
            cols = metric_columns(a)
            assert not np.allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), equal_nan=True), field
    # identical to the per-config path sweeps took before stages 1-2 were shared: the stored pipeline
    # given the config, stages 1-2 run anew, stage 3, the metric call
    users = evaluation_users(stored.test)
    for _, row in t.iterrows():
        pipe = copy.copy(stored.pipeline)
        pipe.config = PipelineConfig.from_dict(json.loads(row["config"]))
        slate = pipe.rerank_stage(pipe.rank_stage(users), 10)
        assert_same_figures(row, wide_row(metric_table(slate.items, stored.train, stored.test, users, (5, 10))))
    # and to the same config computed in this process (stored pipeline, recommend, the shared metric call)
    for _, row in t.iloc[[0, 5]].iterrows():
        config = row_config(row)
        pipe = load_or_train("synthetic", config, seed=0, small=True).pipeline
        table = metric_table(pipe.recommend(users, 10).items, stored.train, stored.test, users, (5, 10))
        assert_same_figures(row, wide_row(table))


def test_a_given_artefact_serves_every_config_and_refuses_other_upstreams(cluster, stored, tmp_path):
    spec = load_sweep(sweep_file(tmp_path / "a", {"rerank.lam": [0.4, 0.8], "k": [5, 10]}))
    run = run_sweep(spec, tmp_path / "a" / "out", scheduler=cluster.scheduler_address, model=stored.path)
    assert run.computed == 4 and run.fits == 0 and set(run.table["artefact"]) == {stored.key}
    other = load_sweep(sweep_file(tmp_path / "b", {"source_params.ease.lam": [30.0]}))
    with pytest.raises(ValueError, match=r"differs from the artefact's fitted config in \['source_params'\]"):
        run_sweep(other, tmp_path / "b" / "out", scheduler="tcp://127.0.0.1:9", model=stored.path)  # before connecting
    with pytest.raises(FileNotFoundError, match="no such artefact folder"):
        run_sweep(spec, tmp_path / "c", model=tmp_path / "nope")


def test_an_interrupted_sweep_resumes_without_recomputing(cluster, stored, tmp_path):
    spec = load_sweep(sweep_file(tmp_path, RERANK_GRID))

    class StopAfter:  # Ctrl-C after the third row arrives
        def start(self, total, title=""):
            self.n = 0

        def update(self, row):
            self.n += 1
            if self.n == 3:
                raise KeyboardInterrupt

        def close(self):
            pass

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address, progress=StopAfter(), flush_every=1)
    first = read_results(tmp_path / "out")
    assert len(first) == 3
    limited = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address, limit=2)
    assert (limited.computed, limited.skipped) == (2, 3)
    rest = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert (rest.computed, rest.skipped, rest.total) == (3, 5, 8)
    again = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert again.computed == 0 and again.skipped == 8
    final = again.table.set_index("config_id")
    assert len(final) == 8
    # the first run's rows are the first run's (same run stamp, same finish time): not recomputed
    kept = first.set_index("config_id")
    assert (final.loc[kept.index, ["started", "finished", "worker"]] == kept[["started", "finished", "worker"]]).all().all()
    assert final["started"].nunique() == 3


def test_a_failing_config_is_recorded_and_the_rest_go_on(cluster, stored, tmp_path):
    # future_fraction = 0.001 leaves the ranker no future to learn from: its fit raises at run time
    spec = load_sweep(sweep_file(tmp_path, {"future_fraction": [0.2, 0.001], "rerank.lam": [0.5, 1.0]}))
    run = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    t = run.table
    bad = t[t["future_fraction"] == 0.001]
    assert (run.computed, run.failed) == (4, 2)
    assert (bad["status"] == "failed").all() and bad["error"].str.startswith("ValueError").all()
    assert (t.loc[t["future_fraction"] == 0.2, "status"] == "ok").all()
    assert t.loc[t["status"] == "ok", "ndcg@10"].notna().all()
    retry = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert (retry.computed, retry.skipped, retry.failed) == (2, 2, 2)  # failures are retried, successes kept


def test_an_upstream_sweep_fits_once_per_distinct_upstream_config(cluster, stored, tmp_path):
    store, default = ModelStore(tmp_path / "store"), ModelStore()  # a store of its own (store= reaches the fits)
    before = set(default.keys())
    grid = {"source_params.ease.lam": [30.0, 100.0], "rerank.lam": [0.5, 1.0], "k": [5, 10]}
    run = run_sweep(load_sweep(sweep_file(tmp_path, grid)), tmp_path / "out", scheduler=cluster.scheduler_address,
                    store=store.root)  # fmt: skip
    t = run.table
    assert run.computed == 8 and run.failed == 0
    keys = t.groupby("source_params.ease.lam")["artefact"].unique()
    assert all(len(k) == 1 for k in keys) and keys[100.0][0] != keys[30.0][0]
    assert run.fits == 2 and set(store.keys()) == {keys[30.0][0], keys[100.0][0]}  # one fit per upstream config
    # none of the sweep's fits landed in the default store (the suite's other worker may add its own meanwhile)
    assert t["artefact_trained"].all() and not (set(default.keys()) - before) & {keys[30.0][0], keys[100.0][0]}
    # stage 1 changed the figures
    a = t[(t["source_params.ease.lam"] == 30.0) & (t["rerank.lam"] == 1.0) & (t["k"] == 10)].iloc[0]
    b = t[(t["source_params.ease.lam"] == 100.0) & (t["rerank.lam"] == 1.0) & (t["k"] == 10)].iloc[0]
    assert a["recall@10"] != b["recall@10"]


def test_cli_default_local_cluster_best_export_matches_workbench_evaluate(stored, tmp_path, capsys):
    from workbench.cli import main

    path = sweep_file(tmp_path, {"rerank.lam": [0.2, 0.6, 1.0]})
    out, best = tmp_path / "out", tmp_path / "best.toml"
    status = main(["sweep", str(path), "--workers", "2", "--out", str(out),
                   "--frontier", "ndcg@10,intra_list_diversity@10",
                   "--best", "max ndcg@10 with intra_list_diversity@10 >= 0.85", "--export", str(best)])  # fmt: skip
    text = capsys.readouterr().out
    assert status == 0 and "Pareto frontier on ndcg@10, intra_list_diversity@10" in text
    table = read_results(out)
    assert table["scheduler"].str.startswith("tcp://127.0.0.1:").all()
    feasible = table[table["intra_list_diversity@10"] >= 0.85]
    winner = feasible.loc[feasible["ndcg@10"].idxmax()]
    assert f"best: max ndcg@10 with intra_list_diversity@10 >= 0.85 → {winner['label']}" in text
    # the exported winner, through `workbench evaluate`, prints the sweep's figures
    assert main(["evaluate", "--model", "pipeline", "--config", str(best), "--small", "--seed", "0"]) == 0
    printed = capsys.readouterr().out
    for metric in ("precision", "ndcg", "intra_list_diversity", "novelty_bits", "personalisation"):
        line = re.search(rf"^\s*{metric}\s+10\s+(\S+)\s+(\S+)\s+(\S+)", printed, re.M)
        mean, lo, hi = (float(x) for x in line.groups())
        col = f"{metric}@10"
        assert mean == pytest.approx(round(winner[col], 4), abs=1e-12)
        if not np.isnan(winner[f"{col}_ci_low"]):
            assert (lo, hi) == (round(winner[f"{col}_ci_low"], 4), round(winner[f"{col}_ci_high"], 4))


def test_cli_options_reach_the_sweep(cluster, stored, tmp_path, capsys):
    from workbench.cli import main

    path = sweep_file(tmp_path, {"rerank.lam": [0.1, 0.5, 0.9]})
    out = tmp_path / "out"
    common = ["sweep", str(path), "--out", str(out)]
    assert main([*common, "--scheduler", cluster.scheduler_address, "--limit", "2", "--model", str(stored.path)]) == 0
    table = read_results(out)
    assert len(table) == 2 and set(table["scheduler"]) == {cluster.scheduler_address}
    assert set(table["artefact"]) == {stored.key}
    capsys.readouterr()
    assert main([*common, "--report-only", "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "2 config(s) with results, mean over seeds; top 1 by" in text and len(read_results(out)) == 2
    assert main([*common, "--workers", "2", "--scheduler", cluster.scheduler_address]) == 2  # refused before work
    assert "the scheduler's cluster has its own workers" in capsys.readouterr().err
    assert main([*common, "--best", "most ndcg"]) == 2
    assert main([*common, "--export", str(tmp_path / "x.toml")]) == 2  # --export needs --best


def test_a_scheduler_nobody_answers_is_an_error_naming_it(tmp_path):
    spec = load_sweep(sweep_file(tmp_path, {"rerank.lam": [0.5]}))
    with pytest.raises(RuntimeError, match="tcp://127.0.0.1:9"):
        run_sweep(spec, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ValueError, match="expected a Dask scheduler address"):
        run_sweep(spec, tmp_path / "out", scheduler="not an address")


# ---- the simulation studies on the same engine


def study_file(folder, study: str, params: dict, grid: dict, seeds=(0, 1)):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[sweep]", f'study = "{study}"', "small = true", f"seeds = {list(seeds)}", "[study]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in params.items()]
    lines += ["[grid]"] + [f"{k} = {json.dumps(v)}" for k, v in grid.items()]
    (folder / "study.toml").write_text("\n".join(lines) + "\n")
    return load_sweep(folder / "study.toml")


def world(seed):
    from workbench.experiment import load_world

    return load_world("synthetic", seed, "data", True)


def sim_and_lists(seed, specs, k=10):
    from workbench.experiment import SimulatorConfig, UserSimulator, make_ranker

    ds, w = world(seed)
    population = np.arange(ds.n_users)
    lists = [make_ranker(s, ds, w, k, seed)(population) for s in specs]
    return UserSimulator(w, SimulatorConfig(click_model="position", seed=seed)), lists, population


def test_power_and_aa_studies_as_tasks_match_the_in_process_api(cluster, tmp_path):
    from workbench.experiment import aa_study, power_study

    spec = study_file(tmp_path / "p", "power", {"n_tests": 40}, {"b": ["noisy:1.0", "oracle"]})
    run = run_sweep(spec, tmp_path / "p" / "out", scheduler=cluster.scheduler_address)
    assert run.computed == 4 and run.failed == 0
    for _, row in run.table.iterrows():
        sim, (la, lb), pop = sim_and_lists(int(row["seed"]), ["noisy:2.0", row["b"]])
        want = power_study(sim, la, lb, pop, n_tests=40, seed=int(row["seed"]))
        assert {k: row[k] for k in want} == pytest.approx(want, rel=0, abs=0)
    spec = study_file(tmp_path / "a", "aa", {"n_tests": 60, "n_users": 100}, {"days": [1, 2]}, seeds=(3,))
    run = run_sweep(spec, tmp_path / "a" / "out", scheduler=cluster.scheduler_address)
    row = run.table.set_index("days").loc[2]
    sim, (lists,), pop = sim_and_lists(3, ["noisy:1.5"])
    frame = aa_study(sim, lists, pop, n_tests=60, n_users=100, days=2, seed=3).set_index("metric")
    assert row["ctr_rejection_rate"] == frame.loc["ctr", "rejection_rate"]
    assert row["conversion_ci_high"] == frame.loc["conversion", "ci_high"]


def test_sensitivity_study_failure_is_recorded_and_the_other_matches(cluster, tmp_path):
    from workbench.experiment import SensitivityConfig, sensitivity_study

    # b == a: "the same expected CTR", which the study refuses at run time
    spec = study_file(tmp_path, "sensitivity", {"reps": 20, "a": "noisy:3.0"}, {"b": ["noisy:3.0", "oracle"]},
                      seeds=(0,))  # fmt: skip
    run = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    t = run.table.set_index("b")
    assert t.loc["noisy:3.0", "status"] == "failed" and "same expected CTR" in t.loc["noisy:3.0", "error"]
    sim, (la, lb), pop = sim_and_lists(0, ["noisy:3.0", "oracle"])
    res = sensitivity_study(sim, la, lb, pop, SensitivityConfig(reps=20, seed=0))
    assert (t.loc["oracle", "users_ab"], t.loc["oracle", "users_interleaving"]) == (res.users_ab, res.users_interleaving)


def test_offpolicy_replications_as_tasks_match_the_in_process_api(cluster, tmp_path):
    from workbench.experiment.ope.lab import offpolicy_lab, replicate

    spec = study_file(tmp_path, "offpolicy", {"reps": 3, "n_impressions": 2000}, {"epsilon": [0.1, 0.3]}, seeds=(0,))
    run = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert run.failed == 0, run.table["error"].tolist()
    row = run.table.set_index("epsilon").loc[0.3]
    lab = offpolicy_lab(world(0)[0], seed=0)
    frame = replicate(lab, lab.policy(epsilon=0.3), lab.policy(1.0, 0.0), 2000, 3, seed=0)
    ips = frame[frame["estimator"] == "IPS"]
    assert row["ips_bias"] == pytest.approx(ips["error"].mean(), rel=1e-12)
    assert row["ips_rmse"] == pytest.approx(float(np.sqrt((ips["error"] ** 2).mean())), rel=1e-12)
    assert row["ips_coverage"] == ips["covered"].mean() and row["truth"] == frame["truth"].iloc[0]



def test_configs_per_task_gives_each_worker_several_tasks_and_caps_them():
    from workbench.sweep.runner import MAX_CONFIGS_PER_TASK, configs_per_task

    assert configs_per_task(8, 2) == 1 and configs_per_task(3, 1) == 1  # few configs: one per task
    assert configs_per_task(80, 2) == 10  # 80 configs → 8 tasks: four per worker
    assert configs_per_task(1000, 2) == MAX_CONFIGS_PER_TASK


def test_configs_grouped_into_tasks_give_the_per_config_figures(cluster, stored, tmp_path, monkeypatch):
    import workbench.sweep.runner as runner

    monkeypatch.setattr(runner, "configs_per_task", lambda n, workers: 3)  # 8 configs → tasks of 3, 3, 2
    spec = load_sweep(sweep_file(tmp_path, RERANK_GRID))
    warm = load_or_train("synthetic", spec.trials()[0].config, seed=0, small=True)
    run = run_sweep(spec, tmp_path / "out", scheduler=cluster.scheduler_address)
    t = run.table
    assert (run.computed, run.failed) == (8, 0) and set(t["config_id"]) == {x.config_id for x in spec.trials()}
    users = evaluation_users(warm.test)
    for _, row in t.iterrows():
        pipe = copy.copy(warm.pipeline)
        pipe.config = PipelineConfig.from_dict(json.loads(row["config"]))
        slate = pipe.rerank_stage(pipe.rank_stage(users), 10)
        assert_same_figures(row, wide_row(metric_table(slate.items, warm.train, warm.test, users, (10,))))


def test_connect_starts_workers_with_the_malloc_settings():
    """The LocalCluster `connect` starts gives each worker `WORKER_MALLOC` (glibc reads it at process start):
    without it a worker's task thread faulted its freed arrays in anew for every config."""
    import os

    from workbench.sweep.runner import WORKER_MALLOC, connect

    from distributed import LocalCluster

    before = {k: os.environ.get(k) for k in WORKER_MALLOC}
    # a cluster on Dask's defaults first: its nanny writes MALLOC_TRIM_THRESHOLD_=65536 into this process's
    # environment, which a later nanny would let win over its config
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"):
        poisoned = {k: os.environ.get(k) for k in WORKER_MALLOC}
    with connect(workers=1) as client:
        env = client.run(lambda: {k: os.environ.get(k) for k in WORKER_MALLOC})
    assert list(env.values()) == [WORKER_MALLOC]
    assert {k: os.environ.get(k) for k in WORKER_MALLOC} == poisoned  # this process's environment put back
    for k, v in before.items():  # and the test's own trace removed
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert int(WORKER_MALLOC["MALLOC_TRIM_THRESHOLD_"]) >= int(WORKER_MALLOC["MALLOC_MMAP_THRESHOLD_"]) >= 1 << 20
