import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="06 · A/B testing")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.experiment.stats import power_curve, sample_size_means
    from workbench.experiment.studies import peeking_study
    from workbench.lessons import kit
    from workbench.lessons.lab import ALPHA, SPLIT, daily_readings, make_lab
    from workbench.viz import charts

    settings = kit.settings()
    POWER = 0.8  # the power a test is planned for
    RUNS = 12  # repeats of the same test design, to show the spread of its p-values


@app.function
@mo.cache
def lab_for(s: kit.NotebookSettings):
    """The simulated world of the settings' data set with its control and treatment rankers (cached)."""
    return make_lab(kit.dataset(s), seed=s.seed)


@app.cell
def _():
    mo.md(rf"""
    # 06 · A/B testing: what a p-value can and cannot tell you

    Offline metrics rank models; only an online experiment measures what users do.
    Here the users are simulated (`workbench.experiment`), so the **true** effect of the
    new ranker is known exactly, and you can watch the test try to find it.

    * **Control (A)**: a ranker that knows each user's true tastes through heavy noise.
    * **Treatment (B)**: the same with less noise: better by a true CTR lift you choose.
    * Each day, new users arrive, are split {SPLIT[0]:.0%}/{SPLIT[1]:.0%} by a stable hash, and have one
      session; the test compares per-user click-through rate (Welch's t-test, the user is the unit).
    """)
    return


@app.cell
def _():
    picker = kit.data_picker(settings, label="data set (world)")
    picker
    return (picker,)


@app.cell
def _(picker):
    run = dataclasses.replace(settings, data=picker.value)
    with mo.status.spinner(title="Building the simulated world and its rankers (cached)..."):
        lab = lab_for(run)
    return lab, run


@app.cell
def _(lab, run):
    _lifts = [round(float(x), 1) for x in lab.effects["lift_pct"]]
    effect = mo.ui.slider(steps=_lifts, value=_lifts[min(2, len(_lifts) - 1)], label="true CTR lift of B (%)",
                          show_value=True, debounce=True)  # fmt: skip
    users_per_day = mo.ui.slider(steps=[50, 100, 200, 500, 1000, 2000, 5000], value=100 if run.small else 500,
                                 label="new users per day", show_value=True, debounce=True)  # fmt: skip
    days = mo.ui.slider(1, 28, 1, value=14, label="days", show_value=True, debounce=True)
    mo.hstack([effect, users_per_day, days], justify="start", gap=2)
    return days, effect, users_per_day


@app.cell
def _(days, effect, lab, run, users_per_day):
    sigma = lab.treatment(effect.value)
    true = lab.effects.set_index("sigma").loc[sigma]
    with mo.status.spinner(title="Simulating the test..."):
        readings = daily_readings(lab, sigma, users_per_day.value, days.value, runs=RUNS, seed=run.seed)
    first = readings[readings["run"] == 0]
    last = first.iloc[-1]
    verdict = "significant" if last["p_value"] < ALPHA else "not significant"
    kit.show(
        f"True CTR: A {true['mean_a']:.4f}, B {true['mean_b']:.4f} (**{true['lift_pct']:+.1f}%**). "
        f"After day {int(last['day'])} and {int(last['users']):,} users, the test reads "
        f"**{last['estimate']:+.1f}%** [{last['low']:+.1f}%, {last['high']:+.1f}%], p = {last['p_value']:.3g}: "
        f"{verdict} at α = {ALPHA:g}."
    )
    return first, readings, true


