"""Off-policy evaluation: what a new policy would earn, estimated from the log of the old one.

A logging policy ``μ`` showed slates of ``k`` slots, each filled from the user's ``A``
candidates (columns ``0..A-1`` of ``candidates [U, A]``), and logged, for every shown
cell, its *propensity* ``μ(j at p | u)``: the probability that candidate ``j`` was shown
in slot ``p`` (the workbench's exploration step logs exactly this, see
`workbench.rerank.exploration`). A target policy ``π`` is any other way of filling the
slots (another ranker, a different ε or λ). Its value is the expected reward per
impression, here clicks per slate.

Estimators (``w = π(j at p | u) / μ(j at p | u)``, the importance weight of a logged cell;
``q̂`` a reward model fitted on the log; sums run over the slots of an impression, means
over the ``N`` impressions):

- ``ips``: ``mean Σ_p w r`` (Horvitz & Thompson 1952). Unbiased when π has support.
- ``snips``: per slot ``Σ_n w r / Σ_n w`` (Swaminathan & Joachims 2015). Slightly biased,
  far less variable.
- ``clipped_ips``: IPS with ``min(w, clip)`` (Bottou et al. 2013): bias for variance.
- ``direct_method``: ``mean Σ_p E_{j~π}[q̂(u, p, j)]``: no weights, as good as ``q̂``.
- ``doubly_robust``: ``DM + mean Σ_p w (r − q̂(u, p, j_logged))`` (Dudík, Langford & Li 2011).
- ``sn_doubly_robust``: DR with the correction self-normalised per slot (Kallus & Uehara 2019).
- slates: ``independent_ips`` (IIPS, Li et al. 2018: the item-position click model, in
  which the click at slot ``p`` depends only on the item there, as in the simulator's
  position-based model); ``pseudo_inverse`` (PI, Swaminathan et al. 2017, NeurIPS:
  only the slate's total reward is needed, assuming it is additive over slots).

With one slot per impression (1-D arrays) these are the contextual-bandit estimators of
Open Bandit Pipeline (``obp.ope``, Saito et al. 2021) and give the same values on the same
inputs; with ``[N, k]`` arrays each slot is a bandit round and the value is their sum, so
IPS becomes IIPS. Two definitions differ from obp, on purpose:

- Intervals: obp bootstraps the mean of the per-round terms; here every interval is the
  normal (Wald) interval ``value ± z·se``, with ``se`` from the per-impression terms (a
  slate's slots are correlated, so the impression is the unit) and, for the
  self-normalised estimators, from their delta-method influence terms. Deterministic
  and fast, and it is what the coverage benchmark measures.
- SNIPS/SNDR on slates normalise each slot separately (``Σ_p Σ_n w r / Σ_n w``); obp
  normalises by the mean weight over all rounds. With one slot they coincide.

Effective sample size (Kish 1965): ``(Σ w)² / Σ w²`` per slot, the smallest over slots;
``N`` for the direct method, which uses no weights.

The estimator functions do not check *support*: per-cell arrays cannot tell. `check_support`
and `evaluate` do, from both policies' marginals, and refuse a target that puts mass where the
logger has none (its IPS/DR would miss exactly that mass's reward), naming the share.

Policies are distributions over slates with marginals ``π(j at p | u)``: `EpsilonMixture`
(a ranker's slate, or with probability ε a uniformly random slate: every cell has support)
and `ExplorationPolicy` (the workbench's own ε-exploration: only a few fixed slots are
random, so it supports only targets that keep the other slots). `OffPolicyLab` builds the
simulated set-up (`offpolicy_lab`), with the exact truth (`true_value`, position click
model) and an on-policy Monte-Carlo check (`monte_carlo_value`). ``workbench ope`` (`ope_cli`) runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from workbench.experiment.hashing import stable_normal
from workbench.experiment.simulator import unique_inverse
from workbench.rerank.exploration import explore, explore_positions, n_explore_slots

ESTIMATORS = ("IPS", "SNIPS", "clipped IPS", "DM", "DR", "SNDR", "PI")
CHUNK_USERS = 4096


class SupportError(ValueError):
    """The target policy puts probability where the logging policy never acts. ``share``: that mass's share."""

    def __init__(self, message: str, share: float) -> None:
        super().__init__(message)
        self.share = share


@dataclass(frozen=True)
class Estimate:
    """One estimate of a policy's value (reward per impression), its ``1 − alpha`` interval, se and ESS."""

    estimator: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    ess: float
    n: int
    alpha: float = 0.05

    def to_dict(self) -> dict:
        return {"estimator": self.estimator, "value": self.value, "se": self.se, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "ess": self.ess, "n": self.n}  # fmt: skip


# ---------------------------------------------------------------- input checks


def _cells(name: str, x, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [N] (one slot per impression) or [N, k] (slots), got shape {np.shape(x)}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {np.shape(x)} but the first array has {shape}: expected one entry per "
                         "logged impression (and slot) in every array")  # fmt: skip
    return arr


def _first_bad(bad: np.ndarray) -> str:
    flat = np.flatnonzero(bad.ravel())
    n, s = np.unravel_index(flat[0], bad.shape)
    return f"{len(flat)} of {bad.size} logged cells (first: impression {n}, slot {s})"


