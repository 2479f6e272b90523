"""One replica against two behind the gateway, measured with wrk in one run (issue 23's scaling question).

    .venv/bin/python benchmarks/bench_replicas.py [--data movielens-100k] [--cache-dir data] [--duration 15]
        [--connections 8] [--replicas 1,2] [--config C] [--small]

For each replica count: `workbench serve --replicas N --auth` (a child process: Redis, N service
processes, Debian's nginx with API keys), then wrk (closed loop: ``--connections`` connections, two
threads) through the gateway with the reader key, users drawn uniformly from the data set's users
and ``Cache-Control: no-cache`` (every request runs the model, the cache cannot flatter either
side). The per-key rate limit is set out of the way. Printed side by side: requests/s, p50, p99,
errors, and the throughput ratio of the largest count to one replica.

The pipeline is a cheap one by default (EASE, item-kNN and popularity fused, a two-epoch Wide &
Deep ranker: the tests' pipeline) so the run fits in minutes; ``--config`` serves another. The
load average is printed before and after each step and the CPU count once: a ratio measured on a
loaded machine says so, and what it implies for more cores is an estimate, not a measurement.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
from pathlib import Path


TINY = """
n_candidates = 100
per_source_k = 100
n_ranked = 50
ranker = "wide_deep"
[weights]
ease = 1.0
itemknn = 1.0
popular = 1.0
[train]
epochs = 2
"""

LUA = """
local users = {%s}
local key = "%s"
math.randomseed(7)
request = function()
  local u = users[math.random(#users)]
  return wrk.format("GET", "/recommend?user=" .. u .. "&k=10", {["X-API-Key"] = key, ["Cache-Control"] = "no-cache"})
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


def main() -> None:
    from workbench.data import load
    from workbench.serving.gateway import ApiKeys
    from workbench.serving.process import ServeProcess

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="movielens-100k")
    ap.add_argument("--cache-dir", default="data")
    ap.add_argument("--config", default=None, help="pipeline TOML (default: the cheap tests' pipeline)")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--replicas", default="1,2")
    args = ap.parse_args()
    counts = [int(n) for n in args.replicas.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    config = args.config or str(tmp / "tiny.toml")
    if not args.config:
        Path(config).write_text(TINY)
    ds = load(args.data, cache_dir=args.cache_dir, small=args.small or None)
    users = ds.users["user_id"].to_numpy()
    print(f"{args.data}: {len(users)} users; {os.cpu_count()} CPUs; wrk -t2 -c{args.connections} -d{args.duration}s; "
          f"no-cache; load average {load_average()}")  # fmt: skip
    rows = []
    for n in counts:
        keys_path = tmp / "keys.txt"
        serve_args = ["--data", args.data, "--cache-dir", args.cache_dir, "--config", config, "--replicas", str(n), "--auth",
                      "--keys", str(keys_path), "--rate-limit", "100000r/s", "--redis-dir", str(tmp / f"redis{n}"),
                      "--event-log", str(tmp / f"events{n}.sqlite")] + (["--small"] if args.small else [])  # fmt: skip
        with ServeProcess(serve_args, log_path=tmp / f"serve{n}.log", start_timeout=1800) as server:
            key = ApiKeys.load(keys_path).by_name("reader").key
            script = tmp / "users.lua"
            script.write_text(LUA % (",".join(map(str, users.tolist())), key))
            before = load_average()
            subprocess.run(["wrk", "-t1", "-c2", "-d2s", "-s", str(script), server.url], capture_output=True, timeout=60)  # warm-up
            run = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(script),
                                  server.url], capture_output=True, text=True, timeout=args.duration + 60)  # fmt: skip
            stats = parse_wrk(run.stdout)
            rows.append({"replicas": n, **stats, "load_before": before, "load_after": load_average()})
            print(f"  {n} replica(s): {stats['rps']:.1f} req/s, p50 {stats['p50_ms']:.1f} ms, p99 {stats['p99_ms']:.1f} ms, "
                  f"{stats['errors']} errors in {stats['requests']} requests (load {before} → {load_average()})")  # fmt: skip
    print("\nreplicas  req/s     p50 ms   p99 ms   errors  load before → after")
    for r in rows:
        print(f"{r['replicas']:>8}  {r['rps']:>7.1f}  {r['p50_ms']:>7.1f}  {r['p99_ms']:>7.1f}  {r['errors']:>6}  "
              f"{r['load_before']} → {r['load_after']}")  # fmt: skip
    if len(rows) > 1:
        ratio = rows[-1]["rps"] / rows[0]["rps"]
        print(f"throughput ratio {rows[-1]['replicas']} replicas / 1: {ratio:.2f} on {os.cpu_count()} CPUs "
              f"(a single run: no interval; the machine's load average is printed beside each step)")  # fmt: skip


if __name__ == "__main__":
    main()
