"""No import cycles among the modules of ``workbench``, lazy imports (inside functions) included.

An AST walk (nothing is imported): every ``import workbench.x`` and ``from workbench.x import y``
anywhere in a module, except under ``if TYPE_CHECKING:``, is an edge from that module to the
deepest ``workbench`` module it names. Two modules are in a cycle when each reaches the other.
A package and its own submodules are exempt from each other (``__init__`` re-exports them).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules(root: Path, package: str = "workbench") -> dict[str, Path]:
    out = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(root: Path, package: str = "workbench") -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports (module level or lazily)."""
    mods = modules(root, package)

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        here = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        typing_only = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                       and getattr(branch.test, "id", getattr(branch.test, "attr", "")) == "TYPE_CHECKING"
                       for node in ast.walk(branch)}  # fmt: skip
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [origin] + [f"{origin}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target == package or target.startswith(package + "."):
                    found = resolve(target)
                    if found and found != mod:
                        edges[mod].add(found)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Pairs of modules each of which reaches the other (a package and its submodules excepted)."""

    def reach(start: str) -> set[str]:
        seen, stack = set(), [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    reachable = {m: reach(m) for m in edges}
    return sorted({tuple(sorted((a, b))) for a in edges for b in edges[a]
                   if a in reachable[b] and not (b.startswith(a + ".") or a.startswith(b + "."))})  # fmt: skip


def test_no_import_cycles_among_workbench_modules():
    found = cycles(import_graph(ROOT))
    assert found == [], "import cycles (a lazy import counts too): " + "; ".join(f"{a} <-> {b}" for a, b in found)


def test_the_walk_finds_a_planted_cycle_lazy_or_relative(tmp_path):
    pkg = tmp_path / "workbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from workbench.sub.low import f\n")
    (pkg / "sub" / "low.py").write_text("def f():\n    from ..high import g  # lazy and relative\n    return g\n")
    (pkg / "high.py").write_text("from workbench.sub import low\n\ndef g():\n    return low\n")
    (pkg / "typed.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import workbench.high\n")
    edges = import_graph(tmp_path)
    assert edges["workbench.sub.low"] == {"workbench.high"}
    assert edges["workbench.typed"] == set()  # type hints only: not an import at run time
    # high imports the package sub, whose __init__ imports low, which imports high
    assert cycles(edges) == [("workbench.high", "workbench.sub"), ("workbench.high", "workbench.sub.low")]


def test_every_submodule_name_is_the_submodule():
    """A package that re-exports a function under its submodule's name (``rerank.mmr``) makes
    ``import workbench.rerank.mmr as m`` yield the function (``rerank.mmr``, ``metrics.evaluate``
    and ``sweep.frontier`` were such cases; callers import the function from its module). None
    may remain."""
    import importlib
    import inspect

    shadowed = []
    for name, path in modules(ROOT).items():
        if path.name == "__init__.py" or name.count(".") < 2:
            continue
        parent, _, leaf = name.rpartition(".")
        importlib.import_module(name)
        if not inspect.ismodule(getattr(importlib.import_module(parent), leaf)):
            shadowed.append(name)
    assert shadowed == []
    import workbench.metrics.evaluate as evaluate_module
    import workbench.rerank.mmr as mmr_module
    import workbench.sweep.frontier as frontier_module

    for module, function in ((mmr_module, "mmr"), (evaluate_module, "evaluate"), (frontier_module, "frontier")):
        assert inspect.ismodule(module) and callable(getattr(module, function))
