"""The model store: train once, load everywhere.

An artefact is a folder ``<root>/<key>/`` (root: ``data/models/``, or ``$WORKBENCH_MODEL_STORE``)::

    manifest.json     key, data spec, fingerprint, code version, created, fit time, SHA-256 of every file
    config.json       the PipelineConfig it was fitted with
    provenance.json   package versions, commit, threads, how long the fit took
    state.json        the fitted pipeline's attributes (workbench.store.codec)
    arrays/*.npy      numpy arrays and sparse matrices
    torch.pt          torch state_dicts (read with weights_only=True)
    faiss/*.index     FAISS indexes;  lightgbm/*.txt  LightGBM models

The **key** is a digest of what decides the fitted state: the data's fingerprint and spec,
the fit-relevant config (every field but the serving knobs ``rerank``, ``k`` and
``n_ranked``, which only stage 3 and the cut after ranking read), the seed, the split and
the code version (the source of the modules that fitting runs, plus the versions of the
libraries that compute it). A config that differs only in serving knobs loads the same
artefact and serves with the new knobs.

Writes are atomic (a temporary folder renamed into place once complete), and every load
checks the manifest's checksums first: a corrupt, partial or incompatible artefact raises
`ArtefactError`, and `load_or_train` then says so and trains afresh. Nothing is unpickled.
Within one process `load_or_train` reads a data set and an artefact once (`workbench.store.memo`: the
notebook server's visits are threads of one process); a folder whose files changed on disk since
(size, modification time, inode) is read and checked again.
Two processes that want the same missing artefact train it once: the second waits on the first's
lock (`workbench.store.lock`), saying so, and loads what the first stored.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.data import dataset_name, is_file, load, split
from workbench.data.files import FileSource
from workbench.data.dataset import Dataset
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.progress import reporting
from workbench.provenance import git_commit, package_versions, thread_settings
from workbench.store.codec import STATE_FILE, ArtefactError, read_state, write_state
from workbench.store.lock import training
from workbench.store.memo import folder_state, remember

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parents[1]
STORE_ENV = "WORKBENCH_MODEL_STORE"
FORMAT = 1
MANIFEST = "manifest.json"
# What fitting runs: a change here changes the fitted state, so it changes the key.
FIT_CODE = ("data", "candidates", "ranking", "pipeline.py", "types.py", "lists.py", "checks.py", "rebuildable.py",
            "store/codec.py")
FIT_LIBRARIES = ("numpy", "scipy", "torch", "faiss-cpu", "implicit", "lightgbm")
SERVING_FIELDS = ("rerank", "k", "n_ranked")
Progress = Callable[[str], None]


def default_root() -> Path:
    return Path(os.environ.get(STORE_ENV) or ROOT / "data" / "models")


@dataclass(frozen=True)
class DataSpec:
    """Which data a pipeline was fitted on: ``workbench.data.load(data, seed=seed, small=small)``
    split by ``split`` (kinds in ``workbench.data.SPLITS``; the random split draws with ``seed``).
    ``small`` only shrinks the synthetic world; for MovieLens it is normalised away. For an interactions
    file (``data`` its canonical reference, `workbench.data.files`), ``digest`` is the digest of the files'
    bytes, taken when the spec is made: the artefact key changes with the content, and `load` refuses
    files that changed since."""

    data: str = "synthetic"
    seed: int = 0
    small: bool = False
    split: str = "temporal"
    digest: str = ""

    def __post_init__(self) -> None:
        from workbench.data import SPLITS

        object.__setattr__(self, "data", dataset_name(self.data))
        if self.data != "synthetic":
            object.__setattr__(self, "small", False)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r}: expected a non-negative integer")
        if self.split not in SPLITS:
            raise ValueError(f"split={self.split!r}: expected one of {sorted(SPLITS)}")
        if is_file(self.data):
            if not self.digest:
                object.__setattr__(self, "digest", FileSource.parse(self.data).digest())
        elif self.digest:
            raise ValueError(f"digest={self.digest!r} with data={self.data!r}: only an interactions file has a digest")

    def load(self, cache_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
        """``(train, test)`` of this spec (`loaded`: once per process)."""
        if self.digest and FileSource.parse(self.data).digest() != self.digest:
            raise ValueError(f"{self.data}: the file changed since this spec was made (content digest "
                             f"{FileSource.parse(self.data).digest()}, expected {self.digest})")  # fmt: skip
        ds = load(self.data, cache_dir=str(cache_dir or ROOT / "data"), seed=self.seed, small=self.small)
        return split(ds, self.split, **({"seed": self.seed} if self.split == "random" else {}))


def loaded(spec: DataSpec, cache_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """``spec.load(cache_dir)``, once per process (`workbench.store.memo`: a served notebook's visits are threads
    of one process). An interactions file's spec carries its content digest, so a changed file is read again."""
    return remember("dataset", (spec, str(cache_dir or "")), lambda: spec.load(cache_dir))


