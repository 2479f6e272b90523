"""Netflix in miniature: a contextual bandit chooses which row of the page goes on top.

The arms are rows (one genre each, the user's best items of that genre by a base scorer);
the context is the user's genre profile from their training history (plus a constant); the
reward of a session is the number of clicks on the top row, drawn by the workbench's user
simulator. Because the simulator knows every click probability, the *expected* reward of
every arm for every user is known exactly::

    R[u, a] = Σ_j e_j(u) · a(u, row[u, a, j])      (position model: examination × attraction)

and the regret of a choice is ``max_a R[u, a] − R[u, chosen]``, summed over sessions.

Three policies, each keeping a ridge regression per arm (``A_a = λI + Σ x xᵀ``, ``b_a = Σ r x``,
``θ_a = A_a⁻¹ b_a``), updated once a day from that day's sessions (a daily batch, as a
production system retrains):

- **LinUCB** (Li, Chu, Langford & Schapire 2010, disjoint model): ``argmax θ_a·x + α √(xᵀA_a⁻¹x)``;
  deterministic, so its logged propensity is 1.
- **Linear Thompson sampling** (Agrawal & Goyal 2013): draw ``θ̃_a ~ N(θ_a, v² A_a⁻¹)`` and pick
  ``argmax θ̃_a·x``. Each arm's sampled score is ``N(θ_a·x, v² xᵀA_a⁻¹x)``, independent across arms,
  so the probability of the chosen arm (the propensity an off-policy estimator needs) is
  estimated from ``propensity_draws`` draws of those ``K`` normals and logged.
- **ε-greedy**: ``argmax θ_a·x`` with probability ``1 − ε``, else an arm uniformly at random;
  propensity ``1 − ε + ε/K`` for the greedy arm and ``ε/K`` for the others.

Exploration budget: a session *explores* when its arm is not the arm the policy's own point
estimate ranks first (``argmax θ_a·x``). `run_bandits` runs the bandit first, counts its
exploring sessions each day, and gives ε-greedy the same expected number each day:
``ε_d = share_d · K / (K − 1)`` (a uniform draw lands off the greedy arm with probability
``(K − 1)/K``). Same users, same days, same visits for every policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.checks import check_count, check_unit_interval
from workbench.data.dataset import Dataset
from workbench.experiment.simulator import SimulatorConfig, UserSimulator

POLICIES = ("linucb", "thompson", "epsilon_greedy")


# --- the ridge regression every policy keeps ---------------------------------------
class RidgeArms:
    """One ridge regression per arm over ``d`` context features: ``A [K, d, d]``, ``b [K, d]``."""

    def __init__(self, n_arms: int, dim: int, ridge: float = 1.0) -> None:
        check_count("n_arms", n_arms, 2)
        check_count("dim (context features)", dim, 1)
        if not ridge > 0:
            raise ValueError(f"ridge={ridge!r}: expected a positive L2 penalty λ")
        self.n_arms, self.dim, self.ridge = n_arms, dim, ridge
        self.A = np.broadcast_to(ridge * np.eye(dim), (n_arms, dim, dim)).copy()
        self.b = np.zeros((n_arms, dim))

    def update(self, x: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        """Add the sessions ``x [n, d]`` that showed ``arms [n]`` and earned ``rewards [n]``."""
        x = self._check_x(x)
        onehot = np.eye(self.n_arms)[np.asarray(arms, dtype=np.int64)]  # [n, K]
        self.A += np.einsum("nk,nd,ne->kde", onehot, x, x)
        self.b += np.einsum("nk,n,nd->kd", onehot, np.asarray(rewards, dtype=np.float64), x)

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"contexts must be [n, {self.dim}], got shape {x.shape}")
        return x

    def theta(self) -> np.ndarray:
        """``[K, d]``: ``θ_a = A_a⁻¹ b_a``."""
        return np.linalg.solve(self.A, self.b[..., None])[..., 0]

    def mean_and_width(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``θ_a·x`` and ``√(xᵀ A_a⁻¹ x)``, both ``[n, K]``."""
        x = self._check_x(x)
        inv = np.linalg.inv(self.A)  # [K, d, d]
        return x @ self.theta().T, np.sqrt(np.maximum(np.einsum("nd,kde,ne->nk", x, inv, x), 0.0))


@dataclass(eq=False)
class Choice:
    """What a policy did for ``n`` sessions: arms, logged propensities, and the greedy arm
    (``argmax θ_a·x``) each session would have had without exploring."""

    arms: np.ndarray
    propensity: np.ndarray
    greedy: np.ndarray

    @property
    def explored(self) -> np.ndarray:
        return self.arms != self.greedy


