"""'Your turn' exercises: the learner writes a small function, a check runs it against the package.

Each `Exercise` names a function the learner writes in a notebook cell (its signature and a
starter body that is not yet right), the package's own implementation to compare it with
(``reference``, same signature), random cases drawn from a seeded generator, the textbook's
worked example where there is one, a hint and a solution. `check` runs the learner's function on
the worked example first, then on the random cases, and stops at the first disagreement;
`show` turns that into what a notebook page shows: pass or fail, the first failing case with the
expected and the returned value, the hint, and the solution in a collapsed accordion.

A notebook holds three cells per exercise::

    exercises.task("ndcg_at_k")                     # the prompt (markdown)

    @app.function
    def my_ndcg_at_k(recommended, relevant, k):     # the learner's cell: starter from exercises.starter(...)
        ...

    exercises.show("ndcg_at_k", my_ndcg_at_k)       # re-runs whenever the learner's cell changes

On a served page (``marimo run``, what ``make run`` opens) no cell can be edited: `editor` gives a
code box, which the prompt cell shows under the prompt and the check cell reads (``show(name, fn,
box)``). What is typed there is checked instead of the cell's function (as soon as it differs from
the starter), and kept in a git-ignored folder across reloads (`workbench.lessons.answers`)::

    @app.cell
    def _():
        ndcg_at_k_box = exercises.editor("ndcg_at_k")
        exercises.task("ndcg_at_k", ndcg_at_k_box)
        return (ndcg_at_k_box,)

    @app.cell
    def _(ndcg_at_k_box):
        exercises.show("ndcg_at_k", my_ndcg_at_k, ndcg_at_k_box)

The prompt's "Terms" link to the glossary page ``notebooks/glossary.py`` (``?file=glossary.py&term=...``),
which the notebook server serves beside the pages; an exported report points them at docs/GLOSSARY.md.

`EXERCISES` lists them all by name; ``tests/lessons/test_exercises.py`` holds, for each, plausible
wrong answers that its check must catch and runs its solution, which must pass.

Over 500 lines because it is one registry: each exercise's text, reference and case generator sit together.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

GLOSSARY_PAGE = "?file=glossary.py&term="  # the served glossary page (notebooks/glossary.py), opened on one entry
Case = dict[str, Any]


@dataclass(frozen=True)
class Exercise:
    """One 'Your turn' exercise; see the module docstring.

    signature: the ``def`` line of the learner's function (its parameters are the cases' keys).
    starter: its first body (a plausible start that does not pass). solution: a whole passing ``def``.
    reference: the package's implementation with the same parameters. cases: ``rng -> [case, ...]``.
    worked: ``[(label, case), ...]`` checked first (the textbook's example where it has one).
    same: ``(expected, got) -> bool``; default `same_value` (floats to 1e-6, sequences element-wise).
    """

    name: str
    notebook: str
    title: str
    task: str
    signature: str
    starter: str
    hint: str
    solution: str
    reference: Callable[..., Any]
    cases: Callable[[np.random.Generator], list[Case]]
    worked: Sequence[tuple[str, Case]] = ()
    glossary: Sequence[str] = ()
    same: Callable[[Any, Any], bool] = field(default=lambda e, g: same_value(e, g))

    @property
    def function(self) -> str:
        """The learner's function name (``my_<name>``)."""
        return self.signature.split("def ", 1)[1].split("(", 1)[0]


def same_value(expected: Any, got: Any, tol: float = 1e-6) -> bool:
    """Equal within ``tol`` for numbers (NaN equals NaN), element-wise for sequences and mappings."""
    if isinstance(expected, Mapping):
        return isinstance(got, Mapping) and set(expected) == set(got) and all(same_value(expected[k], got[k], tol) for k in expected)
    if isinstance(expected, (list, tuple, np.ndarray)):
        try:
            got = list(got)
        except TypeError:
            return False
        return len(got) == len(expected) and all(same_value(e, g, tol) for e, g in zip(expected, got))
    if isinstance(expected, (float, np.floating)) or isinstance(got, (float, np.floating)):
        try:
            e, g = float(expected), float(got)
        except (TypeError, ValueError):
            return False
        return (math.isnan(e) and math.isnan(g)) or abs(e - g) <= tol * max(1.0, abs(e))
    if isinstance(expected, (int, np.integer, str, bool, np.bool_)) or expected is None:
        if isinstance(got, (float, np.floating)) and isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
            return float(got) == float(expected)
        return got == expected
    return bool(np.all(expected == got))


@dataclass(frozen=True)
class CheckResult:
    """``passed``; ``checked``: cases run; ``failure``: the first failing case (label, case, expected, got, error)."""

    name: str
    passed: bool
    checked: int
    failure: dict[str, Any] | None = None


def check(exercise: Exercise | str, fn: Callable[..., Any], n_random: int = 60, seed: int = 0) -> CheckResult:
    """Run ``fn`` on the worked example, then on ``n_random`` seeded random cases; stop at the first
    case where it disagrees with the package (or raises)."""
    ex = EXERCISES[exercise] if isinstance(exercise, str) else exercise
    if not callable(fn):
        raise ValueError(f"{ex.name}: expected a function, got {fn!r}")
    rng = np.random.default_rng(seed)
    cases = [(label, case) for label, case in ex.worked]
    drawn = []
    while len(drawn) < n_random:
        drawn += ex.cases(rng)
    cases += [(f"random case {i + 1}", case) for i, case in enumerate(drawn[:n_random])]
    for i, (label, case) in enumerate(cases):
        expected = ex.reference(**_copy(case))
        try:
            got = fn(**_copy(case))
        except Exception as err:  # the learner's code: any error is a failed case, shown with its message
            return CheckResult(ex.name, False, i + 1, {"label": label, "case": case, "expected": expected, "got": None,
                                                       "error": f"{type(err).__name__}: {err}"})  # fmt: skip
        if not ex.same(expected, got):
            return CheckResult(ex.name, False, i + 1, {"label": label, "case": case, "expected": expected, "got": got,
                                                       "error": None})  # fmt: skip
    return CheckResult(ex.name, True, len(cases))


def _copy(case: Case) -> Case:
    """A fresh copy of a case, so a function that mutates its inputs cannot change what the next call sees."""
    return {k: (v.copy() if hasattr(v, "copy") else list(v) if isinstance(v, (list, tuple)) else v) for k, v in case.items()}


def _shown(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, separator=", ")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]" if isinstance(value, list) else "(" + ", ".join(_shown(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_shown(k)}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, set):
        return "{" + ", ".join(sorted(map(_shown, value))) + "}"
    return repr(value)


def describe(result: CheckResult) -> str:
    """One line of plain text: passed on N cases, or the first failing case."""
    ex = EXERCISES[result.name]
    if result.passed:
        return f"Your turn ({ex.title}): passed, your {ex.function} agrees with the package on all {result.checked} cases."
    f = result.failure or {}
    args = ", ".join(f"{k}={_shown(v)}" for k, v in f.get("case", {}).items())
    got = f"raised {f['error']}" if f.get("error") else f"returned {_shown(f.get('got'))}"
    return (f"Your turn ({ex.title}): not yet. {f.get('label', 'a case')}: {ex.function}({args}) {got}; "
            f"the package gives {_shown(f.get('expected'))}.")


def served() -> bool:
    """True on a page served by ``marimo run`` (no cell can be edited there; the code box stands in)."""
    import marimo as mo

    return mo.app_meta().mode == "run"


def editor(name: str) -> Any:
    """The exercise's code box: the learner's saved answer (on a served page), else the starter."""
    import marimo as mo

    from workbench.lessons import answers

    saved = answers.load(name) if served() else None
    return mo.ui.code_editor(value=saved if saved is not None else starter(name), language="python",
                             min_height=120, debounce=300, label=f"Your `{EXERCISES[name].function}`")  # fmt: skip


def task(name: str, box: Any = None) -> Any:
    """The exercise's prompt as markdown (title, what to write, glossary links), with the code box
    ``box`` under it on a served page."""
    import marimo as mo

    from workbench.lessons import answers

    ex = EXERCISES[name]
    terms = ", ".join(f"[{t}]({GLOSSARY_PAGE}{_anchor(t)})" for t in ex.glossary)
    where = ("Write it in the box below; the check under it reruns as you type, and your answer is kept across "
             f"reloads in `{answers.shown_folder()}` (git-ignored; the notebook is never written)."
             if box is not None and served() else
             f"Write it in the cell below (`{ex.signature.strip()}`); the check under it reruns whenever you "
             "change the cell.")  # fmt: skip
    prompt = mo.md(f"### Your turn: {ex.title}\n\n{ex.task}\n\n{where}" + (f"\n\nTerms: {terms}." if terms else ""))
    return mo.vstack([prompt, box]) if box is not None and served() else prompt


def _anchor(term: str) -> str:
    """GitHub's heading anchor for a glossary term."""
    return "".join(c for c in term.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def starter(name: str) -> str:
    """The learner's starting cell: the signature and a body that does not pass yet."""
    ex = EXERCISES[name]
    return ex.signature + "\n" + textwrap.indent(textwrap.dedent(ex.starter).strip("\n"), "    ") + "\n"


def show(name: str, fn: Callable[..., Any], box: Any = None) -> Any:
    """What the page shows under the learner's cell: pass or fail, the first failing case, the hint, and the
    solution in a collapsed accordion. A script run prints the one-line `describe`.

    box: the exercise's `editor`; on a served page its text, once it differs from the starter, is saved
    and checked instead of ``fn``."""
    import marimo as mo

    from workbench.lessons import answers, kit

    ex = EXERCISES[name]
    if box is not None and served():
        answers.save(name, box.value, starter(name))
        if box.value.strip() != starter(name).strip():
            try:
                fn = answers.define(box.value, ex.function, {"np": np, "math": math, "unit_hash": unit_hash})
            except Exception as err:  # the learner's code: a syntax error or a missing def is a verdict
                return mo.callout(kit.show(f"✗ **Not yet** ({ex.title}): your code does not define "
                                           f"`{ex.function}`: `{type(err).__name__}: {err}`."), kind="warn")  # fmt: skip
    result = check(ex, fn)
    if result.passed:
        verdict = mo.callout(kit.show(f"✓ **Passed** ({ex.title}): your `{ex.function}` agrees with the package on all "
                                      f"{result.checked} cases (the worked example first, then random ones)."), kind="success")  # fmt: skip
    else:
        f = result.failure or {}
        rows = "\n".join(f"| `{k}` | `{_shown(v)}` |" for k, v in f.get("case", {}).items())
        got = f"raised `{f['error']}`" if f.get("error") else f"returned `{_shown(f.get('got'))}`"
        verdict = mo.callout(mo.vstack([
            kit.show(f"✗ **Not yet** ({ex.title}). First failing case ({f.get('label')}, after {result.checked - 1} that agreed): "
                     f"your `{ex.function}` {got}; the package gives `{_shown(f.get('expected'))}`."),
            mo.md(f"| input | value |\n|---|---|\n{rows}"),
            mo.md(f"**Hint:** {ex.hint}"),
        ]), kind="warn")  # fmt: skip
    solution = mo.accordion({"Show a solution": mo.md(f"```python\n{textwrap.dedent(ex.solution).strip()}\n```")})
    return mo.vstack([verdict, solution])


def solved(name: str) -> Callable[..., Any]:
    """The exercise's solution as a function (the text the accordion shows, executed)."""
    ex = EXERCISES[name]
    scope: dict[str, Any] = {"np": np, "math": math, "unit_hash": unit_hash}
    exec(textwrap.dedent(ex.solution), scope)  # noqa: S102 - our own solution text
    return scope[ex.function]


# --- the package's implementations, with the learner's parameters ---------------------------------------


def _one_user(recommended: Sequence[Any], relevant: Any) -> tuple[np.ndarray, Any]:
    """A list of labels and a set of liked labels as one row of item ids and a CSR relevance row."""
    import scipy.sparse as sp

    labels = list(dict.fromkeys([*recommended, *sorted(relevant, key=str)]))
    index = {x: i for i, x in enumerate(labels)}
    rec = np.array([[index[x] for x in recommended]], dtype=np.int64)
    cols = np.array(sorted(index[x] for x in relevant), dtype=np.int64)
    rel = sp.csr_matrix((np.ones(len(cols)), (np.zeros(len(cols), dtype=np.int64), cols)), shape=(1, max(len(labels), 1)))
    return rec, rel


def _metric(fn_name: str) -> Callable[..., float]:
    def reference(recommended: list, relevant: set, k: int) -> float:
        from workbench.metrics import accuracy

        rec, rel = _one_user(recommended, relevant)
        return float(getattr(accuracy, fn_name)(rec, rel, k)[0])

    return reference


def _list_cases(rng: np.random.Generator) -> list[Case]:
    n_items = int(rng.integers(5, 30))
    pool = [f"i{j}" for j in range(n_items)]
    length = int(rng.integers(1, n_items + 1))
    recommended = [str(x) for x in rng.choice(pool, size=length, replace=False)]
    relevant = {str(x) for x in rng.choice(pool, size=int(rng.integers(1, n_items + 1)), replace=False)}
    return [{"recommended": recommended, "relevant": relevant, "k": int(rng.integers(1, length + 1))}]


TEXTBOOK = {"recommended": ["D", "A", "E", "B", "F"], "relevant": {"A", "B", "C"}}


def _rrf_reference(lists: list[list[int]], k: float = 60.0) -> dict[int, float]:
    from workbench.candidates.fusion import fuse
    from workbench.types import CandidateSet

    width = max(len(x) for x in lists)
    sets = {}
    for s, items in enumerate(lists):
        row = np.full((1, width), -1, dtype=np.int64)
        row[0, : len(items)] = items
        scores = np.where(row >= 0, -np.arange(width, dtype=np.float32), -np.inf).astype(np.float32)
        sets[f"source {s}"] = CandidateSet(users=np.array([0]), items=row, scores=scores)
    everything = sorted({i for x in lists for i in x})
    fused = fuse(sets, len(everything), method="rrf", rrf_k=k, use_quotas=False)
    return {int(i): float(s) for i, s in zip(fused.items[0], fused.scores[0]) if i >= 0}


def _rrf_cases(rng: np.random.Generator) -> list[Case]:
    n_items = int(rng.integers(4, 15))
    lists = [rng.choice(n_items, size=int(rng.integers(1, n_items + 1)), replace=False).tolist()
             for _ in range(int(rng.integers(2, 5)))]  # fmt: skip
    return [{"lists": lists, "k": float(rng.choice([1.0, 10.0, 60.0]))}]


def _auc_reference(scores: list[float], labels: list[int]) -> float:
    import scipy.sparse as sp

    from workbench.metrics.ranking import candidate_auc

    n = len(scores)
    items = np.arange(n)[None, :]
    rel = sp.csr_matrix(np.asarray(labels, dtype=np.float64)[None, :])
    return float(candidate_auc(np.asarray(scores, dtype=np.float64)[None, :], items, rel)[0])


def _auc_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(3, 25))
    labels = (rng.random(n) < 0.3).astype(int)
    labels[:2] = (1, 0)  # at least one liked and one other candidate
    labels = rng.permutation(labels)
    scores = np.round(rng.normal(size=n) + labels * rng.random(), 1)  # rounded: ties happen
    return [{"scores": scores.tolist(), "labels": labels.tolist()}]


def _mmr_reference(relevance: list[float], vectors: list[list[float]], chosen: list[int], lam: float) -> int:
    from workbench.rerank.mmr import mmr

    n = len(relevance)
    out = mmr(np.asarray([relevance], dtype=np.float64), np.arange(n)[None, :], np.asarray(vectors, dtype=np.float64),
              np.zeros(n, dtype=np.int64), len(chosen) + 1, lam=lam, alpha=0.0, normalise=False)  # fmt: skip
    return int(out.order[0, len(chosen)])


def _mmr_cases(rng: np.random.Generator) -> list[Case]:
    from workbench.rerank.mmr import mmr

    n, d = int(rng.integers(4, 10)), int(rng.integers(2, 5))
    vectors = rng.normal(size=(n, d))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = np.round(rng.random(n), 4)
    lam = float(rng.choice([0.0, 0.3, 0.5, 0.7, 0.9, 1.0]))
    m = int(rng.integers(1, n))
    first = mmr(relevance[None, :], np.arange(n)[None, :], vectors, np.zeros(n, dtype=np.int64), m, lam=lam, alpha=0.0,
                normalise=False).order[0]  # fmt: skip
    return [{"relevance": relevance.tolist(), "vectors": vectors.tolist(), "chosen": [int(i) for i in first], "lam": lam}]


def _team_draft_reference(a: list[int], b: list[int], k: int, coins: list[bool]) -> tuple[list[int], list[str]]:
    """The package's team draft, its coin per slot replaced by ``coins`` (True: A picks first when the teams are level)."""
    from workbench.experiment.interleaving import team_draft

    class Coins(np.random.Generator):  # team_draft draws one coin per slot, rng.random(1) < 0.5 meaning A picks first
        def __init__(self) -> None:
            super().__init__(np.random.PCG64(0))
            self.slot = 0

        def random(self, size=None, dtype=np.float64, out=None):  # noqa: ARG002 - the signature team_draft calls
            value = np.full(size, 0.0 if coins[self.slot] else 1.0)
            self.slot += 1
            return value

    inter = team_draft(np.array([a]), np.array([b]), Coins(), k)
    real = inter.items[0] >= 0
    return inter.items[0][real].tolist(), ["A" if t == 0 else "B" for t in inter.team[0][real]]


def _team_draft_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(3, 12))
    a = rng.permutation(n)[: int(rng.integers(2, n + 1))].tolist()
    b = rng.permutation(n)[: int(rng.integers(2, n + 1))].tolist()
    k = int(rng.integers(1, len(set(a) | set(b)) + 1))
    return [{"a": a, "b": b, "k": k, "coins": (rng.random(k) < 0.5).tolist()}]


