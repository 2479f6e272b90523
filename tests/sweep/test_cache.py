"""The per-worker cache both sweep tasks and studies use (workbench.sweep.cache)."""

from __future__ import annotations

import ast
from pathlib import Path

from workbench.sweep import cache

ROOT = Path(__file__).resolve().parents[2]


def test_cached_makes_once_and_drops_the_least_recently_used():
    made = []
    tag = object()  # keys no other test uses

    def make(v):
        return lambda: made.append(v) or v

    for i in range(cache.CACHE_SIZE):  # fills the cache with this test's keys alone
        assert cache.cached((tag, i), make(i)) == i
    assert cache.cached((tag, 0), make(-1)) == 0  # a hit: not made again, and now the most recent
    cache.cached((tag, "new"), make("new"))  # evicts (tag, 1), the least recently used
    assert cache.cached((tag, 0), make(-2)) == 0
    assert cache.cached((tag, 1), make(11)) == 11
    assert made == [*range(cache.CACHE_SIZE), "new", 11]
    before = cache.cache_stats()["loads"]
    cache.count("loads")
    cache.count("loads")
    assert cache.cache_stats()["loads"] == before + 2


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_studies_does_not_import_tasks():
    """tasks imports studies (its STUDIES); studies only the cache: no circle between them, lazy or not."""
    assert "workbench.sweep.studies" in imported(ROOT / "workbench/sweep/tasks.py")
    assert not {"workbench.sweep.tasks", "workbench.sweep.runner"} & imported(ROOT / "workbench/sweep/studies.py")
    assert not {"workbench.sweep.tasks", "workbench.sweep.studies"} & imported(ROOT / "workbench/sweep/cache.py")