def loaded_pipeline(folder: Path, train: Dataset, config: PipelineConfig, mmap: bool = False) -> Pipeline:
    """`load_pipeline` once per process for what ``folder`` holds now (`memo.folder_state`: a folder replaced
    or changed on disk is read and checked again); each caller gets its own shallow copy, serving ``config``."""
    key = (str(folder.resolve()), mmap, train.fingerprint, id(train), folder_state(folder))
    pipe = copy.copy(remember("pipeline", key, lambda: load_pipeline(folder, train, mmap=mmap)))
    pipe.config = config  # same fit-relevant fields (the key); serving knobs as asked
    return pipe


def code_version() -> str:
    """Digest of the fitting code (``FIT_CODE``) and the versions of ``FIT_LIBRARIES``."""
    h = hashlib.blake2b(digest_size=8)
    for name in FIT_CODE:
        target = PACKAGE / name
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode())
            h.update(f.read_bytes())
    for lib in FIT_LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=absent".encode())
    return h.hexdigest()


def fit_config(config: PipelineConfig) -> dict[str, Any]:
    """The config fields that decide the fitted state (all but ``SERVING_FIELDS``), as plain data."""
    return {k: v for k, v in config.to_dict().items() if k not in SERVING_FIELDS}


def artefact_key(spec: DataSpec, fingerprint: str, config: PipelineConfig, code: str | None = None) -> str:
    """16 hex digits over data spec + fingerprint, fit-relevant config, seed, split and code version."""
    payload = {"format": FORMAT, "data": dataclasses.asdict(spec), "fingerprint": fingerprint,
               "config": fit_config(config), "code": code or code_version()}  # fmt: skip
    blob = json.dumps(payload, sort_keys=True, default=repr).encode()
    return hashlib.blake2b(blob, digest_size=8).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def save_pipeline(pipeline: Pipeline, folder: str | Path, spec: DataSpec | None = None, key: str | None = None,
                  replace: bool = True) -> Path:
    """Write a fitted pipeline to ``folder`` atomically (a temporary sibling renamed into place).

    ``spec`` records how to rebuild its data, so `load_pipeline` can do it alone; without it the
    reader must pass the train Dataset. An existing folder is replaced, unless ``replace`` is False
    and it holds a sound artefact (the store's case: the same key means the same fit).
    """

    pipeline.check_fitted()
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        datasets = write_state(pipeline, tmp)
        config = pipeline.config.to_dict()
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=repr), encoding="utf-8")
        prov = {"versions": package_versions(), "commit": git_commit(), "threads": thread_settings()}
        prov["fit_seconds"] = round(float(getattr(pipeline, "fit_seconds_", float("nan"))), 2)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, default=repr), encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "key": key or folder.name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "data": dataclasses.asdict(spec) if spec else None,
            "datasets": datasets,
            "fingerprint": pipeline.train_.fingerprint,
            "code_version": code_version(),
            "fit_seconds": prov["fit_seconds"],
            "config_summary": config_summary(pipeline.config),
            "files": {str(p.relative_to(tmp)): _sha256(p) for p in _files(tmp)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _swap_in(tmp, folder, replace)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _swap_in(tmp: Path, folder: Path, replace: bool) -> None:
    """Rename the complete ``tmp`` to ``folder``. With ``replace`` False, a sound artefact already there
    (another process stored the same key meanwhile) is kept, so its readers are never disturbed; anything
    else there is renamed aside first (one rename each way: a reader finds the old folder, briefly none,
    or the new one, never a half-written one)."""
    try:
        os.rename(tmp, folder)
        return
    except OSError:
        if not folder.exists():
            raise
    if not replace:
        try:
            verify(folder)
            return  # an equal fit landed first: keep it (tmp is removed by the caller)
        except ArtefactError:
            pass
    aside = folder.parent / f".old-{folder.name}-{os.getpid()}-{time.monotonic_ns()}"
    os.rename(folder, aside)
    os.rename(tmp, folder)
    shutil.rmtree(aside, ignore_errors=True)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtefactError(f"{path} is missing: the artefact is partial or not an artefact") from exc
    except ValueError as exc:
        raise ArtefactError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ArtefactError(f"{path}: format {manifest.get('format')!r}, this code reads format {FORMAT}")
    return manifest


def verify(folder: str | Path) -> dict[str, Any]:
    """The manifest, after checking every file it lists is present with its checksum (ArtefactError if not)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed = manifest.get("files", {})
    if STATE_FILE not in listed:
        raise ArtefactError(f"{folder}: the manifest lists no {STATE_FILE}")
    for rel, digest in listed.items():
        path = folder / rel
        if not path.is_file():
            raise ArtefactError(f"{path} is missing (listed in the manifest)")
        if _sha256(path) != digest:
            raise ArtefactError(f"{path} is damaged: its SHA-256 differs from the one recorded when it was written")
    return manifest


def load_pipeline(folder: str | Path, train: Dataset | None = None, cache_dir: str | Path | None = None,
                  mmap: bool = False) -> Pipeline:  # fmt: skip
    """The pipeline stored in ``folder``, checked file by file; ``train`` (the data it was fitted on)
    is rebuilt from the recorded spec when not given. ArtefactError when anything does not match.
    ``mmap``: its arrays memory-mapped read-only (`read_state`)."""
    folder = Path(folder)
    manifest = verify(folder)
    if train is None:
        if manifest.get("data") is None:
            raise ArtefactError(f"{folder} records no data spec: pass the train Dataset it was fitted on")
        train, _ = DataSpec(**manifest["data"]).load(cache_dir)
    if train.fingerprint != manifest["fingerprint"]:
        raise ArtefactError(f"{folder} was fitted on data with fingerprint {manifest['fingerprint']}, "
                            f"not on {train.name!r} (fingerprint {train.fingerprint})")  # fmt: skip
    pipeline = read_state(folder, {train.fingerprint: train}, mmap=mmap)
    if not isinstance(pipeline, Pipeline):
        raise ArtefactError(f"{folder} holds a {type(pipeline).__name__}, not a Pipeline")
    return pipeline


def config_summary(config: PipelineConfig) -> str:
    sources = "+".join(config.weights)
    return f"{sources} → {config.fusion} {config.n_candidates} → {config.ranker} (seed {config.seed})"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass
class Trained:
    """What `load_or_train` returns: the pipeline, its split, and where it came from."""

    pipeline: Pipeline
    train: Dataset
    test: Dataset
    key: str
    path: Path
    loaded: bool
    seconds: float
    created: str = ""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a page or a terminal: which artefact, loaded or trained, how long it took."""
        if self.loaded:
            return f"loaded artefact {self.key} (trained {self.created}) from {self.path} in {self.seconds:.1f} s"
        return f"trained and stored artefact {self.key} at {self.path} in {self.seconds:.1f} s"


class ModelStore:
    """The artefact folders under one root (default `default_root`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"artefact key {key!r}: expected hex digits (see `workbench models`)")
        return self.root / key

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def list(self) -> pd.DataFrame:
        """One row per artefact: key, data, config summary, size, created, fit time (broken ones say so)."""
        rows = []
        for key in self.keys():
            folder = self.root / key
            try:
                m = read_manifest(folder)
                data = m.get("data") or {}
                rows.append({"key": key, "data": data.get("data", "?") + (" (small)" if data.get("small") else ""),
                             "seed": data.get("seed"), "config": m.get("config_summary", ""),
                             "size_mb": round(_size(folder) / 2**20, 1), "created": m.get("created", ""),
                             "fit_s": m.get("fit_seconds")})  # fmt: skip
            except ArtefactError as exc:
                rows.append({"key": key, "data": "?", "seed": None, "config": f"unreadable: {exc}",
                             "size_mb": round(_size(folder) / 2**20, 1), "created": "", "fit_s": None})  # fmt: skip
        return pd.DataFrame(rows, columns=["key", "data", "seed", "config", "size_mb", "created", "fit_s"])

    def remove(self, key: str) -> Path:
        folder = self.path(key)
        if not folder.is_dir():
            raise KeyError(f"no artefact {key!r} in {self.root} (it holds {self.keys() or 'none'})")
        shutil.rmtree(folder)
        return folder

    def expected_fit_seconds(self, data: str) -> float | None:
        """How long the last fit on ``data`` took here (for a progress message), if any is stored."""
        best = None
        for key in self.keys():
            try:
                m = read_manifest(self.root / key)
            except ArtefactError:
                continue
            if (m.get("data") or {}).get("data") == data and m.get("fit_seconds") is not None:
                if best is None or m["created"] > best[0]:
                    best = (m["created"], float(m["fit_seconds"]))
        return best[1] if best else None

    def load_or_train(self, spec: DataSpec, config: PipelineConfig, progress: Progress | None = None,
                      cache_dir: str | Path | None = None, mmap: bool = False) -> Trained:  # fmt: skip
        """Load the artefact matching (spec, config, code) when there is a sound one; otherwise fit,
        store and return the pipeline. A damaged or incompatible artefact is reported and replaced.
        ``mmap``: the pipeline's arrays memory-mapped from the artefact (read back after a fit too)."""
        say = progress or (lambda _msg: None)
        t0 = time.perf_counter()
        train, test = loaded(spec, cache_dir)
        key = artefact_key(spec, train.fingerprint, config)
        folder = self.path(key)
        notes: list[str] = []
        if folder.is_dir():
            try:
                pipe = loaded_pipeline(folder, train, config, mmap)
                created = read_manifest(folder)["created"]
                return Trained(pipe, train, test, key, folder, True, time.perf_counter() - t0, created)
            except ArtefactError as exc:
                note = f"artefact {key} could not be loaded ({exc}); training a new one"
                notes.append(note)
                say(note)
        expected = self.expected_fit_seconds(spec.data)
        with training(self.root, key, say, expected) as waited:  # one trainer per artefact across processes
            if waited and folder.is_dir():  # the other process stored it
                with contextlib.suppress(ArtefactError):  # (a damaged one is trained again below)
                    pipe = load_pipeline(folder, train, mmap=mmap)
                    pipe.config = config
                    return Trained(pipe, train, test, key, folder, True, time.perf_counter() - t0,
                                   read_manifest(folder)["created"])  # fmt: skip
            guess = f"about {expected:.0f} s, as the last fit here took" if expected else "no earlier fit here to go by"
            say(f"training artefact {key} on {spec.data} ({train.n_users:,} users × {train.n_items:,} items; {guess})")
            with reporting(say):  # the ranker's epochs (workbench.ranking.train)
                pipe = Pipeline(config).fit(train, progress=say)
            save_pipeline(pipe, folder, spec, key, replace=False)
            say(f"stored artefact {key} at {folder}")
            if mmap:
                pipe = load_pipeline(folder, train, mmap=True)
                pipe.config = config
        created = read_manifest(folder)["created"]
        return Trained(pipe, train, test, key, folder, False, time.perf_counter() - t0, created, tuple(notes))


def load_or_train(data: str = "synthetic", config: PipelineConfig | None = None, *, seed: int = 0,
                  small: bool = False, split: str = "temporal", progress: Progress | None = None,
                  store: ModelStore | str | Path | None = None, cache_dir: str | Path | None = None,
                  mmap: bool = False) -> Trained:  # fmt: skip
    """The fitted pipeline for (data, config, seed): from the store when it holds one, else trained now and stored.

    ``config`` defaults to ``PipelineConfig(seed=seed)``; ``progress`` receives one line per step;
    ``mmap``: the pipeline's arrays memory-mapped read-only from the artefact (`read_state`).
    """
    spec = DataSpec(data, seed, small, split)
    config = config if config is not None else PipelineConfig(seed=seed)
    if not isinstance(store, ModelStore):
        store = ModelStore(store)
    return store.load_or_train(spec, config, progress, cache_dir, mmap=mmap)