def _ztest_reference(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    from workbench.experiment.stats import two_proportion_ztest

    return float(two_proportion_ztest(x_a, n_a, x_b, n_b).p_value)


def _ztest_cases(rng: np.random.Generator) -> list[Case]:
    n_a, n_b = (int(x) for x in rng.integers(20, 5000, size=2))
    p = rng.uniform(0.02, 0.6)
    x_a = int(rng.binomial(n_a, p))
    x_b = int(rng.binomial(n_b, min(0.99, p * rng.uniform(0.8, 1.3))))
    return [{"x_a": x_a, "n_a": n_a, "x_b": x_b, "n_b": n_b}]


def _assign_reference(user_id: int, experiment: str, split: list[float]) -> int:
    from workbench.experiment.ab import assign

    return int(assign(np.array([user_id]), experiment, split)[0])


def _assign_cases(rng: np.random.Generator) -> list[Case]:
    splits = ([0.5, 0.5], [0.9, 0.1], [0.1, 0.9], [0.2, 0.3, 0.5], [0.5, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25])
    split = splits[int(rng.integers(len(splits)))]
    experiment = str(rng.choice(["new-ranker", "mmr-0.5", "homepage-rows", "cold-start"]))
    return [{"user_id": int(u), "experiment": experiment, "split": list(split)} for u in rng.integers(0, 10**6, size=5)]


def unit_hash(experiment: str, user_id: int) -> float:
    """The number in [0, 1) the package derives from (experiment, user): `workbench.experiment.hashing`."""
    from workbench.experiment.hashing import key64, stable_uniform

    return float(stable_uniform(key64(f"|{experiment}"), np.array([user_id]))[0])


def _ips_reference(rewards: list[float], logging_p: list[float], target_p: list[float]) -> float:
    from workbench.experiment.ope.estimators import ips

    return float(ips(np.asarray(rewards, dtype=np.float64)[:, None], np.asarray(logging_p, dtype=np.float64)[:, None],
                     np.asarray(target_p, dtype=np.float64)[:, None]).value)  # fmt: skip


def _ips_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(3, 40))
    logging_p = rng.uniform(0.05, 1.0, size=n)
    target_p = rng.uniform(0.0, 1.0, size=n)
    rewards = (rng.random(n) < 0.3).astype(float)
    return [{"rewards": rewards.tolist(), "logging_p": np.round(logging_p, 3).tolist(), "target_p": np.round(target_p, 3).tolist()}]


