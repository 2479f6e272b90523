"""The reward model of DM, DR and SNDR: how likely is a click on each (user, slot, candidate),
learnt from the log alone?
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


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



def reward_table(model: RewardModel, features: np.ndarray, k: int) -> np.ndarray:
    """``q̂(u, p, j)`` for every slot and candidate: ``features [U, A, d]`` → ``[U, k, A]``."""
    lin = ((np.asarray(features, dtype=np.float64) - model.mean) / model.scale) @ model.coef
    if len(model.slot_bias) != k:
        raise ValueError(f"the reward model has {len(model.slot_bias)} slot biases, the slates {k} slots")
    return special.expit(lin[:, None, :] + model.slot_bias[None, :, None])
