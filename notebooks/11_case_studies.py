# /// script
# [tool.marimo.opengraph]
# title = "11 · Case studies: YouTube, Amazon, Netflix"
# description = "YouTube, Amazon and Netflix in miniature: watch-time and example age, sessions and item pages, a page of rows ordered by a bandit."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="11 · Case studies: YouTube, Amazon, Netflix")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.casestudies.freshness import calibration, top_k_capture
    from workbench.casestudies.itempages import ItemPages
    from workbench.casestudies.rows import ORDERS, PageConfig, RowSources, page_metrics
    from workbench.casestudies.session import next_items, replay, session_length_curve
    from workbench.lessons import casestudies as lesson
    from workbench.lessons import exercises, guide, kit, results
    from workbench.viz import charts

    settings = kit.settings()
    BANDITS = {"Thompson sampling": "thompson", "LinUCB": "linucb"}  # the bandit picker's choices


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """A fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.function
@mo.cache
def basis_for(s: kit.NotebookSettings):
    """Data, split, truth and EASE scores (cached)."""
    return lesson.basis(s)


@app.function
@mo.cache
def freshness_for(s: kit.NotebookSettings):
    """The fresh-burst world and its two models (cached)."""
    return lesson.freshness(s)


@app.function
@mo.cache
def watch_for(s: kit.NotebookSettings):
    """The watch-time world, its logs and the click- against watch-trained comparison (cached)."""
    return lesson.watch(basis_for(s), s)


@app.function
@mo.cache
def multitask_for(s: kit.NotebookSettings):
    """The multi-task network at every slider weight against two single-task networks (cached)."""
    return lesson.multitask(watch_for(s)[0], s)


@app.function
@mo.cache
def bandits_for(s: kit.NotebookSettings, bandit: str):
    """The bandit, ε-greedy at its exploration budget and the other bandit over 30 simulated days (cached)."""
    return lesson.bandits(basis_for(s), s, bandit)


@app.function
@mo.cache
def pages_for(s: kit.NotebookSettings):
    """The item-page sources (cached)."""
    return ItemPages().fit(basis_for(s).train)


@app.cell
def _():
    mo.md(r"""
    # 11 · Case studies: YouTube, Amazon, Netflix, in miniature

    The textbook ends with three companies. Each section below holds the company's
    **recipe** as a pipeline config you can run, the **measurement** that shows why the
    company does it, and a **control** for its key choice.

    * **YouTube** (Covington, Adams & Sargin 2016): two-tower candidates, the *example age*
      feature, and ranking for **watch time** rather than clicks.
    * **Amazon** (Linden, Smith & York 2003): item-to-item lists on an item page, and
      recommendations that follow the **session** click by click (a self-attentive
      sequential model, SASRec, Kang & McAuley 2018).
    * **Netflix**: a page of **rows**, a **contextual bandit** that explores which row goes on
      top, and one network with **several objectives**.
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
    run = dataclasses.replace(settings, data=picker.value)
    with mo.status.spinner(title="Splitting the data (EASE for the rows and pools is fitted when a study needs it)..."):
        b = basis_for(run)
    kit.show(f"Data: {b.ds.name}, {b.train.n_users:,} users, {b.train.n_items:,} items; "
             f"{b.train.n_interactions:,} train and {b.test.n_interactions:,} test interactions (each user's last 20%). "
             f"The simulated users' truth: {'the synthetic world' if b.ds.truth is not None else 'the calibrated EASE oracle'}.")  # fmt: skip
    return b, run