def _timing_reference(header: str) -> dict[str, float]:
    from workbench.serving.loadtest import parse_server_timing

    return parse_server_timing(header)


def _timing_cases(rng: np.random.Generator) -> list[Case]:
    names = ["cache", "features", "candidates", "ranking", "rerank", "total", "db"]
    parts = []
    for name in rng.choice(names, size=int(rng.integers(1, 6)), replace=False):
        dur = f"{rng.uniform(0, 80):.{int(rng.integers(0, 4))}f}"
        extra = str(rng.choice(["", ';desc="stage"', ";desc=x"]))
        parts.append(f"{name}{extra};dur={dur}" if rng.random() < 0.5 else f"{name};dur={dur}{extra}")
    if rng.random() < 0.3:
        parts.append("miss")  # an entry without a duration
    return [{"header": str(rng.choice([", ", ","])).join(parts)}]


def _p99_reference(latencies_ms: list[float]) -> float:
    import pandas as pd

    from workbench.serving.loadtest import LoadResult

    requests = pd.DataFrame({"latency_ms": latencies_ms, "status": 200})
    return float(LoadResult(rate=1.0, duration_s=1.0, requests=requests, wall_s=1.0).percentiles()["p99"])


def _p99_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(1, 400))
    return [{"latencies_ms": np.round(rng.lognormal(2.5, 0.6, size=n), 2).tolist()}]


