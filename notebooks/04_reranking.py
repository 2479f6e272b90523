# /// script
# [tool.marimo.opengraph]
# title = "04 · Reranking what-if"
# description = "Stage 3 as a what-if: sliders for MMR diversity, freshness and exploration redraw the slate, the metrics and the accuracy-diversity frontier for every user."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="04 · Reranking what-if")

with app.setup:
    import dataclasses
    import math
    import time

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.freshness import decay_sweep, half_boost_age
    from workbench.lessons.verdicts import paired, say
    from workbench.lessons.whatif import DECAY_STEPS, HEADLINE, prepare, rank_every_user
    from workbench.lessons.pitfalls import (DOCSTRING_LAMBDA, LAMBDAS, headline_frame, lambda_readings, order_readings,
                                            prefix_diversity, side_by_side)  # fmt: skip
    from workbench.viz import charts

    settings = kit.settings()
    YOUNGER = "gives younger slates than"  # the verdict's words for an age difference (lessons.verdicts.VERBS)


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """The fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.function
def ranked(s: kit.NotebookSettings):
    """Stages 1–2 for every user: the what-if every slider move reranks. The ranking is kept on disk and in
    this process by `workbench.lessons.results.kept` (keyed by the artefact, the pipeline's config and the
    ranking code), not by marimo's cache: with a marimo cache call here, the frontier and the decay sweep,
    which close over the what-if, were keyed differently in the script that precomputes them and in the
    served page that reads them (results.kept's docstring)."""
    built = trained(s)
    key = (built.key, repr(built.pipeline.config), results.code("pipeline.py", "types.py", "candidates", "ranking"))
    return prepare(built, results.kept("04-ranked", key, lambda: rank_every_user(built)))


@app.cell
def _():
    mo.md(r"""
    # 04 · Reranking what-if

    The ranker (stage 2) orders each user's candidates by predicted relevance. Stage 3,
    **reranking**, decides what the user actually sees, trading a little accuracy for
    things a relevance score does not measure:

    * **MMR λ** (Carbonell & Goldstein 1998): each next slot goes to the item maximising
      λ·relevance − (1 − λ)·(similarity to the items already placed). λ = 1 keeps the
      ranker's order; lower λ buys **diversity**.
    * **Freshness decay**: relevance × (1 + w·e^(−decay·age/30 days)). A higher decay
      favours only the very newest items; 0 boosts everything equally (no change).
    * **Exploration rate ε**: a share ε of the slots shows random items from below the
      slate, so the system keeps learning about items it would never show.

    Stages 1–2 ran once, above the controls, and are kept on disk: moving a slider re-runs
    only reranking and the metrics, for **every** user, and only the sections that read that slider.
    """)
    return


@app.cell
def _():
    guide.panel(__file__, *HEADLINE.values())
    return


@app.cell
def _():
    picker = kit.data_picker(settings)
    picker
    return (picker,)


@app.cell
def _(picker):
    run = dataclasses.replace(settings, data=picker.value)
    _started = kit.started(trained(run))
    whatif, stages_ms = ranked(run)
    train = whatif.train
    mo.vstack([
        _started,
        kit.show(f"**{train.name.split(':')[0]}**: {train.n_users:,} users, {train.n_items:,} items; "
                 f"{whatif.ranked.n} ranked candidates per user from stages 1–2, computed once in {stages_ms:,.0f} ms "
                 "and kept on disk."),
    ])  # fmt: skip
    return run, stages_ms, train, whatif


@app.cell
def _(whatif):
    _k = whatif.knobs
    mo.md(f"Business rules stay on: seen and unavailable items are dropped"
          + (f", and up to {_k.max_pins} promoted item(s) are pinned to the top (shown as *entered* in the slate chart "
             "below)" if _k.max_pins else "") + (f", and at most {_k.category_cap} items per category" if _k.category_cap else "")
          + f". The sliders start where the pipeline's config is: λ = {_k.lam:g}, decay = {_k.freshness_decay:g}, "
            f"ε = {_k.exploration_rate:g}, k = {_k.k}; the knobs no slider moves keep their configured values "
            f"(α = {_k.alpha:g}, freshness weight {_k.freshness_weight:g}).")  # fmt: skip
    return


@app.cell
def _(train, whatif):
    _pickable = whatif.pickable_users()
    _ids = train.users["user_id"].to_numpy()
    _counts = np.diff(whatif.relevance.indptr)
    user_options = {f"user {_ids[u]} · {int(_counts[u])} test items": int(u) for u in _pickable}
    _k = whatif.knobs
    lam = mo.ui.slider(steps=sorted({round(0.05 * i, 2) for i in range(21)} | {_k.lam}), value=_k.lam,
                       label="MMR λ (relevance weight)", show_value=True, debounce=True)  # fmt: skip
    decay = mo.ui.slider(steps=sorted(set(DECAY_STEPS) | {_k.freshness_decay}), value=_k.freshness_decay,
                         label="freshness decay (per 30 days)", show_value=True, debounce=True)  # fmt: skip
    explore = mo.ui.slider(steps=sorted({round(0.05 * i, 2) for i in range(11)} | {_k.exploration_rate}),
                           value=_k.exploration_rate, label="exploration rate ε", show_value=True, debounce=True)  # fmt: skip
    k = mo.ui.slider(steps=sorted(set(range(5, 31, 5)) | {_k.k}), value=_k.k, label="slate size k", show_value=True,
                     debounce=True)  # fmt: skip
    user = mo.ui.dropdown(options=user_options, value=next(iter(user_options)), label="user", searchable=True)
    mo.vstack([mo.hstack([lam, decay], justify="start", gap=2), mo.hstack([explore, k, user], justify="start", gap=2)])
    return decay, explore, k, lam, user


@app.cell
def _(k, whatif):
    baseline = whatif.run(whatif.ranking_order(k.value)).headline()
    return (baseline,)


@app.cell
def _(decay, explore, k, whatif):
    # the knobs but λ: what the λ pitfall and the frontier read, so that a λ move re-runs neither
    others = dataclasses.replace(whatif.knobs, freshness_decay=decay.value, exploration_rate=explore.value, k=k.value)
    return (others,)


@app.cell
def _(lam, others):
    knobs = dataclasses.replace(others, lam=lam.value)
    _t0 = time.perf_counter()
    result = whatif.run(knobs)
    move_ms = (time.perf_counter() - _t0) * 1e3
    headline = result.headline()
    return headline, knobs, move_ms, result


@app.cell
def _(baseline, headline, knobs, move_ms, stages_ms):
    def _card(name):
        delta = headline[name] - baseline[name]
        return mo.stat(
            f"{headline[name]:.4f}" if abs(headline[name]) < 100 else f"{headline[name]:,.0f}",
            label=f"{HEADLINE[name]}@{knobs.k}",
            caption=f"{delta:+.4f} vs ranking order" if abs(baseline[name]) < 100 else f"{delta:+,.0f} vs ranking order",
            direction="increase" if delta > 0 else "decrease" if delta < 0 else None,
            target_direction="decrease" if name == "mean_item_age_days" else "increase",
            bordered=True,
        )

    _readout = " · ".join(f"{HEADLINE[n]} {headline[n]:.4f}" for n in HEADLINE)
    mo.vstack([
        mo.md(f"### Every user, at λ = {knobs.lam:.2f}, decay = {knobs.freshness_decay:g}, ε = {knobs.exploration_rate:.2f}, k = {knobs.k}"),
        mo.hstack([_card(n) for n in HEADLINE], widths="equal", wrap=True),
        kit.show(f"<small>metrics@{knobs.k} at λ = {knobs.lam:.2f}: {_readout}</small>"),
        mo.md(f"This move took **{move_ms:.0f} ms** in the kernel for reranking and scoring every user at these "
              f"knobs: this cell's work only, not what you wait for. After it, a move re-runs only the sections "
              f"that read the slider it moved: λ redraws the slate, the order pitfall and the sweep's diamond; "
              f"decay, ε and k also rerank every user at each λ of the frontier (the λ pitfall's two runs among "
              f"them; a position seen before is read from disk), and k the ranking-order baseline; then your "
              f"browser draws them (the tables a move redraws are plain, so that drawing them is quick). What you "
              f"wait for, from the move until no cell runs, is what benchmarks/bench_pages.py measures. The stages "
              f"1–2 no move re-runs took {stages_ms:,.0f} ms when they were computed."),
    ])  # fmt: skip
    return


@app.cell
def _(result, user, whatif):
    before, after = whatif.before_after(result, user.value)
    _chart = charts.slate_change_chart(before, after, title=f"What reranking did to the slate of {user.selected_key.split(' ·')[0]}")
    _top = ", ".join(after["title"].head(5))
    _hits = int(after["in_test"].sum())
    mo.vstack([
        _chart,
        kit.show(f"**Top of the slate:** {_top}. {_hits} of the {len(after)} items are ones this user went on to watch "
                 f"(held-out test items)."),
    ])  # fmt: skip
    return (after,)


@app.cell
def _(after):
    _cols = [c for c in ("position", "title", "score", "ranked_position", "freshness_boost", "place_before_mmr", "moved_by_mmr",
                         "pinned", "explored", "in_test") if c in after.columns]  # fmt: skip
    mo.accordion({"The final slate, with what each step did": mo.vstack([mo.md(kit.RANKS), kit.static_table(after[_cols])])})
    return


@app.cell
def _(others, run, whatif):
    # the frontier and the λ pitfall's two runs (λ as passed and as meant are two of the frontier's points,
    # run once for both); kept on disk (workbench.lessons.results): keyed by the artefact, the knobs but λ,
    # and the code, so a position seen before, in any process, is read back
    @mo.persistent_cache(save_path=results.folder())
    def frontier_at(artefact: str, code: str, knobs):
        return whatif.frontier_runs(knobs, keep=LAMBDAS)

    frontier, lambda_kept = frontier_at(trained(run).key, results.code("rerank", "metrics", "lessons/whatif.py"), others)
    return frontier, lambda_kept


@app.cell
def _(frontier, headline, knobs):
    charts.frontier_chart(
        frontier,
        {"lam": knobs.lam, **headline},
        x_title=f"intra-list diversity@{knobs.k} (mean pairwise 1 − cosine, 0–2)",
        y_title=f"NDCG@{knobs.k} (0–1)",
        title="The accuracy–diversity frontier traced by λ (other knobs as set)",
    )
    return


@app.cell
def _(run, whatif):
    _k = whatif.knobs
    _steps = sorted(set(DECAY_STEPS) | {_k.freshness_decay})

    # per-user mean slate age at each decay, the other knobs as configured: no slider enters; kept on disk
    # (workbench.lessons.results), keyed by the artefact and the code
    @mo.persistent_cache(save_path=results.folder())
    def decay_ages_at(artefact: str, code: str, steps: tuple):
        return decay_sweep(whatif, steps)

    _ages = decay_ages_at(trained(run).key, results.code("rerank", "metrics", "lessons/whatif.py", "lessons/freshness.py"),
                          tuple(_steps))  # fmt: skip
    _cand = whatif.train.item_age_days[whatif.ranked.items[whatif.ranked.items >= 0]]
    _q10, _q50, _q90 = np.percentile(_cand, [10, 50, 90])
    _mean = _ages.mean()
    _freshest = float(_mean.idxmin())
    _own = paired(-_ages[0.0], -_ages[_k.freshness_decay])  # age at decay 0 − at d: > 0 when d's slates are younger
    _best = paired(-_ages[0.0], -_ages[_freshest])
    _reach = {d: float(np.mean(_cand < half_boost_age(d))) for d in _steps if d > 0}
    _curve = pd.DataFrame(
        [{"decay": d, "days": _mean[d], "slate": "with this decay"} for d in _steps if d > 0]
        + [{"decay": d, "days": _mean[0.0], "slate": "decay 0 (every item boosted alike)"} for d in _steps if d > 0])  # fmt: skip
    _said = (f"at the configured decay {_k.freshness_decay:g} (freshness weight {_k.freshness_weight:g}), an item keeps "
             f"half its boost until {half_boost_age(_k.freshness_decay):.0f} days old: {_reach[_k.freshness_decay]:.0%} "
             f"of the ranked candidates, whose ages spread from {_q10:.0f} to {_q90:.0f} days (10th–90th percentile, "
             f"median {_q50:.0f}). Mean slate age in days, paired over the same {_own.n:,} users: "
             f"{say(_own, 'decay 0', f'decay {_k.freshness_decay:g}', decimals=1, verb=YOUNGER)}. The decay that makes the slates "
             f"youngest is {_freshest:g} (half-boost age {half_boost_age(_freshest):.0f} days, reaching "
             f"{_reach[_freshest]:.0%} of the candidates): {say(_best, 'decay 0', f'decay {_freshest:g}', decimals=1, verb=YOUNGER)}. "
             f"A larger decay boosts only the newest few items; a smaller one boosts nearly all alike, which changes "
             f"no order. The boost can move an item only past neighbours whose relevance is within a factor "
             f"1 + {_k.freshness_weight:g} of its own."
             + ("" if _freshest == _k.freshness_decay else
                f" The configured decay ({_k.freshness_decay:g}, configs/default.toml) is not the youngest point and is "
                f"left as it is: it is the pipeline's one setting, shared by every page, the service and the loop, and "
                f"this page measures only how young the slates are, not what a younger slate costs in accuracy; "
                f"set rerank.freshness_decay = {_freshest:g} where freshness is what you want."))  # fmt: skip
    mo.vstack([
        mo.md("## Freshness decay across its range"),
        charts.lines_chart(_curve, x="decay", y="days", group="slate", x_title="freshness decay (per 30 days, log scale)",
                           y_title=f"mean age of the slate's items (days, mean over {_own.n:,} users)",
                           title="What each freshness decay does to the slate's age (other knobs as configured)",
                           reading=f"youngest slates at decay {_freshest:g}: {_mean[_freshest]:.1f} days against "
                                   f"{_mean[0.0]:.1f} at decay 0", log_x=True, mark_x=_k.freshness_decay),
        kit.show(f"Freshness across its range: {_said}"),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(rf"""
    ## Pitfall: MMR's λ described backwards

    The textbook's MMR takes a `diversity_lambda` that its docstring calls *the weight for
    diversity* (0 = pure relevance, 1 = pure diversity), default {DOCSTRING_LAMBDA:g}. Its formula is
    the one above, λ·relevance − (1 − λ)·similarity, so λ weighs **relevance**: a reader who trusts
    the docstring and keeps its default puts {1 - DOCSTRING_LAMBDA:.0%} of the weight on diversity, not
    {DOCSTRING_LAMBDA:.0%}. What they meant is λ = {1 - DOCSTRING_LAMBDA:g}. Both below, for every user, with
    the other knobs where the sliders are.
    """)
    return


@app.cell
def _(lambda_kept, others, whatif):
    # λ as passed and as meant: the λ slider does not enter; both are points of the frontier above, run there
    lambda_runs = lambda_readings(whatif, others, have=lambda_kept)
    return (lambda_runs,)


@app.cell
def _(lambda_runs, others, user, whatif):
    _runs = lambda_runs
    _named = {f"λ = {r.knobs.lam:g} ({name})": r for name, r in _runs.items()}
    _passed, _meant = (_runs[n].headline() for n in ("as passed", "as meant"))
    _said = (f"at λ = {_runs['as passed'].knobs.lam:g}, as passed, NDCG@{others.k} {_passed['ndcg']:.4f} and intra-list "
             f"diversity {_passed['intra_list_diversity']:.4f}; at λ = {_runs['as meant'].knobs.lam:g}, as meant, "
             f"{_meant['ndcg']:.4f} and {_meant['intra_list_diversity']:.4f}")  # fmt: skip
    mo.vstack([
        charts.metric_bars(headline_frame(_named), group="setting", value_title="mean over users (NDCG 0–1, diversity 0–2)",
                           title="The docstring's default as the formula reads it, against what it promised",
                           reading=_said),
        mo.md(f"**{user.selected_key.split(' ·')[0]}'s slate both ways** (✓: an item this user went on to watch). {kit.RANKS}"),
        kit.static_table(side_by_side(whatif, _named, user.value)),
        kit.show(f"MMR λ read backwards: {_said}."),
    ])  # fmt: skip
    return


@app.cell
def _(whatif):
    mo.md(f"""
    ## Pitfall: the freshness boost after MMR, then a re-sort

    The textbook diversifies with MMR first, then multiplies each score by its freshness boost and
    sorts the list by the boosted score. That sort puts MMR's picks back in relevance order: the same
    items stay, but the diversity MMR bought leaves the top of the slate, where users look. The
    workbench boosts first (its steps run in the order {" → ".join(whatif.knobs.order)}), so MMR sees the
    fresher relevance and its order survives. Both below, for every user, with the knobs where the
    sliders are: the diversity of each slate's first m items, for every m.
    """)
    return


@app.cell
def _(knobs, result, whatif):
    # the textbook's order at the sliders' knobs; the workbench's own order is `result`, computed above
    order_runs = order_readings(whatif, knobs, ours=result)
    return (order_runs,)


@app.cell
def _(knobs, order_runs, user, whatif):
    _runs = order_runs
    _named = {f"{name}: " + " → ".join(r.knobs.order): r for name, r in _runs.items()}
    _curves = prefix_diversity({n: r.slate.items for n, r in _named.items()}, whatif.train.item_features)
    _top = min(3, knobs.k)
    _at = _curves[_curves["m"] == _top].set_index("setting")["ild"]
    _all = _curves[_curves["m"] == _curves["m"].max()].set_index("setting")["ild"]
    _book, _ours = list(_named)
    _said = (f"intra-list diversity of the first {_top} items {_at[_book]:.4f} in the textbook's order against "
             f"{_at[_ours]:.4f} in the workbench's; of all {knobs.k}, {_all[_book]:.4f} against {_all[_ours]:.4f}")  # fmt: skip
    mo.vstack([
        charts.lines_chart(_curves, x="m", y="ild", group="setting", x_title="the first m items of the slate (count)",
                           y_title="intra-list diversity of those items (1 − cosine, 0–2)",
                           title="Where the diversity is: the top of the slate in each order of the steps",
                           reading=_said),
        mo.md(f"**{user.selected_key.split(' ·')[0]}'s slate both ways** (✓: an item this user went on to watch). {kit.RANKS}"),
        kit.static_table(side_by_side(whatif, {n.split(':')[0]: r for n, r in _named.items()}, user.value)),
        kit.show(f"Freshness after MMR: {_said}."),
    ])  # fmt: skip
    return


@app.cell
def _():
    from workbench.sweep import NotebookBar
    from workbench.sweep.lab import BIG, SMALL_GRID, WORKERS, beaten_by, current_point, whatif_sweep
    from workbench.viz.sweep import sweep_frontier_chart

    _axes = " × ".join(f"{len(v)} values of {p.split('.')[-1]}" for p, v in SMALL_GRID.items())
    mo.md(f"""
    ## Sweep the whole grid

    A slider moves one knob at a time. `workbench sweep` runs every combination at once, as
    tasks on Dask (a LocalCluster here, a cluster's scheduler with `--scheduler`). Below: the
    small grid ({_axes} = {int(np.prod([len(v) for v in SMALL_GRID.values()]))} configs) on {WORKERS}
    worker processes, each config served from this page's fitted pipeline, or, when
    `workbench sweep configs/sweep_rerank.toml` has filled `{BIG.relative_to(BIG.parents[2])}` for this
    data and model, all of its configs. Grey: every config; blue: the Pareto frontier (no config is both
    more accurate and more diverse); the diamond: where the sliders are.
    """)
    return NotebookBar, beaten_by, current_point, sweep_frontier_chart, whatif_sweep


@app.cell
def _(NotebookBar, run, whatif, whatif_sweep):
    _bar = NotebookBar("sweep the whole grid") if kit.mode() in ("edit", "run") else None
    sweep = whatif_sweep(run.data, run.seed, run.small, whatif.pipeline.config, trained(run).path, progress=_bar)
    return (sweep,)


@app.cell
def _(beaten_by, current_point, decay, explore, lam, sweep, sweep_frontier_chart, whatif):
    # the sliders but k (the sweep scores every config at its own k): a k move does not re-run this
    _here = current_point(whatif, dataclasses.replace(whatif.knobs, lam=lam.value, freshness_decay=decay.value,
                                                      exploration_rate=explore.value), sweep.k)  # fmt: skip
    _beaten = beaten_by(sweep, _here)
    _top = _beaten.sort_values(sweep.y, ascending=False).iloc[0] if len(_beaten) else None
    _where = (f"read from {sweep.folder.name}" if sweep.source == "loaded"
              else f"ran on {sweep.workers} Dask workers in {sweep.seconds:.1f} s")  # fmt: skip
    _said = (f"{len(sweep.summary)} configs {_where}; {len(sweep.frontier)} on the frontier. The sliders give NDCG@{sweep.k} "
             f"{_here[sweep.y]:.4f} and intra-list diversity {_here[sweep.x]:.4f} over the "
             f"{_here['users']:,} users with test items (the sweep's and `workbench evaluate`'s users; "
             f"the figures above count every user's slate for the beyond-accuracy metrics): "
             + ("no config of the sweep beats that on both" if _top is None else
                f"{len(_beaten)} config(s) beat it on both, e.g. {_top['label']} ({_top[sweep.y]:.4f}, {_top[sweep.x]:.4f})"))  # fmt: skip
    mo.vstack([
        sweep_frontier_chart(sweep.summary, sweep.frontier, _here, sweep.x, sweep.y,
                             x_title=f"intra-list diversity@{sweep.k} (mean pairwise 1 − cosine, 0–2)",
                             y_title=f"NDCG@{sweep.k} (0–1)", title="Every config of the grid, its frontier and the sliders",
                             reading=f"the sliders at k = {sweep.k}: NDCG {_here[sweep.y]:.4f}, diversity {_here[sweep.x]:.4f}"),
        kit.show(f"Sweep of the whole grid: {_said}."),
    ])  # fmt: skip
    return


@app.cell
def _(result):
    _table = result.metrics[["metric", "k", "mean", "ci_low", "ci_high", "users", "note"]]
    mo.vstack([
        mo.md(f"### All metrics (mean over users; intervals: {result.metrics.attrs['ci']})"),
        kit.static_table(_table),
        mo.md("Accuracy metrics count only users with held-out test items; catalogue figures (coverage, "
              "exposure Gini, personalisation) describe all slates together."),
    ])  # fmt: skip
    return


@app.cell
def _():
    mmr_pick_box = exercises.editor("mmr_pick")
    exercises.task("mmr_pick", mmr_pick_box)
    return (mmr_pick_box,)


@app.function
def my_mmr_pick(relevance, vectors, chosen, lam):
    best, best_score = None, -math.inf
    for i, rel in enumerate(relevance):
        if i in chosen:
            continue
        penalty = sum(float(np.dot(vectors[i], vectors[j])) for j in chosen)  # sum, or the largest?
        score = lam * rel - (1 - lam) * penalty
        if score > best_score:
            best, best_score = i, score
    return best


@app.cell
def _(mmr_pick_box):
    exercises.show("mmr_pick", my_mmr_pick, mmr_pick_box)
    return


@app.cell
def _(knobs, run, whatif):
    _cfg = dataclasses.replace(whatif.pipeline.config, rerank=knobs.config(), k=knobs.k)
    kit.footer(run, _cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
