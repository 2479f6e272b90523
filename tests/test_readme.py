"""Every shell command the README shows works as written.

Commands are every line of the README's ```sh blocks, and every inline code span that starts
like a command (``.venv/bin/…``, ``make …``, ``python …``, ``workbench …``, ``conda …``).
Each one must match a rule in ``RULES`` (first match wins):

- ``run``: cheap enough to run literally, from the repository root, through the shell; its
  output must show it did its job (``expect``), not just exit 0. The commands run as on a clean
  clone, in README order: no ``WORKBENCH_SMALL``, and one model store (``WORKBENCH_MODEL_STORE``)
  that starts empty and is shared by the README's commands, as the user's would be (so the
  default MovieLens pipeline is fitted once, by the first command that needs it); a rule with
  ``own_store`` gets an empty store of its own. ``env`` may add environment variables, each with
  its reason in the rule; the command line itself is never changed.
- ``check``: too expensive or long-lived to run here (servers, the whole suite, benchmarks,
  exports of every notebook); the rule's ``reason`` says why, and ``check`` verifies what can
  be verified without running it (the Makefile target, the CLI subcommand and its options,
  the files it names).

A command that matches no rule fails with a message saying how to classify it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_FENCES = ("sh", "bash", "shell")
INLINE_COMMAND = re.compile(r"^(\.venv/bin/\S+|make|python3?|conda|pip|workbench|marimo|uvicorn|curl)\s+\S")


def readme_commands(text: str) -> list[tuple[int, str]]:
    """``(line number, command)`` for each shell command in ``text`` (fenced sh blocks, then inline spans)."""
    commands, fence, pending = [], None, ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip() or "text"
            continue
        if fence in SHELL_FENCES:
            if stripped.endswith("\\"):  # continued on the next line
                pending += stripped[:-1].rstrip() + " "
                continue
            command = (pending + stripped).strip()
            pending = ""
            if command and not command.startswith("#"):
                commands.append((number, command))
        elif fence is None:
            for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", line):
                if INLINE_COMMAND.match(span.strip()):
                    commands.append((number, span.strip()))
    return commands


def without_comment(command: str) -> str:
    """The command without its trailing ``# comment`` (what the shell runs)."""
    return " ".join(shlex.split(command, comments=True))


# ---- checks for commands that are not run

def make_target(command: str) -> None:
    """``make TARGET [VAR=value]``: the Makefile has the target, and its recipe reads each VAR."""
    words = shlex.split(command, comments=True)[1:]
    makefile = (ROOT / "Makefile").read_text()
    targets = [w for w in words if "=" not in w]
    assert targets, f"{command!r}: expected a target after make"
    for target in targets:
        recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n?)*)", makefile, re.M)
        assert recipe, f"{command!r}: the Makefile has no target {target!r}"
        body = recipe.group(1)  # with the definitions of the Makefile's variables it reads (run's $(DATA_ARGS))
        for name in set(re.findall(r"\$\((\w+)\)", body)):
            body += "".join(re.findall(rf"^{name}\s*[:?]?=((?:.*\\\n)*.*)", makefile, re.M))
        for var in (w.split("=", 1)[0] for w in words if "=" in w):
            assert f"$({var})" in body, f"{command!r}: target {target!r} never reads {var}"


def cli_parses(command: str) -> None:
    """``[.venv/bin/]workbench SUBCOMMAND …``: the entry point exists, and the parser accepts the arguments."""
    from workbench.cli import build_parser

    words = shlex.split(command, comments=True)
    if words[0].startswith(".venv/"):
        assert os.access(ROOT / words[0], os.X_OK), f"{command!r}: {words[0]} is not an executable (run make test)"
    try:
        args = build_parser().parse_args(words[1:])
    except SystemExit as exc:
        pytest.fail(f"{command!r}: the workbench CLI refuses these arguments (exit status {exc.code})")
    assert callable(args.func)


def marimo_edit(command: str) -> None:
    """``.venv/bin/marimo edit FILE``: marimo is installed and the notebook exists."""
    words = shlex.split(command, comments=True)
    assert os.access(ROOT / words[0], os.X_OK), f"{command!r}: {words[0]} is not installed"
    assert (ROOT / words[2]).is_file(), f"{command!r}: no notebook {words[2]}"


def serve_reports(command: str) -> None:
    """``python -m http.server … -d DIR``: DIR is where ``workbench report`` writes by default."""
    from workbench.cli import build_parser

    words = shlex.split(command, comments=True)
    folder = words[words.index("-d") + 1]
    assert build_parser().parse_args(["report"]).out == folder, f"{command!r}: workbench report does not write to {folder}"


