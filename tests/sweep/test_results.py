"""The results folder: parts appended atomically, the latest row per config wins, compaction keeps the table."""

from __future__ import annotations

import pandas as pd

from workbench.sweep import ResultStore, read_results


def rows(ids, status="ok", start=0, **extra):
    return [{"config_id": c, "order": start + i, "status": status, "ndcg@10": 0.1 * i, **extra}
            for i, c in enumerate(ids)]  # fmt: skip


def test_latest_row_per_config_and_done_set(tmp_path):
    store = ResultStore(tmp_path / "r")
    assert store.read().empty and store.done() == set()
    store.append(rows(["a", "b", "c"], status="failed", error="boom"))
    store.append(rows(["b"], status="ok", start=1))
    assert len(store.parts()) == 2
    table = store.read()
    assert table["config_id"].tolist() == ["a", "b", "c"]  # config order
    assert table.set_index("config_id")["status"].to_dict() == {"a": "failed", "b": "ok", "c": "failed"}
    assert store.done() == {"b"}


def test_compact_keeps_the_table(tmp_path):
    store = ResultStore(tmp_path / "r")
    store.append(rows(["a", "b"]))
    store.append(rows(["c"], start=2, **{"rerank.order": ["filter", "mmr"]}))
    before = store.read()
    store.compact()
    assert len(store.parts()) == 1
    pd.testing.assert_frame_equal(store.read(), before)
    assert read_results(store.parts()[0])["config_id"].tolist() == ["a", "b", "c"]


def test_mixed_value_types_are_stored(tmp_path):
    store = ResultStore(tmp_path / "r")
    store.append([{"config_id": "a", "status": "ok", "rerank.category_cap": None, "w": 1},
                  {"config_id": "b", "status": "ok", "rerank.category_cap": 3, "w": 0.5},
                  {"config_id": "c", "status": "ok", "rerank.category_cap": "x", "w": 2}])  # fmt: skip
    table = store.read().set_index("config_id")
    assert table.loc["b", "w"] == 0.5 and table.loc["c", "w"] == 2.0
    assert table.loc["b", "rerank.category_cap"] == "3" and table.loc["c", "rerank.category_cap"] == '"x"'


def test_a_row_from_another_artefact_is_not_done():
    from workbench.sweep.runner import _done, _Plan

    table = pd.DataFrame({"config_id": ["a", "b", "c", "d"], "status": ["ok", "ok", "failed", "ok"],
                          "artefact": ["k1", "old", "k1", "k2"]})  # fmt: skip
    plan = _Plan({}, {}, {"a": "k1", "b": "k1", "c": "k1", "d": "k2"}, {}, "")
    assert _done(table, plan) == {"a", "d"}  # b: computed by an older model; c: failed
    assert _done(table, None) == {"a", "b", "d"}  # study sweeps: no artefact
