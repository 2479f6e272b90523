"""Every estimator of one target's value from one log, after checking that the target has support.

`estimator_inputs` turns a `SlateLog` and a target into the per-cell arrays the estimators
take; `evaluate` checks support (`SupportError`) and returns one row per estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.experiment.ope.estimators import (
    ESTIMATORS,
    SupportError,
    _rowsum,
    check_log,
    clipped_ips,
    direct_method,
    doubly_robust,
    ips,
    pseudo_inverse,
    slate_gram_pinv,
    sn_doubly_robust,
    snips,
)
from workbench.experiment.ope.logs import SlateLog
from workbench.experiment.ope.policies import _by_user_chunks, check_support
from workbench.experiment.ope.reward_model import (
    RewardModel,
    fit_reward_model,
    reward_table,
)
from workbench.experiment.simulator import unique_inverse


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