def check_log(reward, pscore, target_pscore=None, shown=None) -> tuple[np.ndarray, ...]:
    """Validate a log as float ``[N, k]`` arrays (1-D input becomes ``[N, 1]``) before any work.

    ``pscore``: the logger's probability of each logged cell, in (0, 1]; ``target_pscore``:
    the target's probability of the same cell, in [0, 1]; ``shown``: bool mask of real cells
    (padding slots are skipped everywhere). Errors name the array, the count and the first
    offending cell: missing (NaN) or zero propensities, values out of range, mismatched lengths.
    Returns ``(reward, pscore, target_pscore, shown)`` with padding cells set to reward 0,
    pscore 1 and target 0 (so they weigh nothing); ``shown`` is None when every cell is real.
    """
    r = _cells("reward", reward)
    p = _cells("pscore", pscore, r.shape)
    t = None if target_pscore is None else _cells("target_pscore", target_pscore, r.shape)
    m = None if shown is None else np.asarray(shown, dtype=bool).reshape(r.shape)
    if m is not None and m.all():
        m = None
    if r.shape[0] < 2:
        raise ValueError(f"the log has {r.shape[0]} impressions: expected at least 2 for an interval")
    if m is not None:  # padding: reward 0, pscore 1, target 0, so that it weighs nothing
        r, p = np.where(m, r, 0.0), np.where(m, p, 1.0)
        t = None if t is None else np.where(m, t, 0.0)
    real = np.ones(r.shape, dtype=bool) if m is None else m
    # min/max propagate NaN, so one pass each finds every bad value; the slow diagnosis runs only then
    if not (p.min() > 0 and p.max() <= 1):
        if np.isnan(p).any():
            raise ValueError(f"pscore is missing (NaN) for {_first_bad(np.isnan(p) & real)}: every logged action needs "
                             "the logging policy's probability of it")  # fmt: skip
        if (p <= 0).any():
            raise ValueError(f"pscore is zero or negative for {_first_bad((p <= 0) & real)}: a logged action had "
                             "probability > 0 under the policy that chose it, so a 0 means the log is wrong (or it is "
                             "padding: pass shown=)")  # fmt: skip
        raise ValueError(f"pscore exceeds 1 for {_first_bad(~(p <= 1) & real)}: expected probabilities in (0, 1]")
    if not (np.isfinite(r.min()) and np.isfinite(r.max())):
        raise ValueError(f"reward is NaN or infinite for {_first_bad(~np.isfinite(r) & real)}")
    if t is not None and not (t.min() >= 0 and t.max() <= 1):
        raise ValueError(f"target_pscore is outside [0, 1] or missing for {_first_bad(~((t >= 0) & (t <= 1)) & real)}")
    return r, p, t, m


def _colsum(x: np.ndarray) -> np.ndarray:
    """Sum over impressions of ``[N, k]``, per slot (einsum: faster than ``x.sum(axis=0)`` here)."""
    return np.einsum("nk->k", x)


def _rowsum(x: np.ndarray) -> np.ndarray:
    """Sum over slots of ``[N, k]`` (a BLAS matrix-vector product: fast for small ``k``)."""
    return x[:, 0].copy() if x.shape[1] == 1 else x @ np.ones(x.shape[1])