def _egreedy_reference(means: list[float], epsilon: float, arm: int) -> float:
    """The propensity `workbench.casestudies.bandit.EpsilonGreedy` logs when it shows ``arm``."""
    from workbench.casestudies.bandit import EpsilonGreedy

    greedy = int(np.argmax(means))
    if arm != greedy and epsilon == 0:
        return 0.0  # a policy that never explores never shows another row

    class Forced(np.random.Generator):  # the draws that make the policy show ``arm``
        def __init__(self) -> None:
            super().__init__(np.random.PCG64(0))

        def random(self, size=None, dtype=np.float64, out=None):  # noqa: ARG002
            return np.full(size, 0.0 if arm != greedy else 1.0)  # explore only to reach a non-greedy arm

        def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):  # noqa: ARG002
            return np.full(size, arm)

    policy = EpsilonGreedy(len(means), 1, epsilon=epsilon)
    policy.mean_and_width = lambda x: (np.asarray([means], dtype=np.float64), np.zeros((1, len(means))))
    choice = policy.choose(np.zeros((1, 1)), Forced())
    assert int(choice.arms[0]) == arm
    return float(choice.propensity[0])


def _egreedy_cases(rng: np.random.Generator) -> list[Case]:
    k = int(rng.integers(2, 9))
    means = np.round(rng.random(k), 3)
    if rng.random() < 0.2:
        means[int(rng.integers(k))] = means.max()  # a tie for the best row: the first one is the greedy pick
    return [{"means": means.tolist(), "epsilon": float(rng.choice([0.0, 0.05, 0.1, 0.3, 1.0])), "arm": int(a)}
            for a in rng.choice(k, size=2)]


def _gini_reference(exposure: list[int]) -> float:
    from workbench.metrics.beyond import gini

    return gini(np.asarray(exposure))


def _gini_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(2, 30))
    counts = rng.zipf(1.6, size=n) - 1 if rng.random() < 0.6 else rng.integers(0, 20, size=n)
    counts[int(rng.integers(n))] += 1  # someone was shown something
    return [{"exposure": counts.astype(int).tolist()}]


def _holm_reference(p_values: list[float]) -> np.ndarray:
    from workbench.experiment.stats import holm

    return holm(p_values)


def _holm_cases(rng: np.random.Generator) -> list[Case]:
    m = int(rng.integers(1, 9))
    p = rng.beta(0.4, 2.0, size=m) if rng.random() < 0.6 else rng.random(m)  # several small, as when effects are real
    if m > 1 and rng.random() < 0.2:
        p[int(rng.integers(m))] = p[int(rng.integers(m))]  # a tie
    return [{"p_values": np.round(p, 4).tolist()}]