@app.cell
def _():
    # what the page computes persists on disk (workbench.lessons.results.persisted), keyed by the settings (data, seed,
    # world size), the artefacts' keys where a pipeline is read, the controls, the code and this page's source: read
    # back on a later visit (not marimo's persistent cache, which spends ~0.1 s hashing per function and call)
    CASE_CODE = results.code("data", "casestudies", "lessons/casestudies.py", "candidates", "experiment", "metrics")

    def settings_at(data: str, seed: int, small: bool):
        return kit.NotebookSettings(data=data, seed=seed, small=small)

    def sasrec_of(s):
        return trained(s, lesson.recipe("Amazon", s)).pipeline.generator_.sources["sasrec"]

    @results.persisted(__file__)
    def freshness_at(data: str, seed: int, small: bool, code: str):
        world, models = freshness_for(settings_at(data, seed, small))
        capture = {n: top_k_capture(world, m, 20) for n, m in models.items()}
        ceiling = float(np.sort(world.shares(float(world.config.days)))[::-1][:20].sum())
        return calibration(world, models), capture, ceiling

    @results.persisted(__file__)
    def watch_at(data: str, seed: int, small: bool, code: str):
        return watch_for(settings_at(data, seed, small))[1]

    @results.persisted(__file__)
    def multitask_at(data: str, seed: int, small: bool, code: str):
        return multitask_for(settings_at(data, seed, small))

    @results.persisted(__file__)
    def bandits_at(data: str, seed: int, small: bool, code: str, bandit: str):
        cmp = bandits_for(settings_at(data, seed, small), bandit)
        return cmp.summary(), lesson.regret_long(cmp)

    @results.persisted(__file__)
    def pipelines_at(data: str, seed: int, small: bool, code: str, artefacts: tuple):
        s = settings_at(data, seed, small)
        return lesson.pipeline_table(basis_for(s), {"default pipeline": trained(s).pipeline,
                                                    "default + SASRec": trained(s, lesson.recipe("Amazon", s)).pipeline})  # fmt: skip

    @results.persisted(__file__)
    def item_lists_at(data: str, seed: int, small: bool, code: str):
        s = settings_at(data, seed, small)
        b, pages = basis_for(s), pages_for(s)
        return (pages.overlap(np.argsort(-b.train.item_popularity)[:200], k=lesson.K),
                pages.hit_rates(b.train, b.test, k=lesson.K))  # fmt: skip

    @results.persisted(__file__)
    def replay_at(data: str, seed: int, small: bool, code: str, artefact: str):
        s = settings_at(data, seed, small)
        return replay(sasrec_of(s), lesson.replay_user(basis_for(s))[1], k=lesson.K)

    @results.persisted(__file__)
    def history_curve_at(data: str, seed: int, small: bool, code: str, artefact: str, lengths: tuple):
        s = settings_at(data, seed, small)
        b = basis_for(s)
        return session_length_curve(sasrec_of(s), b.train, b.test, list(lengths), k=lesson.K)

    @results.persisted(__file__)
    def row_page_at(data: str, seed: int, small: bool, code: str, artefact: str, order: str, dedupe: bool):
        s = settings_at(data, seed, small)
        b = basis_for(s)
        sources = RowSources(b.train, sasrec_of(s))
        users = np.flatnonzero(b.test.user_activity > 0)
        cfg = PageConfig(order=order, dedupe=dedupe)
        page = sources.page(users, cfg)
        other = page_metrics(sources.page(users, dataclasses.replace(cfg, dedupe=not dedupe)), b.train, b.test)
        return page, page_metrics(page, b.train, b.test), other

    return (CASE_CODE, bandits_at, freshness_at, history_curve_at, item_lists_at, multitask_at, pipelines_at,
            replay_at, row_page_at, watch_at)


@app.cell
def _():
    mo.md(r"""
    ## YouTube

    **The recipe.** A two-tower model proposes candidates (sampled softmax with in-batch
    negatives, corrected for how often popular items turn up as negatives), fresh and
    popular items sit beside it, a ranker orders them, and reranking boosts fresh items.
    Run it with `workbench evaluate --model pipeline --config configs/casestudies/youtube.toml`:
    """)
    return


@app.cell
def _():
    mo.md(f"```toml\n{lesson.recipe_text('YouTube')}```")
    return