def _z(alpha: float) -> float:
    """``z_{1−α/2}`` (``scipy.special.ndtri``: the normal quantile without ``scipy.stats``'s per-call overhead)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r}: expected in (0, 1)")
    return float(special.ndtri(1 - alpha / 2))


def _kish(w: np.ndarray) -> float:
    """Smallest per-slot Kish ESS ``(Σw)² / Σw²`` of weights ``[N, k]``."""
    num, den = _colsum(w) ** 2, np.einsum("nk,nk->k", w, w)
    ess = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(ess.min())


def _estimate(name: str, terms: np.ndarray, alpha: float, ess: float, value: float | None = None) -> Estimate:
    """Wald estimate from per-impression terms ``[N]`` (their mean is the value unless given; for
    self-normalised estimators ``terms`` are influence terms with mean 0 and ``value`` is passed)."""
    n = len(terms)
    v = float(terms.mean()) if value is None else float(value)
    se = float(terms.std(ddof=1) / np.sqrt(n))
    z = _z(alpha)
    return Estimate(name, v, se, v - z * se, v + z * se, ess, n, alpha)


def _slot_means(w: np.ndarray, name: str) -> np.ndarray:
    mean_w = _colsum(w) / len(w)
    empty = np.flatnonzero(mean_w <= 0)
    if len(empty):
        raise ValueError(f"{name}: the target gives probability 0 to every logged cell of slot {int(empty[0])}, "
                         "so its self-normalised estimate is 0/0; use IPS or DR, or a longer log")  # fmt: skip
    return mean_w


# ---------------------------------------------------------------- item-level estimators


def ips(reward, pscore, target_pscore, *, shown=None, alpha: float = 0.05) -> Estimate:
    """Inverse propensity scoring: ``mean_n Σ_p w r``. Same value as ``obp.ope.InverseProbabilityWeighting``."""
    r, p, t, m = check_log(reward, pscore, target_pscore, shown)
    w = t / p
    return _estimate("IPS", _rowsum(w * r), alpha, _kish(w))


def clipped_ips(reward, pscore, target_pscore, clip: float, *, shown=None, alpha: float = 0.05) -> Estimate:
    """IPS with weights ``min(w, clip)``: biased towards 0 when clipping bites, less variable."""
    if not clip > 0:
        raise ValueError(f"clip={clip!r}: expected a weight cap > 0")
    r, p, t, m = check_log(reward, pscore, target_pscore, shown)
    w = np.minimum(t / p, clip)
    return _estimate("clipped IPS", _rowsum(w * r), alpha, _kish(w))


def snips(reward, pscore, target_pscore, *, shown=None, alpha: float = 0.05) -> Estimate:
    """Self-normalised IPS: ``Σ_p Σ_n w r / Σ_n w``; se by the delta method.

    One slot: the same value as ``obp.ope.SelfNormalizedInverseProbabilityWeighting``.
    """
    r, p, t, m = check_log(reward, pscore, target_pscore, shown)
    w = t / p
    wr = w * r
    mean_w = _slot_means(w, "SNIPS")
    v_slot = _colsum(wr) / len(wr) / mean_w
    influence = wr @ (1.0 / mean_w) - w @ (v_slot / mean_w)  # Σ_p (w r − w V_p) / mean w_p
    return _estimate("SNIPS", influence, alpha, _kish(w), value=v_slot.sum())


def direct_method(q_target, *, shown=None, alpha: float = 0.05) -> Estimate:
    """``mean_n Σ_p q_target``, where ``q_target[n, p] = Σ_j π(j at p | u_n) q̂(u_n, p, j)``.

    The interval treats ``q̂`` as fixed: it ignores the model's own error and bias, so it
    can be narrow around a wrong value. Same value as ``obp.ope.DirectMethod``.
    """
    q = _cells("q_target", q_target)
    if shown is not None:
        q = np.where(np.asarray(shown, dtype=bool).reshape(q.shape), q, 0.0)
    if not np.isfinite(q).all():
        raise ValueError("q_target holds NaN or infinite values: expected the reward model's expected reward")
    if q.shape[0] < 2:
        raise ValueError(f"the log has {q.shape[0]} impressions: expected at least 2 for an interval")
    return _estimate("DM", _rowsum(q), alpha, float(q.shape[0]))


def _dr_inputs(reward, pscore, target_pscore, q_logged, q_target, shown):
    r, p, t, m = check_log(reward, pscore, target_pscore, shown)
    ql = _cells("q_logged", q_logged, r.shape)
    qt = _cells("q_target", q_target, r.shape)
    if m is not None:
        ql, qt = np.where(m, ql, 0.0), np.where(m, qt, 0.0)
    if not (np.isfinite(ql).all() and np.isfinite(qt).all()):
        raise ValueError("q_logged / q_target hold NaN or infinite values: expected the reward model's predictions")
    return r - ql, t / p, qt


def doubly_robust(reward, pscore, target_pscore, q_logged, q_target, *, shown=None, alpha: float = 0.05) -> Estimate:
    """``mean_n Σ_p [q_target + w (r − q_logged)]``: DM corrected by IPS on the model's residuals.

    ``q_logged[n, p] = q̂(u_n, p, j_logged)``. Unbiased if either the propensities or ``q̂``
    are right. Same value as ``obp.ope.DoublyRobust``.
    """
    resid, w, qt = _dr_inputs(reward, pscore, target_pscore, q_logged, q_target, shown)
    return _estimate("DR", _rowsum(qt + w * resid), alpha, _kish(w))


def sn_doubly_robust(reward, pscore, target_pscore, q_logged, q_target, *, shown=None,
                     alpha: float = 0.05) -> Estimate:  # fmt: skip
    """DR with the correction self-normalised per slot: ``Σ_p [mean q_target + Σ_n w (r − q̂) / Σ_n w]``.

    One slot: the same value as ``obp.ope.SelfNormalizedDoublyRobust``.
    """
    resid, w, qt = _dr_inputs(reward, pscore, target_pscore, q_logged, q_target, shown)
    n = len(w)
    mean_w = _slot_means(w, "SNDR")
    wres = w * resid
    correction = _colsum(wres) / n / mean_w
    mean_qt = _colsum(qt) / n
    value = mean_qt.sum() + correction.sum()
    influence = _rowsum(qt) - mean_qt.sum() + wres @ (1.0 / mean_w) - w @ (correction / mean_w)
    return _estimate("SNDR", influence, alpha, _kish(w), value=value)


# ---------------------------------------------------------------- slate estimators


def independent_ips(reward, pscore, target_pscore, *, shown=None, alpha: float = 0.05) -> Estimate:
    """IIPS (Li et al. 2018): ``mean_n Σ_p r_np π(j_np at p) / μ(j_np at p)`` over ``[N, k]`` slots.

    Unbiased when the click at a slot depends only on (slot, item) — the simulator's
    position-based model — and π has support. Same value as ``obp.ope.SlateIndependentIPS``.
    """
    if np.ndim(reward) != 2:
        raise ValueError(f"independent_ips needs [N, k] slate arrays, got reward of shape {np.shape(reward)}")
    est = ips(reward, pscore, target_pscore, shown=shown, alpha=alpha)
    return Estimate("IIPS", est.value, est.se, est.ci_low, est.ci_high, est.ess, est.n, alpha)


def slate_gram_pinv(gram: np.ndarray, rcond: float = 1e-10) -> np.ndarray:
    """Moore–Penrose pseudo-inverse of a logger's ``Γ = E_μ[1_s 1_sᵀ]`` (symmetric PSD), ``[kA, kA]``."""
    return linalg.pinvh(np.asarray(gram, dtype=np.float64), rtol=rcond)


