"""A learner's typed answers to the 'Your turn' exercises: kept on disk, turned into functions.

On a served page (``marimo run``, what ``make run`` opens) no code cell can be edited, so each
exercise offers a code box (`workbench.lessons.exercises.editor`). What the learner types there is
saved to ``<folder>/<exercise>.py`` on every change and shown again in the box after a reload.
The folder is ``data/answers/`` (git-ignored, like everything under ``data/``), or
``$WORKBENCH_ANSWERS``; the tracked notebooks are never written.

- `load` / `save`: the saved text of one exercise (``None`` when there is none); saving the
  starter text (or nothing) removes the file, so a reset box opens on the starter again.
- `define`: the learner's text executed in a fresh namespace, returning the function it defines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSWERS_ENV = "WORKBENCH_ANSWERS"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def folder() -> Path:
    """Where typed answers live: ``$WORKBENCH_ANSWERS``, else ``data/answers`` in the project."""
    return Path(os.environ.get(ANSWERS_ENV) or ROOT / "data" / "answers")


def shown_folder() -> str:
    """`folder` as a page names it: relative to the project when inside it."""
    path = folder().resolve()
    return str(path.relative_to(ROOT)) + "/" if path.is_relative_to(ROOT) else str(path)


def _path(name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise ValueError(f"exercise name {name!r}: expected lower-case letters, digits and underscores")
    return folder() / f"{name}.py"


def load(name: str) -> str | None:
    """The learner's saved text for exercise ``name``, or None."""
    path = _path(name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def save(name: str, text: str, starter: str = "") -> None:
    """Keep ``text`` as the answer to ``name``; the starter text (or blank) removes the saved answer."""
    path = _path(name)
    if not text.strip() or text.strip() == starter.strip():
        path.unlink(missing_ok=True)
        return
    if load(name) == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a reload never reads half a file


def define(text: str, function: str, scope: Mapping[str, Any]) -> Callable[..., Any]:
    """Execute the learner's ``text`` in a copy of ``scope`` and return the function named ``function``.

    Raises SyntaxError as Python does, and TypeError when the text defines no such function."""
    namespace = dict(scope)
    exec(compile(text, f"<your {function}>", "exec"), namespace)  # noqa: S102 - the learner's own code, in their kernel
    fn = namespace.get(function)
    if not callable(fn):
        raise TypeError(f"your code defines no function named {function}")
    return fn
