"""Interleaving: show one list merged from rankers A and B, and credit clicks to each.

- Team draft (Radlinski, Kurup & Joachims 2008, "How does clickthrough data reflect
  retrieval quality?"): the team that has picked fewer items picks next, its best
  item not yet shown; when both have picked as many, a fair coin decides. Each
  click credits the team that picked the item. Two other rules for who picks when
  the teams are level (``team_draft(rule=...)``, `TEAM_DRAFT_RULES`): ``"a_first"``,
  the textbook's strict alternation starting with A, gives A the top slot every time
  and biases the comparison; ``"one_coin"`` (Netflix's description, 2017) tosses one
  coin per list for who starts and then alternates, which is fair in expectation.
- Balanced (Joachims 2002; credit as in Chapelle, Joachims, Radlinski & Yue 2012,
  "Large-scale validation and analysis of interleaved search evaluation", §2.2): a
  coin decides which list leads; the lists then take turns by rank. With the
  lowest click at item ``x`` and ``k* = min(rank_A(x), rank_B(x))``, each ranker is
  credited with the clicked items in its own top ``k*``.

The preference over impressions (or users) is a sign test: ties (equal credit)
are set aside and the wins of B among the rest are Binomial(n, 1/2) under H0.
Impressions where A and B give the same list count as ties: they carry no
information, whatever the coin did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

METHODS = ("team_draft", "balanced")
TEAM_DRAFT_RULES = ("coin", "a_first", "one_coin")  # who picks when the teams are level: see the module docstring


@dataclass(eq=False)
class Interleaved:
    """Interleaved lists ``items [N, k]`` (-1 padding) and who put each item there.

    team: int8 ``[N, k]``: 0 = A, 1 = B, -1 = padding (team draft). For balanced
    interleaving ``team`` records which list the item was taken from (for display only;
    balanced credit does not use it).
    """

    items: np.ndarray
    team: np.ndarray
    method: str


def _check_lists(a: np.ndarray, b: np.ndarray, k: int | None) -> tuple[np.ndarray, np.ndarray, int]:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"rankings must be [N, k] with the same N, got A {a.shape} and B {b.shape}")
    k = max(a.shape[1], b.shape[1]) if k is None else k
    if k < 1:
        raise ValueError(f"k={k!r}: expected a positive list length")
    return a, b, k


def team_draft(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator | int, k: int | None = None, rule: str = "coin"
) -> Interleaved:
    """Team-draft interleave rows of ``a [N, ka]`` and ``b [N, kb]`` into ``k`` slots (loop over slots only).

    rule: who picks when both teams have picked as many items (`TEAM_DRAFT_RULES`): ``"coin"``, a fair
    coin each time (Radlinski et al. 2008); ``"a_first"``, the textbook's variant: no coin, A always
    picks first in each round; ``"one_coin"``, one coin per list decides who picks first in every round.
    """
    if rule not in TEAM_DRAFT_RULES:
        raise ValueError(f"rule={rule!r}: expected one of {TEAM_DRAFT_RULES}")
    a, b, k = _check_lists(a, b, k)
    rng = np.random.default_rng(rng)
    n, ka = a.shape
    kb = b.shape[1]
    small = max(a.max(initial=0), b.max(initial=0)) < np.iinfo(np.int32).max
    a, b = (a.astype(np.int32), b.astype(np.int32)) if small else (a, b)
    flat_a, flat_b = a.ravel(), b.ravel()
    base_a, base_b = np.arange(n) * ka, np.arange(n) * kb
    free_a, free_b = a >= 0, b >= 0
    count_a = np.zeros(n, dtype=np.int64)
    count_b = np.zeros(n, dtype=np.int64)
    items = np.full((n, k), -1, dtype=np.int64)
    team = np.full((n, k), -1, dtype=np.int8)
    list_coin = rng.random(n) < 0.5 if rule == "one_coin" else None
    for pos in range(k):
        ia, ib = base_a + free_a.argmax(axis=1), base_b + free_b.argmax(axis=1)
        left_a, left_b = np.take(free_a.ravel(), ia), np.take(free_b.ravel(), ib)
        coin = rng.random(n) < 0.5 if rule == "coin" else True if rule == "a_first" else list_coin
        a_turn = left_a & (~left_b | (count_a < count_b) | ((count_a == count_b) & coin))
        b_turn = left_b & ~a_turn
        item = np.where(a_turn, np.take(flat_a, ia), np.where(b_turn, np.take(flat_b, ib), -1))
        items[:, pos] = item
        team[:, pos] = np.where(a_turn, 0, np.where(b_turn, 1, -1))
        count_a += a_turn
        count_b += b_turn
        item = item.astype(a.dtype)[:, None]
        free_a &= a != item
        free_b &= b != item
    return Interleaved(items, team, "team_draft")


def balanced(a: np.ndarray, b: np.ndarray, rng: np.random.Generator | int, k: int | None = None) -> Interleaved:
    """Balanced interleave: a coin picks the leading list, then both advance rank by rank (loop over ranks)."""
    a, b, k = _check_lists(a, b, k)
    rng = np.random.default_rng(rng)
    n, ka = a.shape
    kb = b.shape[1]
    rows = np.arange(n)
    a_first = rng.random(n) < 0.5
    ia = np.zeros(n, dtype=np.int64)
    ib = np.zeros(n, dtype=np.int64)
    filled = np.zeros(n, dtype=np.int64)
    items = np.full((n, k + 1), -1, dtype=np.int64)
    team = np.full((n, k + 1), -1, dtype=np.int8)
    for _ in range(ka + kb):
        has_a, has_b = ia < ka, ib < kb
        take_a = np.where(has_a & has_b, (ia < ib) | ((ia == ib) & a_first), has_a)
        cand = np.where(take_a, a[rows, np.minimum(ia, ka - 1)], b[rows, np.minimum(ib, kb - 1)])
        new = (has_a | has_b) & (filled < k) & (cand >= 0) & ~(items == cand[:, None]).any(axis=1)
        slot = np.where(new, filled, k)
        items[rows, slot] = np.where(new, cand, -1)
        team[rows, slot] = np.where(new, np.where(take_a, 0, 1), -1)
        filled += new
        ia += take_a & has_a
        ib += ~take_a & has_b
    return Interleaved(items[:, :k], team[:, :k], "balanced")


def interleave(a: np.ndarray, b: np.ndarray, rng: np.random.Generator | int, method: str = "team_draft",
               k: int | None = None) -> Interleaved:  # fmt: skip
    """Dispatch to ``team_draft`` or ``balanced``."""
    if method == "team_draft":
        return team_draft(a, b, rng, k)
    if method == "balanced":
        return balanced(a, b, rng, k)
    raise ValueError(f"unknown interleaving method {method!r}: expected one of {METHODS}")


def _rank_in(lists: np.ndarray, items: np.ndarray) -> np.ndarray:
    """1-based rank of each ``items [N, k]`` cell in the row's ``lists [N, m]``; a large number where absent."""
    hit = (lists[:, None, :] == items[:, :, None]) & (items[:, :, None] >= 0)
    return np.where(hit.any(axis=2), hit.argmax(axis=2) + 1, np.iinfo(np.int64).max // 2)


def credit(inter: Interleaved, clicks: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-impression credit ``(credit_a [N], credit_b [N])`` (click counts) for ``clicks`` bool ``[N, k]``."""
    clicks = np.asarray(clicks, dtype=bool) & (inter.items >= 0)
    if inter.method == "team_draft":
        return (clicks & (inter.team == 0)).sum(axis=1), (clicks & (inter.team == 1)).sum(axis=1)
    rank_a = _rank_in(np.asarray(a), inter.items)
    rank_b = _rank_in(np.asarray(b), inter.items)
    k = clicks.shape[1]
    lowest = np.where(clicks.any(axis=1), k - 1 - np.argmax(clicks[:, ::-1], axis=1), 0)
    rows = np.arange(len(clicks))
    cut = np.minimum(rank_a[rows, lowest], rank_b[rows, lowest])
    return (clicks & (rank_a <= cut[:, None])).sum(axis=1), (clicks & (rank_b <= cut[:, None])).sum(axis=1)


def sign_test_p(wins_a: np.ndarray, wins_b: np.ndarray) -> np.ndarray:
    """Exact two-sided sign-test p-value, vectorised: ``min(1, 2 · P(Bin(n, ½) ≤ min(wins)))``; 1 when n = 0."""
    wins_a = np.asarray(wins_a)
    wins_b = np.asarray(wins_b)
    n = wins_a + wins_b
    p = np.minimum(1.0, 2.0 * stats.binom.cdf(np.minimum(wins_a, wins_b), n, 0.5))
    return np.where(n > 0, p, 1.0)


@dataclass(frozen=True)
class Preference:
    """Aggregate interleaving outcome over ``n`` units (impressions or users)."""

    method: str
    unit: str
    n: int
    wins_a: int
    wins_b: int
    ties: int
    credit_share_b: float  # B's share of all credited clicks (identical-list impressions included)
    delta_ab: float  # Chapelle et al. 2012: (wins_A + ties/2) / n − 1/2; > 0 favours A
    p_value: float
    ci_low: float  # Clopper–Pearson CI of B's win rate among non-tied units
    ci_high: float
    alpha: float = 0.05
    note: str = ""

    @property
    def winner(self) -> str:
        if self.p_value >= self.alpha:
            return "tie"
        return "B" if self.wins_b > self.wins_a else "A"

    def decision(self, names: tuple[str, str] = ("A", "B")) -> str:
        if self.wins_a + self.wins_b == 0:
            return f"tie: no {self.unit} preferred either ranker, p = 1"
        if self.winner == "tie":
            return (f"no significant preference at α = {self.alpha:g} (p = {self.p_value:.3g}); "
                    f"B wins {self.wins_b / (self.wins_a + self.wins_b):.1%} of non-tied {self.unit}s, "
                    f"{self.ci_low:.1%}–{self.ci_high:.1%} at {1 - self.alpha:.0%}")  # fmt: skip
        best = names[1] if self.winner == "B" else names[0]
        return f"{best} is significantly preferred (p = {self.p_value:.3g} < α = {self.alpha:g})"

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["winner"] = self.winner
        return d


def preference_test(
    credit_a: np.ndarray,
    credit_b: np.ndarray,
    groups: np.ndarray | None = None,
    identical: np.ndarray | None = None,
    method: str = "team_draft",
    alpha: float = 0.05,
) -> Preference:
    """Sign test of per-unit preference from per-impression credit.

    groups: optional unit id per impression (e.g. the user); credit is summed per unit
    first, since impressions of one user are not independent. identical: bool per
    impression, True where A and B gave the same list (credit set to a tie).
    """
    ca = np.asarray(credit_a, dtype=np.float64).copy()
    cb = np.asarray(credit_b, dtype=np.float64).copy()
    if ca.shape != cb.shape or ca.ndim != 1:
        raise ValueError(f"credit_a {ca.shape} and credit_b {cb.shape} must be 1-D of the same length")
    if len(ca) == 0:
        raise ValueError("no impressions to compare: credit arrays are empty")
    raw_total, raw_b = ca.sum() + cb.sum(), cb.sum()
    n_identical = 0
    if identical is not None:
        identical = np.asarray(identical, dtype=bool)
        n_identical = int(identical.sum())
        ca[identical] = cb[identical] = 0.0
    unit = "impression"
    if groups is not None:
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        ca, cb = np.bincount(g, weights=ca), np.bincount(g, weights=cb)
        unit = "user"
    wins_a, wins_b = int((ca > cb).sum()), int((cb > ca).sum())
    ties = len(ca) - wins_a - wins_b
    notes = []
    if n_identical:
        notes.append(f"{n_identical} impressions had identical lists (counted as ties)")
    if raw_total == 0:
        notes.append("no clicks were credited to either ranker")
    if wins_a + wins_b:
        bt = stats.binomtest(wins_b, wins_a + wins_b, 0.5)
        p, ci = bt.pvalue, bt.proportion_ci(1 - alpha, method="exact")
        lo, hi = ci.low, ci.high
    else:
        p, lo, hi = 1.0, 0.0, 1.0
    return Preference(
        method=method, unit=unit, n=len(ca), wins_a=wins_a, wins_b=wins_b, ties=ties,
        credit_share_b=float(raw_b / raw_total) if raw_total else 0.5,
        delta_ab=(wins_a + 0.5 * ties) / len(ca) - 0.5, p_value=float(p), ci_low=float(lo), ci_high=float(hi),
        alpha=alpha, note="; ".join(notes),
    )  # fmt: skip


def identical_rows(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """bool ``[N]``: True where the top ``k`` of A and B are the same list."""
    a, b = np.asarray(a)[:, :k], np.asarray(b)[:, :k]
    if a.shape != b.shape:
        return np.zeros(len(a), dtype=bool)
    return (a == b).all(axis=1)


def preference_frame(results: list[Preference]) -> pd.DataFrame:
    """One row per interleaving result, for reports."""
    return pd.DataFrame([r.to_dict() for r in results])


def interleaving_experiment(
    sim,
    lists_a: np.ndarray,
    lists_b: np.ndarray,
    users: np.ndarray,
    sessions: np.ndarray,
    rng: np.random.Generator | int,
    method: str = "team_draft",
    alpha: float = 0.05,
) -> Preference:
    """Each user ``users[i]`` has ``sessions[i]`` sessions, each showing a fresh interleaving of
    ``lists_a[i]`` and ``lists_b[i]``; credit is summed per user and sign-tested over users."""
    rng = np.random.default_rng(rng)
    users = np.asarray(users, dtype=np.int64)
    lists_a, lists_b = np.asarray(lists_a, dtype=np.int64), np.asarray(lists_b, dtype=np.int64)
    if lists_a.shape[0] != len(users) or lists_b.shape[0] != len(users) or np.shape(sessions) != (len(users),):
        raise ValueError(f"lists_a {lists_a.shape}, lists_b {lists_b.shape} and sessions {np.shape(sessions)} "
                         f"must have one row per user ({len(users)})")  # fmt: skip
    rows = np.repeat(np.arange(len(users)), sessions)
    a, b = lists_a[rows], lists_b[rows]
    k = lists_a.shape[1]
    inter = interleave(a, b, rng, method, k)
    imp = sim.simulate(users[rows], inter.items, rng)
    ca, cb = credit(inter, imp.clicks, a, b)
    return preference_test(ca, cb, groups=rows, identical=identical_rows(a, b, k), method=method, alpha=alpha)


def run_interleave(
    dataset_name: str = "synthetic",
    seed: int = 0,
    a: str = "noisy:2.0",
    b: str = "noisy:1.5",
    n_users: int | None = None,
    days: int = 14,
    methods: tuple[str, ...] = METHODS,
    k: int = 10,
    click_model: str = "position",
    alpha: float = 0.05,
    cache_dir: str = "data",
    small: bool = False,
) -> tuple[str, pd.DataFrame]:
    """Simulate interleaving experiments on a data set's world; returns (report text, one row per method).

    Rankers are spec strings as in ``run_abtest`` or callables ``users -> int[U, k]``.
    Sessions per user over ``days`` are Poisson, as in the A/B simulator. ``small``: the small synthetic world.
    """
    from workbench.experiment.ab import load_world
    from workbench.experiment.rankers import item_lists, make_ranker
    from workbench.experiment.simulator import SimulatorConfig, UserSimulator

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods={methods!r}: expected a non-empty subset of {METHODS}")
    ds, world = load_world(dataset_name, seed, cache_dir, small)
    rng = np.random.default_rng(seed)
    if n_users is None:
        users = np.arange(ds.n_users)
    elif not 2 <= n_users <= ds.n_users:
        raise ValueError(f"n_users={n_users!r}: expected 2..{ds.n_users} (users in {ds.name!r})")
    else:
        users = np.sort(rng.choice(ds.n_users, size=n_users, replace=False))
    ranker_a, ranker_b = make_ranker(a, ds, world, k, seed), make_ranker(b, ds, world, k, seed)
    lists_a = item_lists(ranker_a(users), len(users), "ranker A")
    lists_b = item_lists(ranker_b(users), len(users), "ranker B")
    sim = UserSimulator(world, SimulatorConfig(click_model=click_model, seed=seed))
    sessions = rng.poisson(days * sim.config.visit_rate * sim.visit_factor(users))
    results = [interleaving_experiment(sim, lists_a, lists_b, users, sessions, rng, m, alpha) for m in methods]
    lines = [
        f"Interleaving on {ds.name}: A = {ranker_a!r}, B = {ranker_b!r}; {len(users)} users, {days} days, "
        f"{int(sessions.sum())} sessions, α = {alpha:g}, seed {seed}",
        "Unit: the user (credit summed over a user's sessions; sign test over users with a preference).",
        "",
        f"{'method':<11} {'users':>6} {'A wins':>7} {'B wins':>7} {'ties':>6} {'B share of clicks':>18} {'p':>9}  winner",
    ]
    for r in results:
        lines.append(f"{r.method:<11} {r.n:>6} {r.wins_a:>7} {r.wins_b:>7} {r.ties:>6} {r.credit_share_b:>18.3f} "
                     f"{r.p_value:>9.3g}  {r.winner}")  # fmt: skip
    lines += ["", "Decisions:"] + [f"  {r.method}: {r.decision()}" + (f" [{r.note}]" if r.note else "") for r in results]
    frame = preference_frame(results).assign(dataset=ds.name, a=repr(ranker_a), b=repr(ranker_b), seed=seed)
    return "\n".join(lines), frame
