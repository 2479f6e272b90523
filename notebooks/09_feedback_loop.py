# /// script
# [tool.marimo.opengraph]
# title = "09 · The feedback loop"
# description = "Simulated users live through weeks of a recommender that retrains on their clicks, while new items arrive: what a policy without exploration never finds, over seeds with intervals; drift against a baseline window and alerts that fire and resolve; the retrain cadence."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="09 · The feedback loop")

with app.setup:
    import dataclasses
    import os
    import tempfile
    import time

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons import loop as lesson
    from workbench.loop import Loop, LoopConfig, load_base
    from workbench.loop.discovery import exposure_by_day, new_items
    from workbench.rerank import n_explore_slots
    from workbench.serving.redis_server import find_redis_server
    from workbench.viz import charts

    settings = kit.settings()
    EPSILONS = (0.0, 0.1)  # the two policies compared: no exploration, and some
    CADENCE = 7  # days between retrainings, the page's default
    CADENCES = (0, 1, 3, 7, 14)  # the slider's choices (0: never retrain)
    N_NEW = 3  # brand-new items followed
    LAST = 7  # days averaged at the end of a run
    ARRIVALS = 3  # items arriving each day of the run (a living catalogue)
    SEEDS = 5  # seeds of the study behind the page's verdict (3 on the small world)
    # the loops and the study persist on disk (workbench.lessons.results), keyed by the settings, the feature
    # backend and the code: a later visit, in any process, reads them back instead of living the weeks again
    LOOP_CODE = results.code("data", "loop", "lessons/loop.py", "pipeline.py", "candidates", "ranking", "rerank",
                             "experiment", "monitoring", "serving", "store")  # fmt: skip


@app.function
def days_for(s: kit.NotebookSettings) -> int:
    """Simulated days per loop: 30, or 14 on the small world (quick looks, tests)."""
    return 14 if s.small else 30


@app.function
def backend() -> str:
    """The online features: a real Redis when Debian's redis-server is installed, else this process's memory."""
    try:
        find_redis_server()
    except RuntimeError:
        return "memory"
    return "redis"


@app.function
@mo.cache
def base_for(s: kit.NotebookSettings):
    """The loop's starting point (cached): the default pipeline from the model store, and the world's truth."""
    with kit.progress(f"Model store: loading the default pipeline for {s.data}, or training and storing it") as step:
        return load_base(s.data, s.seed, s.small, kit.default_config(s), cache_dir=kit.DATA_DIR, progress=step)


@app.function
@mo.cache
def loop_for(s: kit.NotebookSettings, epsilon: float, cadence: int):
    """One loop of `days_for(s)` days at exploration rate ``epsilon``, retraining every ``cadence`` days (cached):
    (its result, each item's exposure day by day from its event log (`exposure_by_day`), each item's arrival day).
    The exposure, not the event log, is what the page keeps and reads back on every visit (the log was most of it).
    At ``EPSILONS[0]`` the default cadence's loop leaves snapshots on disk, and another cadence starts from the last
    day it shares with it (`lesson.live`: the same figures, fewer days lived)."""
    config = LoopConfig(data=s.data, small=s.small, seed=s.seed, days=days_for(s), epsilon=epsilon,
                        retrain_every=cadence, features=backend(), arrivals_per_day=ARRIVALS, arrival_days=days_for(s))  # fmt: skip
    forks = None
    if epsilon == EPSILONS[0]:  # the cadence slider's loops: keyed by everything the default loop depends on
        forks = results.forks_folder("09_feedback_loop", (s.data, s.seed, s.small, LOOP_CODE, backend(), epsilon,
                                                          CADENCE, days_for(s), ARRIVALS))  # fmt: skip
    start = base_for(s)
    with (kit.progress(f"The loop at ε = {epsilon:g}, retraining every {cadence} days ({days_for(s)} days)") as step,
          tempfile.TemporaryDirectory(prefix="workbench-loop-09-") as folder):  # the state: only the exposure is kept
        return lesson.live(config, folder, start, forks=forks, default=CADENCE, cadences=CADENCES, cache_dir=kit.DATA_DIR,
                           progress=step)  # fmt: skip


