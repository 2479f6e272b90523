"""Commands check their arguments before any work: path kinds (file or folder, existing or to be
written), counts, and a service that must be running (workbench.arguments, issue 22)."""

from __future__ import annotations

import argparse
import os
import socket
import time

import pytest

import workbench.data
from workbench.arguments import existing_dir, existing_file, writable_dir, writable_file
from workbench.cli import main


@pytest.fixture
def no_load(monkeypatch):
    """The data loader, replaced by a tripwire: a bad argument must be refused before any data loads."""

    def tripwire(*args, **kwargs):
        raise AssertionError(f"data loaded for {args} {kwargs}: the argument should have been refused first")

    monkeypatch.setattr(workbench.data, "load", tripwire)
    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)


@pytest.fixture
def paths(tmp_path):
    file = tmp_path / "a-file.txt"
    file.write_text("x")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return file, folder


def refused(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, option, expected", [
    (["evaluate", "--cache-dir", "{file}"], "--cache-dir", "is a file, not a folder"),
    (["train", "--small", "--store", "{file}"], "--store", "is a file, not a folder"),
    (["train", "--small", "--cache-dir", "{file}"], "--cache-dir", "is a file, not a folder"),
    (["train", "--small", "--config", "{folder}"], "--config", "is a folder; expected a pipeline TOML"),
    (["train", "--small", "--seed", "-1"], "--seed", "expected a non-negative integer seed"),
    (["models", "--store", "{file}"], "--store", "is a file, not a folder"),
    (["serve", "--small", "--event-log", "{folder}"], "--event-log", "is a folder; expected an SQLite file"),
    (["serve", "--small", "--config", "{folder}/none.toml"], "--config", "no such file"),
    (["serve", "--small", "--model", "{file}"], "--model", "is a file, not a folder"),
    (["serve", "--small", "--redis-dir", "{file}"], "--redis-dir", "is a file, not a folder"),
    (["loadtest", "--csv", "{folder}"], "--csv", "is a folder"),
    (["loop", "--small", "--state", "{file}"], "--state", "is a file, not a folder"),
    (["loop", "--small", "--csv", "{folder}"], "--csv", "is a folder; expected a CSV file"),
    (["loop", "--small", "--store", "{file}"], "--store", "is a file, not a folder"),
    (["loop", "--small", "--csv", "{file}/below.csv"], "--csv", "is a file, not a folder"),
    (["sweep", "configs/sweep_rerank.toml", "--limit", "-1"], "--limit", "expected a positive number of configs"),
    (["sweep", "configs/sweep_rerank.toml", "--limit", "0"], "--limit", "expected a positive number of configs"),
    (["sweep", "configs/sweep_rerank.toml", "--top", "0"], "--top", "expected a positive number of configs"),
    (["sweep", "configs/sweep_rerank.toml", "--workers", "0"], "--workers", "expected a positive number of worker"),
    (["sweep", "configs/sweep_rerank.toml", "--out", "{file}"], "--out", "is a file, not a folder"),
    (["sweep", "configs/sweep_rerank.toml", "--export", "{folder}"], "--export", "is a folder"),
    (["sweep", "configs/sweep_rerank.toml", "--model", "{folder}/none"], "--model", "no such folder"),
])  # fmt: skip
def test_a_wrong_kind_of_path_or_count_is_refused_before_work(argv, option, expected, paths, capsys, no_load):
    file, folder = paths
    argv = [a.format(file=file, folder=folder) for a in argv]
    err = refused(argv, capsys)
    assert f"argument {option}:" in err and expected in err, err


def test_path_types_accept_what_they_should(paths, tmp_path):
    file, folder = paths
    assert existing_file("x")(str(file)) == str(file)
    assert existing_dir("x")(str(folder)) == str(folder)
    assert writable_dir("x")(str(folder)) == str(folder)
    assert writable_dir("x")(str(tmp_path / "new" / "deeper")) == str(tmp_path / "new" / "deeper")  # created later
    assert writable_file("x")(str(file)) == str(file)
    assert writable_file("x")(str(tmp_path / "new" / "out.csv")) == str(tmp_path / "new" / "out.csv")
    with pytest.raises(argparse.ArgumentTypeError, match="is a folder"):
        writable_file("x")(str(tmp_path / "new") + "/")
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        existing_file("x")(str(tmp_path / "absent.toml"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: a read-only folder cannot be shown")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(argparse.ArgumentTypeError, match="not writable"):
            writable_dir("x")(str(locked))
        with pytest.raises(argparse.ArgumentTypeError, match="not writable"):
            writable_file("x")(str(locked / "out.csv"))
    finally:
        locked.chmod(0o700)


def test_loadtest_with_no_service_says_so_within_two_seconds(capsys, no_load):
    with socket.socket() as s:  # a free loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = refused(["loadtest", "--url", f"http://127.0.0.1:{port}", "--requests", "5"], capsys)
    assert "no service answers there" in err and "workbench serve" in err, err


def test_loadtest_against_a_silent_listener_gives_up_at_its_deadline(capsys, no_load):
    with socket.socket() as server:  # accepts connections (the kernel's backlog) but never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        t0 = time.monotonic()
        err = refused(["loadtest", "--url", f"http://127.0.0.1:{port}"], capsys)
        elapsed = time.monotonic() - t0
    # it waited for its 2 s deadline and gave up then (a bound loose enough for a loaded machine,
    # far below the 40 s a load test against nothing used to take)
    assert 1.9 < elapsed < 15.0, elapsed
    assert "no service answers there" in err, err
