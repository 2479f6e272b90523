"""``workbench ope``: log impressions of a logger on the simulator, estimate a target off-policy, compare with the truth;
or, with ``--log``, estimate a named target from a real log (`workbench.experiment.real_logs`)."""

from __future__ import annotations

import argparse
import sys

import pandas as pd
from scipy import stats

from workbench.experiment.ope.evaluation import evaluate
from workbench.experiment.ope.lab import offpolicy_lab
from workbench.experiment.ope.logs import monte_carlo_value


def cmd_ope_log(args: argparse.Namespace) -> int:
    """``--log``: estimate a named target policy from a real log (OBD, an event log or a file)."""
    from workbench.arguments import UsageError
    from workbench.data.files import parse_columns
    from workbench.experiment import real_logs as rl

    if args.data != "synthetic":
        raise UsageError(f"--log {args.log} with --data {args.data}: the log is the data; drop --data")
    if not args.clip > 0 or not 0 < args.alpha < 1:
        raise UsageError(f"--clip {args.clip} / --alpha {args.alpha}: expected clip > 0 and alpha in (0, 1)")
    if args.log != "obd" and (args.obd_policy != "random" or args.campaign != "all"):
        raise UsageError(f"--obd-policy/--campaign apply to --log obd only, not to {args.log}")
    try:
        columns = dict(parse_columns(args.log_columns, "--log-columns", tuple(rl.LOG_COLUMNS))) if args.log_columns else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if columns and args.log == "obd":
        raise UsageError("--log-columns with --log obd: the Open Bandit sample has a known layout")
    seed = args.seed or 0
    log = rl.read_log(args.log, columns, args.obd_policy, args.campaign)  # every check before any estimate
    dist = rl.target_policy(args.target, log, seed=seed)
    unsupported = rl.unsupported_share(log, dist)
    table = rl.estimate(log, dist, alpha=args.alpha, clip=args.clip, seed=seed)
    z = float(stats.norm.ppf(1 - args.alpha / 2))
    print(f"\nOff-policy evaluation on the log {log.name}: {log.n:,} rounds, {log.n_actions} actions in "
          f"{log.len_list} position(s), {table.attrs['clicks']:,} rewards > 0 (mean {log.reward.mean():.4f}); "
          f"target: {args.target}")  # fmt: skip
    with pd.option_context("display.width", 160, "display.float_format", "{:.5f}".format):
        print(table.to_string(index=False))
    print(f"intervals at {1 - args.alpha:.0%} (value ± {z:.2f}·se); clipped IPS caps weights at {args.clip:g}")
    if unsupported > 0:
        print(f"SUPPORT: the log does not support {unsupported:.1%} of the target's probability mass (rounds logged "
              "without exploration support only the item they show; pairs never logged support nothing): IPS and DR "
              "miss the reward of that mass, so read these estimates as lower bounds of what they measure")  # fmt: skip
    else:
        print("support: the log gives every (action, position) the target uses a probability > 0")
    if args.log == "obd":
        other = {"random": "bts", "bts": "random"}[args.obd_policy]
        if args.target == ("bts" if other == "bts" else "uniform"):
            mean, lo, hi = rl.read_obd(other, args.campaign).on_policy(args.alpha)
            print(f"on-policy: the {other} policy's own log has mean reward {mean:.5f} [{lo:.5f}, {hi:.5f}]; each "
                  "estimator covers it when its interval contains it:")  # fmt: skip
            covers = (table["ci_low"] <= mean) & (mean <= table["ci_high"])
            print("  " + ", ".join(f"{e} {'covers' if c else 'misses'}" for e, c in zip(table["estimator"], covers, strict=True)))
    ips_row = table[table["estimator"] == "IPS"].iloc[0]
    print(f"why so wide: {table.attrs['clicks']} rewards in {log.n:,} rounds, each weighted by π/μ (largest weight "
          f"{table.attrs['max_weight']:.1f}, effective sample size {ips_row['ess']:,.0f} of {log.n:,}); the IPS "
          f"interval is ±{z * ips_row['se']:.5f} around {ips_row['value']:.5f}. DM's narrow interval treats its "
          "reward model as exact, which it is not")  # fmt: skip
    return 0


