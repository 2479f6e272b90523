"""Evaluation of every user on a 2-worker Dask LocalCluster equals the in-process evaluation, exactly.

The cluster is reached through its address string, the path ``--scheduler ADDRESS`` takes.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.cli import main
from workbench.store import DataSpec, load_or_train
from workbench.sweep.evaluation import evaluation_users, metric_table
from workbench.sweep.sharded import recommend_all, shards

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
[rerank]
exploration_rate = 0.2
"""


def test_shards_cover_the_users_in_order_and_refuse_a_bad_size():
    users = np.arange(10, 33)
    parts = shards(users, 10)
    assert [len(p) for p in parts] == [10, 10, 3]
    assert np.array_equal(np.concatenate(parts), users)
    assert shards(np.array([], dtype=np.int64), 4) == []
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="shard size"):
            shards(users, bad)


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "light.toml"
    path.write_text(LIGHT)
    return path


@pytest.mark.slow
def test_cluster_lists_and_metrics_equal_in_process(cluster, light):
    from distributed import Client

    from workbench.pipeline import PipelineConfig

    trained = load_or_train("synthetic", PipelineConfig.from_toml(light), seed=0, small=True)
    users = evaluation_users(trained.test)
    here = recommend_all(trained.pipeline, users, 10, shard_users=37)
    with Client(cluster.scheduler_address) as client:
        there = recommend_all(trained.pipeline, users, 10, client=client, folder=trained.path,
                              spec=DataSpec("synthetic", 0, True, "temporal"), shard_users=37)  # fmt: skip
        workers = set(client.has_what())
    assert len(users) > 2 * 37 and len(workers) == 2
    assert np.array_equal(here, there)
    # exploration (rate 0.2) draws per shard, so the shards matter, not where they run
    assert not np.array_equal(here, recommend_all(trained.pipeline, users, 10, shard_users=1000))
    a = metric_table(here, trained.train, trained.test, users, (5, 10))
    b = metric_table(there, trained.train, trained.test, users, (5, 10))
    assert a.equals(b)


def table_of(out: str) -> str:
    """The printed metric table of ``workbench evaluate`` (step times dropped: they differ run to run)."""
    return re.sub(r"\nstep times:.*", "", out, flags=re.S)


@pytest.mark.slow
def test_cli_scheduler_prints_the_in_process_table(cluster, light, capsys):
    argv = ["evaluate", "--small", "--model", "pipeline", "--config", str(light), "--extra-k", "5", "--shard-users", "50"]
    assert main(argv) == 0
    here = table_of(capsys.readouterr().out)
    assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    there = table_of(capsys.readouterr().out)
    assert "ndcg" in here and here == there


def test_cli_refuses_cluster_options_it_cannot_honour(capsys):
    def refused(argv):
        assert main(argv) == 2  # a usage error, before any data loads
        return capsys.readouterr().err

    assert "--scheduler/--workers with --model popular" in refused(["evaluate", "--small", "--scheduler", "tcp://127.0.0.1:9"])
    assert "expected a Dask scheduler address" in refused(["evaluate", "--small", "--model", "pipeline", "--scheduler", "nope"])
    assert "--workers sizes the LocalCluster only" in refused(
        ["evaluate", "--small", "--model", "pipeline", "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"])
