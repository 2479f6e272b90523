"""The feedback loop's days for many seeds on a 2-worker Dask LocalCluster equal the in-process run, exactly.

The data is an interactions Parquet file written once and read by every task by its path; the cluster is
reached through its address string, the path ``--scheduler ADDRESS`` takes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.sweep.loops import check_seeds, data_digest, figures, loop_seed, run_loops

LIGHT = """\
ranker = "gbdt"
n_candidates = 60
per_source_k = 60
n_ranked = 30
k = 10
[weights]
ease = 1.0
itemknn = 1.0
popular = 1.0
"""


def test_seeds_are_checked_before_any_work():
    assert check_seeds([3, 0, 7]) == [3, 0, 7]
    for bad, what in (([], "at least one"), ([1, 1], "listed twice"), ([-1], "non-negative"), ([True], "non-negative"),
                      ([1.5], "non-negative")):  # fmt: skip
        with pytest.raises(ValueError, match=what):
            check_seeds(bad)


def test_a_data_file_changed_since_the_study_started_is_refused_before_any_work(tmp_path):
    from workbench.loop import LoopConfig

    data = tmp_path / "interactions.parquet"
    frame = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [10, 11, 10, 12, 11], "timestamp": [1, 2, 3, 4, 5]})
    frame.to_parquet(data, index=False)
    digest = data_digest(str(data))
    assert digest and data_digest("synthetic") == ""
    frame.assign(item=[10, 11, 10, 12, 12]).to_parquet(data, index=False)  # the file changes under the study
    assert data_digest(str(data)) != digest
    config = LoopConfig(data=str(data), days=1, features="memory").to_dict()
    with pytest.raises(ValueError, match="the data changed since the study started"):
        loop_seed(config, 0, str(tmp_path / "root"), digest=digest)
    assert not (tmp_path / "root").exists()


@pytest.mark.slow
def test_loops_on_the_cluster_equal_the_loops_in_process(cluster, tmp_path):
    from distributed import Client

    from workbench.data import load
    from workbench.loop import LoopConfig

    world = load("synthetic", seed=0, small=True)
    data = tmp_path / "interactions.parquet"  # shared storage: written once, read by path
    world.interactions[["user", "item", "timestamp", "rating"]].to_parquet(data, index=False)
    light = tmp_path / "light.toml"
    light.write_text(LIGHT)
    config = LoopConfig(data=str(data), users=120, days=3, retrain_every=2, features="memory", epsilon=0.2)
    seeds = [4, 1]

    here, _ = run_loops(config, seeds, tmp_path / "here", pipeline_config=light, store=tmp_path / "store-here")
    with Client(cluster.scheduler_address) as client:
        there, records = run_loops(config, seeds, tmp_path / "there", client=client, pipeline_config=light,
                                   store=tmp_path / "store-there")  # fmt: skip
        workers = set(client.has_what())
    assert len(workers) == 2 and {r["worker"] for r in records} <= workers
    assert list(here["seed"].unique()) == seeds and len(here) == len(seeds) * config.days
    pd.testing.assert_frame_equal(figures(here), figures(there))
    # the seeds are different loops (not one loop copied): their clicks differ
    a, b = (figures(here)[here["seed"] == s]["ctr"].to_numpy() for s in seeds)
    assert not np.array_equal(a, b)


def test_cli_refuses_bad_seeds_and_cluster_options_before_any_work(capsys, tmp_path):
    from workbench.cli import main

    def refused(argv):
        assert main(argv) == 2
        return capsys.readouterr().err

    assert "expected seeds such as 0,1,2" in refused(["loop-seeds", "--seeds", "1,x"])
    assert "listed twice" in refused(["loop-seeds", "--seeds", "1,0-2"])
    assert "--workers sizes the LocalCluster only" in refused(
        ["loop-seeds", "--seeds", "0", "--scheduler", "tcp://127.0.0.1:9", "--workers", "2", "--root", str(tmp_path)])
    assert not any(tmp_path.iterdir())  # nothing written
