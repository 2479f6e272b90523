"""Online experiments on simulated users: A/B tests, interleaving, and how many users each needs.

- ``simulator``: click models (position-based, cascade), conversions, session time.
- ``retention``: users who come back as often as what they consumed was worth, latency abandonment, item
  value, price and clickbait (the A/B report's revenue per user, D7 retention and return rate).
- ``oracle``: a semi-synthetic truth for MovieLens (EASE fitted on all data, calibrated).
- ``rankers``: the ``users -> int[U, k]`` protocol and built-in rankers.
- ``ab`` / ``stats``: hash assignment, per-user tests, intervals, power, SRM, report.
- ``studies``: many experiments at once (A/A validity, peeking, power).
- ``interleaving``: team draft, balanced, credit, sign test.
- ``sensitivity``: users needed by A/B against interleaving.
- ``hashing``: stable salted hashes of ids (assignment, seeds) that agree across processes.
- ``ope``: off-policy evaluation, a package (estimators IPS, SNIPS, clipped IPS, DM, DR, SNDR, IIPS, PI;
  policies; logs and truth; reward model; evaluation; the lab and planning);
  ``ope_cli``: the ``workbench ope`` command.
"""

from workbench.experiment.ab import ABConfig, ABResult, assign, load_world, run_ab, run_abtest
from workbench.experiment.interleaving import (
    Interleaved,
    Preference,
    balanced,
    credit,
    interleave,
    interleaving_experiment,
    preference_test,
    run_interleave,
    team_draft,
)
from workbench.experiment.oracle import CalibratedOracle, fit_oracle, world_for
from workbench.experiment.rankers import ListRanker, make_ranker, noisy_oracle_ranker, popularity_ranker, random_ranker
from workbench.experiment.sensitivity import SensitivityConfig, SensitivityResult, run_sensitivity, sensitivity_study
from workbench.experiment.simulator import Impressions, SimulatorConfig, UserDays, UserSimulator
from workbench.experiment.stats import (
    TestResult,
    power_curve,
    power_means,
    power_proportions,
    sample_size_curve,
    sample_size_means,
    sample_size_proportions,
    srm_test,
    two_proportion_ztest,
    welch_ttest,
)
from workbench.experiment.studies import aa_study, ctr_effect, peeking_study, power_study

__all__ = [
    "ABConfig", "ABResult", "CalibratedOracle", "Impressions", "Interleaved", "ListRanker", "Preference",
    "SensitivityConfig", "SensitivityResult", "SimulatorConfig", "TestResult", "UserDays", "UserSimulator",
    "aa_study", "assign", "balanced", "credit", "ctr_effect", "fit_oracle", "interleave", "interleaving_experiment",
    "load_world", "make_ranker", "noisy_oracle_ranker", "peeking_study", "popularity_ranker", "power_curve",
    "power_means", "power_proportions", "power_study", "preference_test", "random_ranker", "run_ab", "run_abtest",
    "run_interleave", "run_sensitivity", "sample_size_curve", "sample_size_means", "sample_size_proportions",
    "sensitivity_study", "srm_test", "team_draft", "two_proportion_ztest", "welch_ttest", "world_for",
]  # fmt: skip
