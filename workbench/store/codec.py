"""Fitted objects to files and back, without pickle: nothing in an artefact is ever executed.

`write_state(obj, folder)` walks a fitted object (a `Pipeline`, a source, a ranker…) and
writes what it finds in the form each kind of value has a standard, code-free format for:

=========================  ==============================================================
value                      stored as
=========================  ==============================================================
None, bool, int, float,    JSON (tuples, sets and non-string dict keys tagged so they
str, list, tuple, dict     come back as the same type)
numpy array / scalar       ``arrays/<n>.npy`` (``allow_pickle=False``) / tagged JSON
scipy.sparse CSR/CSC       its index arrays as ``.npy``
torch ``nn.Module``        its ``state_dict`` in ``torch.pt`` + constructor arguments as JSON
                           (the class must be `workbench.rebuildable.rebuildable`)
torch tensor               ``torch.pt`` (read back with ``torch.load(weights_only=True)``)
FAISS index                ``faiss/<n>.index`` via ``faiss.write_index`` (+ HNSW efSearch,
                           IVF nprobe, which FAISS keeps outside the file)
LightGBM booster           ``lightgbm/<n>.txt``, its text model format
a `Dataset`                a reference by fingerprint: the caller supplies the data on load
an object or dataclass     its attributes, recursively, with its class name; only classes
of the workbench package   defined in ``workbench.*`` modules are accepted on load
=========================  ==============================================================

An object reached twice (the train matrix every source keeps) is written once and comes
back shared. Anything else (a lambda, an open file, a pandas frame) is refused when
*writing*, naming the attribute path, so an artefact that was written can always be read.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from workbench.data.dataset import Dataset

TAG = "$"  # every non-JSON value is a dict with this key naming its kind
STATE_FILE = "state.json"
TORCH_FILE = "torch.pt"


class ArtefactError(RuntimeError):
    """An artefact is corrupt, partial or incompatible with this code; the message says which file and why."""


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _workbench_class(path: str) -> type:
    """The class ``module:qualname``, only from the workbench package (never arbitrary code)."""
    module, _, qualname = path.partition(":")
    if not (module == "workbench" or module.startswith("workbench.")):
        raise ArtefactError(f"refusing class {path!r}: an artefact may only name classes of the workbench package")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ArtefactError(f"class {path!r} named by the artefact does not exist in this code ({exc})") from exc
    if not isinstance(obj, type) or obj.__module__ != module:
        raise ArtefactError(f"{path!r} is not a class defined in {module}")
    return obj


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # holds every memoised object so ids stay unique while writing
        self.torch: dict[str, Any] = {}
        self.datasets: dict[str, str] = {}

    def _new_id(self, obj: Any) -> int:
        n = len(self.memo)
        self.memo[id(obj)] = n
        self.keep.append(obj)
        return n

    def _file(self, sub: str, name: str) -> Path:
        path = self.folder / sub / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def encode(self, obj: Any, path: str) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)) and type(obj) in (bool, int, float, str):
            return obj
        if isinstance(obj, np.generic):
            return {TAG: "np_scalar", "dtype": obj.dtype.str, "value": obj.item()}
        if isinstance(obj, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return {TAG: "tuple", "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            items = sorted(obj, key=repr)
            return {TAG: type(obj).__name__, "items": [self.encode(v, f"{path}{{}}") for v in items]}
        if isinstance(obj, dict) and type(obj) is dict:
            if all(type(k) is str and k != TAG for k in obj):
                return {k: self.encode(v, f"{path}[{k!r}]") for k, v in obj.items()}
            return {TAG: "dict", "items": [[self.encode(k, f"{path}.key"), self.encode(v, f"{path}[{k!r}]")]
                                           for k, v in obj.items()]}  # fmt: skip
        if id(obj) in self.memo:
            return {TAG: "ref", "id": self.memo[id(obj)]}
        return self._encode_shared(obj, path)

    def _encode_shared(self, obj: Any, path: str) -> dict[str, Any]:
        """Values that may be reached more than once: written once, referenced after."""
        import faiss
        import torch

        if isinstance(obj, Dataset):
            n = self._new_id(obj)
            self.datasets[obj.fingerprint] = obj.name
            return {TAG: "dataset", "id": n, "fingerprint": obj.fingerprint, "name": obj.name}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"{path}: a numpy array of Python objects cannot be stored without pickle")
            n = self._new_id(obj)
            np.save(self._file("arrays", f"{n}.npy"), obj, allow_pickle=False)
            return {TAG: "ndarray", "id": n, "file": f"arrays/{n}.npy"}
        if sp.issparse(obj):
            if obj.format not in ("csr", "csc"):
                raise TypeError(f"{path}: sparse format {obj.format!r} is not stored; convert to CSR")
            n = self._new_id(obj)
            parts = {}
            for part in ("data", "indices", "indptr"):
                np.save(self._file("arrays", f"{n}.{part}.npy"), getattr(obj, part), allow_pickle=False)
                parts[part] = f"arrays/{n}.{part}.npy"
            return {TAG: "sparse", "id": n, "format": obj.format, "shape": list(obj.shape),
                    "sorted": bool(obj.has_sorted_indices), **parts}  # fmt: skip
        if isinstance(obj, torch.nn.Module):
            args = getattr(obj, "_init_args", None)
            if args is None:
                raise TypeError(f"{path}: torch module {_class_path(type(obj))} is not @rebuildable "
                                "(workbench.rebuildable), so its shapes cannot be rebuilt without pickle")  # fmt: skip
            n = self._new_id(obj)
            self.torch[f"module{n}"] = {k: v.detach().clone() for k, v in obj.state_dict().items()}
            return {TAG: "torch_module", "id": n, "class": _class_path(type(obj)), "training": obj.training,
                    "args": self.encode(list(args[0]), f"{path}.args"),
                    "kwargs": self.encode(dict(args[1]), f"{path}.kwargs")}  # fmt: skip
        if isinstance(obj, torch.Tensor):
            n = self._new_id(obj)
            self.torch[f"tensor{n}"] = obj.detach().clone()
            return {TAG: "torch_tensor", "id": n, "requires_grad": obj.requires_grad}
        if isinstance(obj, faiss.Index):
            n = self._new_id(obj)
            faiss.write_index(obj, str(self._file("faiss", f"{n}.index")))
            runtime = {}
            if isinstance(obj, faiss.IndexHNSW):
                runtime["ef_search"] = int(obj.hnsw.efSearch)
            if isinstance(obj, faiss.IndexIVF):
                runtime["nprobe"] = int(obj.nprobe)
            return {TAG: "faiss", "id": n, "file": f"faiss/{n}.index", **runtime}
        if type(obj).__module__.startswith("lightgbm") and type(obj).__name__ == "Booster":
            n = self._new_id(obj)
            self._file("lightgbm", f"{n}.txt").write_text(obj.model_to_string(), encoding="utf-8")
            return {TAG: "lightgbm", "id": n, "file": f"lightgbm/{n}.txt"}
        module = type(obj).__module__
        if (module == "workbench" or module.startswith("workbench.")) and hasattr(obj, "__dict__"):
            n = self._new_id(obj)
            kind = "dataclass" if dataclasses.is_dataclass(obj) else "object"
            state = {k: self.encode(v, f"{path}.{k}") for k, v in vars(obj).items()}
            return {TAG: kind, "id": n, "class": _class_path(type(obj)), "state": state}
        raise TypeError(f"{path}: cannot store a {_class_path(type(obj))} without pickle")


def write_state(obj: Any, folder: str | Path) -> dict[str, str]:
    """Write ``obj`` into ``folder`` (``state.json`` + array/model files); return the datasets it
    references (fingerprint → name), which the reader must supply."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(folder)
    root = writer.encode(obj, "root")
    if writer.torch:
        torch.save(writer.torch, folder / TORCH_FILE)
    (folder / STATE_FILE).write_text(json.dumps({"root": root}, allow_nan=True), encoding="utf-8")
    return writer.datasets


