"""``workbench serve --replicas N [--auth]``: N service processes behind the nginx gateway, over one Redis
and one event log.

    parent (this command) ── redis-server            (one feature store and response cache)
                          ├─ workbench serve --port A (replica 1) ┐ the same model version, the same
                          ├─ workbench serve --port B (replica 2) ┘ SQLite event log (WAL, many writers)
                          ├─ nginx --port P           (gateway: keys, rate limit, round robin)
                          └─ prometheus               (with --prometheus: scrapes them, alert rules)

Every child is started by this process, on a free loopback port, and stopped by its PID (SIGTERM,
then SIGKILL); each gets SIGTERM from the kernel if this process dies without cleaning up
(`workbench.serving.children.die_with_parent`). Replicas start one after the other: the first one
materialises the features in Redis (and trains the model if the store has none); the next ones find
them ready. A replica that exits ends the command (status 1) after the others are stopped.
"""

from __future__ import annotations

import argparse
import sys
import time


def replica_args(args: argparse.Namespace) -> list[str]:
    """The ``workbench serve`` options each replica gets (everything but ports, Redis and gateway options)."""
    out = ["--data", args.data, "--cache-dir", args.cache_dir]
    for flag, value in (("--seed", args.seed), ("--config", args.config), ("--model", args.model),
                        ("--event-log", args.event_log), ("--cache-ttl", args.cache_ttl),
                        ("--redis-timeout-ms", args.redis_timeout_ms), ("--ranker-budget-ms", args.ranker_budget_ms),
                        ("--exploration-rate", args.exploration_rate), ("--k-max", args.k_max)):  # fmt: skip
        if value is not None:
            out += [flag, str(value)]
    if args.small:
        out.append("--small")
    if args.no_cache:
        out.append("--no-cache")
    return out


def serve_replicas(args: argparse.Namespace) -> int:
    """Run the replicas and the gateway until SIGTERM/SIGINT (or a child exits); returns the exit status."""
    from workbench.serving.children import sigterm_exits
    from workbench.serving.gateway import ApiKeys, Gateway, find_nginx
    from workbench.serving.process import ServeProcess
    from workbench.serving.redis_server import ENV_URL, redis_url

    find_nginx()  # before any work
    keys = None
    if args.auth:
        keys, created = ApiKeys.load_or_create(args.keys)
        print(f"API keys: {keys.path}{' (generated now)' if created else ''}; names "
              f"{', '.join(f'{k.name} ({k.scope})' for k in keys)}", file=sys.stderr)  # fmt: skip
    sigterm_exits()
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    redis = gateway = prometheus = None
    replicas: list[ServeProcess] = []
    try:
        url, redis = redis_url(port=args.redis_port, dir=args.redis_dir, die_with_parent=True)
        for i in range(args.replicas):
            proc = ServeProcess(replica_args(args), env={ENV_URL: url}, start_timeout=1800, die_with_parent=True,
                                inherit_output=True)  # fmt: skip
            replicas.append(proc)
            proc.start()
            say(f"replica {i + 1}/{args.replicas}: pid {proc.pid} on {proc.url}")
        gateway = Gateway([p.url.removeprefix("http://") for p in replicas], keys, port=args.port,
                          rate=args.rate_limit, burst=args.rate_burst, die_with_parent=True).start()  # fmt: skip
        if args.prometheus:
            from workbench.serving.prometheus_server import PrometheusServer

            prometheus = PrometheusServer([p.url.removeprefix("http://") for p in replicas],
                                          gateway=gateway.url.removeprefix("http://"), die_with_parent=True).start()  # fmt: skip
            say(f"prometheus (pid {prometheus.process.pid}) on {prometheus.url}: scrapes the gateway and the replicas, "
                "evaluates configs/prometheus/serving-alerts.yml")  # fmt: skip
        say(f"gateway (nginx pid {gateway.process.pid}) on {gateway.url} → {args.replicas} replica(s), Redis {url}"
            f"{', API keys required' if keys else ', no authentication'}; Ctrl-C stops it")  # fmt: skip
        while True:
            for i, p in enumerate(replicas):
                if p.process is None or p.process.poll() is not None:
                    say(f"workbench serve: replica {i + 1} exited; stopping")
                    return 1
            if not gateway.running:
                say("workbench serve: the gateway (nginx) exited; stopping")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("workbench serve: interrupted, stopped")
        return 130
    finally:
        if prometheus is not None:
            prometheus.stop()
        if gateway is not None:
            gateway.stop()
        for p in replicas:
            p.stop()
        if redis is not None:
            redis.stop()