def pseudo_inverse(slate_reward, logged_cols, users, target_marginals, gram_pinv, *,
                   alpha: float = 0.05) -> Estimate:  # fmt: skip
    """PI (Swaminathan et al. 2017): ``mean_n R_n · q_π(u_n)ᵀ Γ_μ⁺ 1_{s_n}``.

    ``slate_reward [N]``: the slate's total reward (clicks); ``logged_cols [N, k]``: the shown
    candidate columns; ``users [N]``: row ids into ``target_marginals [U, k, A]``
    (``π(j at p | u)``); ``gram_pinv``: `slate_gram_pinv` of the logger's ``Γ``, which must be
    the same for every user (it is, with candidates in the logger's rank order). Unbiased when
    the slate reward is additive over slots and ``q_π`` lies in the span of ``Γ``
    (`evaluate` checks that). The weights can be negative; ESS is Kish's on them.
    """
    r = _cells("slate_reward", slate_reward)[:, 0]
    cols = np.asarray(logged_cols, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64).reshape(-1)
    q = np.asarray(target_marginals, dtype=np.float64)
    if q.ndim != 3:
        raise ValueError(f"target_marginals must be [U, k, A], got shape {q.shape}")
    n_users, k, a = q.shape
    if cols.shape != (len(r), k) or len(users) != len(r):
        raise ValueError(f"slate_reward has {len(r)} impressions, logged_cols {cols.shape}, users {users.shape}: "
                         f"expected [N], [N, k={k}], [N]")  # fmt: skip
    if gram_pinv.shape != (k * a, k * a):
        raise ValueError(f"gram_pinv has shape {gram_pinv.shape}, expected [{k * a}, {k * a}] (k·A for k={k}, A={a})")
    if len(r) < 2 or not np.isfinite(r).all():
        raise ValueError("slate_reward needs at least 2 finite values")
    if cols.min() < 0 or cols.max() >= a or users.min() < 0 or users.max() >= n_users:
        raise ValueError(f"logged_cols must lie in [0, {a}) and users in [0, {n_users})")
    uniq, inv = unique_inverse(users)
    h = q[uniq].reshape(len(uniq), k * a) @ gram_pinv  # h_u = Γ⁺ q_π(u), per distinct user
    flat = cols + (inv * (k * a))[:, None]
    flat += np.arange(k) * a
    w = np.take(h.ravel(), flat) @ np.ones(k)
    ess = float(w.sum() ** 2 / (w * w).sum()) if (w * w).sum() > 0 else 0.0
    return _estimate("PI", r * w, alpha, ess)


# ---------------------------------------------------------------- policies over candidate slates


def _check_rate(name: str, x: float) -> float:
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name}={x!r}: expected a probability in [0, 1]")
    return float(x)


