"""Notebook settings and provenance stamps."""

import pytest

from workbench.report import (
    NotebookSettings,
    list_notebooks,
    load_data,
    notebook_settings,
    provenance,
    provenance_markdown,
)


def test_settings_from_cli_args_and_environment():
    assert notebook_settings({}, env={}) == NotebookSettings("synthetic", 0, False)
    s = notebook_settings({"data": "movielens-100k", "seed": 3, "small": ""}, env={})
    assert s == NotebookSettings("movielens-100k", 3, True)
    assert notebook_settings({"data": "ml-100k"}, env={}).data == "movielens-100k"
    assert notebook_settings({}, env={"WORKBENCH_SMALL": "1"}).small
    assert not notebook_settings({}, env={"WORKBENCH_SMALL": "0"}).small


def test_settings_reject_what_they_cannot_honour():
    with pytest.raises(ValueError, match="unknown notebook argument"):
        notebook_settings({"dataset": "synthetic"}, env={})
    with pytest.raises(ValueError, match="data set 'netflix'"):
        notebook_settings({"data": "netflix"}, env={})
    with pytest.raises(ValueError, match="seed=-1"):
        NotebookSettings(seed=-1)


def test_cli_round_trip():
    s = NotebookSettings("movielens-100k", 7, True)
    argv = s.cli()
    parsed = dict(zip(argv[0::2], argv[1::2]))
    assert notebook_settings({"data": parsed["--data"], "seed": int(parsed["--seed"]), "small": ""}, env={}) == s


def test_provenance_names_seed_command_and_versions():
    prov = provenance(NotebookSettings(seed=5), config={"lam": 0.7}, notebook="04_reranking.py")
    assert prov["command"] == "python notebooks/04_reranking.py --data synthetic --seed 5"
    assert prov["config"] == {"lam": 0.7}
    assert {"python", "numpy", "marimo"} <= set(prov["versions"])
    text = provenance_markdown(prov)
    assert "seed **5**" in text and '"lam": 0.7' in text


def test_small_world_is_smaller_and_seeded():
    a = load_data(NotebookSettings(small=True, seed=1))
    b = load_data(NotebookSettings(small=True, seed=1))
    assert a.n_users < 1000
    assert a.interactions.equals(b.interactions)


def test_notebooks_are_listed_in_teaching_order(tmp_path):
    for name in ("02_b.py", "01_a.py", "10_c.py", "helper.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_notebooks(tmp_path)] == ["01_a.py", "02_b.py", "10_c.py"]
