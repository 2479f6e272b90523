# /// script
# [tool.marimo.opengraph]
# title = "07 · Interleaving"
# description = "Team-draft and balanced interleaving: one merged list, credit per click, and why it needs far fewer users than an A/B test."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="07 · Interleaving")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np

    from workbench.experiment.interleaving import METHODS, interleaving_experiment
    from workbench.experiment.sensitivity import SensitivityConfig, sensitivity_study
    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.lab import ALPHA, example_impression, make_lab
    from workbench.lessons.pitfalls import credit_race
    from workbench.viz import charts

    settings = kit.settings()
    DAYS = 7  # how long the interleaving experiment below runs


@app.function
def lab_for(s: kit.NotebookSettings):
    """The simulated world of the settings' data set with its control and treatment rankers (kept on disk and in this
    process by `workbench.lessons.results.kept`, not marimo's cache: its docstring says why)."""
    return results.kept("07-lab", (s.data, s.seed, s.small, results.code("data", "experiment", "lessons/lab.py")), lambda: make_lab(kit.dataset(s), seed=s.seed))


@app.cell
def _():
    mo.md(r"""
    # 07 · Interleaving: one list, two rankers, every user a judge

    An A/B test shows each user *one* ranker and compares groups of users, whose tastes
    and habits differ far more than the rankers do. **Interleaving** shows every user a
    single list merged from both rankers and asks which ranker's items they click: each
    user compares A and B directly, so far fewer users are needed (Chapelle et al. 2012;
    Netflix 2017).

    * **Team draft** (Radlinski et al. 2008): the rankers take turns picking their best item
      not yet shown (a coin decides who picks first each round); a click credits the team
      that picked the item.
    * **Balanced** (Joachims 2002): a coin picks the leading ranker, then both advance rank by
      rank; a click credits each ranker that has the item in its top k*, k* set by the lowest click.
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
def _(lab):
    _lifts = [round(float(x), 1) for x in lab.effects["lift_pct"] if x > 0]
    effect = mo.ui.slider(steps=_lifts, value=_lifts[min(3, len(_lifts) - 1)], label="true CTR lift of B (%)",
                          show_value=True, debounce=True)  # fmt: skip
    method = mo.ui.dropdown(options=list(METHODS), value="team_draft", label="interleaving method")
    user = mo.ui.number(start=0, stop=len(lab.population) - 1, value=5, label="user")
    impression = mo.ui.number(start=0, stop=10_000, value=2, label="impression (random seed)")
    mo.hstack([effect, method, user, impression], justify="start", gap=2)
    return effect, impression, method, user


@app.cell
def _(effect, impression, lab, method, user):
    sigma = lab.treatment(effect.value)
    rows, credit_a, credit_b = example_impression(lab, sigma, int(user.value), method.value, int(impression.value))
    _verdict = "B wins" if credit_b > credit_a else "A wins" if credit_a > credit_b else "a tie"
    _reading = f"credit for this impression: A {credit_a}, B {credit_b}: {_verdict} (clicked slots are solid, ✓)"
    mo.vstack([
        mo.hstack([
            charts.interleaved_list_chart(
                rows, title=f"One interleaved list ({method.value}), coloured by whose pick filled each slot",
                reading=_reading,
            ),
            mo.vstack([kit.table(rows[["position", "title", "team", "rank_a", "rank_b", "clicked"]]),
                       mo.md(f"<small>rank_a, rank_b: the item's rank in A's and in B's own list. {kit.RANKS}</small>")]),
        ], align="start"),
        kit.show(f"One {method.value} impression for user {int(user.value)}: {_reading}."),
    ])  # fmt: skip
    return (sigma,)


@app.cell
def _():
    mo.md(r"""
    Change the *impression* number to draw another coin and another session: one impression
    decides little. Summed over a user's sessions, each user prefers A, prefers B, or ties;
    a sign test over users gives the verdict.
    """)
    return


@app.cell
def _():
    # the simulations persist on disk (workbench.lessons.results), keyed by the settings that make the lab (data,
    # seed, world size), the controls and the code: a setting seen before, in any process, is read back
    LAB_CODE = results.code("data", "experiment", "lessons/lab.py", "lessons/pitfalls.py")

    def lab_at(data: str, seed: int, small: bool):
        return lab_for(kit.NotebookSettings(data=data, seed=seed, small=small))

    @mo.persistent_cache(save_path=results.folder())
    def preference_at(data: str, seed: int, small: bool, code: str, treatment_sigma: float, method_name: str):
        _lab = lab_at(data, seed, small)
        _rng = np.random.default_rng(seed)
        _users = _lab.population
        _sessions = _rng.poisson(DAYS * _lab.sim.config.visit_rate * _lab.sim.visit_factor(_users))
        return _sessions, interleaving_experiment(_lab.sim, _lab.lists[_lab.control_sigma][_users],
                                                  _lab.lists[treatment_sigma][_users], _users, _sessions, _rng,
                                                  method_name, alpha=ALPHA)  # fmt: skip

    @mo.persistent_cache(save_path=results.folder())
    def race_of(data: str, seed: int, small: bool, code: str, n_impressions: int):
        _lab = lab_at(data, seed, small)
        control = _lab.lists[_lab.control_sigma]
        return credit_race(_lab.sim, control, control, _lab.population, n_impressions, rules=("a_first", "coin", "one_coin"),
                           seed=seed, alpha=ALPHA)  # fmt: skip

    @mo.persistent_cache(save_path=results.folder())
    def study(data: str, seed: int, small: bool, code: str, treatment_sigma: float, method_name: str, reps: int):
        _lab = lab_at(data, seed, small)
        cfg = SensitivityConfig(alpha=ALPHA, reps=reps, method=method_name, seed=seed)
        return sensitivity_study(_lab.sim, _lab.lists[_lab.control_sigma], _lab.lists[treatment_sigma], _lab.population, cfg)

    return LAB_CODE, preference_at, race_of, study


@app.cell
def _(LAB_CODE, lab, method, preference_at, run, sigma):
    _users = lab.population
    _sessions, pref = preference_at(run.data, run.seed, run.small, LAB_CODE, float(sigma), method.value)
    kit.show(
        f"**{DAYS} days of interleaving over all {len(_users):,} users** ({int(_sessions.sum()):,} sessions): "
        f"B preferred by {pref.wins_b:,} users, A by {pref.wins_a:,}, {pref.ties:,} ties; "
        f"B earns {pref.credit_share_b:.1%} of credited clicks. **{pref.decision()}**."
    )
    return


@app.cell
def _():
    mo.md(r"""
    ## Pitfall: A picks first in every round

    The textbook's team draft has no coin: in every round A picks first, then B. So A holds the
    top slot of every list, and the top slot gets the most clicks (position bias), so A collects
    more than its share of the credit even when it is no better. Below, both teams draft from the
    **same** ranker (an A/A interleaving: neither can be better, a fair merge gives A half of the
    decided impressions) under three rules for who picks when the teams have picked as many items:
    the textbook's (A), a fair coin each time (Radlinski, Kurup & Joachims 2008, the workbench's
    default), and one coin per list that decides who starts and then alternates (Netflix 2017).
    An impression is *decided* when one team's picks earned more clicks than the other's.
    """)
    return


@app.cell
def _(LAB_CODE, race_of, run):
    race = race_of(run.data, run.seed, run.small, LAB_CODE, 20_000 if run.small else 100_000)
    _steps = sorted(int(n) for n in race["impressions"].unique())
    race_at = mo.ui.slider(steps=_steps, value=_steps[-1], label="impressions so far", show_value=True, debounce=True)
    race_at
    return race, race_at


@app.cell
def _(race, race_at):
    _at = race[race["impressions"] == race_at.value]
    _said = [f"{r.variant}: A wins {r.share_a:.1%} of {r.decided:,} decided impressions ({r.ci_low:.1%}–{r.ci_high:.1%} "
             f"at {1 - ALPHA:.0%}; sign test p = {r.p_value:.2g}, {'A called better' if r.p_value < ALPHA else 'no preference'}) "
             f"and {r.click_share_a:.1%} of the clicks" for r in _at.itertuples()]  # fmt: skip
    _first = _at.set_index("rule").loc["a_first"]
    mo.vstack([
        charts.power_chart(race, x="impressions", x_title="impressions so far (count, log scale)", group="variant",
                           log_x=True, y="share_a", y_title="A's share of decided impressions (0–1)", target=0.5,
                           mark_x=race_at.value,
                           title="Team A's share of the credit when both teams draft from the same ranker",
                           reading=f"a fair merge stays near the dashed 0.5; A first in every round settles at "
                                   f"{_first['share_a']:.1%} after {race_at.value:,} impressions"),
        kit.show(f"**A/A interleaving, {race_at.value:,} impressions:** " + "; ".join(_said) + "."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## How many users does each method need?

    Both methods are simulated many times at a doubling number of users; a run is *correct*
    when it is significant and names the truly better ranker. The A/B test splits its users
    in two and compares per-user CTR (Welch's t); interleaving shows everyone the merged list.
    """)
    return


