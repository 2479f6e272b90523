# /// script
# [tool.marimo.opengraph]
# title = "06 · A/B testing"
# description = "Simulated A/B tests with a known true effect: p-values day by day, the peeking trap, and how many users a test needs (power)."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="06 · A/B testing")

with app.setup:
    import dataclasses
    import math

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.experiment.stats import power_curve, sample_size_means
    from workbench.experiment.studies import aa_study, peeking_study
    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.exercises import unit_hash
    from workbench.lessons.lab import ALPHA, SPLIT, daily_readings, make_lab, online_metrics
    from workbench.lessons.pitfalls import BUCKETS, UNIT_TESTS, diluted_lift, process_arms, unit_study
    from workbench.viz import charts

    settings = kit.settings()
    POWER = 0.8  # the power a test is planned for
    RUNS = 12  # repeats of the same test design, to show the spread of its p-values
    MAX_DAYS = 28  # the days slider's end: the peeking study runs this long once and each position reads its first days


@app.function
def lab_for(s: kit.NotebookSettings):
    """The simulated world of the settings' data set with its control and treatment rankers (kept on disk and in this
    process by `workbench.lessons.results.kept`, not marimo's cache: its docstring says why)."""
    return results.kept("06-lab", (s.data, s.seed, s.small, results.code("data", "experiment", "lessons/lab.py")), lambda: make_lab(kit.dataset(s), seed=s.seed))


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

    # the world persists on disk too (lab_for): a later visit reads it instead of building it
    with mo.status.spinner(title="Building the simulated world and its rankers (kept on disk)..."):
        lab = lab_for(run)
    return lab, run


@app.cell
def _(lab, run):
    _lifts = [round(float(x), 1) for x in lab.effects["lift_pct"]]
    effect = mo.ui.slider(steps=_lifts, value=_lifts[min(2, len(_lifts) - 1)], label="true CTR lift of B (%)",
                          show_value=True, debounce=True)  # fmt: skip
    users_per_day = mo.ui.slider(steps=[50, 100, 200, 500, 1000, 2000, 5000], value=100 if run.small else 500,
                                 label="new users per day", show_value=True, debounce=True)  # fmt: skip
    days = mo.ui.slider(1, MAX_DAYS, 1, value=14, label="days", show_value=True, debounce=True)
    mo.hstack([effect, users_per_day, days], justify="start", gap=2)
    return days, effect, users_per_day


@app.cell
def _(lab):
    # the simulations persist on disk (workbench.lessons.results), keyed by the settings that make the lab (data,
    # seed, world size), the sliders and the code: a slider position seen before, in any process, is read back
    LAB_CODE = results.code("experiment", "lessons/lab.py")

    @mo.persistent_cache(save_path=results.folder())
    def readings_at(data: str, seed: int, small: bool, code: str, sigma: float, users: int, n_days: int):
        return daily_readings(lab, sigma, users, n_days, runs=RUNS, seed=seed)

    @mo.persistent_cache(save_path=results.folder())
    def online_at(data: str, seed: int, small: bool, code: str, sigma: float, users: int, n_days: int):
        return online_metrics(lab, sigma, users, n_days, seed=seed)

    @mo.persistent_cache(save_path=results.folder())
    def peek_at(data: str, seed: int, small: bool, code: str, n_users: int, n_days: int, n_tests: int):
        return peeking_study(lab.sim, lab.lists[lab.control_sigma], lab.population, n_tests=n_tests, n_users=n_users,
                             days=n_days, alpha=ALPHA, seed=seed)  # fmt: skip

    return LAB_CODE, online_at, peek_at, readings_at