@app.function
@mo.cache
def study_for(s: kit.NotebookSettings) -> pd.DataFrame:
    """The page's verdict: both policies over `SEEDS` seeds of the small synthetic world (cached), one row of
    readings (`workbench.lessons.loop.readings`) per seed and policy; the seeds run one per CPU at once (the same
    table as one after another)."""
    small = dataclasses.replace(s, data="synthetic", small=True)
    n = 3 if s.small else SEEDS
    config = LoopConfig(small=True, days=days_for(s), retrain_every=CADENCE, features="memory",
                        arrivals_per_day=ARRIVALS, arrival_days=days_for(s))  # fmt: skip
    with kit.progress(f"The loop over {n} seeds × 2 policies × {days_for(s)} days of the small world") as step:
        return lesson.seed_study(config, range(s.seed, s.seed + n), EPSILONS, pipeline_config=kit.default_config(small),
                                 progress=step, workers=os.cpu_count() or 1)  # fmt: skip


@app.function
def policy(epsilon: float) -> str:
    return f"ε = {epsilon:g}"


@app.cell
def _():
    _k = kit.default_config(settings).k
    _slots = n_explore_slots(_k, EPSILONS[1])
    mo.md(rf"""
    # 09 · The feedback loop: a recommender that learns from what it showed

    The textbook draws production as a loop, not a line: served slates produce clicks, clicks
    go to the event log, the log trains the next model, and the next model decides what is
    served. Here simulated users (`workbench.experiment.simulator`, who know their true click
    probabilities) live through {days_for(settings)} days of the workbench's own pipeline
    (`workbench loop`):

    * each day, every user visits a random number of times and is shown a slate of {_k} items;
    * every impression (with the probability it was shown with), click and conversion goes to
      the durable event log, and a stream step updates the online features (recent items, item
      popularity) in the feature store ({backend()} here);
    * every {CADENCE} days a scheduled job retrains the model on the log and publishes a new version;
    * the catalogue lives: {ARRIVALS} new items arrive every day. The starting model was fitted without
      them, so until a retraining sees clicks on them, no collaborative source can score them. They join
      a fresh-arrivals pool below the model's ranked candidates (`workbench.loop.arrivals`).

    Two policies run side by side, each in a world of its own: **{policy(EPSILONS[0])}** (always the
    model's top {_k}) and **{policy(EPSILONS[1])}** ({_slots} of the {_k} slots given to an item drawn at
    random from below the slate, and logged as such).
    """)
    return


@app.cell
def _():
    guide.panel(__file__)
    return


@app.cell
def _():
    picker = kit.data_picker(settings, label="data set (world)")
    picker
    return (picker,)


@app.cell
def _(picker):
    kit.data_header_for(dataclasses.replace(settings, data=picker.value))  # the data card of the world this page runs on
    return


@app.cell
def _():
    @mo.persistent_cache(save_path=results.folder())
    def loop_at(data: str, seed: int, small: bool, code: str, features: str, epsilon: float, cadence: int):
        return loop_for(kit.NotebookSettings(data=data, seed=seed, small=small), epsilon, cadence)

    @mo.persistent_cache(save_path=results.folder())
    def study_at(data: str, seed: int, small: bool, code: str):
        return study_for(kit.NotebookSettings(data=data, seed=seed, small=small))

    return loop_at, study_at


@app.cell
def _(loop_at, picker):
    run = dataclasses.replace(settings, data=picker.value)
    base = base_for(run)
    loops = {eps: loop_at(run.data, run.seed, run.small, LOOP_CODE, backend(), eps, CADENCE) for eps in EPSILONS}
    _r0 = loops[EPSILONS[0]][0]
    _sessions = int(_r0.daily["impressions"].sum())
    mo.vstack([
        kit.show(f"**Model store:** {base.description}"),
        kit.show(f"Each loop: {_r0.population:,} simulated users, {days_for(run)} days, {_sessions:,} sessions at "
                 f"{policy(EPSILONS[0])}; {len(_r0.versions) - 1} retrained version{'s' if len(_r0.versions) != 2 else ''} published to the model store."),
    ])  # fmt: skip
    return base, loops, run


