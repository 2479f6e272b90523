"""Cost against size: the default pipeline fitted on the synthetic world at growing sizes, and on MovieLens-100K.

    .venv/bin/python benchmarks/bench_scale.py                        # all sizes (the largest takes minutes)
    .venv/bin/python benchmarks/bench_scale.py --sizes 3000x2000,10000x5000 --generate-sizes ""
    nice -n 19 .venv/bin/python benchmarks/bench_scale.py --sizes "" --no-movielens --generate-sizes "" \
        --interactions 250000 --interactions 500000 --interactions 1000000   # MovieLens-20M-shaped, at fractions
    .venv/bin/python benchmarks/bench_scale.py --sizes "" --interactions 20000263     # the full 20M world

``--interactions N`` (or the size ``ml20m:N``) adds a world shaped like MovieLens-20M: a uniform
sample of its 138,493 users (``138,493 × N / 20,000,263`` of them) over its whole 26,744-item
catalogue, about 145 interactions per user, long-tailed popularity (the share of interactions on
the top 1 % of items is printed). With two or more such rows, the growth exponents are taken over
them alone (one shape); otherwise over every synthetic row.

Each size runs in a fresh subprocess (so that peak RSS, read from ``resource.getrusage``'s
``ru_maxrss``, belongs to that size alone): generate the world (``make_synthetic(n_users=…,
n_items=…)``) or load MovieLens-100K, split it per user in time (last 20 % to test), fit the
default ``PipelineConfig()``, then ``recommend`` for every user in batches of ``--batch`` users.

Printed, one row per size: interactions, generation time, fit time and its parts (stage 1 on
the carved history, the ranker, stage 1 on all of train, as ``Pipeline.fit`` announces them
through its progress callback; wall seconds and process CPU seconds, the latter less sensitive to
other programs sharing the cores), each source's fit seconds (``CandidateGenerator.fit_seconds_``
of every generator the fit builds, summed), retrieval / ranking / reranking milliseconds per
user (``Slate.timings_ms``, amortised over the batch), NDCG@10 on the test split of the
pipeline and of each source alone (top 10 of the serving fit; on MovieLens also two-tower
fitted on its own, as ``workbench evaluate --model two_tower`` does), peak RSS after generation and
at the end, and the 1-minute load average before and after. Then the growth exponent of every
figure against interactions: the slope of a least-squares line through ``(log interactions,
log figure)`` over the synthetic sizes. ``--generate-sizes`` times ``make_synthetic`` alone
at bigger sizes (its own subprocess, its own peak RSS).

Also printed per fit phase: the peak RSS so far at its end (``ru_maxrss`` only grows, so a
phase that raised it shows the rise). Targets (issue 24), at 20M interactions shaped like
MovieLens-20M, 2 quiet cores: fit ≤ 20 min, peak RSS ≤ 12 GB, recommend ≤ 1 ms/user, fit exponent
≤ 1.1 from 714k to 20M interactions. The targets (issue 18), at 30,000 × 10,000: fit ≤ 180 s on 2 cores, peak RSS ≤ 4 GB,
recommend ≤ 1.5 ms/user; fit exponent ≤ 1.2; make_synthetic at 100,000 × 50,000 ≤ 30 s and ≤ 4 GB.
The load column says whether the machine was shared while a row was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

DEFAULT_SIZES = "3000x2000,10000x5000,30000x10000"
TARGETS = "targets at 30,000×10,000: fit ≤ 180 s, peak RSS ≤ 4 GB, recommend ≤ 1.5 ms/user; fit exponent ≤ 1.2"


def peak_rss_gb() -> float:
    """This process's peak resident set so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


# MovieLens-20M's shape (Harper & Konstan 2015): 138,493 users, 26,744 rated films, 20,000,263 ratings.
ML20M_USERS, ML20M_ITEMS, ML20M_INTERACTIONS = 138_493, 26_744, 20_000_263
# The synthetic world's knobs that give about 145 interactions per user (ML-20M: 20.0M / 138.5k = 144):
# every shown position examined alike, 500 impressions per user (calibrated: benchmarks/RESULTS.md).
ML20M_SHAPE = {"impressions_per_user": 500, "position_exponent": 0.0}


