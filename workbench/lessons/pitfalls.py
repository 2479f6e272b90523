"""The textbook's pitfalls, each measured beside the right way (notebooks 04, 06 and 07).

The textbook's reference code holds mistakes that readers copy into production; `docs/PITFALLS.md`
lists all seven with the notebook that shows each. The five measured here run the textbook's way
and the workbench's way through the package's own code:

1. A/B assignment by ``hash(str(user_id)) % 100`` (notebook 06; `process_arms`, `diluted_lift`).
   Python salts ``str`` hashes per process (``PYTHONHASHSEED``), so a restarted service or a
   second worker puts some users in the other arm. The log keeps the arm of a user's first visit,
   so each logged arm holds users who also saw the other ranker, and the measured lift shrinks.
   The workbench's salted stable hash (`workbench.experiment.ab.assign`) moves nobody.
2. Team draft where A picks first in every round (notebook 07; `credit_race`): with two equally
   good rankers A collects more than half the credit, because A holds the top slot of every list.
   The fair rules: a coin whenever the teams are level (Radlinski, Kurup & Joachims 2008), or one
   coin per list (Netflix 2017): `workbench.experiment.interleaving.team_draft` ``rule=``.
3. MMR's λ documented backwards (notebook 04; `lambda_readings`): the textbook's docstring calls
   ``diversity_lambda`` the weight of diversity (default 0.3), but its formula
   λ·relevance − (1 − λ)·similarity makes λ the weight of *relevance*: a reader who trusts the
   docstring and passes 0.3 puts 70% of the weight on diversity.
4. Freshness boost after MMR, then a re-sort (notebook 04; `order_readings`, `prefix_diversity`):
   the re-sort by boosted score puts MMR's picks back in relevance order, so the diversity MMR
   bought leaves the top of the slate (the membership of the list survives).
5. CTR tested per impression (notebook 06; `unit_study`): a two-proportion z-test over impressions
   treats a user's impressions as independent; they are not (same user, same tastes), so an A/A
   test "finds" a difference far more often than α, and more so the more sessions a user has.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from workbench.experiment.interleaving import TEAM_DRAFT_RULES, credit, sign_test_p, team_draft
from workbench.experiment.simulator import UserSimulator
from workbench.experiment.studies import hashed_arms, p_values
from workbench.lessons.kit import ROOT
from workbench.metrics.beyond import intra_list_diversity

if TYPE_CHECKING:
    from workbench.lessons.whatif import Knobs, WhatIf, WhatIfResult

# --- 1. hash(str(user_id)) % 100 ------------------------------------------------------------------------

BUCKETS = 100  # the textbook's hash(str(user_id)) % 100
HASHING = ROOT / "workbench" / "experiment" / "hashing.py"
# One process's assignment, both ways. The stable arm is `workbench.experiment.ab.assign`'s rule
# (arm 1 iff stable_uniform(key64("|" + experiment), id) >= the control share) on the real hashing
# module, loaded alone so that the process starts in a second, not after the whole package.
_ASSIGN_SCRIPT = """\
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("hashing", sys.argv[3])
hashing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hashing)
cut, experiment = int(sys.argv[1]), sys.argv[2]
ids = [int(x) for x in sys.stdin.read().split()]
print("".join("1" if hash(str(u)) % {buckets} >= cut else "0" for u in ids))
u = hashing.stable_uniform(hashing.key64("|" + experiment), np.array(ids, dtype=np.int64))
print("".join(np.where(u >= cut / {buckets}, "1", "0")))
""".format(buckets=BUCKETS)


@dataclass(frozen=True)
class ProcessArms:
    """Each user's arm (0 = A, 1 = B) as computed by two Python processes started with different
    ``PYTHONHASHSEED`` values (``hash_seeds``): ``builtin`` by the textbook's
    ``hash(str(user_id)) % 100 >= control_pct``, ``stable`` by `workbench.experiment.ab.assign`.
    Both int8 ``[2, n_users]``, one row per process."""

    user_ids: np.ndarray
    hash_seeds: tuple[int, int]
    control_pct: int
    builtin: np.ndarray
    stable: np.ndarray

    def switched(self, rule: str) -> float:
        """Share of users whose arm differs between the two processes under ``rule`` ('builtin' or 'stable')."""
        if rule not in ("builtin", "stable"):
            raise ValueError(f"rule={rule!r}: expected 'builtin' or 'stable'")
        arms = getattr(self, rule)
        return float((arms[0] != arms[1]).mean())


def process_arms(user_ids: np.ndarray, experiment: str = "pitfall-hash", control_pct: int = 50,
                 hash_seeds: tuple[int, int] = (1, 2)) -> ProcessArms:  # fmt: skip
    """Assign ``user_ids`` in two fresh Python processes, one per hash seed, both ways (see `ProcessArms`).

    control_pct: the buckets (of 100) that go to A. Each process is ``python -c`` with
    ``PYTHONHASHSEED`` set, reading the ids on stdin: what a restarted service or a second worker does.
    """
    ids = np.asarray(user_ids)
    if ids.ndim != 1 or len(ids) == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"user_ids: expected a non-empty 1-D array of integer ids, got {ids.dtype} {ids.shape}")
    if isinstance(control_pct, bool) or not isinstance(control_pct, (int, np.integer)) or not 0 < control_pct < BUCKETS:
        raise ValueError(f"control_pct={control_pct!r}: expected an integer 1..{BUCKETS - 1} (buckets that go to A)")
    seeds = tuple(hash_seeds)
    if len(seeds) != 2 or seeds[0] == seeds[1] or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds
    ):
        raise ValueError(f"hash_seeds={hash_seeds!r}: expected two different integers in 0..4294967295")
    text = "\n".join(map(str, ids.tolist()))
    procs = []
    for seed in seeds:  # both processes at once
        env = {**os.environ, "PYTHONHASHSEED": str(int(seed))}
        procs.append(subprocess.Popen([sys.executable, "-c", _ASSIGN_SCRIPT, str(int(control_pct)), experiment,
                                       str(HASHING)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT))  # fmt: skip
    rows = []
    for seed, proc in zip(seeds, procs):
        out, err = proc.communicate(text, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"assignment process with PYTHONHASHSEED={seed} failed:\n{err[-2000:]}")
        rows.append([np.frombuffer(line.encode(), dtype=np.uint8) - ord("0") for line in out.split()])
    builtin = np.stack([r[0] for r in rows]).astype(np.int8)
    stable = np.stack([r[1] for r in rows]).astype(np.int8)
    return ProcessArms(ids, (int(seeds[0]), int(seeds[1])), int(control_pct), builtin, stable)


def diluted_lift(first: np.ndarray, second: np.ndarray, mean_a: float, mean_b: float,
                 second_share: float = 0.5) -> dict[str, float]:  # fmt: skip
    """The lift an A/B test converges to when a share of sessions is answered by a second process.

    first, second: each user's arm (0 = A, 1 = B) in the process that answered their first visit
    (the arm the log records) and in the second process. second_share: the share of each user's
    sessions the second process answers (0.5: a restart half way through). mean_a, mean_b: the
    true CTR of A and of B.

    With ``s_A`` (``s_B``) the share of users logged in A (B) whom the second process puts in the
    other arm, and ``d = mean_b − mean_a``, the logged arms converge to
    ``ctr_A = mean_a + second_share·s_A·d`` and ``ctr_B = mean_b − second_share·s_B·d`` (the
    switch comes from the hash, so it is independent of the user's tastes). Returns those, the
    switch shares, the measured and true relative lifts in %, and ``kept``: the share of the true
    difference the test sees, ``1 − second_share·(s_A + s_B)``.
    """
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape or first.ndim != 1 or not np.isin(np.r_[first, second], (0, 1)).all():
        raise ValueError(f"first {first.shape} and second {second.shape}: expected equal 1-D arrays of arms 0/1")
    if not (first == 0).any() or not (first == 1).any():
        raise ValueError("first: both arms need at least one user")
    if not 0.0 <= second_share <= 1.0:
        raise ValueError(f"second_share={second_share!r}: expected a share in [0, 1]")
    if not mean_a > 0:
        raise ValueError(f"mean_a={mean_a!r}: expected a positive CTR")
    s_a = float((second[first == 0] == 1).mean())
    s_b = float((second[first == 1] == 0).mean())
    d = mean_b - mean_a
    ctr_a, ctr_b = mean_a + second_share * s_a * d, mean_b - second_share * s_b * d
    return {"switch_a": s_a, "switch_b": s_b, "ctr_a": ctr_a, "ctr_b": ctr_b, "lift_pct": 100 * (ctr_b / ctr_a - 1),
            "true_lift_pct": 100 * (mean_b / mean_a - 1), "kept": 1 - second_share * (s_a + s_b)}  # fmt: skip


# --- 2. team draft: who picks first ---------------------------------------------------------------------

RULE_NAMES = {
    "a_first": "A first in every round (textbook)",
    "coin": "coin when level (Radlinski et al. 2008)",
    "one_coin": "one coin per list (Netflix)",
}


def _checkpoints(n: int, first: int = 50, count: int = 30) -> np.ndarray:
    """About ``count`` impression counts from ``first`` to ``n``, evenly spaced on a log scale, ``n`` included."""
    return np.unique(np.r_[np.geomspace(min(first, n), n, count).astype(np.int64), n])


def credit_race(sim: UserSimulator, lists_a: np.ndarray, lists_b: np.ndarray, population: np.ndarray,
                n_impressions: int = 20_000, rules: Sequence[str] = TEAM_DRAFT_RULES, seed: int = 0,
                alpha: float = 0.05) -> pd.DataFrame:  # fmt: skip
    """A's share of the credit as team-draft impressions accumulate, one run per rule.

    Each of ``n_impressions`` impressions shows a random user of ``population`` (rows of
    ``lists_a`` / ``lists_b``, ``[n_population, k]``) a fresh team draft under ``rule``, simulated by
    ``sim``; every rule sees the same users. Pass the same lists twice for an A/A interleaving
    (neither side can be better, so a fair merge gives A half).

    Returns one row per (rule, checkpoint): ``impressions``; ``decided`` (impressions where one team
    earned more clicks), ``wins_a``, ``share_a`` (A's share of decided impressions) with its
    Clopper–Pearson ``ci_low``/``ci_high`` at 1 − ``alpha``, ``p_value`` (sign test against ½) and
    ``click_share_a`` (A's share of all credited clicks); ``variant`` names the rule (`RULE_NAMES`).
    """
    unknown = [r for r in rules if r not in TEAM_DRAFT_RULES]
    if unknown or not rules:
        raise ValueError(f"rules={rules!r}: expected a non-empty subset of {TEAM_DRAFT_RULES}")
    if isinstance(n_impressions, bool) or not isinstance(n_impressions, (int, np.integer)) or n_impressions < 1:
        raise ValueError(f"n_impressions={n_impressions!r}: expected a positive integer")
    population = np.asarray(population, dtype=np.int64)
    lists_a, lists_b = np.asarray(lists_a, dtype=np.int64), np.asarray(lists_b, dtype=np.int64)
    if lists_a.shape[0] != len(population) or lists_b.shape[0] != len(population):
        raise ValueError(f"lists_a {lists_a.shape} and lists_b {lists_b.shape}: expected one row per user "
                         f"of the population ({len(population)})")  # fmt: skip
    rows = np.random.default_rng(seed).integers(0, len(population), size=int(n_impressions))
    a, b, users = lists_a[rows], lists_b[rows], population[rows]
    at = _checkpoints(int(n_impressions)) - 1
    frames = []
    for rule in rules:
        inter = team_draft(a, b, np.random.default_rng([seed, 1]), a.shape[1], rule=rule)
        clicks = sim.simulate(users, inter.items, np.random.default_rng([seed, 2])).clicks  # same draws for every rule
        ca, cb = credit(inter, clicks, a, b)
        wins_a, decided = np.cumsum(ca > cb)[at], np.cumsum(ca != cb)[at]
        clicks_a, clicked = np.cumsum(ca)[at], np.cumsum(ca + cb)[at]
        with np.errstate(divide="ignore", invalid="ignore"):
            low = np.where(wins_a > 0, stats.beta.ppf(alpha / 2, wins_a, decided - wins_a + 1), 0.0)
            high = np.where(wins_a < decided, stats.beta.ppf(1 - alpha / 2, wins_a + 1, decided - wins_a), 1.0)
            frames.append(pd.DataFrame({
                "rule": rule, "variant": RULE_NAMES[rule], "impressions": at + 1, "decided": decided, "wins_a": wins_a,
                "share_a": np.where(decided > 0, wins_a / decided, 0.5), "ci_low": low, "ci_high": high,
                "p_value": sign_test_p(wins_a, decided - wins_a),
                "click_share_a": np.where(clicked > 0, clicks_a / clicked, 0.5),
            }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


# --- 3 and 4. reranking: λ and the order of the steps ------------------------------------------------------

DOCSTRING_LAMBDA = 0.3  # the textbook's default `diversity_lambda`, documented as the weight of diversity
LAMBDAS = (DOCSTRING_LAMBDA, round(1.0 - DOCSTRING_LAMBDA, 10))  # λ as passed, λ as meant (`lambda_readings`)


def lambda_readings(whatif: WhatIf, knobs: Knobs, have: dict[float, WhatIfResult] | None = None) -> dict[str, WhatIfResult]:
    """Stage 3 for every user at ``knobs`` with λ as a reader of the textbook's docstring sets it.

    "as passed": λ = `DOCSTRING_LAMBDA`, which the formula reads as the weight of relevance (so
    1 − 0.3 of the weight goes to diversity); "as meant": λ = 1 − `DOCSTRING_LAMBDA`, the 0.3 weight on
    diversity the docstring promised. have: results at these knobs already run, by λ (`LAMBDAS`; e.g.
    `WhatIf.frontier_runs`'s kept ones), taken as they are instead of running again.
    """
    out = {}
    for name, lam in zip(("as passed", "as meant"), LAMBDAS):
        at = dataclasses.replace(knobs, lam=lam)
        got = (have or {}).get(lam)
        if got is not None and got.knobs != at:
            raise ValueError(f"have[{lam!r}] was run at {got.knobs}; expected {at}")
        out[name] = got if got is not None else whatif.run(at)
    return out


def textbook_order(order: Sequence[str]) -> tuple[str, ...]:
    """``order`` with the freshness step moved to just after MMR (the textbook's order: boost the
    diversified list, then re-sort it); unchanged when either step is missing."""
    order = tuple(order)
    if "freshness" not in order or "mmr" not in order:
        return order
    rest = [s for s in order if s != "freshness"]
    i = rest.index("mmr") + 1
    return (*rest[:i], "freshness", *rest[i:])


def order_readings(whatif: WhatIf, knobs: Knobs, ours: WhatIfResult | None = None) -> dict[str, WhatIfResult]:
    """Stage 3 for every user at ``knobs`` in the textbook's order (`textbook_order`) and in the knobs' own.

    ours: ``whatif.run(knobs)`` when the caller has it already (a page's main result), so it is not run twice."""
    return {
        "textbook": whatif.run(dataclasses.replace(knobs, order=textbook_order(knobs.order))),
        "workbench": ours if ours is not None else whatif.run(knobs),
    }


def prefix_diversity(slates: dict[str, np.ndarray], item_vectors: np.ndarray) -> pd.DataFrame:
    """Intra-list diversity of each slate's first ``m`` items, m = 2..k, averaged over users, per named slate set.

    slates: ``{name: int [U, k]}`` (-1 padding); item_vectors: ``[n_items, d]``. Returns ``setting``
    (the name), ``m`` and ``ild``: the mean pairwise cosine distance among the top m
    (`workbench.metrics.beyond.intra_list_diversity`; users with fewer than 2 real items there are left out).
    """
    frames = []
    for name, items in slates.items():
        items = np.asarray(items)
        if items.ndim != 2 or items.shape[1] < 2:
            raise ValueError(f"slates[{name!r}]: expected [U, k] slates with k >= 2, got shape {items.shape}")
        ms = np.arange(2, items.shape[1] + 1)
        ild = [float(np.nanmean(intra_list_diversity(items[:, :m], item_vectors))) for m in ms]
        frames.append(pd.DataFrame({"setting": name, "m": ms, "ild": ild}))
    return pd.concat(frames, ignore_index=True)


def headline_frame(results: dict[str, WhatIfResult],
                   metrics: Sequence[str] = ("ndcg", "intra_list_diversity")) -> pd.DataFrame:  # fmt: skip
    """``setting`` (the result's name), ``metric`` (its `workbench.lessons.whatif.HEADLINE` label @k) and ``value``."""
    from workbench.lessons.whatif import HEADLINE

    return pd.DataFrame([{"setting": name, "metric": f"{HEADLINE[m]}@{res.slate.k}", "value": res.headline()[m]}
                         for name, res in results.items() for m in metrics])  # fmt: skip


def side_by_side(whatif: WhatIf, results: dict[str, WhatIfResult], user: int) -> pd.DataFrame:
    """One user's slates under each result, one column of titles per name (✓: a held-out test item)."""
    cols = {}
    for name, res in results.items():
        _, after = whatif.before_after(res, user)
        cols[name] = np.where(after["in_test"], "✓ ", "") + after["title"].astype(str)
    k = max(len(c) for c in cols.values())
    frame = pd.DataFrame({"position": np.arange(1, k + 1)})
    for name, c in cols.items():
        frame[name] = list(c) + [""] * (k - len(c))
    return frame


# --- 5. CTR per impression ------------------------------------------------------------------------------

UNIT_TESTS = {"ctr": "per user (Welch t on each user's CTR)",
              "ctr_per_impression": "per impression (two-proportion z over items shown)"}  # fmt: skip


def unit_study(sim: UserSimulator, lists: np.ndarray, population: np.ndarray, sessions: Sequence[int],
               n_tests: int = 200, n_users: int = 200, alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """False-positive rate of A/A tests on CTR, per user and per impression, at each sessions-per-user count.

    For each ``s`` in ``sessions``: ``n_tests`` A/A tests (both arms show ``lists``), each of ``n_users``
    different users drawn from ``population`` and hashed into two even arms
    (`workbench.experiment.studies.hashed_arms`), every user with exactly ``s`` sessions; both tests of
    `UNIT_TESTS` read each test (`workbench.experiment.studies.p_values`). Users are drawn without
    replacement: a user drawn twice could sit in both arms, and the per-user test would then be
    conservative. Returns one row per
    (sessions, test): ``rate`` (share of tests with p < ``alpha``) with its Clopper–Pearson interval at
    1 − ``alpha`` (``ci_low``, ``ci_high``), and ``rejected`` / ``n_tests``.
    """
    sessions = [int(s) for s in sessions]
    if not sessions or min(sessions) < 1:
        raise ValueError(f"sessions={sessions!r}: expected positive session counts per user")
    population = np.asarray(population, dtype=np.int64)
    lists = np.asarray(lists, dtype=np.int64)
    if not 1 <= n_tests or not 4 <= n_users <= len(population):
        raise ValueError(f"n_tests={n_tests!r}, n_users={n_users!r}: expected >= 1 test of 4..{len(population)} users "
                         "(the population)")  # fmt: skip
    if lists.ndim != 2 or lists.shape[0] != len(population):
        raise ValueError(f"lists {lists.shape}: expected one row per user of the population ({len(population)})")
    rows = []
    for s in sessions:
        rng = np.random.default_rng([seed, s])
        everyone = np.broadcast_to(np.arange(len(population)), (n_tests, len(population)))
        pick = rng.permuted(everyone, axis=1)[:, :n_users]
        arms = hashed_arms(n_tests, n_users, (0.5, 0.5), f"unit-{seed}-{s}")
        days = sim.simulate_days(population[pick.ravel()], lists[pick.ravel()], 1, rng,
                                 np.full((pick.size, 1), s, dtype=np.int64))  # fmt: skip
        names = ("sessions", "slots", "clicks", "conversions", "seconds")
        ps = p_values({n: getattr(days, n).reshape(n_tests, n_users, 1) for n in names}, arms, 0, alpha)
        for test, label in UNIT_TESTS.items():
            k = int((ps[test] < alpha).sum())
            ci = stats.binomtest(k, n_tests).proportion_ci(1 - alpha)
            rows.append({"sessions": s, "test": label, "rejected": k, "n_tests": n_tests, "rate": k / n_tests,
                         "ci_low": ci.low, "ci_high": ci.high})  # fmt: skip
    return pd.DataFrame(rows)
