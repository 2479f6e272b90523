"""The model store: a loaded pipeline gives the saved one's slates exactly, on both data sets; damaged,
partial and foreign artefacts are refused with a clear message and retrained; nothing is unpickled."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from workbench.pipeline import Pipeline, PipelineConfig
from workbench.ranking import TrainConfig
from workbench.rerank import RerankConfig
from workbench.store import ArtefactError, DataSpec, ModelStore, artefact_key, load_or_train, load_pipeline, save_pipeline, verify
from workbench.store.store import MANIFEST, _sha256

# Small fits: one or two epochs everywhere (what is tested is the round trip, not the quality).
QUICK = PipelineConfig(train=TrainConfig(epochs=2), source_params={
    "ease": {"lam": 500.0, "history_half_life": 20.0},
    "itemknn": {"neighbours": 100, "window": 20, "history_half_life": 5.0},
    "two_tower": {"epochs": 1},
})  # fmt: skip
SMALL = DataSpec("synthetic", small=True)


def same_slates(a: Pipeline, b: Pipeline, users: np.ndarray) -> None:
    sa, sb = a.recommend(users), b.recommend(users)
    np.testing.assert_array_equal(sa.items, sb.items)
    np.testing.assert_array_equal(sa.scores, sb.scores)
    np.testing.assert_array_equal(sa.propensities, sb.propensities)
    ra, rb = a.rank_stage(users), b.rank_stage(users)
    np.testing.assert_array_equal(ra.scores, rb.scores)


@pytest.fixture(scope="module")
def small_data():
    return SMALL.load()


@pytest.fixture(scope="module")
def fitted(small_data):
    train, _ = small_data
    return Pipeline(QUICK).fit(train)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return save_pipeline(fitted, tmp_path_factory.mktemp("art") / "pipe", SMALL)


@pytest.mark.parametrize("ranker", ["deepfm", "ncf", "gbdt"])
def test_every_ranker_round_trips_to_identical_slates(ranker, small_data, tmp_path):
    train, _ = small_data
    pipe = Pipeline(dataclasses.replace(QUICK, ranker=ranker)).fit(train)
    loaded = load_pipeline(save_pipeline(pipe, tmp_path / ranker, SMALL))
    same_slates(pipe, loaded, np.arange(train.n_users))


def test_wide_deep_round_trip_with_exploration_and_an_hnsw_index(small_data, tmp_path):
    """Exploration draws and a graph index (whose efSearch FAISS keeps outside the file) survive."""
    from workbench.candidates import AnnConfig

    train, _ = small_data
    params = {**QUICK.source_params, "two_tower": {"epochs": 1, "index": AnnConfig("hnsw", ef_search=64)}}
    config = dataclasses.replace(QUICK, source_params=params, rerank=RerankConfig(exploration_rate=0.2))
    pipe = Pipeline(config).fit(train)
    loaded = load_pipeline(save_pipeline(pipe, tmp_path / "p", SMALL))
    assert loaded.generator_.sources["two_tower"].index_.hnsw.efSearch == 64
    same_slates(pipe, loaded, np.arange(train.n_users))
    assert (pipe.recommend(np.arange(train.n_users)).propensities < 1).any()  # exploration did act


@pytest.mark.slow
def test_movielens_round_trip_and_load_time(tmp_path):
    spec = DataSpec("movielens-100k")
    train, _ = spec.load()
    pipe = Pipeline(QUICK).fit(train)
    folder = save_pipeline(pipe, tmp_path / "ml", spec)
    loaded = load_pipeline(folder)  # the data is rebuilt from the recorded spec and checked by fingerprint
    same_slates(pipe, loaded, np.arange(train.n_users))


def test_shared_arrays_are_written_once_and_come_back_shared(saved):
    loaded = load_pipeline(saved)
    seen = [s.seen_ for s in loaded.generator_.sources.values()]
    assert all(m is seen[0] for m in seen)
    assert loaded.generator_.seen_ is seen[0]


def test_a_damaged_file_is_named_and_load_or_train_retrains(fitted, small_data, tmp_path):
    store = ModelStore(tmp_path)
    first = load_or_train("synthetic", QUICK, small=True, store=store)
    assert not first.loaded and first.path.parent == tmp_path
    victim = sorted((first.path / "arrays").glob("*.npy"))[0]
    raw = bytearray(victim.read_bytes())
    raw[-1] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.raises(ArtefactError, match=rf"{victim.name} is damaged"):
        load_pipeline(first.path)
    lines: list[str] = []
    again = load_or_train("synthetic", QUICK, small=True, store=store, progress=lines.append)
    assert not again.loaded and again.key == first.key
    assert any("could not be loaded" in line and victim.name in line for line in lines)
    assert again.notes and "damaged" in again.notes[0]
    verify(again.path)  # the replacement is sound
    third = load_or_train("synthetic", QUICK, small=True, store=store)
    assert third.loaded
    same_slates(first.pipeline, third.pipeline, np.arange(small_data[0].n_users))


def test_a_partial_artefact_is_refused(saved, tmp_path):
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(saved, partial)
    (partial / MANIFEST).unlink()
    with pytest.raises(ArtefactError, match="partial"):
        load_pipeline(partial)
    missing = tmp_path / "missing"
    shutil.copytree(saved, missing)
    next((missing / "arrays").glob("*.npy")).unlink()
    with pytest.raises(ArtefactError, match="is missing"):
        load_pipeline(missing)


def test_other_data_is_refused_by_fingerprint(saved):
    other, _ = DataSpec("synthetic", seed=1, small=True).load()
    with pytest.raises(ArtefactError, match="fingerprint"):
        load_pipeline(saved, other)


def _reseal(folder) -> None:
    """Recompute the manifest's checksums, as an attacker who edits files would."""
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {rel: _sha256(folder / rel) for rel in manifest["files"]}
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_a_class_outside_the_package_is_refused_without_importing_it(saved, tmp_path):
    import shutil

    folder = tmp_path / "foreign"
    shutil.copytree(saved, folder)
    state = json.loads((folder / "state.json").read_text())
    state["root"]["class"] = "os:system"
    (folder / "state.json").write_text(json.dumps(state))
    _reseal(folder)
    with pytest.raises(ArtefactError, match="only name classes of the workbench package"):
        load_pipeline(folder)


