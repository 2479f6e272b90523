"""``workbench serve --replicas N [--auth]``: N service processes behind the nginx gateway, over one Redis
and one event log.

    parent (this command) ── redis-server            (one feature store and response cache)
                          ├─ workbench serve --port A (replica 1) ┐ the same model version, the same
                          ├─ workbench serve --port B (replica 2) ┘ SQLite event log (WAL, many writers)
                          ├─ nginx --port P           (gateway: keys, rate limit, round robin)
                          ├─ mtail                    (the gateway's access log → counts by status)
                          └─ prometheus               (with --prometheus: scrapes them, alert rules)

Every child is started by this process, on a free loopback port, and stopped by its PID (SIGTERM,
then SIGKILL); each gets SIGTERM from the kernel if this process dies without cleaning up
(`workbench.serving.children.die_with_parent`). Replicas start one after the other: the first one
materialises the features in Redis (and trains the model if the store has none); the next ones find
them ready. A replica that exits ends the command (status 1) after the others are stopped.

The replicas run under a `workbench.serving.rollout.Rollout`: ``workbench promote --model FOLDER``
and ``workbench rollback`` (`workbench.serving.control`: a state file and SIGUSR1) switch them, one
at a time, to another artefact and back, while the gateway keeps answering.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass


@dataclass
class Model:
    """What a replica serves: an artefact folder (None: the store's artefact for data/config/seed) and
    its version (None until a replica has answered with it)."""

    path: str | None
    version: str | None = None


def replica_args(args: argparse.Namespace, model: str | None = None) -> list[str]:
    """The ``workbench serve`` options each replica gets (everything but ports, Redis and gateway options);
    ``model``: the artefact folder to serve instead of ``--model``'s."""
    out = ["--data", args.data, "--cache-dir", args.cache_dir]
    for flag, value in (("--seed", args.seed), ("--config", args.config), ("--model", model or args.model),
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
    import httpx

    from workbench.serving import control
    from workbench.serving.children import sigterm_exits
    from workbench.serving.gateway import ApiKeys, Gateway, find_nginx
    from workbench.serving.process import ServeProcess
    from workbench.serving.redis_server import ENV_URL, free_port, redis_url
    from workbench.serving.rollout import Rollout

    find_nginx()  # before any work
    keys = None
    if args.auth:
        keys, created = ApiKeys.load_or_create(args.keys)
        print(f"API keys: {keys.path}{' (generated now)' if created else ''}; names "
              f"{', '.join(f'{k.name} ({k.scope})' for k in keys)}", file=sys.stderr)  # fmt: skip
    sigterm_exits()
    asked: list[int] = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: asked.append(signum))  # a promote/rollback request
    say = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    redis = gateway = prometheus = rollout = None
    state_file = control.state_path(args.port)
    try:
        url, redis = redis_url(port=args.redis_port, dir=args.redis_dir, die_with_parent=True)

        def start(model: Model, port: int) -> ServeProcess:
            proc = ServeProcess(replica_args(args, model.path), env={ENV_URL: url}, port=port, start_timeout=1800,
                                die_with_parent=True, inherit_output=True)  # fmt: skip
            proc.start()
            version = httpx.get(proc.url + "/healthz", timeout=30).json()["model_version"]
            if model.version is None:
                model.version = version
            elif version != model.version:
                proc.stop()
                raise RuntimeError(f"replica on port {port} serves {version}, expected {model.version}")
            say(f"replica pid {proc.pid} on {proc.url}: model {version}")
            return proc

        rollout = Rollout(start, [free_port() for _ in range(args.replicas)], Model(args.model))
        for port in rollout.ports:  # one after the other: the first materialises the features
            rollout.replicas.append(start(rollout.model, port))
        upstreams = [f"127.0.0.1:{port}" for port in rollout.ports]
        gateway = Gateway(upstreams, keys, port=args.port, rate=args.rate_limit, burst=args.rate_burst,
                          die_with_parent=True).start()  # fmt: skip
        if args.prometheus:
            from workbench.serving.prometheus_server import PrometheusServer

            prometheus = PrometheusServer(upstreams, gateway=gateway.url.removeprefix("http://"), die_with_parent=True,
                                          gateway_status=gateway.status_target).start()  # fmt: skip
            say(f"prometheus (pid {prometheus.process.pid}) on {prometheus.url}: scrapes the gateway and the replicas, "
                "evaluates configs/prometheus/serving-alerts.yml")  # fmt: skip
        say(f"gateway (nginx pid {gateway.process.pid}) on {gateway.url} → {args.replicas} replica(s), Redis {url}"
            f"{', API keys required' if keys else ', no authentication'}; `workbench rollback --port {args.port}` "
            "rolls the model back; Ctrl-C stops it")  # fmt: skip
        last: dict = {}
        write_state(state_file, rollout, args.port, last)
        while True:
            if asked:
                asked.clear()
                last = switch(rollout, control.request_path(args.port), say)
                write_state(state_file, rollout, args.port, last)
            for i, p in enumerate(rollout.replicas):
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
        try:
            if state_file.exists() and control.read_state(args.port).get("pid") == os.getpid():
                state_file.unlink()
        except (OSError, RuntimeError, ValueError):
            pass
        if prometheus is not None:
            prometheus.stop()
        if gateway is not None:
            gateway.stop()
        if rollout is not None:
            rollout.stop()
        if redis is not None:
            redis.stop()


def write_state(path, rollout, port: int, last: dict) -> None:
    from workbench.serving.control import write_json

    write_json(path, {"pid": os.getpid(), "port": port, "replicas": rollout.ports,
                      "model": vars(rollout.model), "history": [vars(m) for m in rollout.history],
                      "switches": rollout.switches, "last": last})  # fmt: skip


def switch(rollout, request_file, say) -> dict:
    """Run the promote or rollback that ``request_file`` asks for; its outcome (``ok``, ``error``...)."""
    import json
    from pathlib import Path

    try:
        request = json.loads(request_file.read_text())
        request_file.unlink()
    except (OSError, ValueError) as exc:
        return {"id": None, "ok": False, "error": f"unreadable request {request_file}: {exc}"}
    rid, action = request.get("id"), request.get("action")
    try:
        if action == "promote":
            folder = request.get("model")
            if not folder or not Path(folder).is_dir():
                raise ValueError(f"--model {folder}: no such artefact folder")
            say(f"promote: switching the replicas to {folder}, one at a time")
            out = rollout.promote(Model(str(Path(folder).resolve())))
        elif action == "rollback":
            if not rollout.history:
                raise ValueError("no earlier model to go back to (nothing was promoted)")
            say(f"rollback: switching the replicas back to {rollout.history[-1].version}, one at a time")
            out = rollout.rollback()
        else:
            raise ValueError(f"action {action!r}: expected promote or rollback")
    except Exception as exc:  # the switch did not happen: the replicas serve what they served
        say(f"{action}: refused ({exc})")
        return {"id": rid, "action": action, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    say(f"{action}: every replica serves {out['version']} ({out['seconds']:.1f} s)")
    return {"id": rid, "action": action, "ok": True, **out}