class _Reader:
    def __init__(self, folder: Path, datasets: dict[str, Dataset], mmap: bool = False) -> None:
        self.folder = folder
        self.mmap_mode = "r" if mmap else None
        self.datasets = datasets
        self.memo: dict[int, Any] = {}
        self._torch: dict[str, Any] | None = None

    @property
    def torch(self) -> dict[str, Any]:
        if self._torch is None:
            import torch

            path = self.folder / TORCH_FILE
            if not path.is_file():
                raise ArtefactError(f"{path} is missing")
            try:
                self._torch = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # a damaged file surfaces as any of several torch/zip errors
                raise ArtefactError(f"{path} cannot be read: {exc}") from exc
        return self._torch

    def _path(self, rel: str) -> Path:
        path = (self.folder / rel).resolve()
        if self.folder.resolve() not in path.parents:
            raise ArtefactError(f"artefact file {rel!r} points outside its folder")
        if not path.is_file():
            raise ArtefactError(f"{path} is missing")
        return path

    def _npy(self, rel: str) -> np.ndarray:
        try:
            return np.load(self._path(rel), allow_pickle=False, mmap_mode=self.mmap_mode)
        except (ValueError, OSError, EOFError) as exc:
            raise ArtefactError(f"{self.folder / rel} cannot be read: {exc}") from exc

    def decode(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            return node
        kind = node.get(TAG)
        if kind is None:
            return {k: self.decode(v) for k, v in node.items()}
        if kind == "np_scalar":
            return np.dtype(node["dtype"]).type(node["value"])
        if kind == "tuple":
            return tuple(self.decode(v) for v in node["items"])
        if kind in ("set", "frozenset"):
            return (set if kind == "set" else frozenset)(self.decode(v) for v in node["items"])
        if kind == "dict":
            return {self.decode(k): self.decode(v) for k, v in node["items"]}
        if kind == "ref":
            return self.memo[node["id"]]
        out = self._decode_shared(kind, node)
        return out

    def _keep(self, node: dict, value: Any) -> Any:
        self.memo[node["id"]] = value
        return value

    def _decode_shared(self, kind: str, node: dict) -> Any:
        if kind == "dataset":
            ds = self.datasets.get(node["fingerprint"])
            if ds is None:
                raise ArtefactError(f"the artefact was fitted on data {node['name']!r} (fingerprint {node['fingerprint']}), "
                                    f"which was not supplied (supplied: {sorted(self.datasets) or 'none'})")  # fmt: skip
            return self._keep(node, ds)
        if kind == "ndarray":
            return self._keep(node, self._npy(node["file"]))
        if kind == "sparse":
            cls = sp.csr_matrix if node["format"] == "csr" else sp.csc_matrix
            m = cls((self._npy(node["data"]), self._npy(node["indices"]), self._npy(node["indptr"])),
                    shape=tuple(node["shape"]))  # fmt: skip
            m.has_sorted_indices = node["sorted"]
            return self._keep(node, m)
        if kind == "torch_tensor":
            t = self.torch[f"tensor{node['id']}"]
            return self._keep(node, t.requires_grad_(node["requires_grad"]) if t.is_floating_point() else t)
        if kind == "torch_module":
            import torch

            cls = _workbench_class(node["class"])
            args, kwargs = self.decode(node["args"]), self.decode(node["kwargs"])
            with torch.random.fork_rng(devices=[]):  # construction draws initial weights; leave the caller's RNG alone
                module = cls(*args, **kwargs)
            try:
                module.load_state_dict(self.torch[f"module{node['id']}"], strict=True)
            except (RuntimeError, KeyError) as exc:
                raise ArtefactError(f"weights of {node['class']} do not fit this code: {exc}") from exc
            module.train(node["training"])
            return self._keep(node, module)
        if kind == "faiss":
            import faiss

            try:
                index = faiss.read_index(str(self._path(node["file"])))
            except RuntimeError as exc:
                raise ArtefactError(f"{self.folder / node['file']} cannot be read: {exc}") from exc
            if "ef_search" in node:
                index.hnsw.efSearch = node["ef_search"]
            if "nprobe" in node:
                index.nprobe = node["nprobe"]
            return self._keep(node, index)
        if kind == "lightgbm":
            import lightgbm

            text = self._path(node["file"]).read_text(encoding="utf-8")
            try:
                return self._keep(node, lightgbm.Booster(model_str=text))
            except lightgbm.basic.LightGBMError as exc:
                raise ArtefactError(f"{self.folder / node['file']} is not a LightGBM model: {exc}") from exc
        if kind in ("object", "dataclass"):
            cls = _workbench_class(node["class"])
            obj = cls.__new__(cls)
            self.memo[node["id"]] = obj
            obj.__dict__.update({k: self.decode(v) for k, v in node["state"].items()})
            return obj
        raise ArtefactError(f"unknown value kind {kind!r} in {self.folder / STATE_FILE}")


def read_state(folder: str | Path, datasets: dict[str, Dataset] | None = None, mmap: bool = False) -> Any:
    """Rebuild the object `write_state` wrote into ``folder``; ``datasets`` maps fingerprint → Dataset
    for every data set it references. Raises ArtefactError for anything missing, damaged or foreign.
    ``mmap``: its ``.npy`` arrays come back memory-mapped read-only (``np.load(mmap_mode="r")``), so
    processes that load the same artefact share those pages (the served replicas)."""
    folder = Path(folder)
    path = folder / STATE_FILE
    try:
        root = json.loads(path.read_text(encoding="utf-8"))["root"]
    except FileNotFoundError as exc:
        raise ArtefactError(f"{path} is missing") from exc
    except (ValueError, KeyError) as exc:
        raise ArtefactError(f"{path} is not a stored state: {exc}") from exc
    return _Reader(folder, datasets or {}, mmap).decode(root)
