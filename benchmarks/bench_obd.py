"""The Open Bandit protocol on the OBD sample in obp's wheel: BTS's click rate estimated from the
uniform-random policy's log with every estimator, against BTS's own on-policy click rate.

    .venv/bin/python benchmarks/bench_obd.py [--campaigns all men women] [--seed 0]

Target (issue 27): on campaign all, DR and SNIPS lie within their intervals of the on-policy mean.
Side by side: each estimate ÷ the on-policy mean, and the interval of their difference (both logs'
sampling errors, independent logs). Prints markdown tables for RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

from workbench.lessons.real_logs import obd_protocol


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--campaigns", nargs="+", default=["all", "men", "women"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    for campaign in args.campaigns:
        t = time.perf_counter()
        r = obd_protocol(campaign, alpha=args.alpha, seed=args.seed)
        mean, lo, hi = r["on_policy"]
        print(f"\n### campaign {campaign}: {r['n_random']:,} random rounds ({r['clicks_random']} clicks), "
              f"{r['n_bts']:,} BTS rounds ({r['clicks_bts']} clicks); {r['n_actions']} items × {r['len_list']} positions "
              f"({time.perf_counter() - t:.1f} s)\n")  # fmt: skip
        print(f"BTS on-policy click rate: {mean:.5f} [{lo:.5f}, {hi:.5f}]; largest weight {r['max_weight']:.1f}, "
              f"IPS effective sample size {r['ess']:,.0f}; ±10% IPS interval needs ~{r['rounds_for_10pct']:,} random rounds\n")
        print("| estimator | estimate | 95% interval | holds on-policy | ÷ on-policy | estimate − on-policy [95%] | verdict |")
        print("|---|---|---|---|---|---|---|")
        for _, row in r["table"].iterrows():
            print(f"| {row['estimator']} | {row['value']:.5f} | [{row['ci_low']:.5f}, {row['ci_high']:.5f}] | "
                  f"{'yes' if row['covers'] else 'no'} | {row['value'] / mean:.2f} | {row['diff']:+.5f} "
                  f"[{row['diff_low']:+.5f}, {row['diff_high']:+.5f}] | {row['verdict']} |")


if __name__ == "__main__":
    main()
