"""A user's interactions file through the commands that do work on it, not only their parsers: `workbench report
--data PATH --columns ...` writes a page whose data card is the file's, and `workbench sweep --data PATH` sweeps it
(its rows carry the file's reference and are the same figures as a direct evaluation of that config on the file)."""

from __future__ import annotations

import re
import shlex

import pytest

pytestmark = pytest.mark.slow

COLUMNS = "user=uid,item=iid,timestamp=ts"


@pytest.fixture(scope="module")
def log_file(tmp_path_factory):
    """The small synthetic world's interactions written as a user's Parquet file (uid, iid, ts): a log with the
    structure every pipeline stage needs, read back only through the file loader."""
    from workbench.data import load

    ds = load("synthetic", small=True)
    frame = ds.interactions[["user", "item", "timestamp"]].rename(columns={"user": "uid", "item": "iid", "timestamp": "ts"})
    path = tmp_path_factory.mktemp("own") / "log.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_report_on_a_file_shows_its_data_card(log_file, tmp_path, monkeypatch):
    from workbench.cli import main
    from workbench.data import load
    from workbench.data.card import card_for
    from workbench.report.export import NOTEBOOK_DIR

    monkeypatch.setenv("WORKBENCH_MODEL_STORE", str(tmp_path / "store"))
    card = card_for(load(f"{log_file}?columns={COLUMNS}"))
    out = tmp_path / "reports"
    assert main(["report", "--data", str(log_file), "--columns", COLUMNS, "--out", str(out),
                 str(NOTEBOOK_DIR / "05_metrics.py")]) == 0  # fmt: skip
    page = (out / "05_metrics.html").read_text(encoding="utf-8")
    assert re.search(rf"Data: log\.parquet\S*: {card['users']:,} users, {card['items']:,} items, "
                     rf"{card['interactions']:,} interactions", page), "the report's page lacks the file's data card"  # fmt: skip
    assert "--data " + shlex.quote(f"{log_file}?columns=item=iid,timestamp=ts,user=uid") in page  # the stamp names it


def test_sweep_on_a_file_sweeps_it(log_file, tmp_path):
    from workbench.cli import main
    from workbench.data import dataset_name
    from workbench.sweep import read_results, row_config

    (tmp_path / "light.toml").write_text('ranker = "gbdt"\nn_candidates = 40\nper_source_k = 40\nn_ranked = 20\nk = 10\n'
                                         "[weights]\nitemknn = 1.0\npopular = 1.0\n")  # fmt: skip
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('[sweep]\nname = "own"\nbase = "light.toml"\n[grid]\n"rerank.lam" = [0.5, 1.0]\n')
    out, store = tmp_path / "out", tmp_path / "store"
    assert main(["sweep", str(sweep), "--data", str(log_file), "--columns", COLUMNS, "--workers", "1",
                 "--out", str(out), "--store", str(store)]) == 0  # fmt: skip
    table = read_results(out)
    ref = dataset_name(f"{log_file}?columns={COLUMNS}")
    assert len(table) == 2 and (table["status"] == "ok").all() and set(table["data"]) == {ref}
    # each config evaluated here, on the same file, from the sweep's store: the sweep's figures
    from workbench.store import load_or_train
    from workbench.sweep.evaluation import evaluation_users, metric_table, wide_row

    for _, row in table.iterrows():
        config = row_config(row)
        built = load_or_train(ref, config, seed=int(row["seed"]), store=store)
        users = evaluation_users(built.test)
        mine = wide_row(metric_table(built.pipeline.recommend(users, 10).items, built.train, built.test, users, (10,)))
        for col in ("ndcg@10", "recall@10", "intra_list_diversity@10"):
            assert mine[col] == pytest.approx(row[col], abs=1e-12), col
