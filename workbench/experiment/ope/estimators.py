"""Off-policy estimators: given a log's per-cell arrays, what is a target policy's value, and how sure can we be?

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

"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from workbench.experiment.simulator import unique_inverse

ESTIMATORS = ("IPS", "SNIPS", "clipped IPS", "DM", "DR", "SNDR", "PI")


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