class LinUCB(RidgeArms):
    """``argmax θ_a·x + alpha · √(xᵀ A_a⁻¹ x)`` (ties to the lowest arm); deterministic."""

    name = "linucb"

    def __init__(self, n_arms: int, dim: int, alpha: float = 1.0, ridge: float = 1.0) -> None:
        super().__init__(n_arms, dim, ridge)
        if not alpha >= 0:
            raise ValueError(f"alpha={alpha!r}: expected a non-negative confidence width")
        self.alpha = alpha

    def choose(self, x: np.ndarray, rng: np.random.Generator) -> Choice:
        mean, width = self.mean_and_width(x)
        arms = np.argmax(mean + self.alpha * width, axis=1)
        return Choice(arms, np.ones(len(arms)), np.argmax(mean, axis=1))


class LinearThompson(RidgeArms):
    """Sample each arm's score from ``N(θ_a·x, v² xᵀA_a⁻¹x)``, take the best; propensities by Monte Carlo."""

    name = "thompson"

    def __init__(self, n_arms: int, dim: int, v: float = 0.5, ridge: float = 1.0, propensity_draws: int = 200) -> None:
        super().__init__(n_arms, dim, ridge)
        if not v > 0:
            raise ValueError(f"v={v!r}: expected a positive posterior scale")
        self.v = v
        self.propensity_draws = check_count("propensity_draws", propensity_draws, 1)

    def choose(self, x: np.ndarray, rng: np.random.Generator) -> Choice:
        mean, width = self.mean_and_width(x)
        sd = self.v * width  # [n, K]
        arms = np.argmax(mean + sd * rng.standard_normal(mean.shape), axis=1)
        draws = mean[:, None, :] + sd[:, None, :] * rng.standard_normal((len(mean), self.propensity_draws, self.n_arms))
        wins = (np.argmax(draws, axis=2) == arms[:, None]).mean(axis=1)  # [n]
        # the draw that chose the arm is one more sample of the same event
        propensity = (wins * self.propensity_draws + 1.0) / (self.propensity_draws + 1.0)
        return Choice(arms, propensity, np.argmax(mean, axis=1))


class EpsilonGreedy(RidgeArms):
    """``argmax θ_a·x`` with probability ``1 − ε``, a uniform arm with probability ``ε``."""

    name = "epsilon_greedy"

    def __init__(self, n_arms: int, dim: int, epsilon: float = 0.1, ridge: float = 1.0) -> None:
        super().__init__(n_arms, dim, ridge)
        self.epsilon = check_unit_interval("epsilon", epsilon)

    def choose(self, x: np.ndarray, rng: np.random.Generator) -> Choice:
        mean, _ = self.mean_and_width(x)
        greedy = np.argmax(mean, axis=1)
        explore = rng.random(len(greedy)) < self.epsilon
        arms = np.where(explore, rng.integers(0, self.n_arms, size=len(greedy)), greedy)
        k, eps = self.n_arms, self.epsilon
        return Choice(arms, np.where(arms == greedy, 1.0 - eps + eps / k, eps / k), greedy)


# --- the world: rows, contexts, the truth -----------------------------------------
@dataclass(eq=False)
class RowWorld:
    """Arms = rows. rows: int ``[U, K, m]`` (each user's items per row); contexts ``[U, d]``;
    expected: ``[U, K]`` the simulator's expected clicks on each row shown on top (the truth);
    arm_names: what each row is."""

    simulator: UserSimulator
    rows: np.ndarray
    contexts: np.ndarray
    expected: np.ndarray
    arm_names: tuple[str, ...]

    @property
    def n_users(self) -> int:
        return self.rows.shape[0]

    @property
    def n_arms(self) -> int:
        return self.rows.shape[1]

    def regret(self, users: np.ndarray, arms: np.ndarray) -> np.ndarray:
        """float ``[n]``: ``max_a R[u, a] − R[u, arm]`` of each session, from the truth."""
        users, arms = np.asarray(users, dtype=np.int64), np.asarray(arms, dtype=np.int64)
        r = self.expected[users]
        return r.max(axis=1) - r[np.arange(len(users)), arms]

    def pull(self, users: np.ndarray, arms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Clicks drawn by the simulator on the chosen rows, ``[n]``."""
        shown = self.rows[np.asarray(users, dtype=np.int64), np.asarray(arms, dtype=np.int64)]  # [n, m]
        return self.simulator.simulate(users, shown, rng).clicks.sum(axis=1).astype(np.float64)


def expected_row_clicks(simulator: UserSimulator, rows: np.ndarray) -> np.ndarray:
    """``[U, K]``: ``Σ_j e_j(u) · a(u, rows[u, a, j])`` for every user ``u = 0..U-1`` and row (position model)."""
    if simulator.config.click_model != "position":
        raise ValueError(f"expected row clicks need the position click model, not {simulator.config.click_model!r}")
    n_users, n_arms, m = rows.shape
    users = np.arange(n_users)
    attract = simulator.attractiveness(np.repeat(users, n_arms), rows.reshape(-1, m)).reshape(n_users, n_arms, m)
    return np.einsum("um,ukm->uk", simulator.examination(users, m), attract)


def genre_profile(train: Dataset) -> np.ndarray:
    """float ``[n_users, n_genres]``: each user's share of train interactions per genre (0 without history)."""
    counts = train.matrix @ train.item_genres  # [U, G]
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts, dtype=np.float64), where=total > 0)


