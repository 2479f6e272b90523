"""``workbench serve`` and ``workbench loadtest``: run the served recommender, and fire a bounded load at it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.arguments import (existing_dir, existing_file, int_at_least, number_in, positive_float, unit_interval,
                                 writable_dir, writable_file)

PORT = int_at_least(1, "a TCP port in 1..65535", 65535)


def rate_limit(text: str) -> str:
    """``--rate-limit``: nginx's ``NUMBERr/s`` or ``NUMBERr/m``."""
    import re

    if not re.fullmatch(r"[1-9][0-9]*r/[sm]", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected requests per second or minute, e.g. 200r/s or 30r/m")
    return text


def service_config(args: argparse.Namespace):
    """The `ServiceConfig` the serve options describe."""
    from workbench.serving.service import ServiceConfig

    return ServiceConfig(k_max=args.k_max, cache_ttl_s=args.cache_ttl, cache_enabled=not args.no_cache,
                         redis_timeout_ms=args.redis_timeout_ms, ranker_budget_ms=args.ranker_budget_ms,
                         exploration_rate=args.exploration_rate)  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> int:
    from workbench.arguments import resolve_small

    small = resolve_small(args)
    if args.config and not Path(args.config).is_file():
        raise FileNotFoundError(f"--config {args.config}: no such file (expected a pipeline TOML such as configs/default.toml)")
    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.allow_remote:
        raise ValueError(f"--host {args.host}: the service binds loopback only unless --allow-remote is given")
    config = service_config(args)  # checked before any work
    if args.replicas is not None or args.auth or args.prometheus:
        from workbench.serving.replicas import serve_replicas

        if args.replicas is None:
            args.replicas = 1
        return serve_replicas(args)
    import threadpoolctl
    import torch
    import uvicorn

    from workbench.pipeline import PipelineConfig
    from workbench.serving.app import create_app
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.model import load_model
    from workbench.serving.redis_server import redis_url
    from workbench.serving.service import RecommenderService, default_event_log_path

    # One worker process, one inference thread: single-threaded BLAS and torch (no oversubscription).
    threadpoolctl.threadpool_limits(1)
    torch.set_num_threads(1)
    seed = args.seed if args.seed is not None else 0
    pipeline_config = None
    if args.config:
        import dataclasses

        pipeline_config = PipelineConfig.from_toml(args.config)
        if pipeline_config.seed != seed:
            pipeline_config = dataclasses.replace(pipeline_config, seed=seed)
    say = lambda msg: print(f"  {msg}", file=sys.stderr)  # noqa: E731
    model = load_model(args.data, pipeline_config, seed=seed, small=small, model_path=args.model,
                       progress=say, cache_dir=args.cache_dir, mmap=True)  # fmt: skip
    print(model.description, file=sys.stderr)
    from workbench.serving.children import sigterm_exits

    sigterm_exits()  # SIGTERM → SystemExit: the `finally` below stops Redis (uvicorn re-raises the signal it caught)
    server = service = None
    try:
        url, server = redis_url(port=args.redis_port, dir=args.redis_dir, die_with_parent=True)
        log_path = Path(args.event_log) if args.event_log else default_event_log_path(model.version)
        service = RecommenderService(model, url, SQLiteEventLog(log_path), config)
        print(f"serving model {model.version} on http://{args.host}:{args.port} (Redis {url}"
              f"{' started by this process' if server else ''}; event log {log_path}); Ctrl-C stops it", file=sys.stderr)  # fmt: skip
        uvicorn.run(create_app(service), host=args.host, port=args.port, workers=1, log_level="warning",
                    access_log=False)  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C: uvicorn shut down and re-raised SIGINT; one line, no traceback
        print("workbench serve: interrupted, stopped", file=sys.stderr)
        return 130
    finally:
        if service is not None:
            service.close()
        if server is not None:
            server.stop()
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    import numpy as np

    from workbench.arguments import resolve_small
    from workbench.serving.loadtest import check_loopback, check_service, run_load

    check_loopback(args.url)  # before loading anything
    check_service(args.url)  # a service must answer, within 2 s
    small = resolve_small(args)
    from workbench.data import load

    ds = load(args.data, cache_dir=args.cache_dir, seed=args.seed or 0, small=small)
    users = ds.users["user_id"].to_numpy()
    if args.unknown_users:
        users = np.concatenate([users, np.arange(args.unknown_users) + int(users.max()) + 1])
    result = run_load(args.url, args.rate, args.duration, users, k=args.k, max_requests=args.requests,
                      no_cache=args.no_cache, timeout_s=args.timeout, seed=args.seed or 0)  # fmt: skip
    print(result.report())
    if args.csv:
        result.requests.to_csv(args.csv, index=False)
        print(f"per-request rows written to {args.csv}", file=sys.stderr)
    return 0 if result.server_errors == 0 else 1


def cmd_drill(args: argparse.Namespace) -> int:
    """``workbench drill redis-wipe|backup|restore``: the recovery drills, timed (workbench.serving.drills)."""
    from workbench.serving import drills

    if args.drill == "redis-wipe":
        from workbench.serving.loadtest import check_loopback

        check_loopback(args.url)
        users = [int(u) for u in args.users.split(",")] if args.users else None
        if not users:
            raise ValueError("--users: expected a comma-separated list of user ids (warm users of the served model)")
        headers = {"X-API-Key": os.environ["WORKBENCH_API_KEY"]} if os.environ.get("WORKBENCH_API_KEY") else None
        print(drills.redis_wipe(args.url, args.redis_url, users, headers=headers, timeout_s=args.timeout).report())
        return 0
    if args.drill == "backup":
        seconds = drills.backup_event_log(args.event_log, args.out)
        print(f"event log {args.event_log} backed up online to {args.out} in {seconds:.3f} s: {drills.log_counts(args.out)}")
        return 0
    seconds = drills.restore_event_log(args.backup, args.to)
    print(f"backup {args.backup} restored to {args.to} in {seconds:.3f} s: {drills.log_counts(args.to)}")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    """``workbench promote`` / ``workbench rollback``: switch the running replicas (workbench.serving.control)."""
    from workbench.serving import control

    model = None
    if args.command == "promote":
        if not Path(args.model).is_dir():
            raise FileNotFoundError(f"--model {args.model}: no such artefact folder (list them with `workbench models`)")
        model = str(Path(args.model).resolve())
    out = control.ask(args.port, args.command, model=model, timeout=args.timeout)
    print(f"{args.command}: every replica behind the gateway on port {args.port} serves {out['version']} "
          f"(switched one at a time in {out['seconds']:.1f} s)")  # fmt: skip
    return 0


def register(sub) -> None:
    """Add ``serve`` and ``loadtest`` to the ``workbench`` command's sub-commands."""
    from workbench.arguments import add_data_args

    sv = sub.add_parser("serve", help="serve the recommender over HTTP (FastAPI + uvicorn on 127.0.0.1, Redis features)")
    add_data_args(sv)
    sv.add_argument("--config", type=existing_file("a pipeline TOML file such as configs/default.toml"), help="pipeline TOML (default: the built-in PipelineConfig)")
    sv.add_argument("--model", type=existing_dir("an artefact folder of the model store"), help="an artefact folder to serve (default: the store's artefact for data/config/seed, "
                                    "trained first if there is none)")  # fmt: skip
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--allow-remote", action="store_true", help="allow --host to be a non-loopback address")
    sv.add_argument("--port", type=PORT, default=8000, help="HTTP port (default 8000)")
    sv.add_argument("--redis-port", type=PORT, default=None,
                    help=f"port of the redis-server this command starts (default: a free one; ignored when "
                         f"{'WORKBENCH_REDIS_URL'} names an existing Redis)")  # fmt: skip
    sv.add_argument("--redis-dir", type=writable_dir("a folder for redis-server's files"), default=os.path.join("data", "redis"), help="its working directory (default data/redis)")
    sv.add_argument("--event-log", type=writable_file("an SQLite file to write events to"), help="SQLite event log (default data/events/<model version>.sqlite)")
    sv.add_argument("--cache-ttl", type=positive_float("a positive number of seconds"), default=60.0,
                    help="response-cache TTL in seconds (default 60)")  # fmt: skip
    sv.add_argument("--no-cache", action="store_true", help="turn the response cache off")
    sv.add_argument("--redis-timeout-ms", type=positive_float("a positive number of milliseconds"), default=8.0,
                    help="deadline of each Redis call (default 8 ms; no retries)")  # fmt: skip
    sv.add_argument("--ranker-budget-ms", type=number_in(float, "a number of milliseconds >= 0", 0.0), default=50.0,
                    help="ranking's time budget; over it the answer is the candidate order, flagged (default 50)")
    sv.add_argument("--exploration-rate", type=unit_interval("an exploration rate in [0, 1]"), default=None,
                    help="ε of reranking's exploration (default: the pipeline config's)")
    sv.add_argument("--k-max", type=int_at_least(1, "a positive slate length"), default=None,
                    help="largest k a request may ask for (default: the pipeline's n_ranked)")
    sv.add_argument("--replicas", type=int_at_least(1, "a positive number of replicas", 64), default=None,
                    help="run this many service processes behind an nginx gateway on --port (one Redis, one event log)")
    sv.add_argument("--auth", action="store_true",
                    help="the gateway requires an API key (X-API-Key): 401 without a valid one, 403 for /events "
                         "without the write scope; implies --replicas 1 unless given")  # fmt: skip
    sv.add_argument("--keys", default=None,
                    help="API keys file, 'NAME SCOPE KEY' per line (default: $WORKBENCH_API_KEYS, else "
                         "data/gateway/keys.txt, generated on first use)")  # fmt: skip
    sv.add_argument("--rate-limit", default="200r/s", type=rate_limit,
                    help="per-key rate limit at the gateway, nginx syntax (default 200r/s; e.g. 30r/m)")
    sv.add_argument("--rate-burst", type=int_at_least(0, "a number of requests >= 0"), default=400,
                    help="requests a key may send at once above the rate (default 400)")
    sv.add_argument("--prometheus", action="store_true",
                    help="with --replicas: also run Prometheus scraping the gateway and the replicas, with the alert rules")
    sv.set_defaults(func=cmd_serve)

    dr = sub.add_parser("drill", help="recovery drills, timed: Redis wiped and rebuilt; event log backed up online, restored")
    dsub = dr.add_subparsers(dest="drill", required=True)
    wipe = dsub.add_parser("redis-wipe", help="FLUSHALL the service's Redis; time until the users' answers are "
                                              "personalised again and compare them with before")  # fmt: skip
    wipe.add_argument("--url", default="http://127.0.0.1:8000", help="the service or its gateway (loopback only; "
                      "an API key comes from $WORKBENCH_API_KEY)")  # fmt: skip
    wipe.add_argument("--redis-url", required=True, help="the Redis the service uses (redis://127.0.0.1:PORT/0)")
    wipe.add_argument("--users", required=True, help="comma-separated user ids to compare")
    wipe.add_argument("--timeout", type=positive_float("a positive number of seconds"), default=60.0,
                      help="give up after this many seconds (default 60)")  # fmt: skip
    bk = dsub.add_parser("backup", help="online copy of the SQLite event log (SQLite's backup API)")
    bk.add_argument("--event-log", required=True, help="the live event log")
    bk.add_argument("--out", required=True, help="the backup file (must not exist)")
    rs = dsub.add_parser("restore", help="restore a backup to a new event log")
    rs.add_argument("--backup", required=True, help="the backup file")
    rs.add_argument("--to", required=True, help="the new event log (must not exist)")
    dr.set_defaults(func=cmd_drill)

    for name, text in (("promote", "switch the replicas of a running `workbench serve --replicas N` to another "
                                    "model artefact, one at a time (no failed request)"),
                       ("rollback", "switch the replicas of a running `workbench serve --replicas N` back to the "
                                    "model served before the last promote, one at a time (no failed request)")):  # fmt: skip
        sw = sub.add_parser(name, help=text)
        sw.add_argument("--port", type=PORT, default=8000, help="the gateway port of the running command (default 8000)")
        if name == "promote":
            sw.add_argument("--model", required=True,
                            help="the artefact folder to serve (list them with `workbench models`)")  # fmt: skip
        sw.add_argument("--timeout", type=positive_float("a positive number of seconds"), default=600.0,
                        help="give up waiting for the switch after this many seconds (default 600)")  # fmt: skip
        sw.set_defaults(func=cmd_switch)

    lt = sub.add_parser("loadtest", help="open-loop load at a constant rate against a local service; latency budget table")
    add_data_args(lt)
    lt.add_argument("--url", default="http://127.0.0.1:8000", help="the service (loopback only; default http://127.0.0.1:8000)")
    lt.add_argument("--rate", type=positive_float("a positive number of requests per second"), default=100.0,
                    help="requests per second (default 100)")  # fmt: skip
    lt.add_argument("--duration", type=positive_float("a positive number of seconds"), default=10.0,
                    help="seconds of sending (default 10)")  # fmt: skip
    lt.add_argument("--requests", type=int_at_least(1, "a positive number of requests"), default=100_000,
                    help="at most this many requests (default 100000)")  # fmt: skip
    lt.add_argument("--k", type=int_at_least(1, "a positive slate length"), default=10, help="slate length asked (default 10)")
    lt.add_argument("--no-cache", action="store_true", help="send Cache-Control: no-cache (bypass the response cache)")
    lt.add_argument("--timeout", type=positive_float("a positive number of seconds"), default=2.0,
                    help="per-request timeout, counted as an error (default 2 s)")  # fmt: skip
    lt.add_argument("--unknown-users", type=int_at_least(1, "a positive number of ids"), default=None,
                    help="also draw this many user ids the model does not know (cold-start answers)")
    lt.add_argument("--csv", type=writable_file("a CSV file to write"), help="write the per-request rows to this CSV file")
    lt.set_defaults(func=cmd_loadtest)