@app.cell
def _(LAB_CODE, effect, method, run, sigma, study):
    with mo.status.spinner(title="Simulating A/B tests and interleaving experiments at growing sizes (kept on disk)..."):
        sens = study(run.data, run.seed, run.small, LAB_CODE, float(sigma), method.value, 40 if run.small else 100)
    _curves = sens.curves.rename(columns={"n_users": "users", "p_correct": "correct"})
    _reading = (f"{sens.config.target:.0%} correct: A/B needs ~{sens.users_ab:,.0f} users, "
                f"interleaving ~{sens.users_interleaving:,.0f} ({sens.ratio:.0f}× fewer)")  # fmt: skip
    mo.vstack([
        charts.power_chart(
            _curves, x="users", x_title="users in the experiment (count, log scale)", group="method", log_x=True,
            y="correct", y_title="share of runs that pick the better ranker (0–1)", target=sens.config.target,
            title=f"Correct decisions against users, true lift {effect.value:+.1f}%", reading=_reading,
        ),
        kit.show(f"For {sens.config.target:.0%} correct decisions at a true lift of {effect.value:+.1f}%: {_reading}; "
                 f"the power formula predicts {sens.predicted_ab:,.0f} users for the A/B test."),
        mo.md("The simulation and the formula agree when the fitted curve and the formula land close together."),
    ])  # fmt: skip
    return


@app.cell
def _():
    team_draft_box = exercises.editor("team_draft")
    exercises.task("team_draft", team_draft_box)
    return (team_draft_box,)


@app.function
def my_team_draft(a, b, k, coins):
    items, teams = [], []
    while len(items) < k:
        a_turn = teams.count('A') <= teams.count('B')  # and the coin?
        pool = a if a_turn else b
        pick = next((x for x in pool if x not in items), None)
        if pick is None:
            a_turn, pool = not a_turn, b if a_turn else a
            pick = next((x for x in pool if x not in items), None)
        if pick is None:
            break
        items.append(pick)
        teams.append('A' if a_turn else 'B')
    return items, teams


@app.cell
def _(team_draft_box):
    exercises.show("team_draft", my_team_draft, team_draft_box)
    return


@app.cell
def _(effect, method, run):
    kit.footer(run, {"true_lift_pct": effect.value, "method": method.value, "alpha": ALPHA, "days": DAYS}, __file__)
    return


if __name__ == "__main__":
    app.run()