def ml20m_world(interactions: int) -> dict:
    """``make_synthetic`` arguments for a world shaped like MovieLens-20M with about ``interactions``:
    a uniform sample of its users (their share of 138,493), the whole 26,744-item catalogue."""
    users = max(1, round(ML20M_USERS * interactions / ML20M_INTERACTIONS))
    return {"n_users": users, "n_items": ML20M_ITEMS, **ML20M_SHAPE}


def parse_size(text: str) -> tuple[int, int]:
    if text.lower().startswith("ml20m:"):
        return -1, -1  # checked by parse_ml20m
    try:
        users, items = (int(v.replace(",", "").replace("_", "")) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"size {text!r}: expected USERSxITEMS, e.g. 3000x2000") from None
    if users < 1 or items < 1:
        raise SystemExit(f"size {text!r}: expected positive numbers of users and items")
    return users, items


def parse_ml20m(text: str) -> int:
    """``ml20m:2000000`` → 2,000,000 (interactions of the MovieLens-20M-shaped world)."""
    try:
        n = int(text.split(":", 1)[1].replace(",", "").replace("_", ""))
    except ValueError:
        raise SystemExit(f"size {text!r}: expected ml20m:INTERACTIONS, e.g. ml20m:2000000") from None
    if not 1_000 <= n <= 10 * ML20M_INTERACTIONS:
        raise SystemExit(f"size {text!r}: expected 1,000 to {10 * ML20M_INTERACTIONS:,} interactions")
    return n


