# /// script
# [tool.marimo.opengraph]
# title = "08 · Serving the recommender"
# description = "The recommender behind HTTP on a real Redis: one request's Server-Timing waterfall, load against the latency budget, the cache, and an outage."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="08 · Serving the recommender")

with app.setup:
    import dataclasses
    import math

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.lessons import exercises, guide, kit
    from workbench.lessons import serving as lesson
    from workbench.serving.loadtest import COMPONENT_STAGES, SERVING_BUDGET_MS
    from workbench.viz import serving as charts

    settings = kit.settings()


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """The fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.cell
def _():
    _rows = "\n".join(
        f"| {name} | {target:g} ms | {p99:g} ms | {' + '.join(COMPONENT_STAGES.get(name, ('the whole request',)))} |"
        for name, (target, p99) in SERVING_BUDGET_MS.items()
    )
    _intro = mo.md("""
    # 08 · Serving: the recommender behind HTTP, and what happens when a part breaks

    Offline, the pipeline scores a batch of users at leisure. Online, each request must be
    answered within a budget, and the answer needs fresh facts: what the user just clicked, which
    items are still available. The textbook draws the production path as

    **request → cache check → feature store (Redis) → candidates → ranking → reranking → response → log**

    and gives every component a budget:
    """)
    _table = mo.md("| component | target | p99 | measured as (Server-Timing stages) |\n|---|---|---|---|\n" + _rows)
    _outro = mo.md("""
    This page starts that system for real, in this process: Debian's **redis-server** holds the
    features (materialised from the training data, then updated by every click) and a response cache;
    the service is **FastAPI on uvicorn** on 127.0.0.1; events go to a **SQLite** log that
    acknowledges a write only once it is on disk. Then it loads it, and breaks it.
    """)
    mo.vstack([_intro, _table, _outro])
    return


@app.cell
def _():
    guide.panel(__file__)
    return


@app.cell
def _():
    picker = kit.data_picker(settings)
    running = mo.ui.switch(value=True, label="service running")
    mo.hstack([picker, running], justify="start", gap=2)
    return picker, running


@app.cell
def _(picker, running):
    run = dataclasses.replace(settings, data=picker.value)
    built = trained(run)
    lab = lesson.lab_for(built)
    if not running.value:
        lab.stop()
    svc = lab.service
    _state = (f"runs at **{lab.url}**" if lab.running else "is **stopped** (turn the switch on to start it again)")
    mo.vstack([
        kit.started(built),
        kit.show(f"The service {_state}; model version `{svc.version}`; Redis at {lab.redis.url} (pid "
                 f"{lab.redis.process.pid if lab.redis.running else '–'}); {len(lab.users):,} users and "
                 f"{svc.train.n_items:,} items materialised into the feature store; Redis deadline "
                 f"{svc.config.redis_timeout_ms:g} ms, ranker budget {svc.config.ranker_budget_ms:g} ms, "
                 f"cache TTL {svc.config.cache_ttl_s:g} s."),
    ])  # fmt: skip
    return built, lab, run


@app.cell
def _(lab):
    _ids = lab.users
    user = mo.ui.dropdown(options={f"user {u}": int(u) for u in _ids[:300]}, value=f"user {_ids[0]}", label="user",
                          searchable=True)  # fmt: skip
    bypass = mo.ui.checkbox(value=True, label="bypass the cache (Cache-Control: no-cache)")
    mo.vstack([mo.md("## One request, stage by stage"), mo.hstack([user, bypass], justify="start", gap=2)])
    return bypass, user


@app.cell
def _(built, bypass, lab, user):
    mo.stop(not lab.running, mo.md("*The service is stopped.*"))
    body, stages, latency = lab.request(user.value, no_cache=bypass.value)
    _titles = built.train.items.set_index("item_id")["title"]
    _slate = pd.DataFrame({"position": kit.ranks(np.arange(1, len(body["items"]) + 1)), "item": body["items"],
                           "title": _titles.reindex(body["items"]).to_numpy(), "score": body["scores"],
                           "propensity": body["propensities"]})  # fmt: skip
    _slowest = stages.loc[stages["ms"].idxmax()]
    _steps = ", ".join(f"{r.stage} {r.ms:.2f}" for r in stages.itertuples())
    mo.vstack([
        kit.show(f"User {body['user']}: answered {len(body['items'])} items in {latency:.1f} ms at the client "
                 f"(cache: {body['cache']}; degraded: {body['degraded'] or 'no'}). Server-Timing (ms): {_steps}."),
        charts.waterfall_chart(stages, title="Where one request's time goes (its Server-Timing header)",
                               reading=f"the slowest stage is {_slowest.stage} ({_slowest.ms:.2f} ms of "
                                       f"{stages['ms'].sum():.2f} ms on the server)"),
        kit.table(_slate, digits=4),
    ])  # fmt: skip
    return


@app.cell
def _(run):
    rate = mo.ui.slider(10, 300, step=10, value=50, label="requests per second", debounce=True, show_value=True)
    cache_on = mo.ui.switch(value=True, label="response cache on")
    load_button = mo.ui.run_button(label="run the load test")
    duration = 3.0 if run.small else 5.0
    mo.vstack([
        mo.md(f"""
        ## A bounded load: {duration:g} seconds, open loop

        The generator sends at a constant rate whether or not earlier answers came back, and counts
        each answer's time from when its request was *due*: a slow server cannot slow the generator
        down and hide its own delays (coordinated omission). Set the rate and the cache, then press
        **run the load test**: it sends that rate at the service above for {duration:g} s and shows what it
        measured, with the time of the run. Moving the slider or the switch measures nothing until the
        button is pressed again. (A script run or an export runs it once, at the slider's value.)
        """),
        mo.hstack([rate, cache_on, load_button], justify="start", gap=2),
    ])  # fmt: skip
    return cache_on, duration, load_button, rate


@app.cell
def _(cache_on, duration, lab, load_button, rate):
    mo.stop(not lab.running, mo.md("*The service is stopped.*"))
    if load_button.value or kit.mode() != "run":  # pressed; or a script run or an export, where no one can press it
        with mo.status.spinner(title=f"sending {rate.value} requests per second for {duration:g} s"):
            lab.load_test(rate.value, duration, cache=cache_on.value)
    _last = lab.last_load
    if _last is None:
        _out = kit.show(f"No load test has run yet: press run the load test to send {rate.value} req/s for "
                        f"{duration:g} s (cache {'on' if cache_on.value else 'off'}).")  # fmt: skip
    else:
        _table = _last.result.budget_table()
        _over = _table.loc[_table["p99_within_budget"] == False, "component"].tolist()  # noqa: E712
        _stale = (f"The controls now ask for {rate.value} req/s with the cache {'on' if cache_on.value else 'off'}; "
                  f"the figures below are the earlier run's: press run the load test to measure these settings."
                  if _last.settings_differ(rate.value, cache_on.value) else None)  # fmt: skip
        _out = mo.vstack([
            kit.show(_last.statement()),
            *([mo.callout(mo.md(_stale), kind="warn")] if _stale else []),
            charts.budget_chart(lesson.budget_for_chart(_last.result),
                                title=f"The budget, measured at {_last.rate:g} req/s at {_last.at:%H:%M:%S} UTC: p50 and "
                                      f"p99 per component (black tick: the textbook's p99)",
                                reading=f"over the p99 budget: {', '.join(_over)}" if _over
                                else "every component within its p99 budget"),
            mo.accordion({"The budget table": kit.table(_table, digits=2)}),
        ])  # fmt: skip
    _out
    return


@app.cell
def _():
    breaker = mo.ui.button(value=0, on_click=lambda n: n + 1, label="stop Redis, send requests, start it again")
    mo.vstack([
        mo.md("""
        ## Break it: stop Redis

        With the feature store gone the service cannot personalise. It must still answer, fast, from
        what it holds in memory (the available items by popularity, as last read), and say so in the
        `degraded` field. Redis comes back empty (it persists nothing here): the service rebuilds the
        store from the training data and replays the event log's clicks over it.
        """),
        breaker,
    ])  # fmt: skip
    return (breaker,)


@app.cell
def _(breaker, lab, user):
    mo.stop(not lab.running, mo.md("*The service is stopped.*"))
    _ = breaker.value
    answers, recovered = lab.break_redis(user.value)
    _down = answers[answers["phase"] == "Redis stopped"]
    _flagged = int((_down["degraded"] == "feature_store").sum())
    _errors = int((answers["status"] >= 500).sum())
    _back = f"{recovered:.2f} s" if np.isfinite(recovered) else "not within the wait"
    mo.vstack([
        kit.show(f"With Redis stopped: {_flagged}/{len(_down)} answers flagged feature_store, slowest "
                 f"{_down['latency_ms'].max():.1f} ms, median {_down['latency_ms'].median():.1f} ms, {_errors} server "
                 f"errors; personalised again {_back} after the restart."),
        charts.degraded_chart(answers, title="Answers before, during and after the Redis outage",
                              reading=f"{_flagged} of {len(_down)} answers during the outage came from the fallback, "
                                      f"the slowest in {_down['latency_ms'].max():.1f} ms"),
    ])  # fmt: skip
    return


@app.cell
def _():
    server_timing_box = exercises.editor("server_timing")
    exercises.task("server_timing", server_timing_box)
    return (server_timing_box,)


@app.function
def my_server_timing(header):
    out = {}
    for entry in header.split(','):
        name, dur = entry.split(';dur=')  # is dur always last? always there?
        out[name.strip()] = float(dur)
    return out


@app.cell
def _(server_timing_box):
    exercises.show("server_timing", my_server_timing, server_timing_box)
    return


@app.cell
def _():
    p99_box = exercises.editor("p99")
    exercises.task("p99", p99_box)
    return (p99_box,)


@app.function
def my_p99(latencies_ms):
    ordered = sorted(latencies_ms)
    return ordered[int(0.99 * len(ordered))]  # a position between two values?


@app.cell
def _(p99_box):
    exercises.show("p99", my_p99, p99_box)
    return


@app.cell
def _(built, lab, run):
    kit.footer(run, {"pipeline": built.pipeline.config, "service": dataclasses.asdict(lab.service.config)}, __file__)
    return


if __name__ == "__main__":
    app.run()