def genre_rows(train: Dataset, scores: np.ndarray, n_rows: int = 8, row_length: int = 10) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ``n_rows`` largest genres (by catalogue items) as rows: each user's top ``row_length``
    unseen items of that genre by ``scores [U, n_items]``. Returns ``(rows [U, K, m], genre names)``."""
    check_count("n_rows", n_rows, 2)
    check_count("row_length", row_length, 1)
    genres = np.asarray(train.item_genres > 0)
    size = genres.sum(axis=0)
    if n_rows > int((size >= row_length).sum()):
        raise ValueError(f"n_rows={n_rows}: only {int((size >= row_length).sum())} genres hold row_length={row_length} items")
    picked = np.argsort(-size, kind="stable")[:n_rows]
    s = np.asarray(scores, dtype=np.float64).copy()
    r, c = train.matrix.nonzero()
    s[r, c] = -np.inf
    rows = np.empty((train.n_users, n_rows, row_length), dtype=np.int64)
    for a, g in enumerate(picked):  # one pass per row (K of them), vectorised over users
        masked = np.where(genres[:, g][None, :], s, -np.inf)
        top = np.argpartition(-masked, row_length - 1, axis=1)[:, :row_length]
        rows[:, a] = np.take_along_axis(top, np.argsort(-np.take_along_axis(masked, top, axis=1), axis=1), axis=1)
    return rows, tuple(train.genre_names[g] for g in picked)


def row_world(train: Dataset, world, scores: np.ndarray, n_rows: int = 8, row_length: int = 10,
              simulator: SimulatorConfig | None = None) -> RowWorld:  # fmt: skip
    """The bandit's world on ``train``: genre rows ranked by ``scores``, contexts ``[1, genre profile]``,
    the truth from ``world`` (``SyntheticTruth`` or an oracle) through the simulator."""
    sim = UserSimulator(world, simulator or SimulatorConfig())
    rows, names = genre_rows(train, scores, n_rows, row_length)
    contexts = np.hstack([np.ones((train.n_users, 1)), genre_profile(train)])
    return RowWorld(sim, rows, contexts, expected_row_clicks(sim, rows), names)


# --- running the policies over simulated days --------------------------------------
@dataclass(frozen=True)
class BanditConfig:
    """days: simulated days; bandit: ``"thompson"`` or ``"linucb"`` (the policy ε-greedy is matched
    to); alpha: LinUCB width; v: Thompson posterior scale; ridge: λ; epsilon: ε-greedy's rate,
    None = matched to the bandit's exploration each day (module docstring); propensity_draws:
    Monte-Carlo draws behind Thompson's propensities; seed: visits, choices and clicks."""

    days: int = 30
    bandit: str = "thompson"
    alpha: float = 1.0
    v: float = 0.5
    ridge: float = 1.0
    epsilon: float | None = None
    propensity_draws: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        check_count("days", self.days, 1)
        check_count("seed", self.seed, 0)
        if self.bandit not in ("thompson", "linucb"):
            raise ValueError(f"bandit={self.bandit!r}: expected 'thompson' or 'linucb'")
        if self.epsilon is not None:
            check_unit_interval("epsilon", self.epsilon)


@dataclass(eq=False)
class BanditRun:
    """One policy's run: per-session log and per-day totals."""

    policy: str
    log: pd.DataFrame  # day, user, arm, propensity, explored, reward, expected, regret
    daily: pd.DataFrame  # day, sessions, regret, cumulative_regret, explore_share, epsilon, reward

    @property
    def cumulative_regret(self) -> float:
        return float(self.daily["cumulative_regret"].iloc[-1])


