"""How many users does each method need? A/B on CTR against interleaving, simulated.

For one pair of rankers, both methods are run ``reps`` times at each number of
users ``N``; a run is *correct* when it is significant at α and names the truly
better ranker (the one with the higher expected CTR in the world). The fraction
correct rises with ``N`` like the power of a z-test,
``P(N) ≈ Φ(c·√N − z_{1−α/2})``; ``c`` is fitted by least squares on the probit
scale and solved for ``P = target`` (default 0.95).

In A/B the ``N`` users are split evenly and each sees one ranker; in interleaving
all ``N`` see a merged list. Every user has ``sessions_per_user`` sessions in both.
Published comparisons find interleaving needs one to two orders of magnitude fewer
users (Chapelle, Joachims, Radlinski & Yue 2012, TOIS 30(1); Netflix Technology Blog,
"Innovating faster on personalization algorithms at Netflix using interleaving", 2017).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from workbench.experiment.interleaving import METHODS, credit, identical_rows, interleave, sign_test_p
from workbench.experiment.simulator import UserSimulator
from workbench.experiment.stats import grouped_moments, sample_size_means, welch_arrays

BLOCK_IMPRESSIONS = 1_000_000


@dataclass(frozen=True)
class SensitivityConfig:
    """Study design. ``reps`` runs per grid point; the grid grows by √2 from ``start_users``."""

    alpha: float = 0.05
    target: float = 0.95
    reps: int = 200
    method: str = "team_draft"
    sessions_per_user: int = 5
    start_users: int = 8
    max_users: int = 1 << 17
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"SensitivityConfig.method={self.method!r}: expected one of {METHODS}")
        if not 0.5 < self.target < 1.0:
            raise ValueError(f"SensitivityConfig.target={self.target!r}: expected in (0.5, 1)")
        if self.reps < 10 or self.sessions_per_user < 1 or self.start_users < 4:
            raise ValueError("SensitivityConfig: reps >= 10, sessions_per_user >= 1 and start_users >= 4 expected")


def mean_ctr(sim: UserSimulator, population: np.ndarray, lists: np.ndarray, seed: int = 0) -> float:
    """Expected CTR of ``lists`` over ``population``: exact for the position model, else 200 sessions per user."""
    if sim.config.click_model == "position":
        return float(sim.expected_ctr(population, lists)[0].mean())
    reps = 200
    imp = sim.simulate(np.repeat(population, reps), np.repeat(lists, reps, axis=0), seed)
    return float(imp.clicks.sum() / imp.slots.sum())


class _Shown:
    """Attractiveness and examination of the population, computed once and gathered per impression."""

    def __init__(self, sim: UserSimulator, population: np.ndarray, n_items: int, k: int) -> None:
        self.sim, self.population = sim, population
        self.table = np.asarray(sim.world.true_affinity(population, np.arange(n_items)), dtype=np.float64)
        self.examine = sim.examination(population, k) if sim.config.click_model == "position" else None

    def simulate(self, rows: np.ndarray, items: np.ndarray, rng: np.random.Generator):
        flat = rows[:, None] * self.table.shape[1] + np.maximum(items, 0)
        attract = np.where(items >= 0, np.take(self.table.ravel(), flat), 0.0)
        examine = None if self.examine is None else self.examine[rows]
        return self.sim.simulate(self.population[rows], items, rng, attract=attract, examine=examine)


def _blocks(reps: int, per_rep: int):
    step = max(1, BLOCK_IMPRESSIONS // max(1, per_rep))
    for lo in range(0, reps, step):
        yield min(step, reps - lo)


def ab_correct(sim: _Shown, lists_a, lists_b, population, n_users: int, b_better: bool, cfg: SensitivityConfig,
               rng: np.random.Generator) -> float:  # fmt: skip
    """Fraction of ``cfg.reps`` A/B tests (``n_users`` split evenly, Welch t on per-user CTR) that pick the better arm."""
    half = n_users // 2
    s = cfg.sessions_per_user
    arm = np.repeat([0, 1], half)
    correct = 0
    for r in _blocks(cfg.reps, 2 * half * s):
        pick = rng.integers(0, len(population), size=(r, 2 * half))
        rows = np.repeat(pick.ravel(), s)
        is_b = np.repeat(np.broadcast_to(arm, (r, 2 * half)).ravel(), s).astype(bool)
        items = np.where(is_b[:, None], lists_b[rows], lists_a[rows])
        imp = sim.simulate(rows, items, rng)
        clicks = imp.clicks.sum(axis=1).reshape(r, 2 * half, s).sum(-1)
        slots = imp.slots.reshape(r, 2 * half, s).sum(-1)
        ctr = clicks / np.maximum(slots, 1)
        ma, va, na = grouped_moments(ctr, np.broadcast_to(arm == 0, ctr.shape))
        mb, vb, nb = grouped_moments(ctr, np.broadcast_to(arm == 1, ctr.shape))
        res = welch_arrays(ma, va, na, mb, vb, nb, cfg.alpha)
        correct += int(((res["p"] < cfg.alpha) & ((res["diff"] > 0) == b_better) & (res["diff"] != 0)).sum())
    return correct / cfg.reps


def interleaving_correct(sim: _Shown, lists_a, lists_b, population, n_users: int, b_better: bool, cfg: SensitivityConfig,
                         rng: np.random.Generator) -> float:  # fmt: skip
    """Fraction of ``cfg.reps`` interleaving runs (``n_users`` users, sign test over users) that pick the better ranker."""
    s = cfg.sessions_per_user
    k = lists_a.shape[1]
    correct = 0
    for r in _blocks(cfg.reps, n_users * s):
        rows = np.repeat(rng.integers(0, len(population), size=r * n_users), s)
        a, b = lists_a[rows], lists_b[rows]
        inter = interleave(a, b, rng, cfg.method, k)
        imp = sim.simulate(rows, inter.items, rng)
        ca, cb = credit(inter, imp.clicks, a, b)
        same = identical_rows(a, b, k)
        ca, cb = (np.where(same, 0, c).reshape(r, n_users, s).sum(-1) for c in (ca, cb))
        wins_a, wins_b = (ca > cb).sum(1), (cb > ca).sum(1)
        p = sign_test_p(wins_a, wins_b)
        correct += int(((p < cfg.alpha) & ((wins_b > wins_a) == b_better) & (wins_a != wins_b)).sum())
    return correct / cfg.reps


def users_needed(n_users: np.ndarray, p_correct: np.ndarray, alpha: float = 0.05, target: float = 0.95) -> float:
    """Users for ``P(correct) = target`` from the probit fit ``Φ⁻¹(P) + z_{1−α/2} = c·√N`` (points with 0.1 ≤ P ≤ 0.99)."""
    n = np.asarray(n_users, dtype=np.float64)
    p = np.asarray(p_correct, dtype=np.float64)
    keep = (p >= 0.1) & (p <= 0.99)
    if keep.sum() < 2:
        keep = (p > 0.0) & (p < 1.0)
    if keep.sum() == 0:
        raise ValueError(f"no grid point with 0 < P(correct) < 1 (P = {p.round(3).tolist()}): widen the grid")
    za = stats.norm.ppf(1 - alpha / 2)
    y = stats.norm.ppf(p[keep]) + za
    c = float((np.sqrt(n[keep]) * y).sum() / n[keep].sum())
    if c <= 0:
        return float("inf")
    return float(((za + stats.norm.ppf(target)) / c) ** 2)


def correct_curve(run: Callable[[int], float], cfg: SensitivityConfig, start: int) -> pd.DataFrame:
    """Evaluate ``run(n_users)`` on a grid growing by √2 from ``start`` until P(correct) ≥ 0.99.

    Raises if ``max_users`` is passed first: the difference is too small to measure here.
    """
    rows = []
    step = 0
    while True:
        n = int(round(start * 2 ** (step / 2) / 2)) * 2
        p = run(n)
        rows.append({"n_users": n, "p_correct": p})
        if p >= 0.99:
            return pd.DataFrame(rows)
        step += 1
        if start * 2 ** (step / 2) > cfg.max_users:
            raise ValueError(f"P(correct) = {p:.2f} at {n} users, still short of 0.99 below "
                             f"max_users={cfg.max_users}: the rankers differ too little for this study")  # fmt: skip


@dataclass(eq=False)
class SensitivityResult:
    curves: pd.DataFrame  # method, n_users, p_correct
    users_ab: float
    users_interleaving: float
    predicted_ab: float  # power formula with the exact effect and SDs (position model; else NaN)
    true_ctr_a: float
    true_ctr_b: float
    config: SensitivityConfig

    @property
    def ratio(self) -> float:
        return self.users_ab / self.users_interleaving

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({
            "method": ["A/B (Welch t on CTR)", f"interleaving ({self.config.method})"],
            "users_needed": [self.users_ab, self.users_interleaving],
            "predicted": [self.predicted_ab, np.nan],
        })  # fmt: skip

    def report(self) -> str:
        c = self.config
        return "\n".join([
            f"Users needed for {c.target:.0%} correct decisions at α = {c.alpha:g} ({c.reps} runs per point, "
            f"{c.sessions_per_user} session(s) per user):",
            f"  true CTR: A {self.true_ctr_a:.4f}, B {self.true_ctr_b:.4f} "
            f"({self.true_ctr_b / self.true_ctr_a - 1:+.1%} relative)",
            f"  A/B test:      {self.users_ab:>10,.0f} users (power formula: {self.predicted_ab:,.0f})",
            f"  {c.method:<14} {self.users_interleaving:>10,.0f} users",
            f"  ratio A/B ÷ interleaving: {self.ratio:.1f}× (published: 10–100×; Chapelle et al. 2012, Netflix 2017)",
        ])  # fmt: skip


def sensitivity_study(
    sim: UserSimulator,
    lists_a: np.ndarray,
    lists_b: np.ndarray,
    population: np.ndarray,
    config: SensitivityConfig | None = None,
) -> SensitivityResult:
    """Users each method needs for ``target`` correct decisions, and the curves P(correct) against users."""
    cfg = config or SensitivityConfig()
    population = np.asarray(population, dtype=np.int64)
    lists_a, lists_b = np.asarray(lists_a, dtype=np.int64), np.asarray(lists_b, dtype=np.int64)
    if lists_a.shape != lists_b.shape or lists_a.shape[0] != len(population):
        raise ValueError(f"lists_a {lists_a.shape} and lists_b {lists_b.shape} must both be [n_population={len(population)}, k]")
    ctr_a, ctr_b = mean_ctr(sim, population, lists_a, cfg.seed), mean_ctr(sim, population, lists_b, cfg.seed)
    if ctr_a == ctr_b:
        raise ValueError("the two rankers have the same expected CTR: no method can pick a better one")
    b_better = ctr_b > ctr_a
    rng = np.random.default_rng(cfg.seed)
    n_items = int(max(lists_a.max(), lists_b.max())) + 1
    shown = _Shown(sim, population, n_items, lists_a.shape[1])
    ab = correct_curve(lambda n: ab_correct(shown, lists_a, lists_b, population, n, b_better, cfg, rng), cfg,
                       cfg.start_users)  # fmt: skip
    il = correct_curve(lambda n: interleaving_correct(shown, lists_a, lists_b, population, n, b_better, cfg, rng), cfg,
                       cfg.start_users)  # fmt: skip
    predicted = np.nan
    if sim.config.click_model == "position":
        s = cfg.sessions_per_user
        mu_a, var_a = sim.expected_ctr(population, lists_a)
        mu_b, var_b = sim.expected_ctr(population, lists_b)
        sd_a, sd_b = np.sqrt(var_a.mean() / s + mu_a.var()), np.sqrt(var_b.mean() / s + mu_b.var())
        predicted = 2 * sample_size_means(ctr_b - ctr_a, sd_a, cfg.alpha, cfg.target, sd_b)
    curves = pd.concat([ab.assign(method="A/B"), il.assign(method=cfg.method)], ignore_index=True)
    return SensitivityResult(
        curves=curves[["method", "n_users", "p_correct"]],
        users_ab=users_needed(ab["n_users"], ab["p_correct"], cfg.alpha, cfg.target),
        users_interleaving=users_needed(il["n_users"], il["p_correct"], cfg.alpha, cfg.target),
        predicted_ab=float(predicted), true_ctr_a=ctr_a, true_ctr_b=ctr_b, config=cfg,
    )  # fmt: skip


def run_sensitivity(
    dataset_name: str = "synthetic",
    seed: int = 0,
    a: str = "noisy:2.0",
    b: str = "noisy:1.5",
    config: SensitivityConfig | None = None,
    k: int = 10,
    click_model: str = "position",
    cache_dir: str = "data",
) -> tuple[str, pd.DataFrame]:
    """The sensitivity study on a data set's world; returns (report text, curves of P(correct) against users)."""
    from workbench.experiment.ab import load_world
    from workbench.experiment.rankers import make_ranker
    from workbench.experiment.simulator import SimulatorConfig

    ds, world = load_world(dataset_name, seed, cache_dir)
    population = np.arange(ds.n_users)
    lists_a = make_ranker(a, ds, world, k, seed)(population)
    lists_b = make_ranker(b, ds, world, k, seed)(population)
    sim = UserSimulator(world, SimulatorConfig(click_model=click_model, seed=seed))
    cfg = config or SensitivityConfig(seed=seed)
    res = sensitivity_study(sim, lists_a, lists_b, population, cfg)
    head = f"Sensitivity on {ds.name}: A = {a}, B = {b}, {click_model} click model, seed {seed}"
    return head + "\n" + res.report(), res.curves
