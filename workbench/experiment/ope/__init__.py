"""Off-policy evaluation: what a new policy would earn, estimated from the log of the old one.

One module per question:

- ``estimators``: given a log's per-cell arrays, what is a target's value and how sure can we be?
  (IPS, SNIPS, clipped IPS, DM, DR, SNDR, IIPS, PI; `Estimate`, `check_log`, `SupportError`).
- ``policies``: which slates does a policy show, with what probability, and does a target have
  support under a logger? (`EpsilonMixture`, `ExplorationPolicy`, `check_support`).
- ``logs``: what did a logger show and earn, and what is a policy's exact or on-policy value?
  (`SlateLog`, `log_impressions`, `true_value`, `monte_carlo_value`).
- ``reward_model``: how likely is a click on each (user, slot, candidate)? (the model of DM/DR/SNDR).
- ``evaluation``: every estimator of one target from one log, after the support check (`evaluate`).
- ``lab``: the simulated set-up and planning (`OffPolicyLab`, `offpolicy_lab`, `replicate`,
  `difference_terms`, `decision_sizes`). ``workbench ope`` (`workbench.experiment.ope_cli`) runs it.

The public names are re-exported here; import them from their module.
"""

from workbench.experiment.ope.estimators import (
    ESTIMATORS,
    Estimate,
    SupportError,
    check_log,
    clipped_ips,
    direct_method,
    doubly_robust,
    independent_ips,
    ips,
    pseudo_inverse,
    slate_gram_pinv,
    sn_doubly_robust,
    snips,
)
from workbench.experiment.ope.evaluation import estimator_inputs, evaluate
from workbench.experiment.ope.lab import (
    OffPolicyLab,
    decision_sizes,
    difference_terms,
    impressions_needed,
    offpolicy_lab,
    replicate,
)
from workbench.experiment.ope.logs import SlateLog, log_impressions, monte_carlo_value, true_value
from workbench.experiment.ope.policies import EpsilonMixture, ExplorationPolicy, check_support
from workbench.experiment.ope.reward_model import RewardModel, fit_reward_model, reward_table

__all__ = [
    "ESTIMATORS", "Estimate", "EpsilonMixture", "ExplorationPolicy", "OffPolicyLab", "RewardModel", "SlateLog",
    "SupportError", "check_log", "check_support", "clipped_ips", "decision_sizes", "difference_terms",
    "direct_method", "doubly_robust", "estimator_inputs", "evaluate", "fit_reward_model", "impressions_needed",
    "independent_ips", "ips", "log_impressions", "monte_carlo_value", "offpolicy_lab", "pseudo_inverse",
    "replicate", "reward_table", "sn_doubly_robust", "slate_gram_pinv", "snips", "true_value",
]  # fmt: skip