@app.cell
def _(run, study_at):
    study = study_at(run.data, run.seed, run.small, LOOP_CODE)
    summ = lesson.summary(study)
    said = lesson.verdicts(summ)
    _e0, _e1 = (f"ε={e:g}" for e in EPSILONS)
    mo.vstack([
        mo.md(f"## {said['heading']}"),
        mo.md(r"""
    Without exploration the model shows what it already believes in, users can only click what they
    are shown, and each retraining learns from those clicks; an item nobody has clicked yet has no way
    in. The textbook names two faces of that loop: **new items never found** (the primary measure here:
    the share of the arrived items a policy ever showed) and **exposure concentrating** (the
    **exposure Gini**: how unequally the day's impressions spread over the catalogue, 0 when every
    item is shown equally often, 1 when one item takes them all). The page's heading states whichever
    the numbers show. One run proves little, so the verdict comes from the loop repeated over seeds
    (each its own world, model and arrivals) of the small synthetic world, with 95% intervals."""),
        kit.table(summ.assign(**{c: summ[c].round(4) for c in summ.columns if c.startswith(("ε=", "difference"))})),
        kit.show(f"Over {int(summ['seeds'].iloc[0])} seeds: {said[_e0]}; {said[_e1]}. So {said['difference']}."),
        kit.show(f"The Gini: {said['gini']}. (`LoopConfig.repeat_consumption = true` lets seen items return to the "
                 "slates, turning the seen filter off; benchmarks/RESULTS.md measures it over seeds.)"),
    ])  # fmt: skip
    return


@app.cell
def _(loops):
    _curves = pd.concat([r.daily.assign(policy=policy(eps), day=r.daily["day"] + 1) for eps, (r, _, _) in loops.items()])
    mo.vstack([
        charts.lines_chart(
            _curves, x="day", y="exposure_gini", group="policy", x_title="day of the loop (1 = the first)",
            y_title="exposure Gini of the day's impressions (0 = equal, 1 = one item)",
            title="How unequally the catalogue is shown, day by day (this page's world, one seed)",
            reading=f"retraining every {CADENCE} days; one curve per policy"),
        charts.lines_chart(
            _curves.dropna(subset=["new_ever_shown"]), x="day", y="new_ever_shown", group="policy",
            x_title="day of the loop (1 = the first)", y_title="share of the arrived items ever shown (0-1)",
            title="How much of the new catalogue each policy ever showed", reading="arrivals since day 2"),
        kit.show(lesson.run_sentence({policy(eps): r.daily for eps, (r, _, _) in loops.items()})),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## A brand-new item: discovered, or never

    The items that arrived during the run are brand-new to the model: it was fitted before they
    existed, so the collaborative sources have nothing to score them with. Exploration draws from
    the pool below the slate, which the fresh arrivals join; a policy without exploration shows
    only the top of the model's own list. Below, the arrived items users would like most (their
    **appeal**: the mean true click probability once examined, which the simulator knows and the
    model does not), and then an arrived item that exploration found and the other policy never showed.
    """)
    return


@app.cell
def _(base, loops, run):
    _arrival = loops[EPSILONS[0]][2]
    _arrived = np.flatnonzero(_arrival > 0)
    fresh = new_items(base.train, base.world, N_NEW, pool=_arrived).assign(arrives_on_day=lambda f: _arrival[f["item"]] + 1)
    _start, _days = base.train.reference_ts, days_for(run)
    _items = base.train.items[["item_id", "title"]]
    _exp = {eps: exposure for eps, (_, exposure, _) in loops.items()}  # exposure_by_day of each loop's log
    _tot = {eps: e.groupby("item_id", sort=False)[["impressions", "explored", "clicks"]].sum() for eps, e in _exp.items()}
    _e0, _e1 = EPSILONS
    _table = fresh.assign(**{f"shown at {policy(eps)}": _tot[eps].loc[fresh["item_id"], "impressions"].to_numpy()
                             for eps in EPSILONS}).drop(columns=["item", "train_interactions"])  # fmt: skip
    _new_ids = base.train.items["item_id"].to_numpy()[_arrived]
    _new_shown = {eps: int(_tot[eps].loc[_new_ids, "impressions"].sum()) for eps in EPSILONS}
    # the item found by exploration: an arrival never shown at ε = 0, the most clicked at ε > 0
    _id = lesson.found_by_exploration(_tot[_e0], _tot[_e1], _new_ids)
    _switch_days = lesson.switch_days(loops[_e1][0].daily["version"])
    if _id is not None:
        _e = _exp[_e1][_exp[_e1]["item_id"] == _id]
        _title = _items.set_index("item_id").loc[_id, "title"]
        _curves = pd.concat([_e.assign(shown="by exploration", n=_e["explored_so_far"]),
                             _e.assign(shown="by the model itself", n=_e["impressions_so_far"] - _e["explored_so_far"]),
                             _e.assign(shown=f"at {policy(_e0)}", n=0)]).assign(day=lambda d: d["day"] + 1)  # fmt: skip
        _first = _e.loc[_e["impressions"] > 0, "day"].iloc[0] + 1
        _came = int(_arrival[pd.Index(_items["item_id"]).get_loc(_id)]) + 1
        _later = [d for d in _switch_days if d + 1 > _first]
        _by_model = _e[_e["day"] >= (_later[0] if _later else _days)]
        _model_n = int((_by_model["impressions"] - _by_model["explored"]).sum())
        _after = (f"after the next retraining (day {_later[0] + 1}) the model itself showed it {_model_n:,} times"
                  if _later else "no retraining followed")  # fmt: skip
        _said = (f"Found by exploration: {_title}, arrived on day {_came}, never shown at {policy(_e0)}; at {policy(_e1)} "
                 f"first shown on day {_first}, {int(_tot[_e1].loc[_id, 'explored']):,} times by exploration, clicked "
                 f"{int(_tot[_e1].loc[_id, 'clicks']):,} times; {_after}.")  # fmt: skip
    else:
        _title = "none"
        _curves = pd.DataFrame({"day": [1], "n": [0], "shown": ["nothing found"]})
        _said = f"Exploration found no arrived item that {policy(_e0)} never showed and users clicked, in {_days} days."
    _star = fresh.iloc[0]
    mo.vstack([
        kit.table(_table),
        kit.show(f"The most appealing arrival, {_star['title']} (appeal rank {_star['appeal_rank']} of "
                 f"{base.train.n_items}, arrived on day {_star['arrives_on_day']}): shown "
                 f"{int(_table.iloc[0][f'shown at {policy(_e0)}']):,} times at {policy(_e0)} and "
                 f"{int(_table.iloc[0][f'shown at {policy(_e1)}']):,} times at {policy(_e1)} by day {_days}. The "
                 f"{len(_arrived)} arrivals together: {_new_shown[_e0]:,} and {_new_shown[_e1]:,} impressions."),
        charts.lines_chart(
            _curves, x="day", y="n", group="shown", x_title="day of the loop (1 = the first)", y_title="impressions so far (count)",
            title=f"An arrival only exploration found: {_title}", reading=f"at {policy(_e1)}, split by who chose to show it"),
        kit.show(_said),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## CTR and drift, day by day, with the alerts

    Monitoring reads the same days: the click-through rate, and **drift** of the served traffic
    (`workbench.monitoring`): PSI and KS of the served items' popularity and age (every impression,
    a far steadier sample than the clicks; the age counted on the loop's first day, since the clock
    ageing every item alike is no drift), and of the ranking scores shown, each day against a
    **baseline window** of the same traffic: the previous days served by the same model version (a
    promotion starts a new window). A fixed window of the first days would drift away by itself
    here, as users use up the items they like. Comparing with the training interactions instead
    would compare two populations (what an old logging policy exposed against what this one serves)
    and alarm on day one for ever. CTR and coverage are compared with their previous days too. The
    alert rules (thresholds from the config) have states, as a pager shows them: an alert **fires**
    when a breach begins, is **resolved** when it ends, and fires again at the next one.
    """)
    return


