"""The textbook worked example of offline metrics, with every formula written out in numbers.

A user's liked items (optionally graded, ``A=3, B=2``) and a recommended list of
labels (``D, A, E, B, F``) become one row of `workbench.metrics` inputs; the
values come from `workbench.metrics.accuracy`, and `explain` writes each metric's
formula with the example's own numbers so a reader can check it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.metrics.accuracy import Gain, accuracy_metrics, judge


@dataclass(frozen=True)
class WorkedExample:
    """One user: ``labels[i]`` names item ``i``; ``recommended`` int ``[1, n]``; ``relevance`` CSR ``[1, n_items]``."""

    labels: tuple[str, ...]
    recommended: np.ndarray
    relevance: sp.csr_matrix
    graded: bool


def _split(text: str, what: str) -> list[str]:
    parts = [p.strip() for p in text.replace(";", ",").replace("[", "").replace("]", "").replace("{", "").replace("}", "").split(",")]
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError(f"{what} is empty: expected comma-separated item labels such as 'A, B, C'")
    return parts


def parse_example(liked: str, recommended: str) -> WorkedExample:
    """Parse ``liked`` ('A, B, C' or graded 'A=3, B=2, C=1') and ``recommended`` ('D, A, E, B, F').

    Raises ValueError naming a repeated label, a non-numeric or negative grade, or an empty input.
    """
    grades: dict[str, float] = {}
    graded = False
    for part in _split(liked, "the liked items"):
        name, _, grade = part.partition("=")
        name = name.strip()
        if grade.strip():
            graded = True
            try:
                value = float(grade)
            except ValueError:
                raise ValueError(f"grade {grade.strip()!r} of liked item {name!r} is not a number") from None
            if value < 0:
                raise ValueError(f"grade {value:g} of liked item {name!r} is negative: expected a grade >= 0")
        else:
            value = 1.0
        if name in grades:
            raise ValueError(f"liked item {name!r} is listed twice")
        grades[name] = value
    rec = _split(recommended, "the recommended list")
    seen = [r for i, r in enumerate(rec) if r in rec[:i]]
    if seen:
        raise ValueError(f"recommended item {seen[0]!r} appears twice: a list shows each item once")
    labels = tuple(dict.fromkeys([*rec, *grades]))
    index = {name: i for i, name in enumerate(labels)}
    cols = [index[n] for n in grades]
    relevance = sp.csr_matrix((list(grades.values()), ([0] * len(cols), cols)), shape=(1, len(labels)))
    return WorkedExample(labels, np.array([[index[r] for r in rec]], dtype=np.int64), relevance, graded)


def metric_table(ex: WorkedExample, gain: Gain = "exp") -> pd.DataFrame:
    """Every accuracy metric at every cut-off k = 1..len(list): rows metric, columns ``@1``, ``@2``, ..."""
    n = ex.recommended.shape[1]
    values = accuracy_metrics(ex.recommended, ex.relevance, ks=tuple(range(1, n + 1)), gain=gain)
    return pd.DataFrame({f"@{k}": {m: float(v[0]) for (m, kk), v in values.items() if kk == k} for k in range(1, n + 1)})


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _gain_terms(grades: np.ndarray, gain: Gain) -> list[str]:
    if gain == "exp":
        return [f"(2^{_fmt(g)}−1)/log2({r + 2})" for r, g in enumerate(grades)]
    return [f"{_fmt(g)}/log2({r + 2})" for r, g in enumerate(grades)]


def explain(ex: WorkedExample, k: int, gain: Gain = "exp") -> pd.DataFrame:
    """Each metric at cut-off ``k``: its value, its definition, and the formula filled in with the example's numbers."""
    j = judge(ex.recommended, ex.relevance, k)
    grades, ideal, n_rel = j.gains[0], j.ideal[0], int(j.n_relevant[0])
    hits = grades > 0
    n_hits = int(hits.sum())
    hit_ranks = np.flatnonzero(hits) + 1
    values = {m: float(v[0]) for (m, _), v in accuracy_metrics(ex.recommended, ex.relevance, (k,), gain).items()}
    ap_terms = " + ".join(f"{i + 1}/{r}" for i, r in enumerate(hit_ranks)) or "0"
    shown: Gain = gain if ex.graded else "linear"
    dcg = " + ".join(t for t, g in zip(_gain_terms(grades, shown), grades) if g > 0) or "0"
    idcg = " + ".join(t for t, g in zip(_gain_terms(ideal, shown), ideal) if g > 0) or "0"
    first = f"1/{hit_ranks[0]}" if n_hits else "0 (no relevant item in the top k)"
    rows = [
        ("precision", "relevant items in the top k, divided by k", f"{n_hits}/{k}"),
        ("recall", "relevant items in the top k, divided by all R relevant items", f"{n_hits}/{n_rel}"),
        ("map", "mean of Precision@i over the ranks i holding a relevant item, divided by R (not min(k, R))",
         f"({ap_terms}) / {n_rel}"),
        ("ndcg", "DCG@k / IDCG@k, discount 1/log2(rank+1); IDCG sorts the user's own grades best first",
         f"[{dcg}] / [{idcg}]"),
        ("mrr", "1 / rank of the first relevant item (0 if none in the top k)", first),
        ("hit_rate", "1 if any relevant item is in the top k, else 0", "1" if n_hits else "0"),
    ]  # fmt: skip
    return pd.DataFrame(
        [{"metric": m, "value": values[m], "definition": d, "worked": w} for m, d, w in rows]
    ).set_index("metric")


def position_table(ex: WorkedExample, gain: Gain = "exp") -> pd.DataFrame:
    """Per position of the list: label, grade, gain, discount and discounted gain (what NDCG adds up)."""
    j = judge(ex.recommended, ex.relevance)
    grades = j.gains[0]
    ranks = np.arange(1, len(grades) + 1)
    gains = np.exp2(grades) - 1.0 if gain == "exp" else grades
    discount = 1.0 / np.log2(ranks + 1)
    return pd.DataFrame(
        {
            "position": ranks,
            "item": [ex.labels[i] for i in ex.recommended[0]],
            "grade": grades,
            "relevant": grades > 0,
            "gain": gains,
            "discount": discount,
            "discounted_gain": gains * discount,
        }
    )
