"""A page's comparison in words, only as strong as its interval (issue 21).

`paired` turns two per-user figures of the same users (A and B) into the mean difference B − A and
its 95% normal interval, mean ± 1.96·sd/√n of the per-user differences (the interval of
`workbench.metrics.evaluate`, applied to the differences). `verdict` words a difference and its
interval so that a page never recommends inside the noise:

- ``"B beats A by x (95% CI [lo, hi])"`` when the whole interval of B − A is above 0 (``verb``: another of
  `VERBS` where "beats" reads wrong, e.g. "gives younger slates than" for an age);
- ``"A beats B by x (95% CI [lo, hi])"`` when it is below 0 (the interval then is that of A − B);
- ``"no detectable difference between B and A (95% CI [lo, hi] covers 0)"`` otherwise.

Figures are printed with enough decimals that a bound which is not 0 never prints as 0, so the
printed sentence can be checked against its printed interval (tests/notebooks/test_verdicts.py reads
every page's verdicts that way). `VERDICT` is the pattern that reads them back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from workbench.metrics.evaluate import Z_95

_NUM = r"[+-]?\d+(?:\.\d+)?%?"
# The words a verdict may put between the winner and the loser ("B beats A by x"): a closed list, so `read` finds them all.
VERBS = ("beats", "gives younger slates than")
# Reads a printed verdict back: groups winner, loser, x, lo, hi; or (no difference) lo, hi.
VERDICT = re.compile(
    rf"(?P<winner>[^\s:;][^:;\n]*?) (?:{'|'.join(map(re.escape, VERBS))}) (?P<loser>[^:;\n]+?) by (?P<x>{_NUM}) \(95% CI \[(?P<lo>{_NUM}), (?P<hi>{_NUM})\]\)"
    rf"|no detectable difference[^\n]*?\(95% CI \[(?P<nlo>{_NUM}), (?P<nhi>{_NUM})\] covers 0\)"
)


@dataclass(frozen=True)
class Paired:
    """Mean of the per-user differences B − A, its 95% interval, and the number of users paired."""

    diff: float
    low: float
    high: float
    n: int

    @property
    def detectable(self) -> bool:
        """The interval excludes 0."""
        return bool(self.low > 0 or self.high < 0)


def paired(a, b) -> Paired:
    """B − A over the same users: ``a`` and ``b`` hold one figure per user, in the same order. Users
    with NaN in either are left out (no test items, say). Needs at least 2 users with both figures."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired: A has {a.size} users and B {b.size}; expected the same users in the same order")
    d = (b - a)[~(np.isnan(a) | np.isnan(b))]
    if d.size < 2:
        raise ValueError(f"paired: {d.size} users have both figures; an interval needs at least 2")
    if not np.isfinite(d).all():
        raise ValueError("paired: infinite per-user figures; expected finite values or NaN")
    mean = float(d.mean())
    half = Z_95 * float(d.std(ddof=1)) / math.sqrt(d.size)
    return Paired(mean, mean - half, mean + half, int(d.size))


def _ratio_terms(num, den) -> tuple[float, np.ndarray]:
    """``R = mean(num) / mean(den)`` and each user's linearised share of its error, ``(num − R·den) / mean(den)``
    (the delta method: var(R) ≈ var of those terms / n)."""
    ratio = float(num.mean() / den.mean())
    return ratio, (num - ratio * den) / den.mean()


def _pairs(*arrays) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    if len({a.size for a in out}) != 1:
        raise ValueError(f"ratio: arrays of {[a.size for a in out]} users; expected the same users in the same order")
    keep = ~np.any([np.isnan(a) for a in out], axis=0)
    if keep.sum() < 2:
        raise ValueError(f"ratio: {int(keep.sum())} users have every figure; an interval needs at least 2")
    out = [a[keep] for a in out]
    if any(a.mean() == 0 for a in out[1::2]):  # the denominators
        raise ValueError("ratio: a denominator's mean is 0; expected a positive mean (e.g. candidate recall)")
    return out


def ratio(num, den) -> Paired:
    """A ratio of two means over the same users, ``mean(num) / mean(den)`` (e.g. recall@10 ÷ candidate recall:
    the share of the found items brought to the top), with its 95% interval by the delta method
    (Paired's ``diff`` holds the ratio). Users with NaN in either are left out."""
    num, den = _pairs(num, den)
    r, terms = _ratio_terms(num, den)
    half = Z_95 * float(terms.std(ddof=1)) / math.sqrt(terms.size)
    return Paired(r, r - half, r + half, int(terms.size))