def cmd_ope(args: argparse.Namespace) -> int:
    """Log impressions of the logger on the simulator, estimate the target, compare with the truth."""
    from workbench.arguments import UsageError, expected_items, resolve_small
    from workbench.data import load
    from workbench.progress import step

    if args.log is not None:
        return cmd_ope_log(args)

    small = resolve_small(args)
    seed = args.seed or 0
    if args.candidates <= args.k:
        raise UsageError(f"--candidates {args.candidates}: expected more than --k {args.k} (the slots to fill)")
    if args.candidates > expected_items(args.data, small, args.cache_dir):
        raise UsageError(f"--candidates {args.candidates}: expected at most the {expected_items(args.data, small, args.cache_dir)} "
                         f"items of {args.data}")  # fmt: skip
    for name in ("logger_sigma", "target_sigma"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: expected a noise level >= 0")
    if not args.clip > 0 or not 0 < args.alpha < 1:
        raise UsageError(f"--clip {args.clip} / --alpha {args.alpha}: expected clip > 0 and alpha in (0, 1)")
    if args.logger == "mixture" and args.epsilon == 0 and args.target_sigma != args.logger_sigma:
        print("note: a logger with ε = 0 gives no support to another ranker; expect a support error", file=sys.stderr)
    with step(f"load {args.data} and build each user's {args.candidates} candidates"):
        ds = load(args.data, cache_dir=args.cache_dir, seed=seed, small=small)
        lab = offpolicy_lab(ds, k=args.k, n_candidates=args.candidates, logger_sigma=args.logger_sigma, seed=seed,
                            click_model=args.click_model)  # fmt: skip
    logger = lab.policy(epsilon=args.epsilon, kind=args.logger)
    target = lab.policy(args.target_sigma, args.target_epsilon)
    with step(f"log {args.impressions:,} impressions"):
        log = lab.log(logger, args.impressions, seed)
    with step("estimate"):
        table = evaluate(log, target, features=lab.features(), clip=args.clip, alpha=args.alpha)
    with step("on-policy Monte-Carlo run of the target"):
        mc, mc_se = monte_carlo_value(lab.sim, lab.candidates, target, lab.population, args.impressions, seed + 1)
    exact = args.click_model == "position"
    truth = lab.truth(target) if exact else mc
    table["error_pct"] = 100 * (table["value"] - truth) / truth
    table["covers"] = (table["ci_low"] <= truth) & (truth <= table["ci_high"])
    print(f"\nOff-policy evaluation on {ds.name} (seed {seed}): {log.n:,} logged impressions of the logger "
          f"({logger.name}); target: {target.name}; {args.k} slots from {args.candidates} candidates per user")
    z = float(stats.norm.ppf(1 - args.alpha / 2))
    print((f"truth (exact, clicks per impression): {truth:.4f}; " if exact else "")
          + f"on-policy Monte-Carlo: {mc:.4f} ± {z * mc_se:.4f}"
          + (f"; the logger's own value: {lab.truth(logger):.4f}" if exact else " (the truth here: cascade clicks are not additive)"))
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    print(f"error_pct and covers are against the {'exact truth' if exact else 'Monte-Carlo value'}; intervals at "
          f"{1 - args.alpha:.0%}, clipped IPS caps weights at {args.clip:g}")
    return 0


def register(sub) -> None:
    """Add ``workbench ope`` to the CLI's subparsers (called from ``workbench.cli``)."""
    from workbench.arguments import add_data_args, int_at_least, positive_int, unit_interval

    p = sub.add_parser("ope", help="off-policy evaluation: estimate a target policy from simulated logs, against the truth")
    add_data_args(p)
    p.add_argument("--impressions", type=int_at_least(2, "at least 2 impressions"), default=100_000,
                   help="logged impressions (default 100,000)")  # fmt: skip
    p.add_argument("--logger", choices=("mixture", "explore"), default="mixture",
                   help="mixture: a uniformly random slate with probability ε (default); explore: the workbench's "
                        "ε-exploration, which randomises only some slots")  # fmt: skip
    p.add_argument("--epsilon", type=unit_interval("an exploration rate in [0, 1]"), default=0.1,
                   help="the logger's exploration rate (default 0.1)")  # fmt: skip
    p.add_argument("--logger-sigma", type=float, default=2.0, help="noise of the logger's ranker (default 2.0)")
    p.add_argument("--target-sigma", type=float, default=1.0,
                   help="noise of the target's ranker (default 1.0; 0 is the oracle, 2.0 the logger's ranker)")  # fmt: skip
    p.add_argument("--target-epsilon", type=unit_interval("an exploration rate in [0, 1]"), default=0.0,
                   help="the target's exploration rate, a uniformly random slate with this probability (default 0)")  # fmt: skip
    p.add_argument("--k", type=positive_int("a positive number of slots"), default=10, help="slots per slate (default 10)")
    p.add_argument("--candidates", type=positive_int("a positive number of candidates"), default=20,
                   help="candidates per user that the policies order (default 20)")  # fmt: skip
    p.add_argument("--clip", type=float, default=100.0, help="weight cap of clipped IPS (default 100)")
    p.add_argument("--alpha", type=float, default=0.05, help="1 − the intervals' level (default 0.05)")
    p.add_argument("--click-model", choices=("position", "cascade"), default="position",
                   help="the simulator's click model (default position; cascade has no exact truth)")  # fmt: skip
    g = p.add_argument_group("real logs (--log): the simulator options above do not apply")
    g.add_argument("--log", default=None, metavar="obd|EVENTS.sqlite|FILE",
                   help="estimate from a real log: 'obd' (the Open Bandit Dataset sample in obp's wheel), the loop's "
                        "or service's SQLite event log, or a CSV/TSV/Parquet file with context, action, position, "
                        "reward and propensity columns")  # fmt: skip
    g.add_argument("--target", choices=("bts", "uniform", "greedy"), default="bts",
                   help="the target policy: bts (Bernoulli Thompson sampling; ZOZOTOWN's prior on OBD), uniform, or "
                        "greedy (the log's best click rates)")  # fmt: skip
    g.add_argument("--obd-policy", choices=("random", "bts"), default="random", help="which OBD log (default random)")
    g.add_argument("--campaign", choices=("all", "men", "women"), default="all", help="OBD campaign (default all)")
    g.add_argument("--log-columns", default=None, metavar="ROLE=COL,...",
                   help="column mapping of a log file: roles context, action, position, reward, propensity")
    p.set_defaults(func=cmd_ope)
