"""The project's set-up files agree with each other (one source of truth: pyproject.toml)."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())


def env_pip_lines():
    return next(d["pip"] for d in ENV["dependencies"] if isinstance(d, dict))


def test_environment_python_satisfies_requires_python():
    python = next(d for d in ENV["dependencies"] if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[-1]
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version + ".0")


def test_environment_installs_the_package_with_existing_extras_and_nothing_else():
    lines = env_pip_lines()
    editable = [line for line in lines if line.startswith("-e .")]
    assert len(editable) == 1
    extras = set(re.search(r"\[(.*)\]", editable[0]).group(1).split(","))
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    others = [Requirement(line) for line in lines if not line.startswith("-e")]
    assert [r.name for r in others] == ["torch"], "only the torch pin may be listed outside pyproject.toml"


def test_torch_pin_is_accepted_by_the_project_and_matches_the_makefile():
    torch_req = next(Requirement(d) for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    pinned = next(Requirement(line) for line in env_pip_lines() if line.startswith("torch"))
    version = str(pinned.specifier).removeprefix("==")
    assert torch_req.specifier.contains(version)
    makefile = (ROOT / "Makefile").read_text()
    assert f"torch=={version}" in makefile
    extras = re.search(r"^EXTRAS := (.*)$", makefile, re.M).group(1).split(",")
    env_extras = re.search(r"\[(.*)\]", next(x for x in env_pip_lines() if x.startswith("-e"))).group(1).split(",")
    assert sorted(extras) == sorted(env_extras)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    commands = [c.split("#")[0].strip() for c in first_block if c and not c.startswith("#")]
    assert commands == ["make run", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_layout_names_every_package_and_every_notebook():
    """A newcomer reads the README's Layout and notebook table: each package and notebook is on them."""
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[: layout.index("\n## ")]
    packages = sorted(p.parent.name for p in (ROOT / "workbench").glob("*/__init__.py"))
    assert packages, "no packages found under workbench/"
    missing = [name for name in packages if f"workbench/{name} " not in layout]
    assert not missing, f"README Layout lacks packages {missing}"
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    table = [name for name in notebooks if f"| `{name}` |" in readme]
    assert table == notebooks, f"README's notebook table lacks {sorted(set(notebooks) - set(table))}"


LONG = 500  # lines: a module in workbench/ longer than this says why in its docstring
REASON = re.compile(r"over 500 lines\W+(\w.{39,})", re.IGNORECASE | re.DOTALL)


def long_without_reason(root: Path) -> list[str]:
    """Modules under ``root`` over `LONG` lines whose docstring gives no reason: "Over 500 lines: <why>"
    (at least a clause: 40 characters after the words)."""
    import ast

    out = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > LONG and not REASON.search(ast.get_docstring(ast.parse(text)) or ""):
            out.append(f"{path.relative_to(root.parent)}: {len(text.splitlines())} lines")
    return out


def test_no_module_over_500_lines_without_a_reason_in_its_docstring(tmp_path):
    assert long_without_reason(ROOT / "workbench") == []
    # the check itself: a long module is flagged until its docstring says why (a bare "over 500 lines" is no reason)
    package = tmp_path / "pkg"
    package.mkdir()
    body = "x = 1\n" * LONG
    (package / "short.py").write_text('"""Short."""\n' + "x = 1\n" * (LONG - 1))
    (package / "long.py").write_text('"""Long. Over 500 lines."""\n' + body)
    (package / "why.py").write_text('"""Long.\n\nOver 500 lines: one registry, each entry\'s text and check side by side."""\n' + body)
    assert long_without_reason(package) == [f"pkg/long.py: {LONG + 1} lines"]