def paired_ratio(num_a, den_a, num_b, den_b) -> Paired:
    """B's ratio of means minus A's (see `ratio`) over the same users, with the 95% interval of the difference by the
    delta method on the per-user terms, paired (with every denominator 1 it is `paired` of the numerators)."""
    num_a, den_a, num_b, den_b = _pairs(num_a, den_a, num_b, den_b)
    ra, ta = _ratio_terms(num_a, den_a)
    rb, tb = _ratio_terms(num_b, den_b)
    d = tb - ta
    half = Z_95 * float(d.std(ddof=1)) / math.sqrt(d.size)
    return Paired(rb - ra, rb - ra - half, rb - ra + half, int(d.size))


def _decimals(values: tuple[float, ...], decimals: int) -> int:
    """At least ``decimals``, more while a value that is not 0 would print as 0 (at most 12)."""
    while decimals < 12 and any(v != 0 and round(v, decimals) == 0 for v in values):
        decimals += 1
    return decimals


def verdict(diff: float, low: float, high: float, a: str = "A", b: str = "B", decimals: int = 4,
            percent: bool = False, verb: str = "beats") -> str:  # fmt: skip
    """The sentence for the difference ``diff`` = B − A and its 95% interval ``[low, high]``.

    ``percent``: the figures are shares, printed as percentage points with ``decimals`` decimals.
    ``verb``: the words between winner and loser, one of `VERBS` ("B gives younger slates than A by x").
    Raises ValueError on a non-finite figure, an interval that does not hold ``diff`` or an unknown verb."""
    if verb not in VERBS:
        raise ValueError(f"verdict: verb={verb!r}: expected one of {VERBS} (the verdict test reads only those back)")
    if not all(math.isfinite(v) for v in (diff, low, high)):
        raise ValueError(f"verdict: diff={diff!r}, interval [{low!r}, {high!r}]: expected finite numbers")
    if not low <= diff <= high:
        raise ValueError(f"verdict: diff={diff!r} lies outside its interval [{low!r}, {high!r}]")
    scale, unit = (100.0, "%") if percent else (1.0, "")
    if high < 0:  # A wins: word it as A − B
        a, b, diff, low, high = b, a, -diff, -high, -low
    values = tuple(v * scale for v in (diff, low, high))
    n = _decimals(values, decimals)
    x, lo, hi = (f"{v:.{n}f}{unit}" for v in values)
    if low > 0:
        return f"{b} {verb} {a} by {x} (95% CI [{lo}, {hi}])"
    return f"no detectable difference between {b} and {a} (95% CI [{lo}, {hi}] covers 0)"


def say(d: Paired, a: str = "A", b: str = "B", decimals: int = 4, percent: bool = False, verb: str = "beats") -> str:
    """`verdict` of a `Paired` difference."""
    return verdict(d.diff, d.low, d.high, a, b, decimals, percent, verb)


def read(text: str) -> list[dict]:
    """Every verdict printed in ``text``: dicts with ``kind`` ("beats" or "none"), ``x`` (the stated
    margin, "beats" only), ``low`` and ``high`` (numbers as printed, % dropped)."""

    def num(s: str) -> float:
        return float(s.rstrip("%"))

    out = []
    for m in VERDICT.finditer(text):
        if m.group("x") is not None:
            out.append({"kind": "beats", "winner": m.group("winner").strip(), "loser": m.group("loser").strip(),
                        "x": num(m.group("x")), "low": num(m.group("lo")), "high": num(m.group("hi")),
                        "text": m.group(0)})  # fmt: skip
        else:
            out.append({"kind": "none", "low": num(m.group("nlo")), "high": num(m.group("nhi")), "text": m.group(0)})
    return out


def contradictions(text: str) -> list[str]:
    """The printed verdicts of ``text`` that their own printed interval contradicts: a "beats" whose
    interval does not lie wholly above 0 or does not hold its margin, a "no detectable difference"
    whose interval does not cover 0."""
    bad = []
    for v in read(text):
        if v["kind"] == "beats" and not (0 < v["low"] <= v["x"] <= v["high"]):
            bad.append(v["text"])
        elif v["kind"] == "none" and not v["low"] <= 0 <= v["high"]:
            bad.append(v["text"])
    return bad