def conda_env(command: str) -> None:
    """``conda env create -f FILE``: the file exists and installs this package from pyproject.toml."""
    words = shlex.split(command, comments=True)
    env_file = ROOT / words[words.index("-f") + 1]
    assert env_file.is_file(), f"{command!r}: no {env_file.name}"
    assert re.search(r"^\s*- -e \.", env_file.read_text(), re.M), f"{env_file.name} does not install the package (-e .)"


@dataclass(frozen=True)
class Rule:
    pattern: str  # regex matched against the command without its comment
    kind: str  # "run" or "check"
    reason: str
    expect: tuple[str, ...] = ()  # run: regexes the output (stdout) must match
    env: dict[str, str] = field(default_factory=dict)  # run: extra environment (reason in `reason`)
    timeout: int = 300  # run: seconds; a guard against hangs, generous for a loaded machine (not a speed test)
    own_store: bool = False  # run: an empty model store of its own instead of the README's shared one
    check: Callable[[str], None] | None = None  # check: what can be verified without running


RULES = (
    Rule(r"^make (run|lab|test|bench|report)\b", "check",
         "make run and make lab serve the notebooks until Ctrl-C; make test is this suite; make bench runs minutes of "
         "benchmarks; make report exports every notebook (about 7 minutes)", check=make_target),
    Rule(r"^\.venv/bin/workbench evaluate --model pipeline\b", "run",
         "fits all three stages: about 3 minutes on the full synthetic world on 2 cores, so the test sets "
         "WORKBENCH_SMALL=1 (the command names no data set, so the small synthetic world is what it means)",
         expect=(r"pipeline on synthetic \(small world\)", r"ndcg", r"step times"), env={"WORKBENCH_SMALL": "1"},
         timeout=600),
    Rule(r"^\.venv/bin/workbench evaluate --data movielens-100k\b", "run", "one source on MovieLens-100K: seconds",
         expect=(r" on movielens-100k \(", r"ndcg", r"step times")),
    Rule(r"^\.venv/bin/workbench evaluate$", "run", "the popularity baseline on the synthetic world: seconds",
         expect=(r"popular on synthetic \(temporal split, seed 0", r"ndcg", r"no interval for")),
    Rule(r"^\.venv/bin/workbench abtest$", "run", "a simulated A/B test: seconds",
         expect=(r"A/B test 'abtest' — synthetic", r"session_time \(s\)", r"True effect")),
    Rule(r"^\.venv/bin/workbench interleave$", "run", "simulated interleaving: seconds",
         expect=(r"Interleaving on synthetic", r"Decisions:")),
    Rule(r"^\.venv/bin/workbench ope$", "run", "off-policy estimates from a simulated log: seconds",
         expect=(r"Off-policy evaluation on synthetic", r"truth \(exact", r"\bDR\b")),
    Rule(r"^(\.venv/bin/)?workbench (serve|loadtest|drill|promote|rollback)\b", "check",
         "serve is a server (runs until stopped); loadtest drives one for --duration seconds; a drill acts on a "
         "running service and its Redis or event log; promote and rollback switch a running `serve --replicas`; "
         "tests/serving runs them all against a real Redis and uvicorn", check=cli_parses),
    Rule(r"^\.venv/bin/workbench loop-seeds\b", "check",
         "one 30-day loop per seed on a Dask LocalCluster (tens of minutes per seed on 2 cores); "
         "tests/sweep/test_loops.py runs short ones on a real LocalCluster and in process", check=cli_parses),
    Rule(r"^\.venv/bin/workbench loop\b", "check",
         "30 simulated days of the whole pipeline on the synthetic world, retraining weekly (tens of minutes on 2 "
         "cores); tests/loop runs short loops on the small world against a real Redis", check=cli_parses),
    Rule(r"^\.venv/bin/workbench models$", "run", "lists the model store (an empty one of its own)",
         expect=(r"the model store {store} is empty",), own_store=True),
    Rule(r"^\.venv/bin/workbench models --remove KEY$", "check",
         "KEY is a placeholder for a key that `workbench models` lists", check=cli_parses),
    Rule(r"^\.venv/bin/workbench train --data movielens-100k$", "run",
         "fits the default pipeline on MovieLens-100K into the shared store (about a minute on 2 cores), or "
         "loads it when the notebook run before it has fitted it; prints the artefact folder",
         expect=(r"{store}/\w+",), timeout=900),
    Rule(r"^(\.venv/bin/)?workbench train\b", "check",
         "fits a whole pipeline (a minute or more on 2 cores)", check=cli_parses),
    Rule(r"^\.venv/bin/workbench sweep\b", "check",
         "1,000 rerank configs on MovieLens-100K on a Dask LocalCluster (minutes on 2 cores); tests/sweep runs "
         "small sweeps on a real LocalCluster and loads configs/sweep_rerank.toml", check=cli_parses),
    Rule(r"^(\.venv/bin/)?workbench (report|notebooks)\b", "check",
         "report exports every notebook (about 7 minutes); notebooks is a server", check=cli_parses),
    Rule(r"^\.venv/bin/python notebooks/\S+\.py\b", "run",
         "a notebook run as a script, literally (MovieLens-100K is what the command asks for; on the empty "
         "shared store it fits the default pipeline, about a minute on 2 cores); it must print what it computed",
         expect=(r"\d", r"Reproduce: .*--data movielens-100k"), timeout=900),
    Rule(r"^\.venv/bin/marimo edit \S+$", "check", "opens marimo's editor: a server", check=marimo_edit),
    Rule(r"^python -m http\.server\b", "check", "a static file server (runs until stopped)", check=serve_reports),
    Rule(r"^conda env create\b", "check", "needs conda and downloads a whole environment", check=conda_env),
)  # fmt: skip

COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def readme_store(tmp_path_factory) -> Path:
    """The model store the README's commands share: empty at the start, as on a clean clone."""
    return tmp_path_factory.mktemp("readme-store")


def rule_for(command: str) -> Rule | None:
    return next((r for r in RULES if re.search(r.pattern, without_comment(command))), None)


def test_the_readme_has_commands_of_both_kinds():
    """The extraction itself: the README's terminal block and its inline notebook command are found."""
    found = [c for _, c in COMMANDS]
    assert any(c.startswith(".venv/bin/workbench evaluate") for c in found)
    assert any(c.startswith(".venv/bin/python notebooks/") for c in found)
    assert "make test" in found
    kinds = {rule_for(c).kind for c in found if rule_for(c)}
    assert kinds == {"run", "check"}


def test_the_checks_refuse_what_does_not_exist():
    """The checks of unrun commands can fail: a missing target, variable, subcommand, option or file."""
    for check, command in ((make_target, "make deploy"), (make_target, "make run NOPE=1"),
                           (cli_parses, "workbench frobnicate"), (cli_parses, "workbench evaluate --turbo"),
                           (marimo_edit, ".venv/bin/marimo edit notebooks/99_missing.py"),
                           (serve_reports, "python -m http.server -d elsewhere"),
                           (conda_env, "conda env create -f missing.yml")):  # fmt: skip
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check(command)
    make_target("make run DATA=movielens-100k")
    cli_parses("workbench report --format marimo")


def test_extraction_of_fences_comments_and_spans():
    text = ("Run `make run DATA=x` or `make`.\n```sh\n.venv/bin/workbench evaluate \\\n  --k 5   # five\n"
            "# a comment line\n```\n```\nnot a command\n```\n```python\nimport os\n```\n")  # fmt: skip
    assert readme_commands(text) == [(1, "make run DATA=x"), (4, ".venv/bin/workbench evaluate --k 5   # five")]
    assert without_comment(".venv/bin/workbench evaluate --k 5   # five") == ".venv/bin/workbench evaluate --k 5"


@pytest.mark.slow
@pytest.mark.parametrize(("line", "command"), COMMANDS, ids=[f"L{n}:{c.split('#')[0].strip()}" for n, c in COMMANDS])
def test_readme_command(line, command, tmp_path, readme_store):
    rule = rule_for(command)
    if rule is None:
        pytest.fail(
            f"README.md line {line}: {command!r} is not classified. Add a Rule to RULES in tests/test_readme.py: "
            "kind 'run' (cheap: it runs literally; give `expect`, regexes its output must match) or kind 'check' "
            "(expensive or a server: give the `reason` and a `check` that verifies the Makefile target, CLI "
            "subcommand or files it names)."
        )
    if rule.kind == "check":
        assert rule.reason and rule.check is not None
        rule.check(command)
        return
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_SMALL"}
    store = tmp_path / "store" if rule.own_store else readme_store
    env["WORKBENCH_MODEL_STORE"] = str(store)
    env.update(rule.env)
    try:
        done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=rule.timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"README.md line {line}: {command!r} ran past {rule.timeout} s")
    tail = f"\n--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"README.md line {line}: {command!r} exited with {done.returncode}{tail}"
    for pattern in rule.expect:
        pattern = pattern.replace("{store}", re.escape(str(store)))
        assert re.search(pattern, done.stdout), f"README.md line {line}: {command!r} printed no {pattern!r}{tail}"
