"""``workbench train`` prints the artefact folder it stored (and loads it the second time); ``workbench models``
lists and removes; bad arguments fail before any work."""

from __future__ import annotations

from pathlib import Path

from workbench.cli import main
from workbench.store import ModelStore, verify

CONFIG = """
[train]
epochs = 1
[source_params.two_tower]
epochs = 1
"""


def test_train_then_models_then_remove(tmp_path, capsys):
    config = tmp_path / "quick.toml"
    config.write_text(CONFIG)
    store = tmp_path / "models"
    assert main(["train", "--small", "--config", str(config), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    folder = Path(out.strip())
    assert folder.parent == store and verify(folder)["config_summary"].endswith("(seed 0)")
    assert "trained and stored" in err

    assert main(["train", "--small", "--config", str(config), "--store", str(store)]) == 0
    out, err = capsys.readouterr()
    assert Path(out.strip()) == folder and "loaded artefact" in err

    assert main(["train", "--small", "--config", str(config), "--seed", "3", "--store", str(store)]) == 0
    out, _ = capsys.readouterr()
    assert Path(out.strip()) != folder and "(seed 3)" in verify(Path(out.strip()))["config_summary"]

    assert main(["models", "--store", str(store)]) == 0
    listing = capsys.readouterr().out
    assert folder.name in listing and "2 artefact(s)" in listing and "synthetic (small)" in listing

    assert main(["models", "--store", str(store), "--remove", folder.name]) == 0
    assert folder.name not in ModelStore(store).keys() and len(ModelStore(store).keys()) == 1


def test_bad_arguments_fail_before_any_work(tmp_path, capsys):
    store = tmp_path / "models"
    assert main(["train", "--config", str(tmp_path / "absent.toml"), "--store", str(store)]) == 2
    assert "absent.toml: no such file" in capsys.readouterr().err
    assert main(["train", "--notebooks", "--split", "random", "--store", str(store)]) == 2
    assert "drop --config/--split/--cache-dir" in capsys.readouterr().err
    assert main(["train", "--no-pages", "--store", str(store)]) == 2
    assert "--no-pages goes with --notebooks" in capsys.readouterr().err
    assert main(["train", "--notebooks", "--no-pages", "--page-jobs", "2", "--store", str(store)]) == 2
    assert "--page-jobs 2 goes with --notebooks and the pages' results" in capsys.readouterr().err
    assert main(["train", "--notebooks", "--page-jobs", "0", "--store", str(store)]) == 2
    assert "expected a positive number of pages computed at once" in capsys.readouterr().err
    assert main(["models", "--store", str(store), "--remove", "nothex"]) == 2
    assert "expected hex digits" in capsys.readouterr().err
    assert not store.exists()  # nothing was trained or written


def test_train_notebooks_stores_every_notebook_pipeline(tmp_path, capsys):
    """`make run`'s first step: every pipeline the notebooks load, so each opens without training.
    (After the notebook tests in a full run these load from the session's store.)"""
    import os

    from workbench.lessons import kit

    store = Path(os.environ["WORKBENCH_MODEL_STORE"])
    assert main(["train", "--notebooks", "--small", "--no-pages", "--store", str(store)]) == 0
    printed = [Path(line) for line in capsys.readouterr().out.split()]
    expected = kit.pipelines(kit.NotebookSettings(small=True))
    assert len(printed) == len(expected) and all(verify(p) for p in printed)
    assert {verify(p)["config_summary"] for p in printed} == {
        f"{'+'.join(c.weights)} → {c.fusion} {c.n_candidates} → {c.ranker} (seed {c.seed})" for c in expected.values()
    }