@dataclass(frozen=True, eq=False)
class EpsilonMixture:
    """With probability ``1 − epsilon`` (per impression) show ``slates[u]`` (candidate columns, ``[U, k]``);
    otherwise a uniformly random ordered slate of ``k`` distinct candidates out of ``n_candidates``.

    Marginal: ``π(j at p | u) = (1 − ε)·[j = slates[u, p]] + ε / A``: every cell has
    probability ≥ ε/A, so with ε > 0 it supports any target over the same candidates.
    """

    slates: np.ndarray
    n_candidates: int
    epsilon: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        s = np.asarray(self.slates, dtype=np.int64)
        object.__setattr__(self, "slates", s)
        _check_rate("epsilon", self.epsilon)
        if s.ndim != 2 or not 1 <= s.shape[1] <= self.n_candidates:
            raise ValueError(f"slates must be [U, k] with 1 <= k <= n_candidates={self.n_candidates}, got {s.shape}")
        if s.min() < 0 or s.max() >= self.n_candidates:
            raise ValueError(f"slates hold columns in [{s.min()}, {s.max()}], expected [0, {self.n_candidates})")

    @property
    def k(self) -> int:
        return self.slates.shape[1]

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Candidate columns ``[n, k]`` shown to ``users`` (one impression each)."""
        users = np.asarray(users, dtype=np.int64)
        out = self.slates[users].copy()
        rand = np.flatnonzero(rng.random(len(users)) < self.epsilon)
        if len(rand):
            key = rng.random((len(rand), self.n_candidates))
            top = np.argpartition(key, self.k - 1, axis=1)[:, : self.k] if self.k < self.n_candidates else np.argsort(key, axis=1)
            out[rand] = np.take_along_axis(top, np.argsort(np.take_along_axis(key, top, axis=1), axis=1), axis=1)
        return out

    def marginals(self, users: np.ndarray) -> np.ndarray:
        """``π(j at p | u)`` as ``[n, k, A]``."""
        users = np.asarray(users, dtype=np.int64)
        out = np.full((len(users), self.k, self.n_candidates), self.epsilon / self.n_candidates)
        rows = np.arange(len(users))[:, None]
        out[rows, np.arange(self.k)[None, :], self.slates[users]] += 1.0 - self.epsilon
        return out

    def gram(self) -> np.ndarray:
        """``Γ = E[1_s 1_sᵀ]`` over (slot, column) cells, ``[kA, kA]``; needs the same slate for every user."""
        s0 = _shared_row(self.slates, "EpsilonMixture.gram")
        k, a = self.k, self.n_candidates
        g = self.epsilon * _component_gram(np.full(k, -1), np.ones(a, dtype=bool), a)
        return g + (1.0 - self.epsilon) * _component_gram(s0, np.zeros(a, dtype=bool), a)


@dataclass(frozen=True, eq=False)
class ExplorationPolicy:
    """The workbench's ε-exploration (`workbench.rerank.exploration.explore`) of a ranking of candidate columns.

    ``ranking [U, A]``: each user's candidate columns in the policy's rank order (a
    permutation of ``0..A-1``). ``m = ⌊rate·k + ½⌋`` fixed slots show uniform draws from the
    pool (ranks ``k..A-1``, ``P = A − k`` of them); the other slots show the top ``k − m``
    ranks in order. Marginal: 1 at a deterministic slot's item, ``1/P`` for pool items at
    explored slots, 0 elsewhere: a target that changes any deterministic slot has no support.
    """

    ranking: np.ndarray
    k: int
    rate: float = 0.1
    name: str = ""

    def __post_init__(self) -> None:
        r = np.asarray(self.ranking, dtype=np.int64)
        object.__setattr__(self, "ranking", r)
        _check_rate("rate", self.rate)
        if r.ndim != 2 or not 1 <= self.k < r.shape[1]:
            raise ValueError(f"ranking must be [U, A] with A > k={self.k}, got shape {r.shape}")
        if not (np.sort(r, axis=1) == np.arange(r.shape[1])).all():
            raise ValueError("each row of ranking must be a permutation of the candidate columns 0..A-1")

    @property
    def n_candidates(self) -> int:
        return self.ranking.shape[1]

    def _layout(self) -> tuple[np.ndarray, np.ndarray]:
        """(explored bool [k], rank shown at each deterministic slot [k], -1 at explored)."""
        m = min(n_explore_slots(self.k, self.rate), self.n_candidates - self.k)
        explored = np.zeros(self.k, dtype=bool)
        explored[explore_positions(self.k, m)] = True
        det_rank = np.where(explored, -1, np.arange(self.k) - np.cumsum(explored))
        return explored, det_rank

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        ranked = self.ranking[np.asarray(users, dtype=np.int64)]
        res = explore(ranked, self.k, self.rate, rng)
        return np.take_along_axis(ranked, res.order, axis=1)

    def marginals(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        explored, det_rank = self._layout()
        a, pool = self.n_candidates, self.n_candidates - self.k
        by_rank = np.zeros((self.k, a))  # [slot, rank]
        by_rank[~explored, det_rank[~explored]] = 1.0
        by_rank[np.ix_(explored, np.arange(self.k, a))] = 1.0 / pool
        out = np.empty((len(users), self.k, a))
        rows = np.arange(len(users))[:, None, None]
        out[rows, np.arange(self.k)[None, :, None], self.ranking[users][:, None, :]] = by_rank[None]
        return out

    def gram(self) -> np.ndarray:
        r0 = _shared_row(self.ranking, "ExplorationPolicy.gram")
        explored, det_rank = self._layout()
        fixed = np.where(explored, -1, r0[np.maximum(det_rank, 0)])
        pool = np.zeros(self.n_candidates, dtype=bool)
        pool[r0[self.k :]] = True
        return _component_gram(fixed, pool, self.n_candidates)


def _shared_row(rows: np.ndarray, what: str) -> np.ndarray:
    if not (rows == rows[:1]).all():
        raise ValueError(f"{what}: the logger must act the same for every user (candidate columns in the logger's "
                         "rank order) for one Γ to serve all users")  # fmt: skip
    return rows[0]


def _component_gram(fixed: np.ndarray, pool: np.ndarray, a: int) -> np.ndarray:
    """``E[1_s 1_sᵀ]`` for slates whose slot ``p`` holds column ``fixed[p]`` or, where ``fixed[p] = -1``,
    a draw without replacement, uniform over the ``pool`` columns."""
    k = len(fixed)
    det = fixed >= 0
    f = np.zeros((k, a))
    f[np.flatnonzero(det), fixed[det]] = 1.0
    g = np.einsum("pj,qi->pjqi", f, f)
    n_pool = int(pool.sum())
    rand = ~det
    if rand.any():
        if n_pool < rand.sum():
            raise ValueError(f"{rand.sum()} random slots but only {n_pool} pool columns")
        r = np.outer(rand, pool).astype(np.float64)  # cells a random slot can hold
        g += (np.einsum("pj,qi->pjqi", f, r) + np.einsum("pj,qi->pjqi", r, f)) / n_pool
        same_slot = np.eye(k, dtype=bool)[:, None, :, None] & np.eye(a, dtype=bool)[None, :, None, :]
        diff = ~np.eye(k, dtype=bool)[:, None, :, None] & ~np.eye(a, dtype=bool)[None, :, None, :]
        rr = np.einsum("pj,qi->pjqi", r, r) > 0
        pair = 1.0 / (n_pool * (n_pool - 1)) if n_pool > 1 else 0.0
        g += np.where(rr & same_slot, 1.0 / n_pool, 0.0) + np.where(rr & diff, pair, 0.0)
    return g.reshape(k * a, k * a)


def _by_user_chunks(users: np.ndarray, fn, chunk: int = CHUNK_USERS) -> np.ndarray:
    return np.concatenate([fn(users[lo : lo + chunk]) for lo in range(0, len(users), chunk)], axis=0)


def check_support(logger, target, users: np.ndarray, counts: np.ndarray | None = None, tol: float = 0.0) -> float:
    """Share of the target's (slot, candidate) mass, over ``users`` (weighted by ``counts``), on cells the
    logger never shows. Raises `SupportError` when it exceeds ``tol``; returns it otherwise."""
    users = np.asarray(users, dtype=np.int64)
    counts = np.ones(len(users)) if counts is None else np.asarray(counts, dtype=np.float64)
    if target.k != logger.k or target.n_candidates != logger.n_candidates:
        raise ValueError(f"target shows {target.k} of {target.n_candidates} candidates, the logger {logger.k} of "
                         f"{logger.n_candidates}: expected the same slate shape")  # fmt: skip
    lost = total = 0.0
    first = None
    for lo in range(0, len(users), CHUNK_USERS):
        u, c = users[lo : lo + CHUNK_USERS], counts[lo : lo + CHUNK_USERS]
        q_t, q_b = target.marginals(u), logger.marginals(u)
        bad = (q_t > 0) & (q_b <= 0)
        lost += float((q_t * bad).sum(axis=(1, 2)) @ c)
        total += float(q_t.sum(axis=(1, 2)) @ c)
        if first is None and bad.any():
            i, p, j = np.argwhere(bad)[0]
            first = (int(u[i]), int(p), int(j))
    share = lost / total if total else 0.0
    if share > tol:
        name = getattr(target, "name", "") or type(target).__name__
        raise SupportError(
            f"target {name!r} puts {share:.1%} of its mass on (slot, candidate) cells the logger never shows "
            f"(first: user {first[0]}, slot {first[1]}, candidate column {first[2]}); IPS and DR would miss that "
            "mass's reward. Log with exploration of every slot (EpsilonMixture, ε > 0) or evaluate a target that "
            "keeps the logger's deterministic slots", share)  # fmt: skip
    return share


# ---------------------------------------------------------------- the log, the reward model, the truth


@dataclass(eq=False)
class SlateLog:
    """Logged impressions. ``users [N]`` index rows of ``candidates [U, A]`` (item ids); ``slates [N, k]``
    are the shown candidate columns; ``pscore [N, k]`` the logger's probability of each shown cell;
    ``clicks [N, k]`` the rewards."""

    users: np.ndarray
    slates: np.ndarray
    pscore: np.ndarray
    clicks: np.ndarray
    candidates: np.ndarray
    logger: object = None

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64).reshape(-1)
        self.slates = np.asarray(self.slates, dtype=np.int64)
        self.candidates = np.asarray(self.candidates, dtype=np.int64)
        n = len(self.users)
        if self.slates.ndim != 2 or self.slates.shape[0] != n:
            raise ValueError(f"slates has shape {self.slates.shape}, expected [N={n}, k] (one row per logged user)")
        self.pscore = _cells("pscore", self.pscore, self.slates.shape)
        self.clicks = _cells("clicks", self.clicks, self.slates.shape)
        if self.users.min(initial=0) < 0 or self.users.max(initial=0) >= len(self.candidates):
            raise ValueError(f"users span [{self.users.min()}, {self.users.max()}], expected rows of candidates [0, {len(self.candidates)})")
        if self.slates.min(initial=0) < 0 or self.slates.max(initial=0) >= self.candidates.shape[1]:
            raise ValueError(f"slates hold columns outside [0, {self.candidates.shape[1]})")

    @property
    def n(self) -> int:
        return len(self.users)

    @property
    def items(self) -> np.ndarray:
        return np.take_along_axis(self.candidates[self.users], self.slates, axis=1)


def log_impressions(sim, candidates: np.ndarray, logger, users: np.ndarray, rng: np.random.Generator | int,
                    attract: np.ndarray | None = None) -> SlateLog:  # fmt: skip
    """Show ``users`` (one impression each) the logger's slates, simulate clicks, log propensities.

    ``attract [U, A]``: the world's ``a(u, candidate)``, precomputed, when the same
    population is logged many times."""
    rng = np.random.default_rng(rng)
    users = np.asarray(users, dtype=np.int64)
    cols = logger.sample(users, rng)
    items = np.take_along_axis(candidates[users], cols, axis=1)
    a = None if attract is None else np.take_along_axis(attract[users], cols, axis=1)
    imp = sim.simulate(users, items, rng, attract=a)
    pscore = np.take_along_axis(logger.marginals(users), cols[:, :, None], axis=2)[:, :, 0] \
        if len(users) <= CHUNK_USERS else _logged_pscore(logger, users, cols)  # fmt: skip
    return SlateLog(users, cols, pscore, imp.clicks.astype(np.float64), candidates, logger)


def _logged_pscore(policy, users: np.ndarray, cols: np.ndarray) -> np.ndarray:
    uniq, inv = unique_inverse(users)
    table = _by_user_chunks(uniq, policy.marginals)  # [u, k, A]
    k, a = table.shape[1:]
    return np.take(table.ravel(), inv[:, None] * (k * a) + np.arange(k)[None, :] * a + cols)


@dataclass(eq=False)
class RewardModel:
    """Logistic click model ``q̂(u, p, j) = σ(b_p + x(u, j)·β)`` with one bias per slot, fitted on
    the logged cells by Newton's method with an L2 penalty on ``β`` and on each ``b_p``'s distance
    from the overall log-odds of a click."""

    slot_bias: np.ndarray
    coef: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``features [..., k, d]`` (slot on the second-to-last axis) → click probability ``[..., k]``."""
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return special.expit(x @ self.coef + self.slot_bias)


