"""One replica against two behind the gateway with authentication, in ONE run (issue 23's targets).

    .venv/bin/python benchmarks/bench_replicas.py [--data movielens-100k] [--cache-dir data] [--duration 10]
        [--rates 50,100,...] [--config C] [--small] [--quick] [--json data/bench/replicas.json]

The figures (every step, the fixed rate, the highest rate held per replica count, CPUs, load
averages, the command) are also saved as JSON (``--json``; git-ignored under data/), which page 13
reads (`workbench.lessons.operations.replicas_reading`).

For 1 and then 2 replicas: `workbench serve --replicas N --auth` (a child process: Redis, N service
processes, Debian's nginx with API keys), then wrk through the gateway with the reader key, users
drawn uniformly from the data set's users and ``Cache-Control: no-cache`` (every request runs the
model, the cache cannot flatter either side). The per-key rate limit is set out of the way.

- **Fixed rate** (1 replica): 100 req/s for ``--duration`` seconds: p99 and errors (target: p99 <=
  10 ms, 0 errors).
- **Highest rate holding p99 <= 50 ms**, for each replica count: the rates of ``--rates`` in turn,
  each for ``--duration`` seconds, until one misses (p99 over 50 ms, an error, or less than 80% of
  the rate achieved: the pacing below offers a little less than the rate by design); the last one that held is reported, with the ratio 2 replicas / 1 and the CPU
  count beside it.

wrk is a closed-loop tool; each rate is paced with wrk's ``delay()`` hook: ``c = rate × 0.5``
connections each wait a uniform random pause of mean ``c / rate`` = 0.5 s before each request
(random, so that the connections do not fire in step), so the offered rate is the asked one less
the answers' own time (about 2% at a 10 ms mean), and the achieved rate (printed) falls further
below it once answers are slow. The first pause also delays each connection's first request, so a
step of T seconds counts about ``0.33 × 0.5 / T`` fewer requests than the rate (6% at 3 s, 2% at 10 s). The
pipeline is the tests' cheap one by default (``TINY_PIPELINE_TOML`` of tests/conftest.py: EASE,
item-kNN and popularity fused, a two-epoch Wide & Deep ranker); ``--config`` serves another.
The load average is printed beside every step: a figure measured on a loaded machine says so, and
what the ratio implies for more cores is an estimate, not a measurement.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
P99_BUDGET_MS = 50.0
FIXED_RATE, FIXED_P99_MS = 100.0, 10.0
MIN_ACHIEVED = 0.8  # paced wrk offers the rate less the answers' time and the ramp-up: see the module docstring
MEAN_PAUSE_S = 0.5  # each connection waits 0.5 s on average between requests: rate × 0.5 connections


def tiny_pipeline_toml() -> str:
    """The tests' cheap pipeline (``TINY_PIPELINE_TOML`` in tests/conftest.py), read without importing pytest."""
    tree = ast.parse((ROOT / "tests" / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TINY_PIPELINE_TOML" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("tests/conftest.py defines no TINY_PIPELINE_TOML")


LUA = """
local users = {%s}
local key = "%s"
local pause_ms = %.3f
math.randomseed(7)
request = function()
  local u = users[math.random(#users)]
  return wrk.format("GET", "/recommend?user=" .. u .. "&k=10", {["X-API-Key"] = key, ["Cache-Control"] = "no-cache"})
end
delay = function()
  return math.random() * 2 * pause_ms
end
"""


def parse_wrk(text: str) -> dict:
    """requests/s, p50 and p99 (ms), non-2xx and socket errors from wrk's --latency report."""

    def ms(value: str) -> float:
        m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
           "p50_ms": ms(re.search(r"\s50%\s+(\S+)", text).group(1)),
           "p99_ms": ms(re.search(r"\s99%\s+(\S+)", text).group(1)),
           "requests": int(re.search(r"(\d+) requests in", text).group(1))}  # fmt: skip
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["errors"] = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return out


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def paced(url: str, users: list[int], key: str, rate: float, duration: float, folder: Path) -> dict:
    """wrk at ``rate`` requests/s (paced, see the module docstring) for ``duration`` s; its figures and the achieved rate."""
    connections = max(2, math.ceil(rate * MEAN_PAUSE_S))
    script = folder / f"paced-{rate:g}.lua"
    script.write_text(LUA % (",".join(map(str, users)), key, 1000.0 * connections / rate))
    run = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration:g}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, timeout=duration + 120)  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed: {run.stderr or run.stdout}")
    stats = parse_wrk(run.stdout)
    stats["achieved"] = stats["requests"] / duration
    return stats