@app.cell
def _(first, readings, true):
    _share = (readings.groupby("run")["p_value"].last() < ALPHA).mean()
    mo.vstack([
        charts.interval_chart(
            first, true_effect=float(true["lift_pct"]), unit="relative CTR lift (%)",
            title=f"The estimate and its {1 - ALPHA:.0%} interval as users accumulate (one test)",
            reading="the interval narrows like 1/√users; the dashed green line is the truth the test is looking for",
        ),
        charts.pvalue_chart(
            readings, alpha=ALPHA, title=f"p-value day by day, in {RUNS} repeats of the same test",
            reading=f"same design, different users: {_share:.0%} of the {RUNS} end below α = {ALPHA:g} "
                    "(that share is the power)",
        ),
        kit.show(f"Power of this design, by simulation: {_share:.0%} of {RUNS} repeats end significant."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(rf"""
    ## The peeking trap

    Look at the p-value every day and stop the first time it dips below {ALPHA:g}, and you
    will "find" effects that are not there. Below, many **A/A tests** (both arms get the
    same ranker: every significant result is a false positive) are read daily. Judged on
    its last day alone, a test errs about α = {ALPHA:.0%} of the time; judged on *any* day so far,
    far more often.
    """)
    return


@app.cell
def _(days, lab, run, users_per_day):
    @mo.cache
    def peek(n_users: int, n_days: int, n_tests: int):
        control = lab.lists[lab.control_sigma]
        return peeking_study(lab.sim, control, lab.population, n_tests=n_tests, n_users=n_users, days=n_days,
                             alpha=ALPHA, seed=run.seed)  # fmt: skip

    _n_users = min(users_per_day.value, 1000)
    _n_tests = 100 if run.small else 300
    _peek = peek(_n_users, max(days.value, 2), _n_tests)
    _rates = pd.concat([
        _peek[["day"]].assign(rate=_peek["reject_at_day"], series="significant on that day"),
        _peek[["day"]].assign(rate=_peek["reject_by_day"], series="significant on any day so far (peeking)"),
    ])  # fmt: skip
    _end = _peek.iloc[-1]
    _reading = (f"after {int(_end['day'])} days, peeking declares {_end['reject_by_day']:.0%} of A/A tests significant, "
                f"against {_end['reject_at_day']:.0%} read once at the end (α = {ALPHA:.0%})")  # fmt: skip
    mo.vstack([
        charts.rate_chart(_rates, ALPHA, title=f"False positives of {_n_tests} A/A tests ({_n_users:,} users, read daily)",
                          reading=_reading),
        kit.show(f"Peeking: {_reading}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(rf"""
    ## Power: how many users before you start

    Decide the sample size *before* the test, from the smallest lift worth detecting and
    the metric's spread. Each curve is the chance that a test of that size detects the
    lift (power); the vermillion line is your current design (new users per day × days, split
    {SPLIT[0]:.0%}/{SPLIT[1]:.0%} between the arms).
    """)
    return


@app.cell
def _(days, effect, lab, users_per_day):
    _grid = np.unique(np.geomspace(20, 200_000, 40).astype(int))
    _rows = [power_curve(_grid, r.mde, sd=r.sd_a, alpha=ALPHA).assign(**{"lift (%)": round(r.lift_pct, 1)})
             for r in lab.effects.itertuples() if r.mde > 0]  # fmt: skip
    _curves = pd.concat(_rows, ignore_index=True)
    _per_arm = users_per_day.value * days.value * SPLIT[0]
    _row = lab.effects.set_index("sigma").loc[lab.treatment(effect.value)]
    if _row["mde"] > 0:
        _n = sample_size_means(_row["mde"], _row["sd_a"], alpha=ALPHA, power=POWER, sd_b=_row["sd_b"])
        _plan = (f"To detect {_row['lift_pct']:+.1f}% with {POWER:.0%} power at α = {ALPHA:g}: **{_n:,} users per arm** "
                 f"(Welch t on one-session CTR; sd {_row['sd_a']:.3f}); this design has {_per_arm:,.0f}.")  # fmt: skip
    else:
        _plan = "With no true lift (an A/A test) there is nothing to detect: any significant result is a false positive."
    mo.vstack([
        charts.power_chart(_curves, x="n_per_arm", x_title="users per arm (count, log scale)", group="lift (%)",
                           log_x=True, mark_x=_per_arm, target=POWER,
                           title="Power against users per arm, one curve per true lift",
                           reading=f"your design: {_per_arm:,.0f} users per arm (vermillion line)"),
        kit.show(_plan),
    ])  # fmt: skip
    return


@app.cell
def _(days, effect, run, users_per_day):
    _cfg = {"true_lift_pct": effect.value, "users_per_day": users_per_day.value, "days": days.value, "alpha": ALPHA,
            "split": SPLIT, "runs": RUNS}  # fmt: skip
    kit.footer(run, _cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
