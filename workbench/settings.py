"""One strict way to read settings from a file: types, ranges and cross-field rules, each error
naming the file and the dotted key, before any data is loaded.

Every config the project reads (the pipeline with its ``[train]``, ``[rerank]``,
``[source_params.NAME]`` and ``[ranker_params]`` tables; the loop's TOML with its ``[alerts]`` and
``[[alerts.rules]]``; the sweep spec's ``[sweep]`` and ``[study]`` tables; the service config; the
notebook settings) is a frozen dataclass or a constructor whose ``__post_init__`` / ``__init__``
holds its ranges and cross-field rules, declared once beside the defaults. This module reads a
mapping (a TOML table; `load_file` a TOML file) into one of those:

1. unknown keys are refused, listing the expected ones;
2. each key the user wrote is validated against the field's annotation by pydantic in strict mode
   (no string for a bool or a number: ``use_quotas = "false"`` is refused, not read as True; no
   float for an integer: ``k = 10.5`` is refused; a bool is not an integer), and a float that is
   not finite (TOML's ``nan``, ``inf``) is refused;
3. the object is built, which runs its own range and cross-field checks; when one fails, each
   written key is tried alone over the defaults to name the key at fault.

A config built in Python (the service's from a command's options, the notebook's from its
arguments, a loop in a notebook) runs `check_fields` in its ``__post_init__``: the same strict
type check of each field, naming ``Class: field``.

Keys the user did not write are never validated here (their defaults are the code's), so a file
holding one key can only be refused for that key. Errors are `SettingsError` (a ``ValueError``):
``"FILE: train.lr: -0.1: expected a positive learning rate"``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)
# pydantic's error types in words (strict mode: no coercion from strings, no float for an integer)
WORDS = {"int_type": "an integer (no quotes, no decimal point)", "int_from_float": "an integer (no decimal point)",
         "float_type": "a number (no quotes)", "bool_type": "true or false (no quotes)", "string_type": "a string",
         "dict_type": "a table", "tuple_type": "an array", "list_type": "an array"}


class SettingsError(ValueError):
    """A setting that cannot work; the message names the file, the dotted key, the value and what was expected."""


def read_toml(path: str | Path, what: str = "a TOML settings file") -> dict[str, Any]:
    """The tables of the TOML file ``path``; `SettingsError` naming the file (and line) otherwise."""
    p = Path(path)
    if p.is_dir():
        raise SettingsError(f"{path}: is a directory; expected {what}")
    if not p.is_file():
        raise SettingsError(f"{path}: no such file; expected {what}")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line L, column C)"
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected {what}") from None


def key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _tuples(value: Any) -> Any:
    """TOML arrays as tuples (the configs' sequence fields are tuples)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (tuple, list)):
        return all(_finite(v) for v in value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    return True


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter:
    """One strict validator per annotation (building one costs about a millisecond; a sweep reads
    thousands of configs)."""
    return TypeAdapter(annotation, config=STRICT)


def check_type(annotation: Any, value: Any, source: str, dotted: str) -> Any:
    """``value`` validated strictly against ``annotation`` (pydantic); the validated value. A field
    whose type is itself a dataclass (e.g. content's ``index: AnnConfig``) is read as a nested table."""
    if inspect.isclass(annotation) and dataclasses.is_dataclass(annotation):
        return value if isinstance(value, annotation) else load(annotation, value, source, dotted)
    item = _table_items(annotation)
    if item is not None:  # an array of tables (e.g. the loop's ``[[alerts.rules]]``): each one read as a table
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{source}: {dotted}: {_describe(value)}: expected an array of tables")
        return tuple(check_type(item, v, source, f"{dotted}[{i}]") for i, v in enumerate(value))
    value = _tuples(value)
    try:
        out = _adapter(annotation).validate_python(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int) or len(err["loc"]) > 1)
        where = key(dotted, where) if where else dotted
        shown = WORDS.get(err["type"], err["msg"][0].lower() + err["msg"][1:])
        raise SettingsError(f"{source}: {where}: {_describe(err['input'])}: expected {shown}") from None
    if not _finite(out):
        raise SettingsError(f"{source}: {dotted}: {value!r}: expected a finite number")
    return out


def _table_items(annotation: Any) -> Any:
    """The dataclass ``D`` of a ``tuple[D, ...]`` annotation, else None."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0] if inspect.isclass(args[0]) and dataclasses.is_dataclass(args[0]) else None
    return None


@functools.cache
def _hints(target: type | Callable) -> dict[str, Any]:
    """Field name → annotation of a dataclass, or parameter → annotation of a constructor (read-only)."""
    if dataclasses.is_dataclass(target):
        hints = typing.get_type_hints(target)
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(target) if f.init}
    fn = target.__init__ if inspect.isclass(target) else target
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    return {n: hints.get(n, Any) for n, p in params.items()
            if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}  # fmt: skip


def check_keys(raw: Any, known: typing.Iterable[str], source: str, prefix: str, what: str) -> None:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{source}: {prefix or 'the file'}: {_describe(raw)}: expected a table of {what}")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        where = ", ".join(key(prefix, u) for u in unknown)
        raise SettingsError(f"{source}: {where}: unknown {what} {unknown}; expected some of {sorted(known)}")


def typed(target: type | Callable, raw: Mapping[str, Any], source: str, prefix: str, what: str,
          skip: typing.Iterable[str] = ()) -> dict[str, Any]:  # fmt: skip
    """``raw``'s keys checked against ``target``'s fields (unknown keys refused) and each value
    type-checked strictly; ``skip``: keys left for the caller to check (nested tables)."""
    hints = _hints(target)
    check_keys(raw, hints, source, prefix, what)
    skip = set(skip)
    return {k: v if k in skip else check_type(hints[k], v, source, key(prefix, k)) for k, v in raw.items()}


def build(target: type | Callable, values: Mapping[str, Any], source: str, prefix: str) -> Any:
    """``target(**values)``; a failed range or cross-field check names the written key at fault
    (each key tried alone over the defaults), else every key written."""
    try:
        return target(**values)
    except (TypeError, ValueError) as exc:
        culprits = []
        for name, value in values.items():
            try:
                target(**{name: value})
            except (TypeError, ValueError):
                culprits.append(name)
        where = ", ".join(key(prefix, n) for n in (culprits or list(values))) or prefix or "settings"
        raise SettingsError(f"{source}: {where}: {exc}") from None


def load(target: type | Callable, raw: Mapping[str, Any], source: str, prefix: str = "",
         what: str = "setting(s)") -> Any:  # fmt: skip
    """``target`` built from the mapping ``raw`` (types, then ranges and cross-field rules)."""
    return build(target, typed(target, raw, source, prefix, what), source, prefix)


def load_file(target: type | Callable, path: str | Path, what: str) -> Any:
    """``target`` built from the TOML file ``path`` (`read_toml`, then `load`); errors name the file and the key."""
    return load(target, read_toml(path, what), str(path))


def check_fields(obj: Any, names: typing.Iterable[str] | None = None) -> None:
    """Every field of the dataclass instance ``obj`` (or those in ``names``) checked strictly against its
    annotation, as a file's value would be (`check_type`): for a config built in Python (``__post_init__``),
    so ``ServiceConfig(ranker_budget_ms=nan)`` or ``seed="3"`` are refused as in a file. `SettingsError`
    naming ``Class.field``. A numpy scalar is replaced by its Python value (np.int64 is an integer, np.bool_ a bool)."""
    cls = type(obj)
    hints = _hints(cls)
    for name in hints if names is None else names:
        value = getattr(obj, name)
        if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            value = value.item()  # a numpy scalar (a seed from ``range`` over an array, a slider's value): the Python one
            object.__setattr__(obj, name, value)
        if check_type(hints[name], value, cls.__name__, name) != value:  # a table or a list where an object belongs
            raise SettingsError(f"{cls.__name__}: {name}: {_describe(value)}: expected {hints[name]}")
