# /// script
# [tool.marimo.opengraph]
# title = "10 · Off-policy evaluation"
# description = "Off-policy evaluation from a logged exploring policy: IPS and its spread, clipping, SNIPS, DM and DR against the truth."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="10 · Off-policy evaluation")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd
    from scipy import special

    from workbench.experiment.ope.estimators import SupportError
    from workbench.experiment.ope.evaluation import evaluate
    from workbench.experiment.ope.lab import OffPolicyLab
    from workbench.experiment.ope.logs import monte_carlo_value
    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons import offpolicy as lesson
    from workbench.viz import charts

    settings = kit.settings()
    ALPHA = 0.05  # level of every interval and test on the page
    POWER = 0.8  # the power the sample sizes are planned for


@app.function
def lab_for(s: kit.NotebookSettings) -> OffPolicyLab:
    """The simulated world of the settings' data set, each user's candidates in the logger's order (kept on disk and in this
    process by `workbench.lessons.results.kept`, not marimo's cache: its docstring says why)."""
    return results.kept("10-lab", (s.data, s.seed, s.small, results.code("data", "experiment", "lessons/offpolicy.py")), lambda: lesson.make_lab(kit.dataset(s), seed=s.seed))


@app.function
@mo.cache
def study_for(s: kit.NotebookSettings) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """Every estimator on many logs at each ε (cached): (estimates, clipped IPS, impressions per log, logs per ε)."""
    n, reps = (3_000, 12) if s.small else (20_000, 30)
    est, clipped = lesson.study(lab_for(s), n_impressions=n, reps=reps, seed=s.seed, alpha=ALPHA)
    return est, clipped, n, reps


@app.function
@mo.cache
def sizes_for(s: kit.NotebookSettings) -> pd.DataFrame:
    """Logged impressions against A/B users for the same decision, at each ε (cached)."""
    return lesson.sizes(lab_for(s), pilot=10_000 if s.small else 50_000, seed=s.seed, alpha=ALPHA, power=POWER)