def visits(world: RowWorld, days: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The users of each day's sessions (Poisson visits per user-day, the simulator's rates)."""
    sim = world.simulator
    rate = sim.config.visit_rate * sim.visit_factor(np.arange(world.n_users))
    counts = rng.poisson(np.repeat(rate[:, None], days, axis=1))  # [U, D]
    return [np.repeat(np.arange(world.n_users), counts[:, d]) for d in range(days)]


def run_policy(world: RowWorld, policy: RidgeArms, sessions: list[np.ndarray], rng: np.random.Generator,
               epsilons: np.ndarray | None = None) -> BanditRun:  # fmt: skip
    """Run ``policy`` over the days of ``sessions``, updating it after each day. ``epsilons [days]``
    set an `EpsilonGreedy`'s rate day by day."""
    logs = []
    for day, users in enumerate(sessions):  # one pass per simulated day; sessions vectorised
        if epsilons is not None:
            policy.epsilon = float(epsilons[day])
        x = world.contexts[users]
        choice = policy.choose(x, rng)
        reward = world.pull(users, choice.arms, rng)
        policy.update(x, choice.arms, reward)
        logs.append(pd.DataFrame({
            "day": day, "user": users, "arm": choice.arms, "propensity": choice.propensity,
            "explored": choice.explored, "reward": reward, "expected": world.expected[users, choice.arms],
            "regret": world.regret(users, choice.arms),
        }))  # fmt: skip
    log = pd.concat(logs, ignore_index=True)
    daily = log.groupby("day").agg(sessions=("user", "size"), regret=("regret", "sum"), reward=("reward", "sum"),
                                   explore_share=("explored", "mean"))  # fmt: skip
    daily = daily.reindex(range(len(sessions)), fill_value=0).reset_index()
    daily["cumulative_regret"] = daily["regret"].cumsum()
    daily["epsilon"] = epsilons if epsilons is not None else getattr(policy, "epsilon", np.nan)
    return BanditRun(policy.name, log, daily)


def matched_epsilons(bandit: BanditRun, n_arms: int) -> np.ndarray:
    """ε per day giving ε-greedy the bandit's expected exploring sessions: ``share_d · K/(K−1)``, capped at 1."""
    return np.minimum(1.0, bandit.daily["explore_share"].to_numpy() * n_arms / (n_arms - 1))


@dataclass(eq=False)
class BanditComparison:
    runs: dict[str, BanditRun]
    config: BanditConfig
    arm_names: tuple[str, ...]
    extra: dict = field(default_factory=dict)

    def curves(self) -> pd.DataFrame:
        """Cumulative regret per day, one column per policy."""
        return pd.DataFrame({name: run.daily["cumulative_regret"].to_numpy() for name, run in self.runs.items()},
                            index=pd.RangeIndex(1, self.config.days + 1, name="day"))  # fmt: skip

    def summary(self) -> pd.DataFrame:
        rows = []
        for name, run in self.runs.items():
            log = run.log
            rows.append({"policy": name, "sessions": len(log), "cumulative_regret": run.cumulative_regret,
                         "regret_per_session": run.cumulative_regret / max(len(log), 1),
                         "exploring_sessions": int(log["explored"].sum()), "clicks": float(log["reward"].sum()),
                         "mean_propensity": float(log["propensity"].mean())})  # fmt: skip
        return pd.DataFrame(rows).set_index("policy")


def run_bandits(world: RowWorld, config: BanditConfig | None = None) -> BanditComparison:
    """The bandit (``config.bandit``) and ε-greedy at the same exploration budget, plus the other
    bandit, over the same simulated visits."""
    cfg = config or BanditConfig()
    k, d = world.n_arms, world.contexts.shape[1]
    seeds = np.random.SeedSequence(cfg.seed).spawn(4)
    sessions = visits(world, cfg.days, np.random.default_rng(seeds[0]))
    make = {
        "thompson": lambda: LinearThompson(k, d, cfg.v, cfg.ridge, cfg.propensity_draws),
        "linucb": lambda: LinUCB(k, d, cfg.alpha, cfg.ridge),
    }
    other = "linucb" if cfg.bandit == "thompson" else "thompson"
    runs = {cfg.bandit: run_policy(world, make[cfg.bandit](), sessions, np.random.default_rng(seeds[1]))}
    eps = matched_epsilons(runs[cfg.bandit], k) if cfg.epsilon is None else np.full(cfg.days, cfg.epsilon)
    runs["epsilon_greedy"] = run_policy(world, EpsilonGreedy(k, d, 0.0, cfg.ridge), sessions,
                                        np.random.default_rng(seeds[2]), eps)  # fmt: skip
    runs[other] = run_policy(world, make[other](), sessions, np.random.default_rng(seeds[3]))
    return BanditComparison(runs, cfg, world.arm_names)
