"""The notebook kit: settings from either command-line form, the ranking convention, tables that wrap."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data import SMALL_WORLD
from workbench.lessons import kit
from workbench.lessons.kit import ABSENT, NotebookSettings, parse_argv


def test_argv_with_and_without_marimos_separator_mean_the_same():
    plain = parse_argv(["--data", "movielens-100k", "--seed", "3", "--small"])
    assert plain == {"data": "movielens-100k", "seed": "3", "small": ""}
    assert parse_argv(["--", "--data", "movielens-100k", "--seed=3", "--small"]) == plain
    assert kit.settings(plain, env={}) == NotebookSettings("movielens-100k", 3, True)
    with pytest.raises(ValueError, match="'stray' follows no --name"):
        parse_argv(["stray"])


def test_settings_from_marimos_own_parse_of_the_separator():
    # marimo's mo.cli_args() turns a bare "--" into an empty name: it must not count as an unknown argument
    assert kit.settings({"": "", "data": "ml-100k"}, env={}) == NotebookSettings("movielens-100k", 0, False)


def test_a_file_reference_with_options_survives_marimos_own_parser(tmp_path):
    """``marimo run/export NB -- ARGS``: marimo splits ``--data VALUE`` at VALUE's first ``=``; `marimo_cli`'s one-word
    form reaches the notebook whole (what `make run DATA=PATH COLUMNS=...` and `workbench report --data PATH` pass)."""
    from marimo._cli.parse_args import parse_args

    (tmp_path / "log.csv").write_text("uid,iid,ts\n1,2,3\n")
    s = NotebookSettings(data=f"{tmp_path / 'log.csv'}?columns=user=uid,item=iid,timestamp=ts", seed=3, small=True)
    assert kit.settings(parse_args(s.marimo_cli()), env={}) == s
    assert parse_args(["--data", s.data]) != {"data": s.data}  # the separate form is mangled: why marimo_cli exists


def test_settings_from_environment_and_defaults():
    assert kit.settings({}, env={}) == NotebookSettings("synthetic", 0, False)
    assert kit.settings({}, env={"WORKBENCH_SMALL": "1"}).small
    assert not kit.settings({}, env={"WORKBENCH_SMALL": "0"}).small
    assert kit.settings({"small": "false"}, env={}).small is False
    assert kit.settings({"out": "reports/x"}, env={}).out == "reports/x"


def test_settings_reject_what_they_cannot_honour():
    with pytest.raises(ValueError, match=r"unknown notebook argument\(s\) \['--dataset'\]"):
        kit.settings({"dataset": "synthetic"}, env={})
    with pytest.raises(ValueError, match="unknown data set 'netflix'"):
        kit.settings({"data": "netflix"}, env={})
    with pytest.raises(ValueError, match="--seed 'abc'"):
        kit.settings({"seed": "abc"}, env={})
    with pytest.raises(ValueError, match="seed=-1"):
        NotebookSettings(seed=-1)
    with pytest.raises(ValueError, match="--small 'maybe'"):
        kit.settings({"small": "maybe"}, env={})
    with pytest.raises(ValueError, match="--out needs a folder"):
        kit.settings({"out": ""}, env={})
    with pytest.raises(ValueError, match=r"--out .*pyproject.toml: is a file, not a folder"):
        kit.settings({"out": str(Path(__file__).resolve().parents[2] / "pyproject.toml")}, env={})
    with pytest.raises(ValueError, match="--seed '3.5'"):
        kit.settings({"seed": "3.5"}, env={})


def test_settings_rebuild_with_dataclasses_replace_and_round_trip_through_cli():
    s = NotebookSettings("movielens-100k", 7, True)
    assert dataclasses.replace(s, data="ml-100k") == s  # canonicalised again on replace
    argv = s.cli()
    assert kit.settings(parse_argv(argv), env={}) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1  # frozen: mo.cache keys on it


def test_dataset_honours_small_and_seed():
    a = kit.dataset(NotebookSettings(small=True, seed=1))
    b = kit.dataset(NotebookSettings(small=True, seed=1))
    c = kit.dataset(NotebookSettings(small=True, seed=2))
    assert a.n_users == SMALL_WORLD["n_users"] and a.n_items == SMALL_WORLD["n_items"]
    assert a.interactions.equals(b.interactions) and not a.interactions.equals(c.interactions)


def test_ranks_count_from_one_and_mark_the_absent():
    r = kit.ranks(np.array([1, 0, 3, -1]))
    assert str(r.dtype) == "Int64" and r.tolist() == [1, pd.NA, 3, pd.NA]
    shown = kit.displayed(pd.DataFrame({"rank in ease": r, "score": [0.123456, 1, 2, 3.0]}), digits=3)
    assert shown["rank in ease"].tolist() == [1, ABSENT, 3, ABSENT]
    assert shown["score"].tolist() == [0.123, 1.0, 2.0, 3.0]
    assert ABSENT in kit.RANKS and "from 1" in kit.RANKS


def test_tables_wrap_long_text_instead_of_cutting_it():
    df = pd.DataFrame({"metric": ["ndcg"], "definition": ["DCG@k / IDCG@k, discount 1/log2(rank+1); IDCG sorts grades"],
                       "value": [0.3]})  # fmt: skip
    assert kit.wrapped(df) == ["definition"]
    table = kit.table(df)
    assert table._component_args["wrapped-columns"] == ["definition"]
    assert kit.plain("**NDCG@10** `0.1` <small>x</small>") == "NDCG@10 0.1 x"


def test_pipelines_are_the_ones_the_notebooks_load():
    from workbench.candidates.fusion import DEFAULT_WEIGHTS
    from workbench.ranking import RANKERS

    s = NotebookSettings(seed=4)
    configs = kit.pipelines(s)
    default = configs["default"]
    assert default == kit.default_config(s) and default.seed == 4
    assert configs["textbook split"].weights == DEFAULT_WEIGHTS and configs["textbook split"].ranker == default.ranker
    rankers = {c.ranker for name, c in configs.items() if name.startswith("ranker ")} | {default.ranker}
    assert rankers == set(RANKERS)
    for name, c in configs.items():  # each differs from the default only where its name says
        if name.startswith("ranker "):
            assert dataclasses.replace(c, ranker=default.ranker) == default
    from workbench.lessons.casestudies import recipe

    assert recipe("Amazon", s) in configs.values()  # notebook 11's item-page pipeline is trained by `make run` too
    from workbench.lessons.served_latency import configs as served_configs

    members = served_configs(s.seed)[1]  # notebook 12 serves their rankers' ensemble beside the default
    assert len(members) >= 2 and all(c in configs.values() for c in members)


def test_the_data_card_is_kept_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    from workbench.data import load, split
    from workbench.data.card import data_card
    from workbench.lessons import results
    from workbench.store import memo

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "results"))
    s = NotebookSettings("synthetic", 0, True)
    card = kit.data_card_for(s)
    assert card == data_card(*split(load("synthetic", seed=0, small=True), "temporal"), "temporal")
    [stored] = (tmp_path / "results" / "kept" / "data-card").glob("*.pickle")
    memo.forget()  # as the next process would: read from disk, the data set never drawn

    def no_draw(_):
        raise AssertionError("the data set was drawn again")

    monkeypatch.setattr(kit, "dataset", no_draw)
    assert kit.data_card_for(s) == card and len(list(stored.parent.glob("*.pickle"))) == 1
    monkeypatch.undo()
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "results"))
    # an interactions file: 6 users × 4 interactions; one more row changes the file's digest, so the card is read again
    rows = [f"{u},{i},{100 * u + 10 * i}" for u in range(6) for i in range(4)]
    log = tmp_path / "log.csv"
    log.write_text("uid,iid,ts\n" + "\n".join(rows) + "\n")
    f = NotebookSettings(data=f"{log}?columns=user=uid,item=iid,timestamp=ts", seed=0, small=False)
    assert kit.data_card_for(f)["interactions"] == 24
    log.write_text("uid,iid,ts\n" + "\n".join(rows + ["0,5,999"]) + "\n")
    assert kit.data_card_for(f)["interactions"] == 25


def test_a_static_table_shows_what_the_interactive_one_shows():
    df = pd.DataFrame({"title": ["<b>Heat</b>", "Up"], "score": [0.123456, 2.0],
                       "rank": pd.array([1, None], dtype="Int64")})  # fmt: skip
    html = kit.static_table(df).text
    assert "&lt;b&gt;Heat&lt;/b&gt;" in html and "<b>" not in html  # escaped
    assert "0.1235" in html and "0.123456" not in html  # rounded to 4 digits, as kit.table shows it
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells == ["&lt;b&gt;Heat&lt;/b&gt;", "0.1235", "1", "Up", "2.0000", ABSENT]  # ranks from 1, absent as ABSENT


def test_static_tables_round_like_tables_and_escape_their_text():
    df = pd.DataFrame({"model": ["<b>a</b>"], "ndcg": [0.123456], "rank": kit.ranks([np.nan])})
    html = kit.static_table(df, digits=3).text
    assert "0.123" in html and "0.1235" not in html  # rounded to the digits asked for
    assert kit.ABSENT in html  # a missing rank shown as the kit's ABSENT, as `table` shows it
    assert "&lt;b&gt;a&lt;/b&gt;" in html and "<b>a</b>" not in html  # text is escaped, not rendered
    assert "<table" in html and "marimo-table" not in html  # static HTML, no data-table component