@app.cell
def _():
    mo.md(rf"""
    # 10 · Off-policy evaluation: a new policy's value from the old policy's log

    An A/B test shows the new ranker to real users. **Off-policy evaluation** (OPE) asks
    the log instead: the production policy explored a little and logged, for every item it
    showed, the probability it had of showing it there (its *propensity*). Reweighting what
    users did by how much more (or less) often the new policy would have shown the same
    thing estimates the new policy's value without showing it to anyone.

    * **Logger**: each user's {lesson.CANDIDATES} candidates ranked by a noisy ranker
      (noise σ = {lesson.LOGGER_SIGMA:g}); it shows the top {lesson.K}, except that with
      probability ε it shows a uniformly random slate of the candidates instead.
    * **Target**: a better ranker (σ = {lesson.TARGET_SIGMA:g}) over the same candidates,
      never exploring. Its true value is known: the simulator knows every click probability.
    * **Estimators** (`workbench.experiment.ope.estimators`): IPS, self-normalised IPS (SNIPS),
      clipped IPS, the direct method (DM: a click model fitted on a log), doubly robust (DR)
      and its self-normalised form (SNDR), and the slate pseudo-inverse estimator (PI).
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
    # the page's studies persist on disk (workbench.lessons.results), keyed by the settings that make the lab
    # (data, seed, world size) and the code: a later visit, in any process, reads them back
    OPE_CODE = results.code("data", "experiment", "lessons/offpolicy.py")

    @mo.persistent_cache(save_path=results.folder())
    def study_at(data: str, seed: int, small: bool, code: str):
        return study_for(kit.NotebookSettings(data=data, seed=seed, small=small))

    @mo.persistent_cache(save_path=results.folder())
    def sizes_at(data: str, seed: int, small: bool, code: str):
        return sizes_for(kit.NotebookSettings(data=data, seed=seed, small=small))

    @mo.persistent_cache(save_path=results.folder())
    def monte_carlo_at(data: str, seed: int, small: bool, code: str, n: int):
        _lab = lab_for(kit.NotebookSettings(data=data, seed=seed, small=small))
        return monte_carlo_value(_lab.sim, _lab.candidates, _lab.policy(lesson.TARGET_SIGMA, 0.0), _lab.population, n,
                                 seed)  # fmt: skip

    return OPE_CODE, monte_carlo_at, sizes_at, study_at


@app.cell
def _(OPE_CODE, monte_carlo_at, picker):
    run = dataclasses.replace(settings, data=picker.value)
    # the world persists on disk too (lab_for): a later visit reads it instead of building it
    with mo.status.spinner(title="Building the simulated world and each user's candidates (kept on disk)..."):
        lab = lab_for(run)
    target = lab.policy(lesson.TARGET_SIGMA, 0.0)
    truth = lab.truth(target)
    v_control = lab.truth(lab.policy(epsilon=0.0))
    _n_mc = 20_000 if run.small else 100_000
    _mc, _mc_se = monte_carlo_at(run.data, run.seed, run.small, OPE_CODE, _n_mc)
    _z = float(special.ndtri(1 - ALPHA / 2))
    kit.show(
        f"Truth: the target ranker earns {truth:.4f} clicks per impression (exact, from the simulator's click "
        f"probabilities); an on-policy Monte-Carlo run of {_n_mc:,} impressions gives {_mc:.4f} ± {_z * _mc_se:.4f}. "
        f"The logger's ranker without exploration earns {v_control:.4f}: the target is **{truth / v_control - 1:+.1%}** better."
    )
    return lab, run, truth, v_control


@app.cell
def _(OPE_CODE, run, study_at):
    with mo.status.spinner(title="Drawing many logs at each ε and estimating on each (kept on disk)..."):
        estimates, clipped, n_impressions, reps = study_at(run.data, run.seed, run.small, OPE_CODE)
    return clipped, estimates, n_impressions, reps


@app.cell
def _():
    epsilon = mo.ui.slider(steps=list(lesson.EPSILONS), value=0.1, label="logger's exploration rate ε",
                           show_value=True, debounce=True)  # fmt: skip
    epsilon
    return (epsilon,)


@app.cell
def _(n_impressions, reps):
    mo.md(rf"""
    ## IPS, and why its variance explodes as ε shrinks

    IPS multiplies each logged click by the weight ``π_target / π_logger`` of its (slot, item)
    and averages over impressions. It is unbiased, but wherever the two rankings differ, the
    logger shows the target's item in that slot only when it explores: with probability
    ε/{lesson.CANDIDATES}. Those rare cells carry weights of {lesson.CANDIDATES}/ε. Below, {reps} logs of
    {n_impressions:,} impressions at each ε, each estimated once.
    """)
    return


@app.cell
def _(estimates, reps, truth):
    # what no ε position changes: the summaries over every ε and the chart of every log's IPS estimate
    ips_rows = estimates[estimates["estimator"] == "IPS"]
    ips_by = lesson.summary(ips_rows, ["epsilon"]).set_index("epsilon")
    ips_sd = lesson.summary(estimates[estimates["estimator"].isin(["IPS", "SNIPS", "DR"])], ["epsilon", "estimator"])
    ips_slope = float(np.polyfit(np.log(ips_by.index.to_numpy(float)), np.log(ips_by["sd"].to_numpy()), 1)[0])
    _lo, _hi = min(lesson.EPSILONS), max(lesson.EPSILONS)
    charts.estimates_chart(
        ips_rows, truth, x="epsilon", x_title="logger's exploration rate ε",
        title=f"IPS estimates of the target's value, {reps} logs at each ε",
        reading=f"sd {ips_by.loc[_lo, 'sd']:.3f} at ε = {_lo:g}, {ips_by.loc[_hi, 'sd']:.3f} at ε = {_hi:g}; "
                f"dashed green: the truth ({truth:.3f})")  # fmt: skip
    return ips_by, ips_rows, ips_sd, ips_slope


@app.cell
def _(epsilon, ips_by, ips_rows, ips_sd, ips_slope, n_impressions, reps, truth):
    _ips, _by, _sd, _slope = ips_rows, ips_by, ips_sd, ips_slope
    _e, _lo, _hi = epsilon.value, min(lesson.EPSILONS), max(lesson.EPSILONS)
    _line = (f"At ε = {_e:g}: the largest importance weight is {lesson.CANDIDATES / _e:,.0f}; IPS's {reps} estimates "
             f"spread with sd {_by.loc[_e, 'sd']:.3f} ({_by.loc[_e, 'sd'] / truth:.1%} of the truth), and its {1 - ALPHA:.0%} "
             f"intervals held the truth in {_by.loc[_e, 'coverage']:.0%} of the logs (median effective sample size "
             f"{_by.loc[_e, 'ess']:,.0f} of {n_impressions:,} impressions). At ε = {_lo:g} the sd is "
             f"{_by.loc[_lo, 'sd']:.3f}, at ε = {_hi:g} it is {_by.loc[_hi, 'sd']:.3f}: "
             f"{_by.loc[_lo, 'sd'] / _by.loc[_hi, 'sd']:.1f}× as wide.")  # fmt: skip
    _cov = lesson.coverage_reading(_ips[_ips["epsilon"] == _e], ALPHA)
    _shares = f"{_cov['coverage']:.0%} of {_cov['logs']} logs (95% interval of that share [{_cov['low']:.0%}, {_cov['high']:.0%}])"
    if _cov["short"]:
        _why = (f"IPS's {_cov['nominal']:.0%} intervals fall short: they held the truth in {_shares}, below "
                f"{_cov['nominal']:.0%}. Of the {_cov['misses']} misses, {_cov['below']} lay wholly below the truth and "
                f"{_cov['above']} above. The cause is the weights' heavy tail: a few cells with weight "
                f"{lesson.CANDIDATES / _e:,.0f} carry much of the value, and a log holds few of them (median effective "
                f"sample size {_by.loc[_e, 'ess']:,.0f} of {n_impressions:,}). The median estimate is "
                f"{_cov['median']:.4f} against the truth {_cov['truth']:.4f}, and the median reported se is "
                f"{_cov['se_ratio']:.2f}× the estimates' actual spread across logs"
                + (": a log that happens to hold few of the large-weight clicks estimates low and, with its big terms "
                   "missing, reports a small standard error too, so the interval is narrowest where it misses"
                   if _cov["below"] > _cov["above"] and _cov["se_ratio"] < 1 else "")
                + ". The normal interval's promise needs many effective samples; with this few, it holds only "
                  "on average over logs, not in each.")  # fmt: skip
    else:
        _why = (f"IPS's {_cov['nominal']:.0%} intervals held the truth in {_shares}: no detectable shortfall from "
                f"{_cov['nominal']:.0%} at this many logs ({_cov['misses']} misses: {_cov['below']} wholly below the "
                f"truth, {_cov['above']} above; median reported se {_cov['se_ratio']:.2f}× the estimates' spread "
                f"across logs; weights up to {lesson.CANDIDATES / _e:,.0f}, median effective sample size "
                f"{_by.loc[_e, 'ess']:,.0f} of {n_impressions:,}).")  # fmt: skip
    mo.vstack([
        charts.lines_chart(
            _sd, x="epsilon", y="sd", group="estimator", x_title="logger's exploration rate ε (log scale)",
            y_title="sd of the estimates (clicks per impression, log scale)", log_x=True, log_y=True, mark_x=_e,
            title="How much the estimates vary from log to log",
            reading=f"IPS's sd goes like ε^{_slope:.2f} on this grid (−0.5 would be 1/√ε); vermillion: ε = {_e:g}"),
        kit.show(_line),
        kit.show(_why),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Clipping: bias for variance

    Capping every weight at ``c`` tames the rare huge weights, so the estimate varies less
    from log to log, but every capped cell now counts less than it should, which biases the
    estimate downwards. Here the weights take two values, about 1 where the target agrees
    with the logger's ranking and ``A/ε`` where it relies on exploration, so a cap below
    ``A/ε`` scales down everything the exploration found.
    """)
    return