def fit_reward_model(features: np.ndarray, reward: np.ndarray, l2: float = 1.0, max_iter: int = 50,
                     tol: float = 1e-10, max_impressions: int | None = 200_000, seed: int = 0) -> RewardModel:  # fmt: skip
    """Fit `RewardModel` on ``features [N, k, d]`` of the logged cells and their ``reward [N, k]`` in {0, 1}.

    Logs longer than ``max_impressions`` are fitted on that many impressions drawn without
    replacement (fixed by ``seed``): a handful of coefficients does not need millions of rows.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(reward, dtype=np.float64)
    if x.ndim != 3 or y.shape != x.shape[:2]:
        raise ValueError(f"features must be [N, k, d] and reward [N, k], got {x.shape} and {y.shape}")
    if max_impressions is not None and len(x) > max_impressions:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), size=max_impressions, replace=False))
        x, y = x[keep], y[keep]
    n, k, d = x.shape
    mean, scale = x.reshape(-1, d).mean(0), x.reshape(-1, d).std(0)
    scale = np.where(scale > 0, scale, 1.0)
    xs = (x - mean) / scale  # [n, k, d]
    flat = xs.reshape(n * k, d)
    rate = y.mean()
    prior = np.log((rate + 1e-9) / (1 - rate + 1e-9))
    beta, bias = np.zeros(d), np.full(k, prior)
    for _ in range(max_iter):
        prob = special.expit(xs @ beta + bias)  # [n, k]
        wgt, resid = prob * (1 - prob), y - prob
        # the same L2 pulls each slot bias towards the overall log-odds (a slot without clicks stays finite)
        g = np.concatenate([np.einsum("np->p", resid) - l2 * (bias - prior), np.einsum("npc,np->c", xs, resid) - l2 * beta])
        h_bb = np.diag(np.einsum("np->p", wgt) + l2 + 1e-9)
        h_bx = np.einsum("np,npc->pc", wgt, xs)
        h_xx = (flat * wgt.reshape(-1, 1)).T @ flat + l2 * np.eye(d)
        step = np.linalg.solve(np.block([[h_bb, h_bx], [h_bx.T, h_xx]]), g)
        bias, beta = bias + step[:k], beta + step[k:]
        if np.abs(step).max() < tol:
            break
    return RewardModel(bias, beta, mean, scale)


def true_value(sim, candidates: np.ndarray, policy, users: np.ndarray, attract: np.ndarray | None = None) -> float:
    """Exact expected clicks per impression of ``policy``, averaged over ``users`` (position model only):
    ``mean_u Σ_p Σ_j π(j at p | u) · e(u, p) · a(u, candidate j)``."""
    if sim.config.click_model != "position":
        raise ValueError(f"true_value needs the position click model (additive over slots), not "
                         f"{sim.config.click_model!r}: use monte_carlo_value")  # fmt: skip
    users = np.asarray(users, dtype=np.int64)
    a = attract if attract is not None else sim.attractiveness(np.arange(len(candidates)), candidates)

    def per_user(u: np.ndarray) -> np.ndarray:
        q = policy.marginals(u)
        return np.einsum("npj,np,nj->n", q, sim.examination(u, policy.k), a[u])

    return float(_by_user_chunks(users, per_user).mean())


def monte_carlo_value(sim, candidates: np.ndarray, policy, users: np.ndarray, n_impressions: int,
                      rng: np.random.Generator | int) -> tuple[float, float]:  # fmt: skip
    """On-policy Monte-Carlo: show ``policy``'s own slates to ``n_impressions`` users drawn from ``users``;
    returns (mean clicks per impression, its standard error)."""
    rng = np.random.default_rng(rng)
    draw = np.asarray(users, dtype=np.int64)[rng.integers(0, len(users), size=n_impressions)]
    log = log_impressions(sim, candidates, policy, draw, rng)
    total = log.clicks.sum(axis=1)
    return float(total.mean()), float(total.std(ddof=1) / np.sqrt(n_impressions))


def reward_table(model: RewardModel, features: np.ndarray, k: int) -> np.ndarray:
    """``q̂(u, p, j)`` for every slot and candidate: ``features [U, A, d]`` → ``[U, k, A]``."""
    lin = ((np.asarray(features, dtype=np.float64) - model.mean) / model.scale) @ model.coef
    if len(model.slot_bias) != k:
        raise ValueError(f"the reward model has {len(model.slot_bias)} slot biases, the slates {k} slots")
    return special.expit(lin[:, None, :] + model.slot_bias[None, :, None])


def estimator_inputs(log: SlateLog, target, features: np.ndarray | None = None,
                     reward_model: RewardModel | None = None) -> dict:  # fmt: skip
    """The per-cell arrays the estimators take, for ``target`` on ``log``.

    Always: ``target_pscore [N, k]`` (the target's probability of each logged cell),
    ``marginals [u, k, A]`` of the log's ``u`` distinct users and ``users [N]`` (rows of
    ``marginals``). With ``features [U, A, d]``: the reward model (fitted on the log unless
    ``reward_model`` is given), ``q_logged`` and ``q_target`` ``[N, k]``.
    """
    k, a = log.slates.shape[1], log.candidates.shape[1]
    if target.k != k or target.n_candidates != a:
        raise ValueError(f"target fills {target.k} slots from {target.n_candidates} candidates, the log "
                         f"{k} from {a}")  # fmt: skip
    uniq, inv = unique_inverse(log.users)
    q_t = _by_user_chunks(uniq, target.marginals)  # [u, k, A]
    flat = log.slates + (inv * (k * a))[:, None]
    flat += np.arange(k) * a
    out = {"target_pscore": np.take(q_t.ravel(), flat), "marginals": q_t, "users": inv, "distinct_users": uniq}
    if features is not None:
        feats = np.asarray(features)
        if feats.ndim != 3 or feats.shape[:2] != log.candidates.shape:
            raise ValueError(f"features must be [U, A, d] = [{len(log.candidates)}, {a}, d], got {feats.shape}")
        if reward_model is None:
            reward_model = fit_reward_model(feats[log.users[:, None], log.slates], log.clicks)
        qhat = reward_table(reward_model, feats[uniq], k)  # [u, k, A]
        out.update(reward_model=reward_model, q_logged=np.take(qhat.ravel(), flat),
                   q_target=np.einsum("ukj,ukj->uk", q_t, qhat)[inv])  # fmt: skip
    return out


def evaluate(log: SlateLog, target, *, features: np.ndarray | None = None, reward_model: RewardModel | None = None,
             clip: float = 100.0, alpha: float = 0.05, estimators: tuple[str, ...] = ESTIMATORS,
             logger=None) -> pd.DataFrame:  # fmt: skip
    """Every estimator of ``target``'s value (clicks per impression) from ``log``; one row each.

    Checks first that the target has support under the logger (`check_support`, raises
    `SupportError` with the unsupported share). ``features [U, A, d]`` describe each
    (user, candidate) for the reward model of DM/DR/SNDR, fitted on the log unless
    ``reward_model`` is given; without either, those rows are left out. PI also checks that
    the target's marginals lie in the span of the logger's ``Γ``.
    """
    logger = logger if logger is not None else log.logger
    if logger is None:
        raise ValueError("the log has no logger policy: pass logger= (needed for the support check and PI)")
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimators {unknown}: expected some of {ESTIMATORS}")
    if target.k != log.slates.shape[1] or target.n_candidates != log.candidates.shape[1]:
        raise ValueError(f"target fills {target.k} slots from {target.n_candidates} candidates, the log "
                         f"{log.slates.shape[1]} from {log.candidates.shape[1]}")  # fmt: skip
    check_log(log.clicks, log.pscore)
    uniq, inv = unique_inverse(log.users)
    share = check_support(logger, target, uniq, np.bincount(inv, minlength=len(uniq)))
    model_rows = [e for e in ("DM", "DR", "SNDR") if e in estimators]
    use_model = bool(model_rows) and (features is not None or reward_model is not None)
    if reward_model is not None and features is None:
        raise ValueError("reward_model needs the features [U, A, d] it predicts from")
    inputs = estimator_inputs(log, target, features if use_model else None, reward_model)
    t, r, p = inputs["target_pscore"], log.clicks, log.pscore
    rows = []
    if "IPS" in estimators:
        rows.append(ips(r, p, t, alpha=alpha))
    if "SNIPS" in estimators:
        rows.append(snips(r, p, t, alpha=alpha))
    if "clipped IPS" in estimators:
        rows.append(clipped_ips(r, p, t, clip, alpha=alpha))
    if use_model:
        q_target, q_logged = inputs["q_target"], inputs["q_logged"]
        if "DM" in estimators:
            rows.append(direct_method(q_target, alpha=alpha))
        if "DR" in estimators:
            rows.append(doubly_robust(r, p, t, q_logged, q_target, alpha=alpha))
        if "SNDR" in estimators:
            rows.append(sn_doubly_robust(r, p, t, q_logged, q_target, alpha=alpha))
    if "PI" in estimators:
        q_t = inputs["marginals"]
        gram = logger.gram()
        g_pinv = slate_gram_pinv(gram)
        flat_q = q_t.reshape(len(q_t), -1)
        resid = flat_q - (flat_q @ g_pinv) @ gram
        worst = float(np.abs(resid).max())
        if worst > 1e-6:
            raise SupportError(f"PI: the target's marginals leave the span of the logger's slates (residual {worst:.2g}); "
                               "PI would be biased for this logger", worst)  # fmt: skip
        rows.append(pseudo_inverse(_rowsum(r), log.slates, inputs["users"], q_t, g_pinv, alpha=alpha))
    frame = pd.DataFrame([e.to_dict() for e in rows])
    frame.attrs.update(unsupported_share=share, clip=clip, alpha=alpha)
    return frame


# ---------------------------------------------------------------- a lab on the simulator


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
