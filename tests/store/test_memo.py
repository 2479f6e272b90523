"""A data set and an artefact are read once per process (workbench.store.memo): a second `load_or_train`
shares the fitted stages of the first, in its own copy with its own serving knobs; a folder changed on disk is
read again; a failed make keeps nothing; the least recently used value goes first."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbench.pipeline import PipelineConfig
from workbench.ranking import TrainConfig
from workbench.store import ModelStore, load_or_train, memo

QUICK = PipelineConfig(train=TrainConfig(epochs=1), source_params={"two_tower": {"epochs": 1}})


@pytest.fixture(autouse=True)
def empty_memo():
    memo.forget()
    yield
    memo.forget()


def test_a_second_load_shares_the_fitted_stages_in_its_own_copy(tmp_path):
    store = ModelStore(tmp_path)
    trained = load_or_train("synthetic", QUICK, small=True, store=store)
    first = load_or_train("synthetic", QUICK, small=True, store=store)
    wanted = dataclasses.replace(QUICK, k=5)
    second = load_or_train("synthetic", wanted, small=True, store=store)
    assert not trained.loaded and first.loaded and second.loaded
    assert second.pipeline.generator_ is first.pipeline.generator_  # read once
    assert second.train is first.train and second.test is first.test
    assert second.pipeline is not first.pipeline
    assert first.pipeline.config == QUICK and second.pipeline.config == wanted  # each its own serving knobs
    users = np.arange(first.train.n_users)
    np.testing.assert_array_equal(first.pipeline.recommend(users).items, trained.pipeline.recommend(users).items)
    assert second.pipeline.recommend(users).items.shape[1] == 5


def test_a_folder_changed_on_disk_is_read_again(tmp_path):
    store = ModelStore(tmp_path)
    load_or_train("synthetic", QUICK, small=True, store=store)
    first = load_or_train("synthetic", QUICK, small=True, store=store)
    victim = min((first.path / "arrays").glob("*.npy"))
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    lines: list[str] = []
    again = load_or_train("synthetic", QUICK, small=True, store=store, progress=lines.append)
    assert not again.loaded  # the damage was found (checked again), not served from memory
    assert any("is damaged" in line and victim.name in line for line in lines)
    third = load_or_train("synthetic", QUICK, small=True, store=store)
    assert third.loaded and third.pipeline.generator_ is not first.pipeline.generator_


def test_remember_makes_once_keeps_nothing_on_failure_and_drops_the_oldest(monkeypatch):
    monkeypatch.setitem(memo.LIMIT, "dataset", 2)
    made: list[str] = []

    def maker(value):
        def make():
            made.append(value)
            return [value]

        return make

    a = memo.remember("dataset", "a", maker("a"))
    assert memo.remember("dataset", "a", maker("a")) is a and made == ["a"]

    def fail():
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        memo.remember("dataset", "b", fail)
    assert memo.remember("dataset", "b", maker("b")) == ["b"] and made == ["a", "b"]
    memo.remember("dataset", "a", maker("a"))  # a used last: b is now the oldest
    memo.remember("dataset", "c", maker("c"))  # over the limit of 2: b goes
    memo.remember("dataset", "a", maker("a"))
    memo.remember("dataset", "b", maker("b"))
    assert made == ["a", "b", "c", "b"]
    with pytest.raises(ValueError, match="memo kind 'model'"):
        memo.remember("model", "a", maker("a"))
