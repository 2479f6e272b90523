"""Pages' results persist across processes (`workbench.lessons.results`): what a page computed in marimo's
kernel is what its script run reads back, so that `results.precompute` (``workbench train --notebooks``,
``make run``) fills the folder a served page reads."""

import os
import re
from pathlib import Path

import pytest

from workbench.lessons import results
from workbench.store import memo

from .conftest import ROOT

PAGE = ROOT / "notebooks" / "07_interleaving.py"  # three persisted simulations, no trained pipeline needed


def test_every_page_that_computes_a_study_persists_it():
    names = [p.name for p in results.pages()]
    assert names == sorted(names)  # the learning path's order
    for number in ("01", "02", "03", "04", "06", "07", "09", "10", "11"):
        assert any(n.startswith(number + "_") for n in names), f"page {number} persists nothing"


def test_a_script_run_reads_what_the_served_page_stored(notebook_runs, small_env, monkeypatch):
    notebook_runs(PAGE)  # the page in marimo's kernel, as served (its export), stores what it computed
    folder = Path(small_env[results.RESULTS_ENV])
    stored = {p: p.stat().st_mtime_ns for p in folder.rglob("*.pickle") if p.parent.name in ("race_of", "study", "preference_at")}
    assert {p.parent.name for p in stored} == {"race_of", "study", "preference_at"}
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    said = []
    [(name, seconds, status)] = results.precompute(["--small"], say=said.append, only=[PAGE.name])
    assert (name, status) == (PAGE.name, 0)
    after = {p: p.stat().st_mtime_ns for p in folder.rglob("*.pickle") if p.parent.name in ("race_of", "study", "preference_at")}
    assert after == stored  # nothing computed afresh: the script found every result under the kernel's keys
    assert said[0].startswith(f"[page 1 of 1, {PAGE.stem}] computing its results") and "done in" in said[-1]


def test_a_page_that_fails_is_reported_and_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    said = []
    [(name, _, status)] = results.precompute(["--seed", "x"], say=said.append, only=[PAGE.name])
    assert name == PAGE.name and status != 0
    assert "failed (exit status" in said[-1] and "--seed 'x'" in said[-1] and "the page computes it when opened" in said[-1]
    assert not os.listdir(tmp_path)  # the settings were refused before any work