def _hq_reference(q: float, bounds: list[float], cumulative: list[float]) -> float:
    from workbench.loop.served import histogram_quantile

    return histogram_quantile(q, np.asarray(bounds, dtype=np.float64), np.asarray(cumulative, dtype=np.float64))


def _hq_cases(rng: np.random.Generator) -> list[Case]:
    n = int(rng.integers(1, 9))  # finite buckets, then +Inf
    bounds = np.round(np.sort(rng.choice(np.arange(1, 200), size=n, replace=False)) * 0.005, 3).tolist() + [math.inf]
    counts = rng.integers(0, 30, size=n + 1)
    counts[int(rng.integers(n + 1))] += 1  # at least one observation
    if rng.random() < 0.3:
        counts[-1] += int(rng.integers(5, 40))  # a heavy tail past the largest finite bound
    q = float(rng.choice([0.5, 0.9, 0.95, 0.99, round(float(rng.uniform(0.01, 1.0)), 3)]))
    return [{"q": q, "bounds": bounds, "cumulative": np.cumsum(counts).astype(float).tolist()}]


# --- the exercises ----------------------------------------------------------------------------------------

_LIST_HINT = "count the hits among the first k items of `recommended` (an item is a hit when it is in `relevant`)."

_EXERCISES = [
    Exercise(
        name="recall_at_k", notebook="01_tour", title="recall@k",
        task=("Recall@k is the share of a user's liked items that made it into the top k of the list. Write "
              "`my_recall_at_k(recommended, relevant, k)`: `recommended` is a list of item labels, best first; "
              "`relevant` is the set of items the user went on to like."),
        signature="def my_recall_at_k(recommended, relevant, k):",
        starter="hits = sum(1 for item in recommended[:k] if item in relevant)\nreturn hits / k  # is k the right denominator?",
        hint="recall divides by the number of liked items, len(relevant); dividing by k gives precision instead.",
        solution='''
            def my_recall_at_k(recommended, relevant, k):
                hits = sum(1 for item in recommended[:k] if item in relevant)
                return hits / len(relevant)
            ''',
        reference=_metric("recall_at_k"), cases=_list_cases,
        worked=[("the textbook's example at k = 5", {**TEXTBOOK, "k": 5})], glossary=("recall@k",),
    ),
    Exercise(
        name="rrf_scores", notebook="02_candidates", title="reciprocal-rank fusion",
        task=("Each candidate source returns its own ranked list. Reciprocal-rank fusion (RRF) scores an item "
              "by the sum, over the lists it appears in, of 1 / (k + rank), with ranks counted from 1. Write "
              "`my_rrf_scores(lists, k)`: `lists` is a list of ranked item lists, best first; return "
              "`{item: fused score}` for every item that appears anywhere."),
        signature="def my_rrf_scores(lists, k=60.0):",
        starter=("scores = {}\nfor items in lists:\n    for rank, item in enumerate(items):\n"
                 "        scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)  # which rank does the top item have?\n"
                 "return scores"),
        hint="enumerate counts from 0, but RRF's ranks count from 1: the top item of a list adds 1 / (k + 1).",
        solution='''
            def my_rrf_scores(lists, k=60.0):
                scores = {}
                for items in lists:
                    for rank, item in enumerate(items, start=1):
                        scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
                return scores
            ''',
        reference=_rrf_reference, cases=_rrf_cases,
        worked=[("two lists that agree on item 1", {"lists": [[1, 2, 3], [1, 3, 4]], "k": 60.0})],
        glossary=("RRF",),
    ),
    Exercise(
        name="auc", notebook="03_ranking", title="AUC of one user's candidates",
        task=("A ranker's AUC for one user is the probability that a random liked candidate scores above a random "
              "other candidate (a tie counts one half). Write `my_auc(scores, labels)`: `scores` are the ranker's "
              "scores of the user's candidates, `labels` 1 for the liked ones and 0 for the others."),
        signature="def my_auc(scores, labels):",
        starter=("pos = [s for s, y in zip(scores, labels) if y == 1]\nneg = [s for s, y in zip(scores, labels) if y == 0]\n"
                 "wins = sum(1 for p in pos for n in neg if p > n)  # and ties?\nreturn wins / (len(pos) * len(neg))"),
        hint="compare every (liked, other) pair: a win counts 1, a tie 1/2; divide by the number of pairs.",
        solution='''
            def my_auc(scores, labels):
                pos = [s for s, y in zip(scores, labels) if y == 1]
                neg = [s for s, y in zip(scores, labels) if y == 0]
                wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
                return wins / (len(pos) * len(neg))
            ''',
        reference=_auc_reference, cases=_auc_cases,
        worked=[("three candidates, one tie", {"scores": [0.9, 0.5, 0.5], "labels": [1, 1, 0]})],
        glossary=("AUC",),
    ),
    Exercise(
        name="mmr_pick", notebook="04_reranking", title="one MMR pick",
        task=("Maximal marginal relevance fills the slate one slot at a time: the next item is the one not yet "
              "chosen with the highest λ·relevance − (1 − λ)·(its largest cosine similarity to an item already "
              "chosen). Write `my_mmr_pick(relevance, vectors, chosen, lam)`: `relevance[i]` is item i's relevance "
              "(0–1), `vectors[i]` its unit-length feature vector, `chosen` the items already placed; return the "
              "index of the next item."),
        signature="def my_mmr_pick(relevance, vectors, chosen, lam):",
        starter=("best, best_score = None, -math.inf\nfor i, rel in enumerate(relevance):\n    if i in chosen:\n        continue\n"
                 "    penalty = sum(float(np.dot(vectors[i], vectors[j])) for j in chosen)  # sum, or the largest?\n"
                 "    score = lam * rel - (1 - lam) * penalty\n    if score > best_score:\n        best, best_score = i, score\n"
                 "return best"),
        hint="the penalty is the largest similarity to any chosen item (max), not their sum.",
        solution='''
            def my_mmr_pick(relevance, vectors, chosen, lam):
                best, best_score = None, -math.inf
                for i, rel in enumerate(relevance):
                    if i in chosen:
                        continue
                    penalty = max(float(np.dot(vectors[i], vectors[j])) for j in chosen) if chosen else 0.0
                    score = lam * rel - (1 - lam) * penalty
                    if score > best_score:
                        best, best_score = i, score
                return best
            ''',
        reference=_mmr_reference, cases=_mmr_cases,
        worked=[("two near-duplicates", {"relevance": [1.0, 0.95, 0.6], "vectors": [[1.0, 0.0], [0.995, 0.0998], [0.0, 1.0]],
                                         "chosen": [0], "lam": 0.5})],  # fmt: skip
        glossary=("MMR", "intra-list diversity"),
    ),
    Exercise(
        name="precision_at_k", notebook="05_metrics", title="precision@k",
        task=("Precision@k is the share of the top k recommendations that the user liked. Write "
              "`my_precision_at_k(recommended, relevant, k)` (a list of labels, best first; a set of liked labels)."),
        signature="def my_precision_at_k(recommended, relevant, k):",
        starter="hits = sum(1 for item in recommended if item in relevant)  # all of them, or the top k?\nreturn hits / k",
        hint=_LIST_HINT + " Divide by k.",
        solution='''
            def my_precision_at_k(recommended, relevant, k):
                return sum(1 for item in recommended[:k] if item in relevant) / k
            ''',
        reference=_metric("precision_at_k"), cases=_list_cases,
        worked=[("the textbook's example at k = 3", {**TEXTBOOK, "k": 3})], glossary=("precision@k",),
    ),
    Exercise(
        name="ndcg_at_k", notebook="05_metrics", title="NDCG@k",
        task=("NDCG@k rewards hits near the top: each hit at position p (from 1) adds 1 / log2(p + 1) (the discounted "
              "cumulative gain, DCG), and the sum is divided by the best DCG possible, with every liked item at the top "
              "(IDCG, over min(k, number liked) positions). Write `my_ndcg_at_k(recommended, relevant, k)` for binary "
              "relevance."),
        signature="def my_ndcg_at_k(recommended, relevant, k):",
        starter=("dcg = sum(1.0 for item in recommended[:k] if item in relevant)  # where is the position's discount?\n"
                 "ideal = min(k, len(relevant))\nreturn dcg / ideal"),
        hint="weigh the hit at position p by 1 / log2(p + 1), in the DCG and in the ideal DCG alike.",
        solution='''
            def my_ndcg_at_k(recommended, relevant, k):
                dcg = sum(1 / math.log2(p + 1) for p, item in enumerate(recommended[:k], start=1) if item in relevant)
                idcg = sum(1 / math.log2(p + 1) for p in range(1, min(k, len(relevant)) + 1))
                return dcg / idcg
            ''',
        reference=_metric("ndcg_at_k"), cases=_list_cases,
        worked=[("the textbook's example at k = 3 (≈ 0.2961)", {**TEXTBOOK, "k": 3})], glossary=("NDCG@k",),
    ),
    Exercise(
        name="two_proportion_p", notebook="06_ab_testing", title="a two-proportion z-test",
        task=("x_a of n_a users converted in A and x_b of n_b in B. Under the null hypothesis both arms share one rate, "
              "estimated by pooling: p = (x_a + x_b) / (n_a + n_b); the difference of the two rates over its standard "
              "error sqrt(p(1 − p)(1/n_a + 1/n_b)) is z. Write `my_two_proportion_p(x_a, n_a, x_b, n_b)` returning the "
              "two-sided p-value (use `scipy.stats.norm.sf`)."),
        signature="def my_two_proportion_p(x_a, n_a, x_b, n_b):",
        starter=("from scipy.stats import norm\n\npool = (x_a + x_b) / (n_a + n_b)\nse = math.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))\n"
                 "z = (x_b / n_b - x_a / n_a) / se\nreturn norm.sf(z)  # one tail or two?"),
        hint="a two-sided p-value counts both tails: 2 · P(Z > |z|).",
        solution='''
            def my_two_proportion_p(x_a, n_a, x_b, n_b):
                from scipy.stats import norm

                pool = (x_a + x_b) / (n_a + n_b)
                se = math.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
                if se == 0:
                    return 1.0
                z = (x_b / n_b - x_a / n_a) / se
                return 2 * norm.sf(abs(z))
            ''',
        reference=_ztest_reference, cases=_ztest_cases,
        worked=[("120 of 1,000 against 150 of 1,000", {"x_a": 120, "n_a": 1000, "x_b": 150, "n_b": 1000})],
        glossary=("p-value", "two-proportion z-test"),
    ),
    Exercise(
        name="assign_arm", notebook="06_ab_testing", title="a stable hash assignment",
        task=("A user must land in the same arm on every request, server and restart, and different experiments must "
              "split users independently. The page gives `unit_hash(experiment, user_id)`, a number in [0, 1) that "
              "depends only on its inputs (Python's `hash()` would change with every process). Write "
              "`my_assign_arm(user_id, experiment, split)` returning the arm index (0 = control) for a traffic split "
              "such as `[0.9, 0.1]` or `[0.2, 0.3, 0.5]`."),
        signature="def my_assign_arm(user_id, experiment, split):",
        starter="u = unit_hash(experiment, user_id)\nreturn int(u * len(split))  # equal shares only?",
        hint="cut [0, 1) at the running total of the shares: arm i holds u in [split[0] + … + split[i−1], … + split[i]).",
        solution='''
            def my_assign_arm(user_id, experiment, split):
                u = unit_hash(experiment, user_id)
                total = 0.0
                for arm, share in enumerate(split):
                    total += share
                    if u < total:
                        return arm
                return len(split) - 1
            ''',
        reference=_assign_reference, cases=_assign_cases,
        worked=[("user 42 in a 90/10 test", {"user_id": 42, "experiment": "new-ranker", "split": [0.9, 0.1]})],
        glossary=("A/B test", "stable hash assignment"),
    ),
    Exercise(
        name="team_draft", notebook="07_interleaving", title="a team-draft interleaving",
        task=("Team draft merges rankers A and B into one list of k items: the team that has picked fewer items picks "
              "next, its best item not yet in the list; when both have picked as many, a coin decides (`coins[slot]` "
              "True: A picks first). Write `my_team_draft(a, b, k, coins)` returning `(items, teams)`: the merged "
              "list and, per slot, 'A' or 'B' for whose pick it was. A team whose list is used up lets the other pick."),
        signature="def my_team_draft(a, b, k, coins):",
        starter=("items, teams = [], []\nwhile len(items) < k:\n    a_turn = teams.count('A') <= teams.count('B')  # and the coin?\n"
                 "    pool = a if a_turn else b\n    pick = next((x for x in pool if x not in items), None)\n"
                 "    if pick is None:\n        a_turn, pool = not a_turn, b if a_turn else a\n"
                 "        pick = next((x for x in pool if x not in items), None)\n    if pick is None:\n        break\n"
                 "    items.append(pick)\n    teams.append('A' if a_turn else 'B')\nreturn items, teams"),
        hint="when both teams have picked as many items, read coins[len(items)]: always starting with A favours A.",
        solution='''
            def my_team_draft(a, b, k, coins):
                items, teams = [], []
                while len(items) < k:
                    slot = len(items)
                    n_a, n_b = teams.count("A"), teams.count("B")
                    left_a = next((x for x in a if x not in items), None)
                    left_b = next((x for x in b if x not in items), None)
                    if left_a is None and left_b is None:
                        break
                    a_turn = left_a is not None and (left_b is None or n_a < n_b or (n_a == n_b and coins[slot]))
                    items.append(left_a if a_turn else left_b)
                    teams.append("A" if a_turn else "B")
                return items, teams
            ''',
        reference=_team_draft_reference, cases=_team_draft_cases,
        worked=[("the coin says B first", {"a": [1, 2, 3], "b": [2, 4, 1], "k": 4, "coins": [False, True, True, False]})],
        glossary=("interleaving", "team draft"),
    ),
    Exercise(
        name="server_timing", notebook="08_serving", title="read a Server-Timing header",
        task=("Each answer of `workbench serve` carries a `Server-Timing` header such as "
              "`cache;dur=0.31, candidates;desc=\"stage\";dur=4.2`: comma-separated entries, each a name and "
              "`;`-separated parameters. Write `my_server_timing(header)` returning `{name: dur}` in milliseconds "
              "(floats) for the entries that have a `dur`."),
        signature="def my_server_timing(header):",
        starter=("out = {}\nfor entry in header.split(','):\n    name, dur = entry.split(';dur=')  # is dur always last? always there?\n"
                 "    out[name.strip()] = float(dur)\nreturn out"),
        hint="split each entry on ';' and look for the parameter whose key is 'dur', wherever it is; skip entries without one.",
        solution='''
            def my_server_timing(header):
                out = {}
                for entry in header.split(","):
                    name, *params = entry.strip().split(";")
                    for param in params:
                        key, _, value = param.strip().partition("=")
                        if key == "dur" and name:
                            out[name] = float(value)
                return out
            ''',
        reference=_timing_reference, cases=_timing_cases,
        worked=[("a header with a description", {"header": 'cache;dur=0.31, candidates;desc="stage";dur=4.2'})],
        glossary=("Server-Timing", "p99 latency"),
    ),
    Exercise(
        name="p99", notebook="08_serving", title="the p99 latency",
        task=("The load test reports percentiles of the answered requests' latencies the way numpy does by default: "
              "sort them, and read the 99th percentile at fractional position 0.99·(n − 1) (from 0), interpolating "
              "linearly between the two neighbours. Write `my_p99(latencies_ms)`."),
        signature="def my_p99(latencies_ms):",
        starter="ordered = sorted(latencies_ms)\nreturn ordered[int(0.99 * len(ordered))]  # a position between two values?",
        hint="the position 0.99·(n − 1) usually falls between two sorted values: take the weighted mean of both.",
        solution='''
            def my_p99(latencies_ms):
                ordered = sorted(latencies_ms)
                pos = 0.99 * (len(ordered) - 1)
                lo = int(math.floor(pos))
                hi = min(lo + 1, len(ordered) - 1)
                return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])
            ''',
        reference=_p99_reference, cases=_p99_cases,
        worked=[("five requests", {"latencies_ms": [12.0, 15.0, 11.0, 240.0, 13.0]})], glossary=("p99 latency",),
    ),
    Exercise(
        name="ips", notebook="10_off_policy", title="the IPS estimate",
        task=("A log records, for each impression, the reward (a click: 1 or 0), the probability that the logging policy "
              "showed what it showed, and the probability that the target policy would have shown it. Inverse "
              "propensity scoring (IPS) estimates the target's mean reward as the mean of reward × target_p / logging_p. "
              "Write `my_ips(rewards, logging_p, target_p)`."),
        signature="def my_ips(rewards, logging_p, target_p):",
        starter=("weights = [t / p for t, p in zip(target_p, logging_p)]\n"
                 "return sum(w * r for w, r in zip(weights, rewards)) / sum(weights)  # the mean over impressions?"),
        hint="IPS divides by the number of impressions; dividing by the sum of the weights is SNIPS, another estimator.",
        solution='''
            def my_ips(rewards, logging_p, target_p):
                return sum(r * t / p for r, p, t in zip(rewards, logging_p, target_p)) / len(rewards)
            ''',
        reference=_ips_reference, cases=_ips_cases,
        worked=[("three impressions", {"rewards": [1.0, 0.0, 1.0], "logging_p": [0.5, 0.25, 0.8],
                                       "target_p": [1.0, 0.5, 0.2]})],  # fmt: skip
        glossary=("IPS", "propensity"),
    ),
]
_EXERCISES.append(Exercise(
    name="egreedy_propensity", notebook="11_case_studies", title="an ε-greedy propensity",
    task=("Netflix-style row ordering as a bandit: an ε-greedy policy shows the row with the highest estimated "
          "click rate (the first one on a tie), except that with probability ε it shows a row drawn uniformly from "
          "all K rows. Off-policy evaluation needs the probability of what was shown. Write "
          "`my_egreedy_propensity(means, epsilon, arm)`: the probability that the policy shows row `arm`."),
    signature="def my_egreedy_propensity(means, epsilon, arm):",
    starter=("greedy = max(range(len(means)), key=lambda a: means[a])\n"
             "return 1 - epsilon if arm == greedy else epsilon / len(means)  # can exploring land on the greedy row?"),
    hint="exploring picks uniformly among all K rows, the greedy one included: it gets 1 − ε + ε/K.",
    solution='''
        def my_egreedy_propensity(means, epsilon, arm):
            greedy = int(np.argmax(means))
            return (1 - epsilon + epsilon / len(means)) if arm == greedy else epsilon / len(means)
        ''',
    reference=_egreedy_reference, cases=_egreedy_cases,
    worked=[("four rows, ε = 0.1", {"means": [0.12, 0.30, 0.25, 0.05], "epsilon": 0.1, "arm": 1})],
    glossary=("Exploration", "Propensity"),
))
_EXERCISES.append(Exercise(
    name="exposure_gini", notebook="09_feedback_loop", title="the exposure Gini",
    task=("A recommender that retrains on its own clicks can pile its slots onto a few items. The exposure Gini "
          "measures how unequal the exposure is: 0 when every item is shown equally often, near 1 when a few take "
          "it all. With the counts sorted ascending, x_1 ≤ … ≤ x_n, it is Σ (2i − n − 1)·x_i / (n·Σ x). Write "
          "`my_gini(exposure)`: `exposure[j]` is how often item j was shown (items never shown count, as 0)."),
    signature="def my_gini(exposure):",
    starter=("x = list(exposure)  # in which order must the counts be?\nn = len(x)\n"
             "return sum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * sum(x))"),
    hint="sort the counts ascending first: the formula weighs the i-th smallest count.",
    solution='''
        def my_gini(exposure):
            x = sorted(exposure)
            n = len(x)
            return sum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * sum(x))
        ''',
    reference=_gini_reference, cases=_gini_cases,
    worked=[("one item takes everything", {"exposure": [0, 0, 0, 12]})],
    glossary=("Exposure Gini",),
))
_EXERCISES.append(Exercise(
    name="holm", notebook="12_offline_online_gap", title="Holm's adjusted p-values",
    task=("An online test reads several metrics at once (session time, CTR, revenue per user), and each extra "
          "metric is another chance for noise to pass as an effect. Holm's step-down correction keeps the chance "
          "of any false 'significant' among the m tests at most α: sort the p-values ascending, multiply the "
          "i-th smallest (i from 1) by m − i + 1, cap at 1, and carry the running maximum forward so the adjusted "
          "values never decrease along the sorted order. Write `my_holm(p_values)` returning the adjusted p-values "
          "in the order the metrics were given."),
    signature="def my_holm(p_values):",
    starter="m = len(p_values)\nreturn [min(1.0, m * p) for p in p_values]  # the same factor for every p-value?",
    hint=("that is Bonferroni. Holm multiplies only the smallest p-value by m, the next by m − 1, and so on; "
          "then each adjusted value is at least the one before it in the sorted order; put them back in the metrics' order."),
    solution='''
        def my_holm(p_values):
            m = len(p_values)
            order = sorted(range(m), key=lambda i: p_values[i])
            adjusted, running = [0.0] * m, 0.0
            for rank, i in enumerate(order):
                running = max(running, min(1.0, (m - rank) * p_values[i]))
                adjusted[i] = running
            return adjusted
        ''',
    reference=_holm_reference, cases=_holm_cases,
    worked=[("four metrics, one step carried forward", {"p_values": [0.01, 0.04, 0.03, 0.005]})],
    glossary=("Holm correction", "p-value"),
))
_EXERCISES.append(Exercise(
    name="histogram_quantile", notebook="13_operations", title="Prometheus' histogram_quantile",
    task=("A replica does not keep its latencies: it counts them into buckets, each counting the requests "
          "that took at most its upper bound `le` (cumulative counts; the last bucket, `+Inf`, counts them all). "
          "Prometheus' `histogram_quantile(q, ...)` turns the buckets into a quantile: the rank q × total falls "
          "in the first bucket whose count reaches it, and the quantile is interpolated linearly between that "
          "bucket's lower bound (the previous `le`, or 0) and its upper bound, as if its requests were spread evenly. "
          "A rank in the `+Inf` bucket gives the largest finite bound. Write "
          "`my_histogram_quantile(q, bounds, cumulative)`: `bounds` ascending, the last `math.inf`; `cumulative` "
          "the counts per bucket."),
    signature="def my_histogram_quantile(q, bounds, cumulative):",
    starter=("rank = q * cumulative[-1]\nb = next(i for i, c in enumerate(cumulative) if c >= rank)\n"
             "return bounds[b]  # the bucket's upper bound: where inside the bucket does the rank fall?"),
    hint=("inside bucket b (b > 0) the rank is the (rank − cumulative[b − 1])-th of its cumulative[b] − cumulative[b − 1] "
          "requests: go that share of the way from bounds[b − 1] to bounds[b]; a rank in the +Inf bucket returns bounds[-2]."),
    solution='''
        def my_histogram_quantile(q, bounds, cumulative):
            total = cumulative[-1]
            if total <= 0:
                return float("nan")
            rank = q * total
            b = next(i for i, c in enumerate(cumulative) if c >= rank)
            if b == len(bounds) - 1:  # the +Inf bucket
                return bounds[-2]
            lo = bounds[b - 1] if b > 0 else 0.0
            below = cumulative[b - 1] if b > 0 else 0.0
            return lo + (bounds[b] - lo) * (rank - below) / (cumulative[b] - below)
        ''',
    reference=_hq_reference, cases=_hq_cases,
    worked=[("the p90 of 100 requests in four buckets",
             {"q": 0.9, "bounds": [0.025, 0.05, 0.1, math.inf], "cumulative": [20.0, 70.0, 95.0, 100.0]})],
    glossary=("p99 latency",),
))
EXERCISES: dict[str, Exercise] = {ex.name: ex for ex in _EXERCISES}


def for_notebook(stem: str) -> list[Exercise]:
    """The exercises of one notebook (``"05_metrics"``), in the order they appear."""
    return [ex for ex in _EXERCISES if ex.notebook == stem]

