"""A lab on the simulator, and planning: how well do the estimators recover the exact truth over many
logs (`replicate`), and how much data does one decision need (`decision_sizes`)?

`OffPolicyLab` builds the simulated set-up (`offpolicy_lab`), with the exact truth (`true_value`, position click
model) and an on-policy Monte-Carlo check (`monte_carlo_value`). ``workbench ope`` (`ope_cli`) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from workbench.experiment.hashing import stable_normal
from workbench.experiment.ope.estimators import ESTIMATORS, _rowsum, _z
from workbench.experiment.ope.evaluation import estimator_inputs, evaluate
from workbench.experiment.ope.logs import SlateLog, log_impressions, true_value
from workbench.experiment.ope.policies import (
    EpsilonMixture,
    ExplorationPolicy,
    check_support,
)
from workbench.experiment.ope.reward_model import RewardModel


@dataclass(eq=False)
class OffPolicyLab:
    """A world, its simulated users and every user's ``A`` candidates, in the logger ranker's order.

    The logger ranks the catalogue by ``logit a(u, i) + logger_sigma · z(u, i)`` (``z`` a
    standard normal fixed per (user, item) by ``seed``) and keeps the top ``A`` as
    candidates: column 0 is its best. Other rankers reorder the same candidates with the same
    ``z`` and a different ``sigma`` (smaller is better; 0 is the oracle), so a target
    ``sigma`` is "another ranker" and a target ``epsilon`` "another exploration rate".
    """

    sim: object
    population: np.ndarray
    candidates: np.ndarray  # [U, A] item ids
    logit: np.ndarray  # [U, A] true affinity logit of each candidate
    noise: np.ndarray  # [U, A]
    attract: np.ndarray  # [U, A] a(u, candidate), the truth
    k: int
    logger_sigma: float
    meta: dict = field(default_factory=dict)

    @property
    def n_candidates(self) -> int:
        return self.candidates.shape[1]

    def slates(self, sigma: float) -> np.ndarray:
        """Top-``k`` candidate columns ``[U, k]`` of the ranker with noise ``sigma``."""
        if sigma < 0:
            raise ValueError(f"sigma={sigma!r}: expected >= 0")
        score = self.logit + sigma * self.noise
        top = np.argpartition(-score, self.k - 1, axis=1)[:, : self.k]
        return np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable"), axis=1)

    def policy(self, sigma: float | None = None, epsilon: float = 0.0, kind: str = "mixture"):
        """The ranker ``sigma`` (default: the logger's) with ε-exploration: ``kind='mixture'``
        (`EpsilonMixture`) or ``'explore'`` (the workbench's `ExplorationPolicy`)."""
        sigma = self.logger_sigma if sigma is None else sigma
        name = f"sigma={sigma:g}, {kind} ε={epsilon:g}"
        if kind == "mixture":
            return EpsilonMixture(self.slates(sigma), self.n_candidates, epsilon, name)
        if kind == "explore":
            score = self.logit + sigma * self.noise
            return ExplorationPolicy(np.argsort(-score, axis=1, kind="stable"), self.k, epsilon, name)
        raise ValueError(f"kind={kind!r}: expected 'mixture' or 'explore'")

    def features(self) -> np.ndarray:
        """What the reward model sees of each (user, candidate), ``[U, A, 2]``: the logger's score and log rank.
        (Not the truth: DM is as good as these let it be.)"""
        score = self.logit + self.logger_sigma * self.noise
        rank = np.broadcast_to(np.log1p(np.arange(self.n_candidates)), score.shape)
        return np.stack([score, rank], axis=2)

    def truth(self, policy) -> float:
        """Exact clicks per impression of ``policy`` over the population (users drawn uniformly)."""
        return true_value(self.sim, self.candidates, policy, self.population, self.attract)

    def log(self, policy, n_impressions: int, rng: np.random.Generator | int) -> SlateLog:
        """``n_impressions`` impressions of ``policy`` to users drawn uniformly from the population."""
        rng = np.random.default_rng(rng)
        users = rng.integers(0, len(self.population), size=n_impressions)
        return log_impressions(self.sim, self.candidates, policy, users, rng, self.attract)


def offpolicy_lab(ds, k: int = 10, n_candidates: int = 20, logger_sigma: float = 2.0, seed: int = 0,
                  click_model: str = "position") -> OffPolicyLab:  # fmt: skip
    """Build an `OffPolicyLab` on a data set's world (synthetic truth or the MovieLens oracle)."""
    from workbench.experiment.oracle import world_for
    from workbench.experiment.simulator import SimulatorConfig, UserSimulator

    if not 1 <= k < n_candidates <= ds.n_items:
        raise ValueError(f"k={k}, n_candidates={n_candidates}: expected 1 <= k < n_candidates <= {ds.n_items} items")
    if logger_sigma < 0:
        raise ValueError(f"logger_sigma={logger_sigma!r}: expected >= 0")
    world = world_for(ds)
    sim = UserSimulator(world, SimulatorConfig(click_model=click_model, seed=seed))
    n_users, n_items = ds.n_users, ds.n_items
    rows = max(1, (1 << 22) // n_items)
    cand = np.empty((n_users, n_candidates), dtype=np.int64)
    for lo in range(0, n_users, rows):
        u = np.arange(lo, min(n_users, lo + rows))
        p = np.clip(world.true_affinity(u, np.arange(n_items)), 1e-12, 1 - 1e-12)
        z = stable_normal(f"offpolicy:{seed}", u[:, None] * n_items + np.arange(n_items)[None, :])
        score = np.log(p) - np.log1p(-p) + logger_sigma * z
        top = np.argpartition(-score, n_candidates - 1, axis=1)[:, :n_candidates]
        cand[u] = np.take_along_axis(top, np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable"), axis=1)
    users = np.arange(n_users)
    attract = np.asarray(world.true_affinity(users, cand), dtype=np.float64)
    pa = np.clip(attract, 1e-12, 1 - 1e-12)
    noise = stable_normal(f"offpolicy:{seed}", users[:, None] * n_items + cand)
    return OffPolicyLab(sim, users, cand, np.log(pa) - np.log1p(-pa), noise, attract, k, float(logger_sigma),
                        {"dataset": getattr(ds, "name", "?"), "seed": seed})  # fmt: skip


def replicate(lab: OffPolicyLab, logger, target, n_impressions: int, reps: int, seed: int = 0, clip: float = 100.0,
              estimators: tuple[str, ...] = ESTIMATORS, alpha: float = 0.05) -> pd.DataFrame:  # fmt: skip
    """``reps`` independent logs of ``logger``, each evaluated for ``target``: one row per (rep, estimator)
    with ``truth`` (exact), ``error`` and ``covered`` (the interval holds the truth)."""
    if reps < 1 or n_impressions < 2:
        raise ValueError(f"reps={reps}, n_impressions={n_impressions}: expected >= 1 and >= 2")
    truth = lab.truth(target)
    feats = lab.features() if any(e in estimators for e in ("DM", "DR", "SNDR")) else None
    rng = np.random.default_rng(seed)
    frames = []
    for rep in range(reps):
        log = lab.log(logger, n_impressions, rng)
        frames.append(evaluate(log, target, features=feats, clip=clip, alpha=alpha, estimators=estimators).assign(rep=rep))
    out = pd.concat(frames, ignore_index=True)
    out["truth"] = truth
    out["error"] = out["value"] - truth
    out["covered"] = (out["ci_low"] <= truth) & (truth <= out["ci_high"])
    return out


def impressions_needed(effect: float, sd: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Impressions for a two-sided z-test of an effect ``effect`` whose per-impression term has
    standard deviation ``sd``: ``⌈(z_{1−α/2} + z_power)² sd² / effect²⌉``."""
    if effect == 0 or not sd > 0:
        raise ValueError(f"effect={effect!r}, sd={sd!r}: expected a non-zero effect and sd > 0")
    z = _z(alpha) + float(stats.norm.ppf(power))
    return int(np.ceil((z * sd / effect) ** 2))


def difference_terms(log: SlateLog, a, b, features: np.ndarray,
                     reward_model: RewardModel | None = None) -> tuple[np.ndarray, np.ndarray, RewardModel]:  # fmt: skip
    """Per-impression terms ``[N]`` of the estimated difference ``V(a) − V(b)`` from one log: IPS
    ``Σ_p (w_a − w_b) r`` and DR ``Σ_p [q̂_a − q̂_b + (w_a − w_b)(r − q̂_logged)]``; their means
    are the estimates and ``sd / √N`` their standard errors. Also returns the reward model."""
    for policy in (a, b):
        check_support(log.logger, policy, np.unique(log.users))
    a_in = estimator_inputs(log, a, features, reward_model)
    b_in = estimator_inputs(log, b, features, a_in["reward_model"])
    r, p = log.clicks, log.pscore
    w_diff = (a_in["target_pscore"] - b_in["target_pscore"]) / p
    ips_terms = _rowsum(w_diff * r)
    dr_terms = _rowsum(a_in["q_target"] - b_in["q_target"] + w_diff * (r - a_in["q_logged"]))
    return ips_terms, dr_terms, a_in["reward_model"]


def decision_sizes(lab: OffPolicyLab, epsilon: float, target_sigma: float, pilot: int = 100_000, seed: int = 0,
                   alpha: float = 0.05, power: float = 0.8) -> dict:  # fmt: skip
    """How much data one decision needs on the same simulator: "does the ranker ``target_sigma`` beat the
    logger's own ranker (without exploration)?", with power ``power`` at level ``alpha`` (two-sided).

    Off-policy: impressions of the ε-mixture logger, for the difference of the two policies'
    estimates from the same log, ``Σ_p (w_target − w_control) r`` per impression (IPS) or the
    same with DR terms; the spread of those per-impression terms is measured on a pilot log
    and `impressions_needed` applied. A/B: users, one impression each, split evenly; each arm
    on-policy; per arm ``(z_{1−α/2} + z_power)² (sd_A² + sd_B²) / Δ²`` from pilot on-policy runs
    (`workbench.experiment.stats.sample_size_means`). ``Δ`` is the exact difference of values.
    """
    from workbench.experiment.stats import sample_size_means

    logger, target, control = lab.policy(epsilon=epsilon), lab.policy(target_sigma, 0.0), lab.policy(epsilon=0.0)
    v_t, v_c = lab.truth(target), lab.truth(control)
    if v_t == v_c:
        raise ValueError(f"target_sigma={target_sigma} ranks exactly like the logger: there is no difference to detect")
    rng = np.random.default_rng(seed)
    log = lab.log(logger, pilot, rng)
    ips_terms, dr_terms, _ = difference_terms(log, target, control, lab.features())
    effect = v_t - v_c
    on_a = lab.log(control, pilot, rng).clicks @ np.ones(lab.k)
    on_b = lab.log(target, pilot, rng).clicks @ np.ones(lab.k)
    per_arm = sample_size_means(abs(effect), float(on_a.std(ddof=1)), alpha=alpha, power=power, sd_b=float(on_b.std(ddof=1)))
    return {
        "epsilon": epsilon, "target_sigma": target_sigma, "v_target": v_t, "v_control": v_c, "v_logger": lab.truth(logger),
        "ope_ips": impressions_needed(effect, float(ips_terms.std(ddof=1)), alpha, power),
        "ope_dr": impressions_needed(effect, float(dr_terms.std(ddof=1)), alpha, power),
        "ab_users": 2 * int(per_arm),
    }  # fmt: skip
