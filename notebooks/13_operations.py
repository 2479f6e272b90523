# /// script
# [tool.marimo.opengraph]
# title = "13 · Operations"
# description = "The running service as its operators see it: request rate, p50/p99 per stage against the budget, cache hits, degraded answers, firing alerts and online CTR, read from Prometheus and the event log."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="13 · Operations")

with app.setup:
    import os

    import marimo as mo
    import pandas as pd

    from workbench.lessons import exercises, guide, kit
    from workbench.lessons import operations as ops
    from workbench.serving.operations import snapshot

    PROMETHEUS_URL = os.environ.get("WORKBENCH_PROMETHEUS_URL", "http://127.0.0.1:9090")
    EVENT_LOG = os.environ.get("WORKBENCH_EVENT_LOG") or None
    DEMO_ENV = os.environ.get("WORKBENCH_OPS_DEMO", "0")  # 1: a script run presses the button itself
    if DEMO_ENV not in ("0", "1"):
        raise ValueError(f"WORKBENCH_OPS_DEMO={DEMO_ENV!r}: expected 0 or 1")


@app.cell
def _():
    mo.md(f"""
    # 13 · Operations: the served recommender, as its operators see it

    Notebook 08 measured one service from the inside. In production, nobody watches a request: they
    watch **rates and quantiles over a window**, scraped from every replica by Prometheus, and
    **alerts** that fire when a rule's condition holds. This page reads both, and the event log, from
    a running system:

    ```
    workbench serve --replicas 2 --auth --prometheus      # Redis, 2 replicas, nginx gateway, Prometheus
    WORKBENCH_PROMETHEUS_URL=http://127.0.0.1:PORT WORKBENCH_EVENT_LOG=data/events/VERSION.sqlite \\
        marimo run notebooks/13_operations.py
    ```

    Reading Prometheus at `{PROMETHEUS_URL}`; event log: `{EVENT_LOG or "not set (WORKBENCH_EVENT_LOG)"}`.
    The alert rules are `configs/prometheus/serving-alerts.yml` (p99 over budget, degraded share,
    error rate, event-log lag, target down); `workbench drill ...` runs the recovery drills.
    """)
    return


@app.cell
def _():
    guide.panel(__file__)
    return


@app.cell
def _():
    refresh = mo.ui.refresh(options=["2s", "5s", "10s", "30s"], default_interval="5s", label="refresh every")
    refresh
    return (refresh,)


@app.cell
def _(refresh):
    refresh.value  # re-read on every tick
    reading = snapshot(PROMETHEUS_URL, EVENT_LOG)
    _parts = [kit.show(f"**{reading.summary()}**")]  # printed too when run as a script
    if reading.problems:
        _parts.append(mo.callout(mo.md("\n\n".join(reading.problems)), kind="warn"))
    for _title, _frame in (("p50 / p99 per stage (ms) against the textbook's p99 budget", reading.stages),
                           ("degraded share by reason", reading.degraded), ("alerts (pending and firing)", reading.alerts),
                           ("online CTR per model version (event log)", reading.ctr)):  # fmt: skip
        if len(_frame):
            _parts += [mo.md(f"### {_title}"), mo.ui.table(_frame, selection=None)]
    mo.vstack(_parts)
    return (reading,)


@app.cell
def _():
    mo.md("""
    ## One replica against two, under the same load

    A second replica is a second process: a second core's worth of work, *if the machine has a second
    core to give it*. Both replicas share one Redis and one event log, and the gateway (nginx) and the
    load generator (wrk) run on the same machine, so on a small one the second replica competes with
    them. `benchmarks/bench_replicas.py` offers the same paced load to one replica and then to two
    (through the gateway, with an API key, the cache bypassed) and finds, for each, the highest rate
    whose p99 stays within budget. Its last run:
    """)
    return


@app.cell
def _():
    replicas = ops.replicas_reading()
    _parts = [kit.show(ops.replicas_statement(replicas))]
    if replicas is not None and replicas.get("steps"):
        _steps = pd.DataFrame(replicas["steps"])
        _parts.append(mo.ui.table(_steps[["replicas", "rate", "achieved", "p50_ms", "p99_ms", "errors", "held", "load"]]
                                  .round(1), selection=None))  # fmt: skip
    mo.vstack(_parts)
    return


@app.cell
def _():
    mo.md("""
    ## A key revoked, an alert firing and resolving, a drill

    The button below starts a small stack of its own on 127.0.0.1 (redis-server, two replicas of a
    cheap model on the small synthetic world, the nginx gateway with two API keys, Prometheus with the
    shipped alert rules on a 5 s window), and then, each step timed:

    1. **revokes a key**: the reader key works; the keys file is rewritten without it and the gateway
       restarted on it; the same request is refused.
    2. **causes an alert**: Redis frozen, so answers fall back to popularity, flagged `feature_store`,
       until `WorkbenchDegradedShare` fires; Redis thawed, and the alert resolves once the window
       has forgotten the degraded answers.
    3. **runs a drill**: Redis wiped; the replicas rebuild the feature store from the offline data
       and the event log; the time until every asked user is personalised again, and whether the
       slates equal those before.

    It stops everything when it ends (about half a minute; each wait is bounded).
    """)
    return


@app.cell
def _():
    demo_button = mo.ui.run_button(label="run the demonstration (about 30 s)")
    demo_button
    return (demo_button,)


@app.cell
def _(demo_button):
    if not (demo_button.value or DEMO_ENV == "1"):
        _out = kit.show("Demonstration: not run yet (press the button; a script run: WORKBENCH_OPS_DEMO=1).")
    else:
        with mo.status.spinner(title="running the demonstration on 127.0.0.1") as _spin:
            demo = ops.demonstrate(progress=lambda msg: _spin.update(subtitle=msg))
        _out = mo.vstack([kit.show(ops.demo_statement(demo)), mo.ui.table(demo.table(), selection=None)])
    _out
    return


@app.cell
def _():
    histogram_quantile_box = exercises.editor("histogram_quantile")
    exercises.task("histogram_quantile", histogram_quantile_box)
    return (histogram_quantile_box,)


@app.function
def my_histogram_quantile(q, bounds, cumulative):
    rank = q * cumulative[-1]
    b = next(i for i, c in enumerate(cumulative) if c >= rank)
    return bounds[b]  # the bucket's upper bound: where inside the bucket does the rank fall?


@app.cell
def _(histogram_quantile_box):
    exercises.show("histogram_quantile", my_histogram_quantile, histogram_quantile_box)
    return


@app.cell
def _():
    kit.footer(kit.settings(), {"prometheus_url": PROMETHEUS_URL, "event_log": EVENT_LOG}, __file__)
    return


if __name__ == "__main__":
    app.run()