def worker(spec: str, batch: int, generate_only: bool) -> dict:
    """Measure one size in this process; returns one JSON-able row."""
    from workbench.candidates import SOURCES
    from workbench.candidates.fusion import CandidateGenerator
    from workbench.data import load, make_synthetic, temporal_split
    from workbench.metrics import relevance_matrix
    from workbench.metrics.evaluate import evaluate
    from workbench.pipeline import STAGES, Pipeline, PipelineConfig

    row: dict = {"data": spec, "load_before": round(os.getloadavg()[0], 2)}
    t0 = time.perf_counter()
    if spec == "movielens-100k":
        ds = load("movielens-100k")
    elif spec.lower().startswith("ml20m:"):
        ds = make_synthetic(**ml20m_world(parse_ml20m(spec)))
    else:
        n_users, n_items = parse_size(spec)
        ds = make_synthetic(n_users=n_users, n_items=n_items)
    row["generate_s"] = time.perf_counter() - t0
    row["interactions"] = ds.n_interactions
    row["users"], row["items"] = ds.n_users, ds.n_items
    pop = np.sort(ds.item_popularity)[::-1]
    row["top1pct_items_share"] = float(pop[: max(1, len(pop) // 100)].sum() / max(pop.sum(), 1))
    row["rss_generate_gb"] = peak_rss_gb()
    if generate_only:
        row["peak_rss_gb"] = peak_rss_gb()
        row["load_after"] = round(os.getloadavg()[0], 2)
        return row

    train, test = temporal_split(ds, 0.2)
    del ds
    generators: list[CandidateGenerator] = []

    class TimedPipeline(Pipeline):
        """The default pipeline, keeping every candidate generator it builds (for their fit_seconds_)."""

        def make_generator(self) -> CandidateGenerator:
            gen = super().make_generator()
            generators.append(gen)
            return gen

    marks: list[tuple[float, float, str]] = []

    def mark(msg: str) -> None:  # peak RSS so far at each mark: the rise over a phase is that phase's
        marks.append((time.perf_counter(), time.process_time(), re.sub(r"\s*\(.*\)", "", msg), peak_rss_gb()))

    mark("split and setup")
    pipe = TimedPipeline(PipelineConfig()).fit(train, progress=mark)
    mark("end")
    row["fit_s"] = marks[-1][0] - marks[0][0]
    row["fit_cpu_s"] = marks[-1][1] - marks[0][1]
    row["phases"] = {msg: b[0] - a[0] for a, b, msg in ((a, b, a[2]) for a, b in zip(marks, marks[1:]))}
    row["phases_cpu"] = {msg: b[1] - a[1] for a, b, msg in ((a, b, a[2]) for a, b in zip(marks, marks[1:]))}
    row["phases_rss"] = {msg: b[3] for a, b, msg in ((a, b, a[2]) for a, b in zip(marks, marks[1:]))}
    row["sources"] = {}
    for g, gen in enumerate(generators):
        for name, sec in getattr(gen, "fit_seconds_", {}).items():
            row["sources"].setdefault(name, []).append(sec)
    row["rss_fit_gb"] = peak_rss_gb()

    users = np.arange(train.n_users)
    spent = dict.fromkeys(STAGES, 0.0)
    items = np.full((len(users), pipe.config.k), -1, dtype=np.int64)
    for lo in range(0, len(users), batch):
        slate = pipe.recommend(users[lo : lo + batch])
        for s in STAGES:
            spent[s] += float(slate.timings_ms[s].sum())
        items[lo : lo + batch, : slate.items.shape[1]] = slate.items
    row["recommend_ms_per_user"] = {s: v / len(users) for s, v in spent.items()}
    row["recommend_ms_per_user"]["total"] = sum(spent.values()) / len(users)

    rel = relevance_matrix(test)
    judged = np.flatnonzero(test.user_activity > 0)

    def ndcg(recommended: np.ndarray, who: np.ndarray) -> float:
        table = evaluate(recommended, rel, (10,), users=who, n_items=train.n_items)
        return float(table.set_index("metric").loc["ndcg", "mean"])

    row["ndcg10"] = {"pipeline": ndcg(items[judged], judged)}
    for name, source in generators[-1].sources.items():
        row["ndcg10"][name] = ndcg(source.retrieve(judged, 10).items, judged)
    if spec == "movielens-100k" and "two_tower" in pipe.config.weights:  # the reference: a fit of its own
        alone = SOURCES["two_tower"](**pipe.config.source_arguments("two_tower")).fit(train)
        row["ndcg10"]["two_tower (fitted alone)"] = ndcg(alone.retrieve(judged, 10).items, judged)
    row["peak_rss_gb"] = peak_rss_gb()
    row["load_after"] = round(os.getloadavg()[0], 2)
    return row


def run_one(spec: str, batch: int, generate_only: bool) -> dict:
    """``worker`` in a fresh interpreter; its last stdout line is the JSON row."""
    cmd = [sys.executable, __file__, "--worker", spec, "--batch", str(batch)] + (["--generate-only"] if generate_only else [])
    print(f"… {spec}{' (generate only)' if generate_only else ''}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        return {"data": spec, "error": f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log y`` on ``log x`` (NaN with fewer than two positive points)."""
    pts = [(a, b) for a, b in zip(x, y) if a > 0 and b is not None and b > 0]
    if len(pts) < 2:
        return float("nan")
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def tables(rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Main figures, per-source fit seconds, NDCG@10, and growth exponents (synthetic rows only)."""
    ok = [r for r in rows if "error" not in r and "fit_s" in r]
    main_rows = []
    for r in ok:
        line = {"data": r["data"], "interactions": r["interactions"], "users": r.get("users"), "items": r.get("items"),
                "top 1% items' share": r.get("top1pct_items_share"), "generate_s": r["generate_s"], "fit_s": r["fit_s"],
                "fit_cpu_s": r["fit_cpu_s"]}  # fmt: skip
        line |= {f"fit: {msg} (s)": sec for msg, sec in r["phases"].items()}
        line |= {f"fit: {msg} (cpu s)": sec for msg, sec in r["phases_cpu"].items()}
        line |= {f"fit: {msg} (peak RSS GB at its end)": gb for msg, gb in r.get("phases_rss", {}).items()}
        line |= {f"{s} ms/user": v for s, v in r["recommend_ms_per_user"].items()}
        line |= {"rss_generate_gb": r["rss_generate_gb"], "peak_rss_gb": r["peak_rss_gb"],
                 "load": f"{r['load_before']}→{r['load_after']}"}  # fmt: skip
        main_rows.append(line)
    main = pd.DataFrame(main_rows)
    src = pd.DataFrame(
        {r["data"]: {f"{name} (s, {len(v)} fits)": sum(v) for name, v in r["sources"].items()} for r in ok}
    )
    ndcg = pd.DataFrame({r["data"]: r["ndcg10"] for r in ok})
    syn = [r for r in ok if r["data"] != "movielens-100k"]
    ml20m = [r for r in syn if r["data"].startswith("ml20m:")]
    if len(ml20m) >= 2:  # the exponent within one world's shape
        syn = ml20m
    x = [r["interactions"] for r in syn]
    exps = {}
    if len(syn) >= 2:
        syn_main = main[main["data"].isin([r["data"] for r in syn])]
        for col in syn_main.columns:
            if col in ("data", "interactions", "load", "users", "items", "top 1% items' share"):
                continue
            exps[col] = exponent(x, syn_main[col].tolist())
        for name in src.index:
            exps[f"source {name}"] = exponent(x, [src.loc[name, r["data"]] for r in syn])
    exp = pd.Series(exps, name="exponent vs interactions").to_frame()
    return main, src, ndcg, exp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"synthetic USERSxITEMS sizes, comma-separated (default {DEFAULT_SIZES})")
    ap.add_argument("--no-movielens", action="store_true", help="skip the MovieLens-100K reference row")
    ap.add_argument("--generate-sizes", default="100000x50000",
                    help="sizes at which only make_synthetic is timed (default 100000x50000; '' for none)")
    ap.add_argument("--interactions", type=int, action="append", default=[],
                    help="add a MovieLens-20M-shaped world of about this many interactions (repeatable; 20000263: "
                         "the full size); the same as the size ml20m:N")  # fmt: skip
    ap.add_argument("--batch", type=int, default=2048, help="users per recommend call (default 2048)")
    ap.add_argument("--json", help="also write the raw rows to this JSON file (rewritten after every size)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch < 1:
        raise SystemExit(f"--batch {args.batch}: expected a positive number of users")
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch, args.generate_only)))
        return

    sizes = [s for s in args.sizes.split(",") if s.strip()] + [f"ml20m:{n}" for n in args.interactions]
    gen_sizes = [s for s in args.generate_sizes.split(",") if s.strip()]
    for s in sizes + gen_sizes:
        parse_ml20m(s) if s.lower().startswith("ml20m:") else parse_size(s)  # check every size before any work
    rows: list[dict] = []
    gen_rows: list[dict] = []

    def keep(row: dict, into: list[dict]) -> None:  # written after every size: a long run interrupted keeps its rows
        into.append(row)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(rows + gen_rows, fh, indent=1)

    for s in sizes:
        keep(run_one(s, args.batch, False), rows)
    if not args.no_movielens:
        keep(run_one("movielens-100k", args.batch, False), rows)
    for s in gen_sizes:
        keep(run_one(s, args.batch, True), gen_rows)

    main_t, src, ndcg, exp = tables(rows)
    fmt = "{:.3g}".format
    pd.set_option("display.width", 250, "display.max_columns", 40)
    print(f"default PipelineConfig(), temporal split 0.2, recommend in batches of {args.batch} users; {TARGETS}\n")
    print(main_t.T.to_string(header=False, float_format=fmt) if len(main_t) else "(no fitted rows)")
    print("\nsource fit seconds (carved history + all of train):")
    print(src.to_string(float_format=fmt))
    print("\nNDCG@10 on the test split (pipeline; each source alone, top 10 of its serving fit):")
    print(ndcg.to_string(float_format="{:.4f}".format))
    if len(exp):
        print("\ngrowth exponent against interactions (log-log least squares over the synthetic sizes):")
        print(exp.to_string(float_format="{:.2f}".format))
    for r in gen_rows:
        if "error" in r:
            print(f"\nmake_synthetic {r['data']}: failed ({r['error']})")
        else:
            print(f"\nmake_synthetic {r['data']}: {r['generate_s']:.1f} s, {r['interactions']:,} interactions, "
                  f"peak RSS {r['peak_rss_gb']:.2f} GB (load {r['load_before']}→{r['load_after']})")  # fmt: skip
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"\n{r['data']}: failed ({r['error']})")


if __name__ == "__main__":
    main()
