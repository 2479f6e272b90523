"""The simulation studies of `workbench.experiment` as sweep tasks: one task per parameters × seed.

Each study here is a thin adapter: it builds the arms the in-process API builds
(`workbench.experiment.make_ranker` lists over the whole population, a `UserSimulator`
seeded with the row's seed) and calls that API unchanged, so a row is identical to
calling the study in one process with the same arguments. The world of each seed is
built once on the client and scattered; rankers' lists and off-policy labs are cached
per worker.

Studies and their parameters (``[study]`` / ``[grid]`` / ``[random]`` of a study sweep):

- ``aa``: A/A rejection rate per metric and test (`workbench.experiment.aa_study`).
- ``power``: simulated power of Welch's t at the planned sample size (`power_study`;
  ``n_per_arm = 0`` plans it from the exact effect).
- ``sensitivity``: users A/B and interleaving need for ``target`` correct decisions
  (`sensitivity_study`).
- ``offpolicy``: ``reps`` replications of every off-policy estimator against the exact
  truth (`workbench.experiment.ope.lab.replicate`): bias, RMSE, interval coverage and width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.settings import check_keys, check_type, key
from workbench.sweep.cache import cached

CLICK_MODELS = ("position", "cascade")


@dataclass(frozen=True)
class Study:
    defaults: dict[str, Any]
    run: Callable[..., dict[str, Any]]
    doc: str


def _ranker_spec(name: str, spec: Any) -> None:
    if not isinstance(spec, str):
        raise ValueError(f"{name}={spec!r}: expected a ranker spec string (popularity, oracle, random, noisy:<sigma>)")
    if spec in ("popularity", "oracle", "random"):
        return
    if spec.startswith("noisy:"):
        try:
            if float(spec.split(":", 1)[1]) >= 0:
                return
        except ValueError:
            pass
    raise ValueError(f"{name}={spec!r}: expected popularity, oracle, random or noisy:<sigma >= 0>")


def check_params(study: str, params: dict[str, Any], source: str = "study", prefix: str = "") -> dict[str, Any]:
    """``params`` over the study's defaults, each of the default's type (read strictly by `workbench.settings`:
    no string for a number, no NaN; errors name ``source`` and the dotted key) and in range (ValueError naming it)."""
    if study not in STUDIES:
        raise ValueError(f"study={study!r}: expected one of {sorted(STUDIES)}")
    defaults = STUDIES[study].defaults
    check_keys(params, defaults, source, prefix, f"{study} parameter(s)")
    out = {**defaults, **{name: check_type(type(defaults[name]), value, source, key(prefix, name))
                          for name, value in params.items()}}  # fmt: skip
    for name in ("a", "b", "ranker"):
        if name in out:
            _ranker_spec(name, out[name])
    if out.get("click_model", "position") not in CLICK_MODELS:
        raise ValueError(f"click_model={out['click_model']!r}: expected one of {CLICK_MODELS}")
    for name in ("k", "n_tests", "n_users", "days", "n_impressions", "reps", "n_candidates"):
        if name in out and out[name] < 1:
            raise ValueError(f"{name}={out[name]!r}: expected an integer >= 1")
    if "n_per_arm" in out and out["n_per_arm"] < 0:
        raise ValueError(f"n_per_arm={out['n_per_arm']!r}: expected >= 0 (0: planned from the exact effect)")
    if not 0.0 < out.get("alpha", 0.05) < 1.0:
        raise ValueError(f"alpha={out['alpha']!r}: expected in (0, 1)")
    if not 0.0 < out.get("power", 0.8) < 1.0:
        raise ValueError(f"power={out['power']!r}: expected in (0, 1)")
    if study == "sensitivity":
        _sensitivity_config(out, 0)  # SensitivityConfig checks its own fields
    if study == "offpolicy":
        if not out["k"] < out["n_candidates"]:
            raise ValueError(f"k={out['k']}, n_candidates={out['n_candidates']}: expected k < n_candidates")
        if out["logger"] not in ("mixture", "explore"):
            raise ValueError(f"logger={out['logger']!r}: expected 'mixture' or 'explore'")
        for name in ("logger_sigma", "target_sigma", "clip"):
            if out[name] < 0:
                raise ValueError(f"{name}={out[name]!r}: expected >= 0")
        for name in ("epsilon", "target_epsilon"):
            if not 0.0 <= out[name] <= 1.0:
                raise ValueError(f"{name}={out[name]!r}: expected in [0, 1]")
    return out


# ---- on the worker


@dataclass(frozen=True)
class WorldInputs:
    """A seed's data set and its world (the truth the simulator draws from): scattered once per worker."""

    ds: Any
    world: Any


def _world_parts(inputs: WorldInputs) -> tuple[Any, Any, np.ndarray]:
    return inputs.ds, inputs.world, np.arange(inputs.ds.n_users)


def _lists(inputs: Any, spec: str, k: int, seed: int) -> np.ndarray:
    """A ranker's lists over the population, cached per worker (keyed by the world's data and the spec)."""
    from workbench.experiment import make_ranker

    ds, world, population = _world_parts(inputs)
    key = ("lists", ds.fingerprint, seed, spec, k)
    return cached(key, lambda: make_ranker(spec, ds, world, k, seed)(population))


def _simulator(inputs: Any, click_model: str, seed: int):
    from workbench.experiment import SimulatorConfig, UserSimulator

    return UserSimulator(inputs.world, SimulatorConfig(click_model=click_model, seed=seed))


