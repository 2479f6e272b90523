# /// script
# [tool.marimo.opengraph]
# title = "12 · The offline–online gap"
# description = "A model that wins offline and loses online, once for each reason: feedback loops, objective mismatch, latency."
#
# [tool.workbench]
# after = ["06_ab_testing", "10_off_policy"]
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="12 · The offline–online gap")

with app.setup:
    import dataclasses

    import marimo as mo
    import pandas as pd

    from workbench.experiment.retention import LATENCY_SOURCES, RetentionConfig
    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons import gap as lesson
    from workbench.lessons.served_latency import served_latency
    from workbench.viz.gap import gap_chart

    settings = kit.settings()
    EPSILONS = [0.0, 0.1, 0.25, 0.5, 1.0]  # the logging policy's share of uniformly random slates
    SHARES = [0.0, 0.1, 0.2, 0.3, 0.5]  # the clickbait share of the catalogue
    EXTRA_MS = [0, 100, 200, 300, 500, 800, 1000]  # latency added to the heavier ranker's measured extra latency


@app.function
@mo.cache
def world_for(s: kit.NotebookSettings) -> lesson.World:
    """The settings' world and each user's candidates (cached)."""
    return lesson.world(kit.dataset(s), seed=s.seed)


@app.function
def ab_rows(g: lesson.Gap) -> pd.DataFrame:
    """The A/B test's six online metrics, each with its interval and Holm's correction."""
    _f = g.extra["ab_table"]
    return _f[["metric", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "p_holm"]]


