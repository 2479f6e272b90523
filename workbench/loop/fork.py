"""Fork a loop: start a loop whose retrain cadence differs from another's at the state that loop reached.

Two loops with the same settings but ``retrain_every`` live identical days until the first day on which one
of them retrains and the other does not: every draw is seeded by (seed, day, arm, round), and the versions,
features and log are the same up to then. So the second need not live those days again: `snapshot` copies a
loop's state folder after a finished day (the event log through SQLite's backup API, so the copy is a
consistent database while the loop's writer is open), and `fork` copies that snapshot into a new state
folder with the other cadence recorded, after checking that the two schedules retrain on the same days
before it (`first_difference`). ``Loop(config, folder)`` then resumes there (`workbench.loop.engine`: a
resumed loop ends with the figures of one run straight through), so the fork's figures are those of the
loop run from day 1 (tests/loop/test_fork.py).

Page 09's retrain-cadence slider forks each cadence from its default loop's snapshot (`workbench.lessons.loop`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from workbench.loop.config import LoopConfig
from workbench.loop.engine import LOG_FILE, STATE_FILE, Loop


def retrains_on(every: int, day: int) -> bool:
    """Whether a loop retraining every ``every`` days (0: never) retrains at the start of ``day`` (0-based)."""
    return bool(every) and day > 0 and day % every == 0


def first_difference(a: int, b: int, days: int) -> int:
    """The first day (0-based, below ``days``) on which cadences ``a`` and ``b`` (0: never) differ in retraining;
    ``days`` when they never do. A loop of cadence ``a`` after that many days is also one of cadence ``b``."""
    return next((d for d in range(1, days) if retrains_on(a, d) != retrains_on(b, d)), days)


def snapshot(loop: Loop, dest: str | Path) -> Path:
    """Copy ``loop``'s state after its last finished day into the new folder ``dest`` (made atomically: a
    reader sees the whole snapshot or none). Call it between days (`Loop.step` returns with every event durable)."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"snapshot folder {dest} exists already")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for f in loop.folder.iterdir():
            if f.is_file() and not f.name.startswith(".") and not f.name.startswith(LOG_FILE):
                shutil.copy2(f, tmp / f.name)
        if (loop.folder / LOG_FILE).exists():
            src, out = sqlite3.connect(str(loop.folder / LOG_FILE)), sqlite3.connect(str(tmp / LOG_FILE))
            try:
                src.backup(out)
            finally:
                src.close()
                out.close()
        try:
            os.replace(tmp, dest)
        except OSError:  # another process made the same snapshot meanwhile: keep its copy
            if not (dest / STATE_FILE).is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def fork(source: str | Path, dest: str | Path, config: LoopConfig) -> int:
    """Copy the loop state ``source`` (a `snapshot`, or a stopped loop's folder) into ``dest`` as a loop with
    ``config``, which may differ from the recorded settings in ``retrain_every`` (and ``days``) only, and only
    when both cadences retrain on the same days before the recorded day; returns that day (days done).

    Raises ValueError naming the difference otherwise, before anything is copied."""
    source, dest = Path(source), Path(dest)
    state = json.loads((source / STATE_FILE).read_text(encoding="utf-8"))
    saved = LoopConfig.from_dict(state["config"])
    other = [d for d in saved.differences(config) if not d.startswith("retrain_every:")]
    if other:
        raise ValueError(f"fork: the loop in {source} has other settings than retrain_every: {'; '.join(other)}")
    done = int(state["done"])
    differ = first_difference(saved.retrain_every, config.retrain_every, done)
    if differ < done:
        raise ValueError(f"fork: retraining every {saved.retrain_every} and every {config.retrain_every} days differ on "
                         f"day {differ + 1}, within the {done} days the loop in {source} has lived")  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"fork: {dest} is not empty")
    for f in source.iterdir():
        if f.is_file() and f.name != STATE_FILE:
            shutil.copy2(f, dest / f.name)
    state["config"] = config.to_dict()
    (dest / STATE_FILE).write_text(json.dumps(state, indent=1, default=float), encoding="utf-8")
    return done