def main() -> None:
    from workbench.data import load
    from workbench.serving.gateway import ApiKeys
    from workbench.serving.process import ServeProcess

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="movielens-100k")
    ap.add_argument("--cache-dir", default="data")
    ap.add_argument("--config", default=None, help="pipeline TOML (default: the tests' cheap pipeline)")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per step (default 10)")
    ap.add_argument("--rates", default="50,100,150,200,250,300,400,500,600,800,1000,1200,1600",
                    help="the rates tried in turn for the highest one holding p99 <= 50 ms")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="a check that it works: 3 s steps, rates doubling")
    ap.add_argument("--json", default=str(ROOT / "data" / "bench" / "replicas.json"),
                    help="where the figures are saved for page 13 (default data/bench/replicas.json, git-ignored)")  # fmt: skip
    args = ap.parse_args()
    if args.quick:
        args.duration, args.rates = 3.0, "50,100,200,400,800,1600"
    rates = [float(r) for r in args.rates.split(",")]
    if not rates or any(r <= 0 for r in rates) or args.duration <= 0:
        raise SystemExit(f"--rates {args.rates} / --duration {args.duration}: expected positive numbers")
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    config = args.config or str(tmp / "tiny.toml")
    if not args.config:
        Path(config).write_text(tiny_pipeline_toml())
    ds = load(args.data, cache_dir=args.cache_dir, small=args.small or None)
    users = ds.users["user_id"].to_numpy().tolist()
    print(f"{args.data}: {len(users)} users; {os.cpu_count()} CPUs; wrk paced, {args.duration:g} s per step; "
          f"no-cache; through the gateway with an API key; load average {load_average()}")  # fmt: skip
    fixed = None
    best: dict[int, dict | None] = {}
    steps: list[dict] = []
    load_start = load_average()
    for n in (1, 2):
        keys_path = tmp / "keys.txt"
        serve_args = ["--data", args.data, "--cache-dir", args.cache_dir, "--config", config, "--replicas", str(n), "--auth",
                      "--keys", str(keys_path), "--rate-limit", "100000r/s", "--rate-burst", "100000",
                      "--redis-dir", str(tmp / f"redis{n}"),
                      "--event-log", str(tmp / f"events{n}.sqlite")] + (["--small"] if args.small else [])  # fmt: skip
        with ServeProcess(serve_args, log_path=tmp / f"serve{n}.log", start_timeout=1800, die_with_parent=True) as server:
            key = ApiKeys.load(keys_path).by_name("reader").key
            paced(server.url, users, key, 50.0, 2.0, tmp)  # warm-up
            if n == 1:
                before = load_average()
                fixed = {**paced(server.url, users, key, FIXED_RATE, args.duration, tmp), "load": f"{before} → {load_average()}"}
                print(f"  1 replica at {FIXED_RATE:g} req/s: achieved {fixed['achieved']:.1f}, p50 {fixed['p50_ms']:.1f} ms, "
                      f"p99 {fixed['p99_ms']:.1f} ms, {fixed['errors']} errors (load {fixed['load']})")  # fmt: skip
            best[n] = None
            for rate in rates:
                before = load_average()
                st = paced(server.url, users, key, rate, args.duration, tmp)
                held = st["p99_ms"] <= P99_BUDGET_MS and st["errors"] == 0 and st["achieved"] >= MIN_ACHIEVED * rate
                print(f"  {n} replica(s) at {rate:g} req/s: achieved {st['achieved']:.1f}, p99 {st['p99_ms']:.1f} ms, "
                      f"{st['errors']} errors: {'holds' if held else 'misses'} (load {before} → {load_average()})")  # fmt: skip
                steps.append({"replicas": n, "rate": rate, **st, "held": held, "load": f"{before} → {load_average()}"})
                if not held:
                    break
                best[n] = {**st, "rate": rate}
    print(f"\nfixed rate, 1 replica, {FIXED_RATE:g} req/s: p99 {fixed['p99_ms']:.1f} ms (target <= {FIXED_P99_MS:g}), "
          f"{fixed['errors']} errors (target 0), load {fixed['load']}")  # fmt: skip
    print(f"\nreplicas  highest rate holding p99 <= {P99_BUDGET_MS:g} ms   p99 there   achieved")
    for n in (1, 2):
        b = best[n]
        print(f"{n:>8}  {'none of ' + args.rates if b is None else format(b['rate'], 'g') + ' req/s':>36}  "
              f"{'' if b is None else format(b['p99_ms'], '.1f') + ' ms':>10}  {'' if b is None else format(b['achieved'], '.1f'):>8}")  # fmt: skip
    if best[1] and best[2]:
        print(f"ratio 2 replicas / 1: {best[2]['rate'] / best[1]['rate']:.2f} on {os.cpu_count()} CPUs (rate steps of "
              f"--rates: the ratio is as coarse as they are; one run, no interval; load average {load_average()} at the end)")  # fmt: skip
    else:
        print(f"ratio 2 replicas / 1: not defined (a count held none of the rates) on {os.cpu_count()} CPUs")
    save(args.json, {"command": "benchmarks/bench_replicas.py " + " ".join(sys.argv[1:]), "data": args.data,
                     "small": bool(args.small), "duration_s": args.duration, "cpus": os.cpu_count(),
                     "p99_budget_ms": P99_BUDGET_MS, "fixed": fixed, "steps": steps,
                     "replicas": {str(n): best[n] for n in (1, 2)},
                     "load_before": load_start, "load_after": load_average(),
                     "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())})  # fmt: skip


def save(path: str, figures: dict) -> None:
    """The run's figures as JSON (read by page 13: `workbench.lessons.operations.replicas_reading`)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1))
    print(f"figures saved to {out}")


if __name__ == "__main__":
    main()