def run_aa(p: dict[str, Any], seed: int, inputs: Any) -> dict[str, Any]:
    from workbench.experiment import aa_study

    lists = _lists(inputs, p["ranker"], p["k"], seed)
    frame = aa_study(_simulator(inputs, p["click_model"], seed), lists, np.arange(inputs.ds.n_users),
                     n_tests=p["n_tests"], n_users=p["n_users"], days=p["days"], alpha=p["alpha"], seed=seed)  # fmt: skip
    row: dict[str, Any] = {"users_per_arm": float(frame["users_per_arm"].iloc[0])}
    for rec in frame.to_dict("records"):  # one row per metric (four)
        m = rec["metric"]
        row |= {f"{m}_rejection_rate": rec["rejection_rate"], f"{m}_ci_low": rec["ci_low"], f"{m}_ci_high": rec["ci_high"]}
    return row


def run_power(p: dict[str, Any], seed: int, inputs: Any) -> dict[str, Any]:
    from workbench.experiment import power_study

    la, lb = _lists(inputs, p["a"], p["k"], seed), _lists(inputs, p["b"], p["k"], seed)
    out = power_study(_simulator(inputs, p["click_model"], seed), la, lb, np.arange(inputs.ds.n_users),
                      n_per_arm=p["n_per_arm"] or None, n_tests=p["n_tests"], alpha=p["alpha"], power=p["power"],
                      seed=seed)  # fmt: skip
    return {k: float(v) for k, v in out.items()}


def _sensitivity_config(p: dict[str, Any], seed: int):
    from workbench.experiment import SensitivityConfig

    return SensitivityConfig(alpha=p["alpha"], target=p["target"], reps=p["reps"], method=p["method"],
                             sessions_per_user=p["sessions_per_user"], start_users=p["start_users"],
                             max_users=p["max_users"], seed=seed)  # fmt: skip


def run_sensitivity(p: dict[str, Any], seed: int, inputs: Any) -> dict[str, Any]:
    from workbench.experiment import sensitivity_study

    la, lb = _lists(inputs, p["a"], p["k"], seed), _lists(inputs, p["b"], p["k"], seed)
    res = sensitivity_study(_simulator(inputs, p["click_model"], seed), la, lb, np.arange(inputs.ds.n_users),
                            _sensitivity_config(p, seed))  # fmt: skip
    return {"users_ab": res.users_ab, "users_interleaving": res.users_interleaving, "ratio": res.ratio,
            "predicted_ab": res.predicted_ab, "true_ctr_a": res.true_ctr_a, "true_ctr_b": res.true_ctr_b}  # fmt: skip


def estimator_column(name: str) -> str:
    """``clipped IPS`` → ``clipped_ips``."""
    return name.lower().replace(" ", "_")


def run_offpolicy(p: dict[str, Any], seed: int, inputs: Any) -> dict[str, Any]:
    from workbench.experiment.ope.lab import offpolicy_lab, replicate

    ds = inputs.ds
    lab_args = dict(k=p["k"], n_candidates=p["n_candidates"], logger_sigma=p["logger_sigma"], seed=seed,
                    click_model=p["click_model"])  # fmt: skip
    lab = cached(("lab", ds.fingerprint, *sorted(lab_args.items())), lambda: offpolicy_lab(ds, **lab_args))
    logger = lab.policy(epsilon=p["epsilon"], kind=p["logger"])
    target = lab.policy(p["target_sigma"], p["target_epsilon"])
    frame = replicate(lab, logger, target, p["n_impressions"], p["reps"], seed=seed, clip=p["clip"], alpha=p["alpha"])
    frame["width"] = frame["ci_high"] - frame["ci_low"]
    frame["squared"] = frame["error"] ** 2
    per = frame.groupby("estimator", sort=False).agg(bias=("error", "mean"), mse=("squared", "mean"),
                                                     coverage=("covered", "mean"), ci_width=("width", "mean"))  # fmt: skip
    row: dict[str, Any] = {"truth": float(frame["truth"].iloc[0]), "v_logger": float(lab.truth(logger))}
    for est, rec in per.iterrows():  # one row per estimator (seven)
        name = estimator_column(str(est))
        row |= {f"{name}_bias": float(rec["bias"]), f"{name}_rmse": float(np.sqrt(rec["mse"])),
                f"{name}_coverage": float(rec["coverage"]), f"{name}_ci_width": float(rec["ci_width"])}  # fmt: skip
    return row


_WORLD = {"k": 10, "click_model": "position"}
STUDIES: dict[str, Study] = {
    "aa": Study({"ranker": "noisy:1.5", **_WORLD, "n_tests": 1000, "n_users": 400, "days": 1, "alpha": 0.05}, run_aa,
                "A/A tests: rejection rate per metric"),
    "power": Study({"a": "noisy:2.0", "b": "noisy:1.5", **_WORLD, "n_per_arm": 0, "n_tests": 1000, "alpha": 0.05,
                    "power": 0.8}, run_power, "simulated power at the planned sample size"),
    "sensitivity": Study({"a": "noisy:2.0", "b": "noisy:1.5", **_WORLD, "alpha": 0.05, "target": 0.95, "reps": 200,
                          "method": "team_draft", "sessions_per_user": 5, "start_users": 8, "max_users": 1 << 17},
                         run_sensitivity, "users needed: A/B against interleaving"),
    "offpolicy": Study({"k": 10, "n_candidates": 20, "logger_sigma": 2.0, "click_model": "position", "epsilon": 0.1,
                        "logger": "mixture", "target_sigma": 1.0, "target_epsilon": 0.0, "n_impressions": 10_000,
                        "reps": 20, "clip": 10.0, "alpha": 0.05}, run_offpolicy,
                       "off-policy estimators over replicated logs"),
}  # fmt: skip


def study_inputs(data: str, seed: int, small: bool, cache_dir: str) -> WorldInputs:
    """The data set and world of a seed (`workbench.experiment.load_world`): built once, then scattered."""
    from workbench.experiment import load_world

    return WorldInputs(*load_world(data, seed, cache_dir, small))