@app.cell
def _(loops):
    _r = loops[EPSILONS[0]][0]
    _d = _r.daily.assign(day=_r.daily["day"] + 1)
    _long = pd.concat([_d.assign(figure=name, value=_d[col]) for name, col in
                       (("PSI of the served items' popularity", "psi:item_popularity"),
                        ("PSI of the served items' age", "psi:item_age_days"),
                        ("PSI of the scores shown", "psi:score"))])  # fmt: skip
    _alerts = _r.alerts_frame()
    _m = lesson.monitoring_readings(_r.daily, _r.alerts)
    _first, _ctr_alert = _m["first"], _m["ctr_alert"]
    _said = lesson.monitoring_sentence(_m, policy(EPSILONS[0]))
    _table = _alerts.assign(when=[f"day {w[1] + 1}, arm {w[0]}" for w in _alerts["when"]]).drop(columns=["value", "threshold"])
    mo.vstack([
        charts.lines_chart(
            _d.assign(policy=policy(EPSILONS[0])), x="day", y="ctr", group="policy", x_title="day of the loop (1 = the first)",
            y_title="click-through rate (clicks per item shown)", title="CTR day by day",
            mark_x=float(_ctr_alert.when[1] + 1) if _ctr_alert else None,
            reading="vermillion: the day the CTR rule fired" if _ctr_alert else "the CTR rule did not fire"),
        charts.lines_chart(
            _long.dropna(subset=["value"]), x="day", y="value", group="figure", x_title="day of the loop (1 = the first)", y_title="PSI against the baseline window (0 = no shift)",
            title="Drift of the served traffic against its baseline window",
            mark_x=float(_first.when[1] + 1) if _first else None,
            reading=f"vermillion: the first alert (day {_first.when[1] + 1})" if _first else "no alert fired"),
        kit.table(_table),
        kit.show(_said),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## The retrain cadence

    How often should the model learn from its own log? Pick a cadence: the loop without
    exploration runs again and its curves are drawn beside the page's default. Only the
    default cadence is computed before a visit: a cadence picked for the first time starts
    from the default loop's state on the last day the two cadences retrain alike (those days
    are the same for both, so they are read back, not lived again) and lives the rest here,
    retraining as often as it says (the more often, the longer), with the day and the time left
    under the spinner; one picked before is read back from disk.
    """)
    return


@app.cell
def _():
    cadence = mo.ui.slider(steps=list(CADENCES), value=CADENCE, label="retrain every N days (0: never)",
                           show_value=True, debounce=True)  # fmt: skip
    cadence
    return (cadence,)


@app.cell
def _(cadence, loop_at, loops, run):
    _chosen = loop_at(run.data, run.seed, run.small, LOOP_CODE, backend(), EPSILONS[0], cadence.value)[0]
    _default = loops[EPSILONS[0]][0]
    _label = lambda c: f"every {c} days" if c else "never"  # noqa: E731
    _runs = {cadence.value: _chosen, CADENCE: _default}
    _curves = pd.concat([r.daily.assign(retraining=_label(c), day=r.daily["day"] + 1) for c, r in _runs.items()])
    _week = {c: lesson.last_week(r.daily, LAST) for c, r in _runs.items()}
    _g = {c: w["gini"] for c, w in _week.items()}
    _ctr = {c: w["ctr"] for c, w in _week.items()}
    _fit = _chosen.daily["retrain_seconds"].sum()
    _against = ("the page's default" if cadence.value == CADENCE else
                f"against {_g[CADENCE]:.4f} and {_ctr[CADENCE]:.4f} retraining {_label(CADENCE)}")  # fmt: skip
    mo.vstack([
        charts.lines_chart(
            _curves, x="day", y="exposure_gini", group="retraining", x_title="day of the loop (1 = the first)",
            y_title="exposure Gini of the day's impressions (0 = equal, 1 = one item)",
            title=(f"Retraining {_label(cadence.value)} against {_label(CADENCE)}, at {policy(EPSILONS[0])}"
                   if cadence.value != CADENCE else f"Retraining {_label(CADENCE)} (the page's default), at {policy(EPSILONS[0])}"),
            reading="one curve per cadence (one curve when they are the same)"),
        kit.show(
            f"Retraining {_label(cadence.value)}: {len(_chosen.versions) - 1} version{'s' if len(_chosen.versions) != 2 else ''} "
            f"published, {_fit:.0f} s of "
            f"retraining; over the last {LAST} days exposure Gini {_g[cadence.value]:.4f} and CTR {_ctr[cadence.value]:.4f} "
            f"({_against})."),
    ])  # fmt: skip
    return


@app.cell
def _():
    exposure_gini_box = exercises.editor("exposure_gini")
    exercises.task("exposure_gini", exposure_gini_box)
    return (exposure_gini_box,)


@app.function
def my_gini(exposure):
    x = list(exposure)  # in which order must the counts be?
    n = len(x)
    return sum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * sum(x))


@app.cell
def _(exposure_gini_box):
    exercises.show("exposure_gini", my_gini, exposure_gini_box)
    return


@app.cell
def _(cadence, run):
    _cfg = {"epsilons": EPSILONS, "cadence": cadence.value, "default_cadence": CADENCE, "days": days_for(run),
            "features": backend(), "new_items": N_NEW, "last_days": LAST, "arrivals_per_day": ARRIVALS,
            "seeds": 3 if run.small else SEEDS}  # fmt: skip
    kit.footer(run, _cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
