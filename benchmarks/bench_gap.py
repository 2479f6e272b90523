"""The offline–online gap (issue 25, notebook 12): each reason over many seeds, with and without its mechanism.

Run: .venv/bin/python benchmarks/bench_gap.py [--seeds 10] [--small] [--reasons feedback,objective,latency]

First the latency reason's heavier ranker, real (`workbench.lessons.served_latency`: the default
pipeline, and the same ranking with an ensemble of its ranker and a GBDT): its offline NDCG@10 on the
test split against the default's, paired over users, on each of ``--real-seeds`` seeds (each trains
or loads its pipelines through the model store); and its extra latency, measured once (seed 0) on the
served path (both served by Redis + uvicorn, the Server-Timing header's total, median of its requests),
as notebook 12 does. Then for each seed (the world's and the simulation's), each demonstration of
`workbench.lessons.gap` at the page's default settings (the mechanism on; for latency, the measured
extra latency plus the slider's default ``gap.EXTRA_MS``, and beside it the measured extra latency
alone and plus the textbook's example, ``gap.TEXTBOOK_MS``) and at strength 0 (uniform logging, no
clickbait, no extra latency): the offline difference and the online one, challenger − incumbent,
each with its 95% interval; ``opposite`` when they point in opposite directions with both
intervals excluding zero; ``closed`` when they agree in sign or both intervals cover zero.
Also the off-policy (IPS) estimate of the feedback loop's difference against the exact one,
and the seconds each demonstration took (cold: one page's slider position computed once).
``--reasons`` picks some of the three (the served-path measurement runs only with ``latency``); the
objective mismatch's rows also give the simulator's exact D7 difference (``true d7``).

Targets: ``opposite`` on every seed with the mechanism, ``closed`` on every seed without it.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from workbench.data import load
from workbench.lessons import gap
from workbench.lessons.served_latency import light_and_heavy, offline_gain, served_latency


REASONS = {"feedback loop": "feedback", "objective mismatch": "objective", "latency": "latency"}


def demos(measured_ms: float) -> tuple:
    """(reason, function, settings with the mechanism: {strength: kwargs}, settings at strength 0)."""
    return (
        ("feedback loop", gap.feedback_loop, {"default": {"epsilon": 0.0}}, {"epsilon": 1.0}),
        ("objective mismatch", gap.objective_mismatch, {"default": {"clickbait_share": gap.CLICKBAIT_SHARE}},
         {"clickbait_share": 0.0}),
        ("latency", gap.latency, {"default": {"extra_ms": round(measured_ms + gap.EXTRA_MS, 1)},
                                  "measured alone": {"extra_ms": round(measured_ms, 1)},
                                  f"+{gap.TEXTBOOK_MS:g} ms": {"extra_ms": round(measured_ms + gap.TEXTBOOK_MS, 1)}},
         {"extra_ms": 0.0}),
    )  # fmt: skip


def ci(t: tuple[float, float, float]) -> str:
    return f"{t[0]:+.4f} [{t[1]:+.4f}, {t[2]:+.4f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1")
    ap.add_argument("--small", action="store_true", help="the small synthetic world")
    ap.add_argument("--real-seeds", type=int, default=5, help="seeds 0..N-1 of the real heavy ranker's offline gain")
    ap.add_argument("--reasons", default=",".join(REASONS.values()), help=f"some of {','.join(REASONS.values())}")
    args = ap.parse_args()
    if args.seeds < 1 or args.real_seeds < 0:
        ap.error(f"--seeds {args.seeds}, --real-seeds {args.real_seeds}: expected >= 1 and >= 0")
    picked = [r.strip() for r in args.reasons.split(",") if r.strip()]
    if not picked or set(picked) - set(REASONS.values()):
        ap.error(f"--reasons {args.reasons!r}: expected a comma-separated subset of {','.join(REASONS.values())}")
    if "latency" not in picked:
        args.real_seeds = 0
    gains = 0
    for seed in range(args.real_seeds):
        t = time.perf_counter()
        light, diff = offline_gain(light_and_heavy("synthetic", seed, args.small))
        gains += diff[1] > 0
        print(f"real heavy ranker, seed {seed}: NDCG@10 heavy − light {ci(diff)} (light {light:.4f}, relative "
              f"{diff[0] / light:+.2%}; {time.perf_counter() - t:.0f} s, load average {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
    if args.real_seeds:
        print(f"real heavy ranker: offline NDCG@10 interval above 0 on {gains} of {args.real_seeds} seeds\n")
    measured_ms = 0.0
    if "latency" in picked:
        t = time.perf_counter()
        measured = served_latency("synthetic", 0, args.small)
        measured_ms = measured.extra_ms
        print(measured.sentence() + f" ({time.perf_counter() - t:.0f} s, load average {os.getloadavg()[0]:.2f}; "
              f"offline NDCG@10 of the real heavy pipeline − light: {ci(measured.ndcg_diff)})\n")  # fmt: skip
    reasons = [r for r in demos(measured_ms) if REASONS[r[0]] in picked]
    print(f"start: load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for seed in range(args.seeds):
        w = gap.world(load("synthetic", seed=seed, small=args.small), seed)
        for name, fn, on, off in reasons:
            for strength, kw in (*on.items(), ("0", off)):
                t = time.perf_counter()
                g = fn(w, seed=seed, **kw)
                row = {"seed": seed, "reason": name, "mechanism": strength, "setting": kw,
                       "offline": ci(g.offline), "online": ci(g.online), "opposite": g.opposite, "closed": g.agree,
                       "seconds": time.perf_counter() - t}  # fmt: skip
                if name == "objective mismatch" and "truth" in g.extra:
                    row["true d7"] = f"{g.extra['truth']['d7_retention']:+.4f}"
                    row["visitors"] = g.extra["n_users"]
                if name == "feedback loop":
                    row["ope (IPS)"] = ci(g.extra["ope"])
                    row["true diff"] = f"{g.extra['true_clicks_per_impression']:+.4f}"
                for key in ("ctr", "return_rate", "revenue_per_user"):
                    if key in g.extra:
                        row[key] = ci(g.extra[key])
                rows.append(row)
    frame = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 40):
        print(frame.drop(columns=["setting"]).to_string(index=False))
    print()
    off = frame[frame["mechanism"] == "0"]
    for name, _, strengths, kw_off in reasons:
        b = off[off["reason"] == name]
        for strength, kw_on in strengths.items():
            a = frame[(frame["mechanism"] == strength) & (frame["reason"] == name)]
            print(f"{name} ({strength}: {kw_on}): opposite signs, both intervals excluding 0, on {int(a['opposite'].sum())} "
                  f"of {len(a)} seeds; median {a['seconds'].median():.2f} s per computation")  # fmt: skip
        print(f"{name} (strength 0: {kw_off}): gap closed on {int(b['closed'].sum())} of {len(b)} seeds")
        a = frame[(frame["mechanism"] == "default") & (frame["reason"] == name)]
        for key in ("ctr", "return_rate", "revenue_per_user"):
            if key in a and a[key].notna().all():
                lows = a[key].str.extract(r"\[(\S+), (\S+)\]").astype(float)
                print(f"  {key} with the mechanism: interval above 0 on {int((lows[0] > 0).sum())}, below 0 on "
                      f"{int((lows[1] < 0).sum())} of {len(a)} seeds")  # fmt: skip
    print(f"world: {'small' if args.small else 'default'} synthetic; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