@app.cell
def _(LAB_CODE, days, effect, lab, readings_at, run, users_per_day):
    sigma = lab.treatment(effect.value)
    true = lab.effects.set_index("sigma").loc[sigma]
    with mo.status.spinner(title="Simulating the test..."):
        readings = readings_at(run.data, run.seed, run.small, LAB_CODE, float(sigma), users_per_day.value, days.value)
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
def _(LAB_CODE, days, effect, lab, online_at, run, users_per_day):
    with mo.status.spinner(title="Simulating the same test on every online metric..."):
        _frame, _notes = online_at(run.data, run.seed, run.small, LAB_CODE, float(lab.treatment(effect.value)),
                                   users_per_day.value * days.value, days.value)  # fmt: skip
    _n = int((_frame["n_a"] + _frame["n_b"]).max())
    mo.vstack([
        mo.md(rf"""
    ## The same test on every online metric

    A platform reads more than CTR. Below, the same two rankers in one A/B report with the textbook's
    online metrics: CTR, conversion, session duration, revenue per user, D7 retention and return rate.
    These users can **leave**: after each visit a user comes back with a probability that follows the
    value of what they consumed (`workbench.experiment.retention`), and items have prices. Every
    user starts on day 1 ({_n:,} of this world's users, {days.value} days). Each row is B − A with its
    {1 - ALPHA:.0%} interval; `p_holm` is Holm's correction for reading all the rows at once.
    """),
        kit.table(_frame[["metric", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "p_holm",
                          "significant_holm"]]),  # fmt: skip
        kit.show(" ".join(line for line in _notes if line)),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(rf"""
    ## Pitfall: assigning users by `hash(str(user_id)) % {BUCKETS}`

    The textbook puts a user in a bucket with Python's built-in `hash`. But Python salts the hash
    of every `str` with a random key chosen when the process starts (`PYTHONHASHSEED`), so after a
    restart, or on another worker, the same user lands in another bucket. Below, two fresh Python
    processes with different hash seeds assign every user of this world both ways: the textbook's,
    and the workbench's salted stable hash (`workbench.experiment.ab.assign`: the experiment name
    hashed once with BLAKE2b, mixed with the id by SplitMix64; nothing depends on the process).
    The log keeps the arm of a user's first visit; the second process answers the later sessions.
    """)
    return


@app.cell
def _(lab, run):
    # every user's arm as two Python processes with different hash seeds compute it, both ways: no slider
    # enters; kept on disk (workbench.lessons.results), keyed by the settings that make the lab and the code
    @mo.persistent_cache(save_path=results.folder())
    def arms_at(data: str, seed: int, small: bool, code: str):
        return process_arms(lab.dataset.users["user_id"].to_numpy(), control_pct=round(BUCKETS * SPLIT[0]))

    hash_arms = arms_at(run.data, run.seed, run.small, results.code("data", "experiment", "lessons/lab.py",
                                                                     "lessons/pitfalls.py"))  # fmt: skip
    return (hash_arms,)


@app.cell
def _(hash_arms, true):
    _share = 0.5  # the service restarts half way through: the second process answers half of each user's sessions
    _names = {"builtin": f"hash(str(user_id)) % {BUCKETS} (textbook)", "stable": "salted stable hash (workbench)"}
    _rows, _said = [], []
    for _rule, _name in _names.items():
        _arms = getattr(hash_arms, _rule)
        _d = diluted_lift(_arms[0], _arms[1], float(true["mean_a"]), float(true["mean_b"]), second_share=_share)
        _rows += [{"assignment": _name, "measure": "users in the other arm in the second process", "value": hash_arms.switched(_rule)},
                  {"assignment": _name, "measure": "share of the true CTR difference the test measures", "value": _d["kept"]}]
        _said.append(f"{_name}: {hash_arms.switched(_rule):.1%} of users switch arms, and the test converges to "
                     f"{_d['lift_pct']:+.1f}%")  # fmt: skip
    _seeds = " and ".join(map(str, hash_arms.hash_seeds))
    mo.vstack([
        charts.metric_bars(pd.DataFrame(_rows), group="measure", category="assignment", category_title="assignment",
                           value_title="share (0–1)",
                           title=f"Two processes (PYTHONHASHSEED {_seeds}) assign {len(hash_arms.user_ids):,} users",
                           reading=f"the second process answers {_share:.0%} of each user's sessions; the true lift is "
                                   f"{true['lift_pct']:+.1f}%"),
        kit.show(f"**Assignment across a restart** (true lift {true['lift_pct']:+.1f}%, the second process answering "
                 f"{_share:.0%} of sessions): " + "; ".join(_said) + ". A user who switched saw both rankers, so each "
                 "arm is part the other: the treatment is diluted."),
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
    far more often. What inflates it is the number of looks (the days slider), not the number of
    users: each look alone holds α at any size, so these tests keep one size whatever the users slider says.
    """)
    return


@app.cell
def _(LAB_CODE, peek_at, run):
    # the A/A tests run MAX_DAYS days once (kept on disk): the days slider reads the first days of the same tests,
    # which is what those tests showed on each day; no slider recomputes them
    peek_users = 100 if run.small else 500
    peek_tests = 100 if run.small else 300
    with mo.status.spinner(title=f"Simulating {peek_tests} A/A tests over {MAX_DAYS} days (kept on disk)..."):
        peek_all = peek_at(run.data, run.seed, run.small, LAB_CODE, peek_users, MAX_DAYS, peek_tests)
    return peek_all, peek_tests, peek_users


@app.cell
def _(days, peek_all, peek_tests, peek_users):
    _peek = peek_all[peek_all["day"] <= max(days.value, 2)]
    _rates = pd.concat([
        _peek[["day"]].assign(rate=_peek["reject_at_day"], series="significant on that day"),
        _peek[["day"]].assign(rate=_peek["reject_by_day"], series="significant on any day so far (peeking)"),
    ])  # fmt: skip
    _end = _peek.iloc[-1]
    _reading = (f"after {int(_end['day'])} days, peeking declares {_end['reject_by_day']:.0%} of A/A tests significant, "
                f"against {_end['reject_at_day']:.0%} read once at the end (α = {ALPHA:.0%})")  # fmt: skip
    _clamp = ("" if days.value >= 2 else
              f" (the slider says {days.value} day; peeking needs at least 2 looks, so this reads {int(_end['day'])} days)")  # fmt: skip
    mo.vstack([
        charts.rate_chart(_rates, ALPHA, title=f"False positives of {peek_tests} A/A tests ({peek_users:,} users each, "
                                               f"read daily)", reading=_reading),  # fmt: skip
        kit.show(f"Peeking: {_reading}{_clamp}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Pitfall: testing CTR per impression instead of per user

    The textbook compares click-through rates with a two-proportion z-test over impressions, as if
    every item shown were an independent coin. They are not: one user's impressions share that
    user's tastes and habits, so the impressions of a few users move the count together, and the
    z-test's variance is too small. Below, many **A/A tests** (the same ranker in both arms) are
    read both ways; the user is the unit of randomisation, so the user must be the unit of analysis.
    The more sessions each user has, the worse the per-impression test gets.
    """)
    return


@app.cell
def _():
    unit_steps = (1, 2, 4, 8, 16)
    unit_sessions = mo.ui.slider(steps=list(unit_steps), value=unit_steps[2], label="sessions per user",
                                 show_value=True, debounce=True)  # fmt: skip
    unit_sessions
    return unit_sessions, unit_steps


@app.cell
def _(lab, run, unit_steps):
    # the sessions slider only picks a point of the curve; kept on disk (workbench.lessons.results), keyed by
    # the settings that make the lab, the study's size and the code
    @mo.persistent_cache(save_path=results.folder())
    def units_at(data: str, seed: int, small: bool, code: str, steps: tuple, n_tests: int, n_users: int):
        control = lab.lists[lab.control_sigma]
        curve = unit_study(lab.sim, control, lab.population, steps, n_tests=n_tests, n_users=n_users, alpha=ALPHA,
                           seed=run.seed)  # fmt: skip
        library = {d: aa_study(lab.sim, control, lab.population, n_tests=n_tests, n_users=n_users, days=d, alpha=ALPHA,
                               seed=run.seed).set_index("metric")["rejection_rate"] for d in (1, 14)}  # fmt: skip
        return curve, library

    unit_tests, unit_users = (200, 200) if run.small else (400, 400)
    unit_curve, unit_library = units_at(run.data, run.seed, run.small, results.code("data", "experiment", "lessons/lab.py",
                                "lessons/pitfalls.py"), unit_steps, unit_tests, unit_users)  # fmt: skip
    return unit_curve, unit_library, unit_tests, unit_users


@app.cell
def _(unit_curve, unit_library, unit_sessions, unit_tests, unit_users):
    _units, _library, _n_tests, _n_users = unit_curve, unit_library, unit_tests, unit_users
    _here = _units[_units["sessions"] == unit_sessions.value].set_index("test")
    _user, _imp = (_here.loc[UNIT_TESTS[t]] for t in ("ctr", "ctr_per_impression"))
    _reading = (f"at {unit_sessions.value} sessions per user: per impression {_imp['rate']:.1%} of A/A tests significant, "
                f"per user {_user['rate']:.1%} (α = {ALPHA:.0%})")  # fmt: skip
    mo.vstack([
        charts.power_chart(_units, x="sessions", x_title="sessions per user (count, log scale)", group="test",
                           log_x=True, y="rate", y_title="share of A/A tests declared significant (0–1)", target=ALPHA,
                           mark_x=unit_sessions.value, reading=_reading,
                           title=f"False positives of {_n_tests} A/A tests of {_n_users} users, by the unit of analysis"),
        kit.show(f"Unit of analysis: {_reading}; intervals {_imp['ci_low']:.1%}–{_imp['ci_high']:.1%} and "
                 f"{_user['ci_low']:.1%}–{_user['ci_high']:.1%} at {1 - ALPHA:.0%}."),
        kit.show("The library's own A/A study (`aa_study`: users visit on Poisson days, the same tests): "
                 + "; ".join(f"over {_d} day{'s' * (_d > 1)}, {_r['ctr_per_impression']:.1%} per impression against "
                             f"{_r['ctr']:.1%} per user" for _d, _r in _library.items()) + "."),
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
def _(lab):
    _grid = np.unique(np.geomspace(20, 200_000, 40).astype(int))
    _rows = [power_curve(_grid, r.mde, sd=r.sd_a, alpha=ALPHA).assign(**{"lift (%)": round(r.lift_pct, 1)})
             for r in lab.effects.itertuples() if r.mde > 0]  # fmt: skip
    power_curves = pd.concat(_rows, ignore_index=True)  # no slider enters: drawn once per data set
    return (power_curves,)


@app.cell
def _(days, effect, lab, power_curves, users_per_day):
    _curves = power_curves
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
def _():
    two_proportion_p_box = exercises.editor("two_proportion_p")
    exercises.task("two_proportion_p", two_proportion_p_box)
    return (two_proportion_p_box,)


@app.function
def my_two_proportion_p(x_a, n_a, x_b, n_b):
    from scipy.stats import norm

    pool = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
    z = (x_b / n_b - x_a / n_a) / se
    return norm.sf(z)  # one tail or two?


@app.cell
def _(two_proportion_p_box):
    exercises.show("two_proportion_p", my_two_proportion_p, two_proportion_p_box)
    return


@app.cell
def _():
    assign_arm_box = exercises.editor("assign_arm")
    exercises.task("assign_arm", assign_arm_box)
    return (assign_arm_box,)


@app.function
def my_assign_arm(user_id, experiment, split):
    u = unit_hash(experiment, user_id)
    return int(u * len(split))  # equal shares only?


@app.cell
def _(assign_arm_box):
    exercises.show("assign_arm", my_assign_arm, assign_arm_box)
    return


@app.cell
def _(days, effect, run, users_per_day):
    _cfg = {"true_lift_pct": effect.value, "users_per_day": users_per_day.value, "days": days.value, "alpha": ALPHA,
            "split": SPLIT, "runs": RUNS}  # fmt: skip
    kit.footer(run, _cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