def test_pages_run_slowest_first_and_report_in_the_learning_paths_order(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    slow = ROOT / "notebooks" / results.SLOW_FIRST[0]
    assert slow.name in [p.name for p in results.pages()] and slow.name > PAGE.name  # later on the path, started first
    said = []
    out = results.precompute(["--seed", "x"], say=said.append, only=[PAGE.name, slow.name], jobs=1)
    assert [name for name, _, _ in out] == [PAGE.name, slow.name] and all(status != 0 for _, _, status in out)
    assert said[0].startswith(f"[page 2 of 2, {slow.stem}] computing")  # one at a time: the slowest first
    both = results.precompute(["--seed", "x"], say=said.append, only=[PAGE.name, slow.name], jobs=2)
    assert [(name, status != 0) for name, _, status in both] == [(PAGE.name, True), (slow.name, True)]
    with pytest.raises(ValueError, match=r"jobs=0: expected a positive integer"):
        results.precompute([], only=[PAGE.name], jobs=0)


def test_a_second_run_finds_every_result_the_first_stored(small_env, monkeypatch):
    # page 06's studies close over its simulated world: with the world in marimo's own cache, a run that read
    # the world back asked for its studies under other keys than the run that built it (results.kept's docstring)
    page = ROOT / "notebooks" / "06_ab_testing.py"
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    folder = Path(small_env[results.RESULTS_ENV])
    [(_, _, status)] = results.precompute(["--small"], say=lambda line: None, only=[page.name])
    first = sorted(p.relative_to(folder) for p in folder.rglob("*.pickle"))
    assert status == 0 and any(p.parts[0] == "kept" for p in first) and any(p.parts[0] == "readings_at" for p in first)
    [(_, _, status)] = results.precompute(["--small"], say=lambda line: None, only=[page.name])
    assert status == 0
    assert sorted(p.relative_to(folder) for p in folder.rglob("*.pickle")) == first  # nothing stored afresh


def test_kept_builds_once_then_reads_from_memory_and_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    calls = []
    key = ("synthetic", 0, True, f"test-{tmp_path.name}")  # unique to this test: the memo is per process

    def make():
        calls.append(1)
        return {"value": [1, 2, 3]}

    first = results.kept("t", key, make)
    assert first == {"value": [1, 2, 3]} and calls == [1]
    assert results.kept("t", key, make) is first and calls == [1]  # this process: the same object
    [stored] = (tmp_path / "kept" / "t").glob("*.pickle")
    memo.forget()  # as another process would: read from disk, not built again
    again = results.kept("t", key, make)
    assert again == first and again is not first and calls == [1]
    assert results.kept("t", key[:-1] + ("other",), make) == first and calls == [1, 1]  # another key: built
    assert stored.exists()


@pytest.mark.parametrize(("name", "kept"), [("04_reranking.py", ("kept", "04-ranked")), ("02_candidates.py", ("kept", "02-drawn"))])
def test_a_second_run_of_a_page_with_a_pipeline_stores_nothing_new(name, kept, small_env, monkeypatch, tmp_path):
    # 04 keeps stages 1–2 (results.kept) and its frontier and decay sweep close over the what-if built from them;
    # 02 keeps what it draws: a second run must find all of it under the first run's keys
    page = ROOT / "notebooks" / name
    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    # a results folder of its own: the session's may already hold what another test's run of the page kept
    folder = tmp_path / "results"
    monkeypatch.setenv(results.RESULTS_ENV, str(folder))
    before: set[Path] = set()
    out = ["--small", "--out", str(tmp_path / "out")]  # the same settings both times (--out is one of them)
    [(_, _, status)] = results.precompute(out, say=lambda line: None, only=[page.name])
    first = sorted(p.relative_to(folder) for p in set(folder.rglob("*.pickle")) - before)
    assert status == 0 and any(p.parts[: len(kept)] == kept for p in first)
    stamps = {p: (folder / p).stat().st_mtime_ns for p in first}
    [shown] = (tmp_path / "out").glob("*.md")

    def drawn() -> list[str]:
        # what the page showed, but the model store's lines (trained, then loaded) and where 04's grid sweep came
        # from (the repository's data/sweeps: run by whichever test or page got there first, then read back)
        lines = [line for line in shown.read_text().splitlines() if not re.search(r"(loaded|trained and stored) artefact", line)]
        return [re.sub(r"configs (read from \S+|ran on \d+ Dask workers in [\d.]+ s);", "configs …;", line) for line in lines]

    computed = drawn()
    [(_, _, status)] = results.precompute(out, say=lambda line: None, only=[page.name])
    assert status == 0
    assert sorted(p.relative_to(folder) for p in set(folder.rglob("*.pickle")) - before) == first  # nothing stored afresh
    assert {p: (folder / p).stat().st_mtime_ns for p in first} == stamps  # nor rewritten
    assert drawn() == computed  # what the page showed, read back, is what it computed


def test_persisted_keys_by_arguments_and_the_pages_source(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "results"))
    page = tmp_path / "99_page.py"
    page.write_text("# version 1\n")
    calls = []

    @results.persisted(str(page))
    def study(data: str, seed: int):
        calls.append((data, seed))
        return {"seed": seed, "data": data}

    assert study("synthetic", 1) == {"seed": 1, "data": "synthetic"} and calls == [("synthetic", 1)]
    assert study("synthetic", 1) == {"seed": 1, "data": "synthetic"} and len(calls) == 1  # read back
    assert study("synthetic", 2)["seed"] == 2 and len(calls) == 2  # other arguments: computed
    [folder] = (tmp_path / "results" / "kept").iterdir()
    assert folder.name == "99_page-study" and len(list(folder.glob("*.pickle"))) == 2
    memo.forget()  # another process: from disk
    assert study("synthetic", 1)["seed"] == 1 and len(calls) == 2
    page.write_text("# version 2: the page changed\n")
    assert study("synthetic", 1)["seed"] == 1 and len(calls) == 3  # the page's own code is in the key
    assert "11_case_studies.py" in [p.name for p in results.pages()]  # a page using it is one `precompute` runs
