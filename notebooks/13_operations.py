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

    from workbench.lessons import exercises, guide, kit
    from workbench.serving.operations import snapshot

    PROMETHEUS_URL = os.environ.get("WORKBENCH_PROMETHEUS_URL", "http://127.0.0.1:9090")
    EVENT_LOG = os.environ.get("WORKBENCH_EVENT_LOG") or None


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