@app.cell
def _():
    mo.md(rf"""
    # 12 · The offline–online gap

    A model with a better offline metric (NDCG on logged data) does not always win on the
    business's online metrics (CTR, retention, revenue). The textbook gives three reasons,
    and each section below builds one: a challenger that wins offline and loses in a
    simulated A/B test, with a slider for the strength of the mechanism. At strength 0 the
    gap closes. Every difference is *challenger − incumbent* with its {1 - lesson.ALPHA:.0%} interval, and a
    verdict reads "no detectable difference" whenever the interval covers 0.

    The simulated users here can **leave**: after each visit a user comes back with a
    probability that grows with the value of what they consumed (not with their clicks), and
    a slow page makes some of them abandon the request before it loads
    (`workbench.experiment.retention`). Each A/B report carries the online metrics a
    platform tracks: CTR, conversion, session duration, revenue per user, D7 retention and
    return rate.
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
def _(picker):
    run = dataclasses.replace(settings, data=picker.value)
    # Every simulation persists on disk (workbench.lessons.results), keyed by what makes it (data, seed, world size,
    # the slider) and the code: a slider position seen before, in any process, is read back, not recomputed.
    GAP_CODE = results.code("lessons/gap.py", "experiment", "casestudies/watchtime.py", "data")
    SERVED_CODE = results.code("lessons/served_latency.py", "lessons/serving.py", "serving", "pipeline.py", "ranking",
                               "candidates", "rerank", "store", "data")  # fmt: skip

    @mo.persistent_cache(save_path=results.folder())
    def users_at(data: str, seed: int, small: bool, code: str) -> int:
        return len(world_for(run).lab.population)

    @mo.persistent_cache(save_path=results.folder())
    def feedback_at(data: str, seed: int, small: bool, code: str, epsilon: float) -> lesson.Gap:
        return lesson.feedback_loop(world_for(run), epsilon=epsilon, seed=seed)

    @mo.persistent_cache(save_path=results.folder())
    def objective_at(data: str, seed: int, small: bool, code: str, share: float) -> lesson.Gap:
        return lesson.objective_mismatch(world_for(run), clickbait_share=share, seed=seed)

    @mo.persistent_cache(save_path=results.folder())
    def latency_at(data: str, seed: int, small: bool, code: str, extra_ms: float) -> lesson.Gap:
        return lesson.latency(world_for(run), extra_ms=extra_ms, seed=seed)

    @mo.persistent_cache(save_path=results.folder())
    def served_at(data: str, seed: int, small: bool, code: str):
        return served_latency(data, seed, small)

    with mo.status.spinner(title="Building the world and each user's candidates (cached)..."):
        _n = users_at(run.data, run.seed, run.small, GAP_CODE)
    kit.show(f"World: {_n:,} users, {lesson.CANDIDATES} candidates each, slates of {lesson.K}; "
             f"each A/B test draws {lesson.N_USERS:,} simulated visitors from these users (the retention test of "
             f"section 2, {lesson.RETENTION_USERS:,}) and each log holds "
             f"{lesson.LOG_IMPRESSIONS:,} impressions (seed {run.seed}).")  # fmt: skip
    return GAP_CODE, SERVED_CODE, feedback_at, latency_at, objective_at, run, served_at


@app.cell
def _():
    epsilon = mo.ui.slider(steps=EPSILONS, value=0.0, label="logging policy's exploration ε (1 = uniform)",
                           show_value=True, debounce=True)  # fmt: skip
    mo.vstack([mo.md(rf"""
    ## 1 · Feedback loop: the log was written by the incumbent

    The incumbent ranker (noise σ = {lesson.INCUMBENT_SIGMA:g}) chose what users saw, so
    the log holds clicks only on what it showed. A better challenger (σ =
    {lesson.CHALLENGER_SIGMA:g}) ranks other items high; those have no clicks in the log, so
    its offline NDCG of the logged clicks is low. The slider sets the logging policy's share
    of uniformly random slates: at 0 the log is the incumbent's alone, at 1 it is uniform.
    """), epsilon])  # fmt: skip
    return (epsilon,)


@app.cell
def _(GAP_CODE, epsilon, feedback_at, run):
    with mo.status.spinner(title="Logging, evaluating offline, running the A/B test (cached)..."):
        fb = feedback_at(run.data, run.seed, run.small, GAP_CODE, float(epsilon.value))
    _ope = fb.extra["ope"]
    mo.vstack([
        kit.table(lesson.table([fb])),
        kit.show(f"At ε = {epsilon.value:g}, offline: {lesson.verdict('the challenger', 'the incumbent', fb.offline, fb.offline_metric)}. "
                 f"Online: {lesson.verdict('the challenger', 'the incumbent', fb.online, fb.online_metric)}. "
                 + ("**Offline and online disagree.**" if fb.opposite else "Offline and online do not disagree here.")),
        kit.show(f"Off-policy estimate from a log that explores (ε = {lesson.OPE_EPSILON:g}), IPS of the difference in "
                 f"clicks per impression: {lesson.verdict('the challenger', 'the incumbent', _ope, 'clicks per impression')}; "
                 f"the simulator's exact difference is {fb.extra['true_clicks_per_impression']:+.3g}. The propensities "
                 "undo the logger's choices, which naive offline NDCG cannot."),
        kit.table(ab_rows(fb)),
    ])  # fmt: skip
    return (fb,)


@app.cell
def _():
    share = mo.ui.slider(steps=SHARES, value=lesson.CLICKBAIT_SHARE, label="clickbait share of the catalogue",
                         show_value=True, debounce=True)  # fmt: skip
    mo.vstack([mo.md(rf"""
    ## 2 · Objective mismatch: clickbait raises clicks and lowers retention

    A share of the items is clickbait: it draws more clicks (a click probability a becomes
    a + {lesson.CLICKBAIT_BOOST:g}·(1 − a)) and is worth {lesson.CLICKBAIT_VALUE:.0%} of a normal
    item's watch time. Two rankers are **trained** on the same uniformly logged log of
    {lesson.LOG_IMPRESSIONS:,} impressions, each click watched for a time that follows the
    item's value: the logistic regressions of notebook 11's watch-time case study, over the
    same features (genre affinity, interaction-matrix factors, popularity, a per-item term).
    The **click-trained** one learns from clicks; the **watch-time-trained** one weighs each
    click by its watch seconds (Covington, Adams & Sargin 2016). Neither sees which items are
    clickbait. Offline: NDCG of the clicks of a second uniformly logged log. Online: an A/B
    test over {lesson.WEEKS} simulated weeks.

    D7 retention is one yes or no per visitor, so this test needs far more visitors than a CTR
    test: it draws {lesson.RETENTION_USERS:,}, the size a power calculation gives for detecting a
    difference of {lesson.RETENTION_MDE:g} in D7 retention with {lesson.RETENTION_POWER:.0%} power at a rate of
    {lesson.RETENTION_PLAN_RATE:g} (`workbench.experiment.stats.sample_size_proportions`). Beside the
    A/B's readings stands the simulator's exact difference, which no real test can see.
    """), share])  # fmt: skip
    return (share,)


@app.cell
def _(GAP_CODE, objective_at, run, share):
    with mo.status.spinner(title="Training both rankers, four simulated weeks of each (cached)..."):
        om = objective_at(run.data, run.seed, run.small, GAP_CODE, float(share.value))
    mo.vstack([
        kit.table(lesson.table([om])),
        kit.show(f"Clickbait share {share.value:g}. Offline: {lesson.verdict('the click-trained ranker', 'the watch-time-trained one', om.offline, om.offline_metric)}. "
                 f"Online CTR: {lesson.verdict('the click-trained ranker', 'the watch-time-trained one', om.extra['ctr'], 'CTR')}. "
                 f"Online retention: {lesson.verdict('the click-trained ranker', 'the watch-time-trained one', om.online, om.online_metric)}; "
                 f"return rate: {lesson.verdict('the click-trained ranker', 'the watch-time-trained one', om.extra['return_rate'], 'return rate')}. "
                 + ("**Offline and online disagree.**" if om.opposite else "Offline and online do not disagree here.")),
        kit.show(f"The simulator's exact differences (click-trained − watch-time-trained, over the world's users): "
                 f"D7 retention {om.extra['truth']['d7_retention']:+.3g}, CTR {om.extra['truth']['ctr']:+.3g}. "
                 f"This A/B test of {om.extra['n_users']:,} visitors reads D7 retention to within about "
                 f"±{(om.online[2] - om.online[1]) / 2:.2g} (the half-width of its {1 - lesson.ALPHA:.0%} interval); "
                 f"a test of {lesson.N_USERS:,}, like the other two sections', to within about "
                 f"±{(om.online[2] - om.online[1]) / 2 * (om.extra['n_users'] / lesson.N_USERS) ** 0.5:.2g}."),
        kit.show("Share of clickbait in the trained rankers' top " + f"{lesson.K}: "
                 + ", ".join(f"{name} {v:.0%}" for name, v in om.extra["clickbait_in_slates"].items())
                 + f" (of the catalogue: {share.value:.0%})."),
        kit.table(ab_rows(om)),
    ])  # fmt: skip
    return (om,)


@app.cell
def _(GAP_CODE, SERVED_CODE, latency_at, run, served_at):
    with mo.status.spinner(title="Measuring both pipelines on the served path (once: the figure persists)..."):
        measured = served_at(run.data, run.seed, run.small, SERVED_CODE)
    with mo.status.spinner(title="The A/B test at the measured difference alone (cached)..."):
        at_measured = latency_at(run.data, run.seed, run.small, GAP_CODE, round(measured.extra_ms, 1))
    extra = mo.ui.slider(steps=EXTRA_MS, value=lesson.EXTRA_MS, label="latency added on top of the measured difference (ms)",
                         show_value=True, debounce=True)  # fmt: skip
    _cfg = RetentionConfig()
    _real = measured.relative_gain
    _sim = at_measured.offline[0] / at_measured.extra["offline_base"]
    _pa, _pb = at_measured.extra["abandon"]
    _half = (at_measured.online[2] - at_measured.online[1]) / 2 / at_measured.extra["ab_table"].set_index("metric").loc["session_time", "mean_a"]
    _why = (f"This latency abandons {_pb - _pa:.2%} more of the requests, while an A/B test of {lesson.N_USERS:,} "
            f"visitors reads session duration only to within about ±{_half:.1%} of its mean (the half-width of its "
            f"{1 - lesson.ALPHA:.0%} interval)" + (": a loss that small is below what the test can detect" if _pb - _pa < _half else "")
            + ("; and the heavier ranker's better slates earn more than the abandoned requests cost." if at_measured.online[1] > 0 else "."))  # fmt: skip
    mo.vstack([mo.md(rf"""
    ## 3 · Latency: more accurate, slower, abandoned

    A heavier ranker is more accurate, and slower. Here it is a real one: the default pipeline
    with {measured.heavy} in stage 2 instead of its {measured.light} alone
    (`workbench.lessons.ensemble`: each ranker scores every candidate, and their scores are
    averaged, so it costs about what its rankers cost together). Offline, on the test split,
    {lesson.verdict("the heavy pipeline", "the light one", measured.ndcg_diff, "NDCG@10 (paired over users)")}
    ({_real[0]:+.1%} of the light one's NDCG, [{_real[1]:+.1%}, {_real[2]:+.1%}]).
    How much slower it is is **measured**, on the project's own served path
    (`workbench.lessons.served_latency`): both pipelines served at once by Redis and the
    FastAPI app on uvicorn, read from the service's `Server-Timing` header. {measured.sentence()}

    In the simulation below the heavier ranker is the light one's ranking with less noise
    (σ = {lesson.HEAVY_SIGMA:g} against {lesson.LIGHT_SIGMA:g}): its offline NDCG of clicks is
    {_sim:+.1%} of the light one's, where the real ensemble's is {_real[0]:+.1%}.

    A request served in L ms is abandoned with probability
    1 − (1 − {_cfg.loss_per_100ms:g})^(L/100): each 100 ms loses {_cfg.loss_per_100ms:.0%} of the
    requests still waiting. This curve is a **modelling assumption**, set from published
    findings that measured sales or searches rather than abandonment: {"; ".join(LATENCY_SOURCES)}.
    An abandoned request is a session of 0 s with nothing consumed (so the user is less
    likely to come back). Notebook 08 measures the served path under load.

    **At the measured difference alone** ({measured.extra_ms:.1f} ms): {_pa:.2%} against {_pb:.2%}
    of requests abandoned, and online {lesson.verdict("the heavier ranker", "the light one", at_measured.online, at_measured.online_metric)}
    {"— **offline and online disagree**." if at_measured.opposite else "— the gap does not open."} {_why} The
    textbook's own example is a model "{lesson.TEXTBOOK_MS:g} ms slower"; the slider adds latency on top of the
    measured difference (a larger model, a slower machine), and its default, {lesson.EXTRA_MS:g} ms, is where
    `benchmarks/bench_gap.py` saw the loss on every seed (benchmarks/RESULTS.md).
    """), extra])  # fmt: skip
    return extra, measured


@app.cell
def _(GAP_CODE, extra, latency_at, measured, run):
    _extra_ms = round(measured.extra_ms + float(extra.value), 1)
    with mo.status.spinner(title="Both rankers online with abandonment (cached)..."):
        lt = latency_at(run.data, run.seed, run.small, GAP_CODE, _extra_ms)
    _pa, _pb = lt.extra["abandon"]
    _la, _lb = lt.extra["latency_ms"]
    mo.vstack([
        kit.table(lesson.table([lt])),
        kit.show(f"Extra latency {_extra_ms:g} ms ({measured.extra_ms:.1f} ms measured + {extra.value:g} ms added): "
                 f"{_la:g} ms against {_lb:g} ms, {_pa:.1%} against {_pb:.1%} of requests abandoned. "
                 f"Offline: {lesson.verdict('the heavier ranker', 'the light one', lt.offline, lt.offline_metric)}. "
                 f"Online: {lesson.verdict('the heavier ranker', 'the light one', lt.online, lt.online_metric)}; "
                 f"revenue per user: {lesson.verdict('the heavier ranker', 'the light one', lt.extra['revenue_per_user'], 'revenue per user')}. "
                 + ("**Offline and online disagree.**" if lt.opposite else "Offline and online do not disagree here.")),
        kit.table(ab_rows(lt)),
    ])  # fmt: skip
    return (lt,)


@app.cell
def _(fb, lt, om):
    _gaps = [fb, om, lt]
    _n = sum(g.opposite for g in _gaps)
    mo.vstack([
        mo.md("## The three gaps at the sliders' settings"),
        gap_chart(lesson.chart_rows(_gaps), title="Offline and online, relative to the incumbent",
                  reading=f"offline and online point in opposite directions, both intervals clear of 0, for {_n} of "
                          f"{len(_gaps)} reasons"),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## The lesson

    An offline win is a hypothesis. Validate it with an online A/B test, on the metrics the
    business cares about, read with their intervals and corrected when several are read at
    once (the tables' `p_holm`: Holm's step-down correction). Where the log is the
    incumbent's, an off-policy estimate from an exploring log is the offline number that
    can be trusted.
    """)
    return


@app.cell
def _():
    holm_box = exercises.editor("holm")
    exercises.task("holm", holm_box)
    return (holm_box,)


@app.function
def my_holm(p_values):
    m = len(p_values)
    return [min(1.0, m * p) for p in p_values]  # the same factor for every p-value?


@app.cell
def _(holm_box):
    exercises.show("holm", my_holm, holm_box)
    return


@app.cell
def _(epsilon, extra, measured, run, share):
    _cfg = {"epsilon": epsilon.value, "clickbait_share": share.value, "extra_ms_added": extra.value,
            "served_latency": dataclasses.asdict(measured), "k": lesson.K,
            "candidates": lesson.CANDIDATES, "incumbent_sigma": lesson.INCUMBENT_SIGMA,
            "challenger_sigma": lesson.CHALLENGER_SIGMA, "ope_epsilon": lesson.OPE_EPSILON,
            "light_sigma": lesson.LIGHT_SIGMA, "heavy_sigma": lesson.HEAVY_SIGMA, "n_users": lesson.N_USERS,
            "retention_users": lesson.RETENTION_USERS,
            "log_impressions": lesson.LOG_IMPRESSIONS, "days": lesson.DAYS, "weeks": lesson.WEEKS,
            "retention": dataclasses.asdict(RetentionConfig())}  # fmt: skip
    kit.footer(run, _cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