@app.cell
def _(clipped, epsilon, estimates, truth):
    _e = epsilon.value
    _c = lesson.summary(clipped[clipped["epsilon"] == _e], ["clip"])
    _ips = lesson.summary(estimates[(estimates["epsilon"] == _e) & (estimates["estimator"] == "IPS")], ["estimator"]).iloc[0]
    _long = pd.concat([_c.assign(figure="|bias|", value=_c["bias"].abs()), _c.assign(figure="sd", value=_c["sd"]),
                       _c.assign(figure="RMSE", value=_c["rmse"])])  # fmt: skip
    _best = _c.loc[_c["rmse"].idxmin()]
    _low = _c.iloc[0]
    mo.vstack([
        charts.lines_chart(
            _long, x="clip", y="value", group="figure", x_title="weight cap c (log scale)",
            y_title="error of clipped IPS (clicks per impression)", log_x=True, mark_x=lesson.CANDIDATES / _e,
            title=f"Clipped IPS at ε = {_e:g}: bias, spread and their sum (RMSE) against the cap",
            reading=f"vermillion: the largest weight, A/ε = {lesson.CANDIDATES / _e:,.0f}; "
                    f"truth {truth:.3f} clicks per impression"),
        kit.show(
            f"At ε = {_e:g}, unclipped IPS has bias {_ips['bias']:+.3f}, sd {_ips['sd']:.3f}, RMSE {_ips['rmse']:.3f}. "
            f"Capped at {_low['clip']:g}: bias {_low['bias']:+.3f}, sd {_low['sd']:.3f}. The lowest RMSE on this grid "
            f"is at c = {_best['clip']:g} ({_best['rmse']:.3f})."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## SNIPS and doubly robust

    **SNIPS** divides by the sum of the weights instead of the number of impressions:
    slightly biased, steadier. **DM** predicts every click with a model fitted on a
    separate log; it has no weights and little variance, but it is only as right as its
    model, whose features here are the logger's own score and rank. **DR** starts from DM
    and adds IPS on the model's residuals: unbiased like IPS, less variable when the model
    explains some of the clicks. **PI** needs only each slate's total clicks (not which
    slot earned them), at the price of much more variance.
    """)
    return


@app.cell
def _(epsilon, estimates, truth):
    _e = epsilon.value
    _at = estimates[estimates["epsilon"] == _e]
    _s = lesson.summary(_at, ["estimator"]).set_index("estimator")
    _table = _s.reset_index().rename(columns={"ess": "median ESS", "coverage": f"{1 - ALPHA:.0%} interval coverage"})
    mo.vstack([
        charts.estimates_chart(
            _at, truth, title=f"Every estimator at ε = {_e:g}, one point per log",
            reading=f"DM's mean misses by {_s.loc['DM', 'bias']:+.3f}; DR's sd is {_s.loc['DR', 'sd'] / _s.loc['IPS', 'sd']:.0%} "
                    f"of IPS's; dashed green: truth {truth:.3f}"),
        kit.table(_table, digits=3),
        kit.show(
            f"At ε = {_e:g}: IPS sd {_s.loc['IPS', 'sd']:.3f}, SNIPS sd {_s.loc['SNIPS', 'sd']:.3f}, DR sd "
            f"{_s.loc['DR', 'sd']:.3f} (bias {_s.loc['DR', 'bias']:+.3f}); DM is off by {_s.loc['DM', 'bias'] / truth:+.1%} "
            f"with sd {_s.loc['DM', 'sd']:.3f}, and its intervals held the truth in {_s.loc['DM', 'coverage']:.0%} of the logs; "
            f"PI's sd is {_s.loc['PI', 'sd']:.3f}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(rf"""
    ## How much data for one decision: a log against an A/B test

    The decision: does the target ranker beat the logger's ranker? An **A/B test** shows
    each to half of the users (one impression each) and compares. **Off-policy**, both are
    estimated from the same log of the exploring logger, and the difference is tested. Both
    sizes are planned for {POWER:.0%} power at α = {ALPHA:g}, from the per-impression spread
    measured on a pilot run of each design on the same simulator.
    """)
    return


@app.cell
def _(OPE_CODE, run, sizes_at):
    with mo.status.spinner(title="Sizing both designs at each ε (kept on disk)..."):
        sizes = sizes_at(run.data, run.seed, run.small, OPE_CODE)
    return (sizes,)


@app.cell
def _(epsilon, sizes, truth, v_control):
    _sizes = sizes
    _long = pd.concat([
        _sizes.assign(design="A/B test (users, one impression each)", n=_sizes["ab_users"]),
        _sizes.assign(design="off-policy DR (logged impressions)", n=_sizes["ope_dr"]),
        _sizes.assign(design="off-policy IPS (logged impressions)", n=_sizes["ope_ips"]),
    ])  # fmt: skip
    _r = _sizes.set_index("epsilon").loc[epsilon.value]
    mo.vstack([
        charts.lines_chart(
            _long, x="epsilon", y="n", group="design", x_title="logger's exploration rate ε (log scale)",
            y_title="sample size for the decision (count, log scale)", log_x=True, log_y=True, mark_x=epsilon.value,
            title="Data needed to tell whether the target beats the logger's ranker",
            reading=f"{POWER:.0%} power at α = {ALPHA:g}; the A/B line does not depend on ε; vermillion: ε = {epsilon.value:g}"),
        kit.show(
            f"To decide whether the target ({truth / v_control - 1:+.1%}) beats the logger's ranker, an A/B test needs "
            f"~{int(_r['ab_users']):,} users; a log at ε = {epsilon.value:g} needs ~{int(_r['ope_dr']):,} impressions for DR "
            f"({_r['ope_dr'] / _r['ab_users']:.0f}× as many) and ~{int(_r['ope_ips']):,} for IPS. The log shows no user the "
            f"untested ranker, and one log serves every target, but exploring cost the logger "
            f"{1 - _r['v_logger'] / _r['v_control']:.1%} of its clicks at ε = {epsilon.value:g}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Support: what a log cannot tell you

    The workbench's own exploration step (notebook 04, `workbench.rerank.exploration`)
    randomises only a few fixed slots, filling them from items ranked below the slate. Its
    log has nothing to say about a policy that puts other items in the other slots: no
    reweighting can recover clicks on cells that were never shown. The estimators check
    this first and refuse, naming the share of the target's mass that has no support.

    A log that supports other targets needs a logger that can show any item in any slot. The
    feedback loop has one: `workbench loop --explore slates` (`explore = "slates"` in
    `configs/loop.toml`) shows, in ε of the sessions, a whole slate drawn uniformly from the items
    that user may see, and logs every slot's exact propensity; `workbench ope --log` on that
    loop's `events.sqlite` then reports a small unsupported share where the default
    `explore = "slots"` leaves most of the target's mass unsupported.
    """)
    return


@app.cell
def _(epsilon, lab, run):
    _logger = lab.policy(epsilon=epsilon.value, kind="explore")
    _log = lab.log(_logger, 2_000, run.seed)
    try:
        evaluate(_log, lab.policy(lesson.TARGET_SIGMA, 0.0), estimators=("IPS",))
        _said = "the target has full support on this log."
    except SupportError as _err:
        _said = (f"the target puts {_err.share:.0%} of its (slot, candidate) mass on cells this log never shows, "
                 "and the estimators refuse it.")  # fmt: skip
    kit.show(f"On a log of the workbench's ε-exploration at ε = {epsilon.value:g}: {_said}")
    return


@app.cell
def _():
    ips_box = exercises.editor("ips")
    exercises.task("ips", ips_box)
    return (ips_box,)


@app.function
def my_ips(rewards, logging_p, target_p):
    weights = [t / p for t, p in zip(target_p, logging_p)]
    return sum(w * r for w, r in zip(weights, rewards)) / sum(weights)  # the mean over impressions?


@app.cell
def _(ips_box):
    exercises.show("ips", my_ips, ips_box)
    return


@app.cell
def _(epsilon, n_impressions, reps, run):
    _cfg = {"epsilon": epsilon.value, "epsilons": lesson.EPSILONS, "clips": lesson.CLIPS, "k": lesson.K,
            "candidates": lesson.CANDIDATES, "logger_sigma": lesson.LOGGER_SIGMA, "target_sigma": lesson.TARGET_SIGMA,
            "impressions_per_log": n_impressions, "logs_per_epsilon": reps, "alpha": ALPHA, "power": POWER}  # fmt: skip
    kit.footer(run, _cfg, __file__)
    return



@app.cell
def _():
    mo.md(r"""
    ## Real logs: the Open Bandit Dataset

    Everything above ran on the simulator, where the truth is known. The Open Bandit Dataset
    (Saito et al. 2021) is a real log from ZOZOTOWN, a fashion shop: two policies each chose
    which items to show in its slots, and each logged its propensities. One chose
    uniformly at random; the other was Bernoulli Thompson sampling (BTS). A sample of each
    ships in `obp`'s wheel. The paper's protocol: estimate BTS's click rate **from the random
    policy's log** with every estimator, and compare with the click rate BTS earned on its own
    log. The same run from the terminal: `ope --log obd` (the `workbench` command).
    """)
    return


@app.cell
def _():
    from workbench.lessons import real_logs as _real

    try:
        obd = _real.obd_protocol("all", alpha=ALPHA)
    except FileNotFoundError as _err:
        obd = None
        kit.show(f"The Open Bandit sample is not installed here: {_err}")
    return (obd,)


@app.cell
def _(obd):
    from workbench.lessons import real_logs as _real2

    mo.stop(obd is None)
    _mean, _lo, _hi = obd["on_policy"]
    _t = obd["table"].set_index("estimator")
    _n_cover = int(obd["table"]["covers"].sum())
    _lines = "; ".join(_real2.difference_text(_e, _r) for _e, _r in _t.iterrows())
    mo.vstack([
        charts.estimate_intervals_chart(obd["table"], obd["on_policy"], **_real2.chart_text(obd)),
        kit.table(_real2.results_table(obd), digits=4),
        kit.show(
            f"BTS's own log: {obd['clicks_bts']} clicks in {obd['n_bts']:,} rounds, a click rate of {_mean:.4f} "
            f"[{_lo:.4f}, {_hi:.4f}]. From the random log ({obd['clicks_random']} clicks in {obd['n_random']:,} "
            f"rounds): IPS {_t.loc['IPS', 'value']:.4f} [{_t.loc['IPS', 'ci_low']:.4f}, {_t.loc['IPS', 'ci_high']:.4f}], "
            f"SNIPS {_t.loc['SNIPS', 'value']:.4f}, DR {_t.loc['DR', 'value']:.4f} [{_t.loc['DR', 'ci_low']:.4f}, "
            f"{_t.loc['DR', 'ci_high']:.4f}]. {_n_cover} of {len(_t)} intervals hold the on-policy mean."),
        kit.show(f"Each estimate minus BTS's on-policy rate, with the interval of that difference (both logs' "
                 f"errors): {_lines}."),
    ])
    return


@app.cell
def _(obd):
    mo.stop(obd is None)
    _t = obd["table"].set_index("estimator")
    _half = (_t.loc["IPS", "ci_high"] - _t.loc["IPS", "ci_low"]) / 2
    kit.show(
        f"**Why the intervals are this wide.** A click rate of about {obd['random_rate']:.4f} means "
        f"{obd['clicks_random']} clicks in {obd['n_random']:,} rounds: every estimator's spread comes from those few "
        f"clicks. Reweighting them by π/μ adds to it: the random policy gives each of the {obd['n_actions']} items "
        f"1/{obd['n_actions']} per position, BTS concentrates on a few, so weights reach {obd['max_weight']:.1f} and the "
        f"log is worth {obd['ess']:,.0f} unweighted rounds (Kish's effective sample size). IPS's interval is "
        f"±{_half:.4f} around {_t.loc['IPS', 'value']:.4f}, "
        f"{_half / _t.loc['IPS', 'value']:.0%} of the value; an interval of ±10% would need about "
        f"{obd['rounds_for_10pct']:,} random rounds. DM's interval is narrow only because it treats its reward "
        f"model as exact: it says nothing about the model's own error. The log supports "
        f"{1 - obd['unsupported']:.0%} of BTS's mass, so the weights are the only problem here, not support."
    )
    return


if __name__ == "__main__":
    app.run()