class _Payload:
    def __reduce__(self):
        return (open, ("/tmp/workbench-store-pwned", "w"))


def test_a_pickle_payload_in_the_torch_file_is_never_executed(saved, tmp_path):
    import pathlib
    import shutil

    marker = pathlib.Path("/tmp/workbench-store-pwned")
    marker.unlink(missing_ok=True)
    folder = tmp_path / "evil"
    shutil.copytree(saved, folder)
    torch.save({"module0": _Payload()}, folder / "torch.pt")
    _reseal(folder)
    with pytest.raises(ArtefactError, match="torch.pt cannot be read"):
        load_pipeline(folder)
    assert not marker.exists()


def test_key_covers_fit_settings_but_not_serving_knobs(small_data):
    train, _ = small_data
    fp = train.fingerprint
    base = artefact_key(SMALL, fp, QUICK, code="c")
    serving = dataclasses.replace(QUICK, k=5, n_ranked=50, rerank=RerankConfig(lam=0.2))
    assert artefact_key(SMALL, fp, serving, code="c") == base
    for changed in (dataclasses.replace(QUICK, seed=1), dataclasses.replace(QUICK, ranker="ncf"),
                    dataclasses.replace(QUICK, n_candidates=200),
                    dataclasses.replace(QUICK, train=TrainConfig(epochs=3))):  # fmt: skip
        assert artefact_key(SMALL, fp, changed, code="c") != base
    assert artefact_key(SMALL, fp, QUICK, code="d") != base
    assert artefact_key(DataSpec("synthetic", small=True, split="random"), fp, QUICK, code="c") != base
    assert artefact_key(SMALL, "0" * 16, QUICK, code="c") != base


def test_serving_knobs_load_the_same_artefact_and_apply(tmp_path, small_data):
    store = ModelStore(tmp_path)
    first = load_or_train("synthetic", QUICK, small=True, store=store)
    wanted = dataclasses.replace(QUICK, k=5, rerank=RerankConfig(lam=0.3))
    second = load_or_train("synthetic", wanted, small=True, store=store)
    assert second.loaded and second.key == first.key
    assert second.pipeline.config == wanted
    users = np.arange(small_data[0].n_users)
    expected = first.pipeline.rerank_stage(first.pipeline.rank_stage(users), 5, wanted.rerank)
    np.testing.assert_array_equal(second.pipeline.recommend(users).items, expected.items)


def test_an_interrupted_write_leaves_nothing_behind(fitted, tmp_path, monkeypatch):
    import workbench.store.store as store_mod

    def boom(obj, folder):
        (folder / "arrays").mkdir(parents=True)
        (folder / "arrays" / "0.npy").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "write_state", boom)
    with pytest.raises(KeyboardInterrupt):
        save_pipeline(fitted, tmp_path / "target", SMALL)
    assert list(tmp_path.iterdir()) == []


def test_store_lists_and_removes(tmp_path):
    store = ModelStore(tmp_path)
    trained = load_or_train("synthetic", QUICK, small=True, store=store)
    table = store.list()
    assert table["key"].tolist() == [trained.key]
    row = table.iloc[0]
    assert row["data"] == "synthetic (small)" and "wide_deep" in row["config"] and row["size_mb"] > 0
    store.remove(trained.key)
    assert store.list().empty
    with pytest.raises(KeyError, match="no artefact"):
        store.remove(trained.key)
    with pytest.raises(ValueError, match="hex digits"):
        store.path("../etc")


def test_a_second_writer_keeps_a_sound_artefact_and_replaces_a_damaged_one(fitted, tmp_path):
    from workbench.store import save_pipeline

    first = save_pipeline(fitted, tmp_path / "k", SMALL, replace=False)
    stamp = (first / MANIFEST).stat().st_ino
    save_pipeline(fitted, tmp_path / "k", SMALL, replace=False)  # same key stored meanwhile: kept as it is
    assert (first / MANIFEST).stat().st_ino == stamp
    (first / "state.json").write_text("{}")
    save_pipeline(fitted, tmp_path / "k", SMALL, replace=False)  # damaged: replaced
    assert (first / MANIFEST).stat().st_ino != stamp
    verify(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]  # nothing left aside