@app.cell
def _():
    example_age = mo.ui.switch(value=True, label="example age feature")
    mo.vstack([
        mo.md(r"""
    ### Freshness: the example age feature

    A model trained on sixty days of logs learns each video's share of those sixty days. A
    video uploaded two days before the end had no views for most of the window, so its
    share is small, and that small share is what the model predicts at serving time, when
    the video is at its freshest. The fix: give every training example its **age** (days
    before the end of the window) and set it to **zero at serving**. Below, a world where
    each video's views burst after upload and decay; the model is a softmax over videos,
    with or without the example-age term.
    """),
        example_age,
    ])  # fmt: skip
    return (example_age,)


@app.cell
def _(CASE_CODE, example_age, freshness_at, run):
    with mo.status.spinner(title="Fitting both freshness models (kept on disk)..."):
        _table, _capture, _ceiling = freshness_at(run.data, run.seed, run.small, CASE_CODE)
    _name = "with example age" if example_age.value else "without example age"
    _other = "without example age" if example_age.value else "with example age"
    _band = "2-7 days"
    _fresh = _table.loc[_band]
    _newest = _table.iloc[0][f"{_name} / true"]
    _cold = (f" The newest videos ({_table.index[0]} old) stay at {_newest:.2f}×: uploaded after most of the log, they "
             f"have too few examples for any feature to rescue." if _newest < 0.8 else "")
    _bars = pd.concat([pd.DataFrame({"metric": _table.index, "value": _table[f"{n} / true"].to_numpy(), "model": n})
                       for n in (_name, _other)])  # fmt: skip
    mo.vstack([
        charts.metric_bars(_bars, title="Predicted ÷ true share of views at serving, by the video's age",
                           reading=f"1 = calibrated; {_name}: {_fresh[f'{_name} / true']:.2f} for videos "
                                   f"{_band} old", value_title="predicted share ÷ true share (ratio, 1 = calibrated)",
                           group="model", category="metric", category_title="video age at serving"),
        kit.static_table(_table.reset_index()),
        kit.show(f"Example age {'on' if example_age.value else 'off'}: videos {_band} old at serving get "
                 f"{_fresh[f'{_name} / true']:.2f}× their true share of views ({_other}: {_fresh[f'{_other} / true']:.2f}×). "
                 f"The model's top 20 videos hold {_capture[_name]:.1%} of today's views ({_other}: {_capture[_other]:.1%}; "
                 f"the truth's own top 20: {_ceiling:.1%})." + _cold),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ### Ranking for watch time, not clicks

    Here each video has its own mean watch time, shorter for the videos that attract the
    most clicks (clickbait). The paper's ranker is a **weighted logistic regression**: a
    clicked impression weighs its watch time, an unclicked one 1, so the learned odds
    estimate the expected watch time of an impression. Both models read the same features
    of the same logged impressions; the simulator's truth scores their top-10 slates.
    """)
    return


@app.cell
def _(CASE_CODE, run, watch_at):
    with mo.status.spinner(title="Logging impressions and fitting both regressions (kept on disk)..."):
        _table = watch_at(run.data, run.seed, run.small, CASE_CODE)
    _click, _watch = _table.loc["click-trained LR"], _table.loc["watch-time-weighted LR"]
    _bars = pd.DataFrame({"metric": _table.index, "value": _table["watch_seconds"].to_numpy()})
    mo.vstack([
        charts.metric_bars(_bars, title="Expected watch seconds per session of each top-10 slate",
                           reading=f"weighted {_watch['watch_seconds']:.0f} s against click-trained {_click['watch_seconds']:.0f} s",
                           value_title="expected watch seconds per session (simulator truth)", category="metric",
                           category_title="how the slate was ranked"),
        kit.static_table(_table.reset_index(names="ranking")),
        kit.show(f"Watch-time-weighted training earns {_watch['watch_seconds']:.1f} s of expected watch time per session against "
                 f"{_click['watch_seconds']:.1f} s for click-trained ranking ({_watch['watch_seconds'] / _click['watch_seconds'] - 1:+.0%}), "
                 f"while expecting {_watch['clicks']:.3f} clicks against {_click['clicks']:.3f}: it gives up clicks on short "
                 f"videos for longer watching."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Amazon

    **The recipe.** Item-to-item collaborative filtering (customers who bought X also bought
    Y) beside the session in progress: SASRec reads each user's recent sequence, and the
    items of the current session passed with the request
    (`Pipeline.recommend(users, context={"session": [...]})`). It is the default pipeline
    with SASRec added as a source:
    """)
    return


@app.cell
def _():
    mo.md(f"```toml\n{lesson.recipe_text('Amazon')}```")
    return


@app.cell
def _(CASE_CODE, pipelines_at, run):
    default_pipe = trained(run)
    amazon_pipe = trained(run, lesson.recipe("Amazon", run))
    _table = pipelines_at(run.data, run.seed, run.small, CASE_CODE, (default_pipe.key, amazon_pipe.key))
    _d, _a = _table.loc["default pipeline"], _table.loc["default + SASRec"]
    sasrec = amazon_pipe.pipeline.generator_.sources["sasrec"]
    mo.vstack([
        kit.started(amazon_pipe),
        kit.static_table(_table.reset_index(names="pipeline")),
        kit.show(f"Adding SASRec to the default pipeline: NDCG@{lesson.K} {_a[f'NDCG@{lesson.K}']:.4f} against "
                 f"{_d[f'NDCG@{lesson.K}']:.4f} ({_a[f'NDCG@{lesson.K}'] - _d[f'NDCG@{lesson.K}']:+.4f}), recall@{lesson.K} "
                 f"{_a[f'recall@{lesson.K}']:.4f} against {_d[f'recall@{lesson.K}']:.4f}."),
    ])  # fmt: skip
    return amazon_pipe, sasrec


@app.cell
def _(b):
    _options = lesson.item_options(b.train)
    item_pick = mo.ui.dropdown(options=_options, value=next(iter(_options)), label="item page for")
    mo.vstack([mo.md(r"""
    ### An item page: three lists, three questions

    **Also bought**: item-to-item cosine over purchases (a rating of 4 or more stands in
    for a purchase). **Also viewed**: co-occurrence within 3 positions of each other in a
    user's history, a browsing session. **Similar**: the cosine of the items' content
    vectors. Each comes from its own source.
    """), item_pick])  # fmt: skip
    return (item_pick,)


@app.cell
def _(CASE_CODE, b, item_lists_at, run):
    with mo.status.spinner(title="Fitting the item-page sources (kept on disk)..."):
        item_lists = item_lists_at(run.data, run.seed, run.small, CASE_CODE)
    return (item_lists,)


@app.cell
def _(b, item_lists, item_pick, run):
    with mo.status.spinner(title="Fitting the item-page sources (cached)..."):
        _pages = pages_for(run)
    _users = np.flatnonzero(b.test.user_activity > 0)
    _overlap, _hits = item_lists
    _col = f"next item in top {lesson.K}"
    _best = _hits[_col].idxmax()
    mo.vstack([
        kit.static_table(_pages.page(item_pick.value, k=lesson.K).reset_index()),
        mo.md("Overlap of the top-10 lists, over the 200 most popular items (share of the row list's items also in the column list's):"),
        kit.static_table(_overlap.reset_index(names="list")),
        kit.static_table(_hits.reset_index(names="list")),
        kit.show(f"The lists hardly overlap (also bought ∩ also viewed: {_overlap.loc['also bought', 'also viewed']:.0%}, "
                 f"also bought ∩ similar: {_overlap.loc['also bought', 'similar']:.0%}). From each of {len(_users):,} users' "
                 f"last item, **{_best}** holds their next item most often ({_hits.loc[_best, _col]:.1%} in its top "
                 f"{lesson.K}; similar: {_hits.loc['similar', _col]:.1%})."),
    ])  # fmt: skip
    return


@app.cell
def _(b):
    replay_who, replay_items = lesson.replay_user(b)
    clicks = mo.ui.slider(1, len(replay_items) - 1, value=1, label="clicks so far in the session", show_value=True)
    mo.vstack([mo.md(rf"""
    ### A session, click by click

    User {replay_who}'s test period replayed as one session of {len(replay_items)} clicks: after
    each click, SASRec reads the session so far (and nothing else) and lists the next
    {lesson.K}. Move the slider to walk through it.
    """), clicks])  # fmt: skip
    return clicks, replay_items, replay_who


@app.cell
def _(CASE_CODE, amazon_pipe, replay_at, run):
    replay_steps = replay_at(run.data, run.seed, run.small, CASE_CODE, amazon_pipe.key)  # what the slider does not change
    return (replay_steps,)


@app.cell
def _(b, clicks, replay_items, replay_steps, replay_who):
    _steps = replay_steps
    _titles = b.train.items["title"].to_numpy(dtype=str)
    _t = clicks.value
    _row = _steps.iloc[_t - 1]
    _list = pd.DataFrame({"position": np.arange(1, lesson.K + 1), "recommended next": _titles[_row["top k"]],
                          "is the next click": _row["top k"] == _row["clicked next"]})  # fmt: skip
    _found = int((_steps["position of next"] > 0).sum())
    mo.vstack([
        mo.md("**Session so far:** " + " → ".join(_titles[replay_items[:_t]])),
        kit.static_table(_list),
        kit.show(f"After click {_t} of user {replay_who}'s session, the next click ({_titles[_row['clicked next']]}) is "
                 f"{'at position ' + str(int(_row['position of next'])) if _row['position of next'] else 'not'} in SASRec's "
                 f"top {lesson.K}; over the whole session it was in the list after {_found} of {len(_steps)} clicks."),
    ])  # fmt: skip
    return


@app.cell
def _():
    history = mo.ui.slider(steps=[1, 2, 3, 5, 10, 20, 50], value=5, label="session length: items SASRec reads",
                           show_value=True)  # fmt: skip
    mo.vstack([mo.md(r"""
    ### How much of the past should the model read?

    Each user encoded from only their last *L* training items, judged on their test items.
    """), history])  # fmt: skip
    return (history,)


@app.cell
def _(CASE_CODE, amazon_pipe, history_curve_at, run):
    history_lengths = [1, 2, 3, 5, 10, 20, 50]  # what the slider does not change: the whole curve, once
    history_curve = history_curve_at(run.data, run.seed, run.small, CASE_CODE, amazon_pipe.key, tuple(history_lengths))
    return history_curve, history_lengths


@app.cell
def _(history, history_curve, history_lengths):
    _lengths = history_lengths
    _curve = history_curve
    _col = f"ndcg@{lesson.K}"
    _here, _full = _curve.loc[history.value, _col], _curve[_col].iloc[-1]
    _long = _curve.reset_index().assign(model="SASRec")
    mo.vstack([
        charts.lines_chart(_long, x="history length", y=_col, group="model", x_title="items of history read (L, log scale)",
                           y_title=f"NDCG@{lesson.K} (0–1)", title="Quality against how much history the model reads",
                           reading=f"L = {history.value}: {_here:.4f}; L = {_lengths[-1]}: {_full:.4f}", log_x=True,
                           mark_x=history.value),
        kit.show(f"Reading the last {history.value} item(s), SASRec reaches NDCG@{lesson.K} {_here:.4f}; the last "
                 f"item alone gives {_curve[_col].iloc[0]:.4f} and the last {_lengths[-1]} give {_full:.4f}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    get_session, set_session = mo.state([])
    return get_session, set_session


@app.cell
def _(b, get_session, sasrec, set_session):
    _titles = b.train.items["title"].to_numpy(dtype=str)
    _session = get_session()
    if _session:
        _next = next_items(sasrec, _session, k=lesson.K)["item"].to_numpy()
    else:
        _next = np.argsort(-b.train.item_popularity, kind="stable")[: lesson.K]
    _options = {f"{_titles[i]} (#{i})": int(i) for i in _next}
    click_next = mo.ui.dropdown(options=_options, label="click one of these",
                                on_change=lambda item: set_session(lambda s: [*s, item]) if item is not None else None)  # fmt: skip
    restart = mo.ui.button(label="start a new session", on_click=lambda _: set_session([]))
    mo.vstack([
        mo.md("### Your own session\n\nStart from a popular item; each pick joins the session and the list follows it."),
        mo.md("**Session:** " + (" → ".join(_titles[_session]) if _session else "(empty: the most popular items)")),
        mo.hstack([click_next, restart], justify="start"),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Netflix

    **The recipe.** Many sources, each a row of the page; a diverse page (MMR) and
    exploration whose propensities are logged for off-policy evaluation:
    """)
    return


@app.cell
def _():
    mo.md(f"```toml\n{lesson.recipe_text('Netflix')}```")
    return


@app.cell
def _():
    dedupe = mo.ui.switch(value=True, label="deduplicate across rows")
    order = mo.ui.dropdown(options=list(ORDERS), value="personal", label="row order")
    mo.vstack([mo.md(r"""
    ### A page of rows

    Rows from their own sources (top picks, because you watched, trending, new, next for
    you from SASRec, and the user's favourite genres), ordered per user by the mean
    standardised EASE score of each row's first items, and deduplicated: an item shown in a
    row above is skipped, and the row refills from deeper in its own list.
    """), mo.hstack([dedupe, order], justify="start")])  # fmt: skip
    return dedupe, order


@app.cell
def _(CASE_CODE, amazon_pipe, b, dedupe, order, row_page_at, run):
    _users = np.flatnonzero(b.test.user_activity > 0)
    _page, _m, _other = row_page_at(run.data, run.seed, run.small, CASE_CODE, amazon_pipe.key, order.value, dedupe.value)
    _titles = b.train.items["title"].to_numpy(dtype=str)
    _n_slots = _page.items.shape[1] * _page.items.shape[2]
    mo.vstack([
        mo.md(f"**User {_users[0]}'s page** ({_page.items.shape[1]} rows of {_page.items.shape[2]}):"),
        kit.static_table(_page.table(0, _titles).reset_index()),
        kit.static_table(pd.DataFrame({"this page": _m, "dedupe switched": _other}).reset_index(names="page measure")),
        kit.show(f"Deduplication {'on' if dedupe.value else 'off'}, {order.value} row order: {_m['unique_items_per_page']:.1f} "
                 f"distinct items per page of {_n_slots} slots ({_m['duplicate_slot_share']:.1%} repeats), "
                 f"{_m['genres_on_page']:.1f} genres, intra-page diversity {_m['intra_page_diversity']:.3f}, and "
                 f"{_m['test_items_found']:.1%} of each user's test items on the page (switched: {_other['unique_items_per_page']:.1f} "
                 f"distinct items, {_other['test_items_found']:.1%} found)."),
    ])  # fmt: skip
    return


@app.cell
def _():
    bandit_pick = mo.ui.dropdown(options=BANDITS, value="Thompson sampling", label="bandit against ε-greedy")
    mo.vstack([mo.md(rf"""
    ### Exploring which row goes on top: a contextual bandit

    Each visit, a policy picks the row shown on top from the user's genre profile; the
    reward is the clicks on that row, drawn by the simulated users. A bandit explores where
    it is unsure; ε-greedy explores at random. ε-greedy gets the bandit's exploration
    budget: each day, as many sessions off its own best guess as the bandit had. Regret is
    measured against the simulator's truth over {lesson.DAYS} days.
    """), bandit_pick])  # fmt: skip
    return (bandit_pick,)


@app.cell
def _(CASE_CODE, bandit_pick, bandits_at, run):
    with mo.status.spinner(title=f"Running {lesson.DAYS} simulated days for three policies (kept on disk)..."):
        _s, _regret = bandits_at(run.data, run.seed, run.small, CASE_CODE, bandit_pick.value)
    _b, _e = _s.loc[bandit_pick.value], _s.loc["epsilon_greedy"]
    _label = {v: k for k, v in BANDITS.items()}[bandit_pick.value]
    mo.vstack([
        charts.lines_chart(_regret, x="day", y="cumulative regret", group="policy",
                           x_title="simulated day (days)", y_title="cumulative regret (expected clicks lost)",
                           title=f"Cumulative regret, {_label} against ε-greedy at the same budget",
                           reading=f"day {lesson.DAYS}: {_label} {_b['cumulative_regret']:.0f}, "
                                   f"ε-greedy {_e['cumulative_regret']:.0f}"),
        kit.static_table(_s.reset_index()),
        kit.show(f"Over {lesson.DAYS} days ({int(_b['sessions']):,} sessions), {_label} loses {_b['cumulative_regret']:.1f} expected "
                 f"clicks to the best row and ε-greedy {_e['cumulative_regret']:.1f} with {int(_e['exploring_sessions']):,} "
                 f"exploring sessions against the bandit's {int(_b['exploring_sessions']):,}: the bandit's regret is "
                 f"{_b['cumulative_regret'] / _e['cumulative_regret']:.0%} of ε-greedy's. Its logged propensities average "
                 f"{_b['mean_propensity']:.3f}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    weight = mo.ui.slider(steps=list(lesson.MULTITASK_WEIGHTS), value=0.5, label="multi-task weight on the click loss",
                          show_value=True)  # fmt: skip
    mo.vstack([mo.md(r"""
    ### One network, two objectives

    A shared trunk with a click head and a watch-time head, trained on the weighted sum of
    both losses, against two single-task networks of the same shape (twice the
    parameters). Each ranks by expected watch time, P(click) × watch time given a click, in
    the watch-time world of the YouTube section.
    """), weight])  # fmt: skip
    return (weight,)


@app.cell
def _(CASE_CODE, multitask_at, run):
    with mo.status.spinner(title="Training the multi-task network at every weight and the two single-task ones (kept on disk)..."):
        multitask_table = multitask_at(run.data, run.seed, run.small, CASE_CODE)
    return (multitask_table,)


@app.cell
def _(multitask_table, weight):
    _table = multitask_table
    _name = f"multi-task (click weight {weight.value:g})"
    _multi, _single = _table.loc[_name], _table.loc["two single-task models"]
    _show = _table.loc[[_name, "two single-task models"]]
    _multis = _table.drop(index="two single-task models")
    _best = _multis["watch_seconds"].idxmax()
    mo.vstack([
        kit.static_table(_show.reset_index(names="model")),
        kit.show(f"At click weight {weight.value:g}, the multi-task network ({int(_multi['parameters']):,} parameters) ranks for "
                 f"{_multi['watch_seconds']:.1f} s of expected watch time per session against {_single['watch_seconds']:.1f} s "
                 f"for the two single-task networks ({int(_single['parameters']):,}); its click head's rank correlation "
                 f"with the true attraction is {_multi['click_vs_true_attraction']:.3f} against "
                 f"{_single['click_vs_true_attraction']:.3f}, its watch-time error {_multi['watch_rmse_vs_truth_s']:.1f} s "
                 f"against {_single['watch_rmse_vs_truth_s']:.1f} s. Over the slider's weights the best shared network is "
                 f"the {_best} ({_multis.loc[_best, 'watch_seconds']:.1f} s): the two losses live on different scales, and "
                 f"the weight decides which task the shared trunk serves."),
    ])  # fmt: skip
    return


@app.cell
def _():
    egreedy_propensity_box = exercises.editor("egreedy_propensity")
    exercises.task("egreedy_propensity", egreedy_propensity_box)
    return (egreedy_propensity_box,)


@app.function
def my_egreedy_propensity(means, epsilon, arm):
    greedy = max(range(len(means)), key=lambda a: means[a])
    return 1 - epsilon if arm == greedy else epsilon / len(means)  # can exploring land on the greedy row?


@app.cell
def _(egreedy_propensity_box):
    exercises.show("egreedy_propensity", my_egreedy_propensity, egreedy_propensity_box)
    return


@app.cell
def _(run):
    kit.footer(run, lesson.recipe("Amazon", run), __file__)
    return


if __name__ == "__main__":
    app.run()
