import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="06 · A/B testing")


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.experiment.stats import power_curve, sample_size_means
    from workbench.experiment.studies import peeking_study
    from workbench.report import DATASETS, NotebookSettings, load_data, notebook_settings, provenance, provenance_markdown
    from workbench.viz import charts
    from workbench.viz.experiments import daily_readings, make_lab

    settings = notebook_settings(mo.cli_args())
    return (
        DATASETS,
        NotebookSettings,
        charts,
        daily_readings,
        load_data,
        make_lab,
        mo,
        np,
        pd,
        peeking_study,
        power_curve,
        provenance,
        provenance_markdown,
        sample_size_means,
        settings,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # 06 · A/B testing: what a p-value can and cannot tell you

    Offline metrics rank models; only an online experiment measures what users do.
    Here the users are simulated (`workbench.experiment`), so the **true** effect of the
    new ranker is known exactly, and you can watch the test try to find it.

    * **Control (A)**: a ranker that knows each user's true tastes through heavy noise.
    * **Treatment (B)**: the same with less noise: better by a true CTR lift you choose.
    * Each day, new users arrive, are split 50/50 by a stable hash, and have one session;
      the test compares per-user click-through rate (Welch's t-test, the user is the unit).
    """)
    return


@app.cell
def _(DATASETS, mo, settings):
    data_picker = mo.ui.dropdown(options=list(DATASETS), value=settings.data, label="data set (world)")
    data_picker
    return (data_picker,)


@app.cell
def _(NotebookSettings, data_picker, load_data, make_lab, mo, settings):
    @mo.cache
    def build_lab(data: str, seed: int, small: bool):
        return make_lab(load_data(NotebookSettings(data, seed, small)), seed=seed)

    with mo.status.spinner(title="Building the simulated world and its rankers (cached)..."):
        lab = build_lab(data_picker.value, settings.seed, settings.small)
    return (lab,)


@app.cell
def _(lab, mo, settings):
    _lifts = [round(float(x), 1) for x in lab.effects["lift_pct"]]
    effect = mo.ui.slider(steps=_lifts, value=_lifts[min(2, len(_lifts) - 1)], label="true CTR lift of B (%)",
                          show_value=True, debounce=True)  # fmt: skip
    users_per_day = mo.ui.slider(steps=[50, 100, 200, 500, 1000, 2000, 5000], value=100 if settings.small else 500,
                                 label="new users per day", show_value=True, debounce=True)  # fmt: skip
    days = mo.ui.slider(1, 28, 1, value=14, label="days", show_value=True, debounce=True)
    mo.hstack([effect, users_per_day, days], justify="start", gap=2)
    return days, effect, users_per_day


@app.cell
def _(daily_readings, days, effect, lab, mo, settings, users_per_day):
    sigma = lab.treatment(effect.value)
    true = lab.effects.set_index("sigma").loc[sigma]
    with mo.status.spinner(title="Simulating the test..."):
        readings = daily_readings(lab, sigma, users_per_day.value, days.value, runs=12, seed=settings.seed)
    first = readings[readings["run"] == 0]
    last = first.iloc[-1]
    verdict = "significant" if last["p_value"] < 0.05 else "not significant"
    mo.md(
        f"True CTR: A {true['mean_a']:.4f}, B {true['mean_b']:.4f} (**{true['lift_pct']:+.1f}%**). "
        f"After day {int(last['day'])} and {int(last['users']):,} users, the test reads "
        f"**{last['estimate']:+.1f}%** [{last['low']:+.1f}%, {last['high']:+.1f}%], p = {last['p_value']:.3g}: "
        f"{verdict} at α = 0.05."
    )
    return first, readings, true


@app.cell
def _(charts, first, mo, readings, true):
    _share = (readings.groupby("run")["p_value"].last() < 0.05).mean()
    mo.vstack([
        charts.interval_chart(
            first, true_effect=float(true["lift_pct"]), unit="relative CTR lift (%)",
            title="The estimate and its 95% interval as users accumulate (one test)",
            reading="the interval narrows like 1/√users; the dashed green line is the truth the test is looking for",
        ),
        charts.pvalue_chart(
            readings, title="p-value day by day, in 12 repeats of the same test",
            reading=f"same design, different users: {_share:.0%} of the 12 end below α = 0.05 (that share is the power)",
        ),
    ])  # fmt: skip
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## The peeking trap

    Look at the p-value every day and stop the first time it dips below 0.05, and you
    will "find" effects that are not there. Below, many **A/A tests** (both arms get the
    same ranker: every significant result is a false positive) are read daily. Judged on
    its last day alone, a test errs about α of the time; judged on *any* day so far,
    far more often.
    """)
    return


@app.cell
def _(charts, days, lab, mo, pd, peeking_study, settings, users_per_day):
    @mo.cache
    def peek(n_users: int, n_days: int, n_tests: int):
        control = lab.lists[lab.control_sigma]
        return peeking_study(lab.sim, control, lab.population, n_tests=n_tests, n_users=n_users, days=n_days, seed=settings.seed)

    _n_users = min(users_per_day.value, 1000)
    _peek = peek(_n_users, max(days.value, 2), 100 if settings.small else 300)
    _rates = pd.concat([
        _peek[["day"]].assign(rate=_peek["reject_at_day"], series="significant on that day"),
        _peek[["day"]].assign(rate=_peek["reject_by_day"], series="significant on any day so far (peeking)"),
    ])  # fmt: skip
    _end = _peek.iloc[-1]
    charts.rate_chart(
        _rates, 0.05, title=f"False positives of A/A tests ({_n_users:,} users, read daily)",
        reading=f"after {int(_end['day'])} days, peeking declares {_end['reject_by_day']:.0%} of A/A tests significant, "
                f"against {_end['reject_at_day']:.0%} read once at the end (α = 5%)",
    )  # fmt: skip
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## Power: how many users before you start

    Decide the sample size *before* the test, from the smallest lift worth detecting and
    the metric's spread. Each curve is the chance that a test of that size detects the
    lift (power); the red line is your current design (new users per day × days ÷ 2 per arm).
    """)
    return


@app.cell
def _(charts, days, effect, lab, mo, np, pd, power_curve, sample_size_means, users_per_day):
    _grid = np.unique(np.geomspace(20, 200_000, 40).astype(int))
    _rows = [power_curve(_grid, r.mde, sd=r.sd_a).assign(**{"lift (%)": round(r.lift_pct, 1)})
             for r in lab.effects.itertuples() if r.mde > 0]  # fmt: skip
    _curves = pd.concat(_rows, ignore_index=True)
    _per_arm = users_per_day.value * days.value / 2
    _row = lab.effects.set_index("sigma").loc[lab.treatment(effect.value)]
    _plan = (f"To detect {_row['lift_pct']:+.1f}% with 80% power: **{sample_size_means(_row['mde'], _row['sd_a'], sd_b=_row['sd_b']):,} "
             f"users per arm** (Welch t on one-session CTR; sd {_row['sd_a']:.3f})." if _row["mde"] > 0
             else "With no true lift (an A/A test) there is nothing to detect: any significant result is a false positive.")  # fmt: skip
    mo.vstack([
        charts.power_chart(_curves, x="n_per_arm", x_title="users per arm (count, log scale)", group="lift (%)",
                           log_x=True, mark_x=_per_arm,
                           title="Power against users per arm, one curve per true lift",
                           reading=f"your design: {_per_arm:,.0f} users per arm (red line)"),
        mo.md(_plan),
    ])  # fmt: skip
    return


@app.cell
def _(data_picker, days, effect, mo, provenance, provenance_markdown, settings, users_per_day):
    _s = type(settings)(data_picker.value, settings.seed, settings.small)
    _cfg = {"true_lift_pct": effect.value, "users_per_day": users_per_day.value, "days": days.value, "alpha": 0.05}
    mo.md(provenance_markdown(provenance(_s, _cfg, "06_ab_testing.py")))
    return


if __name__ == "__main__":
    app.run()
