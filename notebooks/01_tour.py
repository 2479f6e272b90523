# /// script
# [tool.marimo.opengraph]
# title = "01 · Tour of a recommender"
# description = "The whole pipeline on one screen: the funnel from catalogue to slate, latency against the budget, one user's slate explained, and how good it is."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="01 · Tour of a recommender")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.candidates import describe_stage_one
    from workbench.lessons.rankers import ranker_name
    from workbench.metrics import relevance_matrix
    from workbench.pipeline import LATENCY_BUDGET_MS
    from workbench.ranking import RANKERS
    from workbench.types import Slate
    from workbench.viz import charts

    settings = kit.settings()
    SHOWN_USERS = 300  # the users the "one user's slate" dropdown offers


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """The fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.cell
def _():
    mo.md(r"""
    # 01 · A tour of a production recommender

    Netflix, YouTube and Amazon do not score every item for every user: they narrow the
    catalogue in **stages**, each more expensive per item than the last and each handed
    fewer items. This page runs the whole pipeline on the data set below and shows, in one
    screen, what each stage keeps, what it costs in time, what one user finally sees and
    why, and how good the result is. The other notebooks open each stage up.
    """)
    return


@app.cell
def _():
    guide.panel(__file__, *kit.default_config(settings).weights, kit.default_config(settings).ranker)
    return


@app.cell
def _():
    picker = kit.data_picker(settings)
    picker
    return (picker,)


@app.cell
def _(picker):
    run = dataclasses.replace(settings, data=picker.value)
    built = trained(run)
    cfg = built.pipeline.config
    kit.started(built)
    return built, cfg, run


@app.cell
def _(cfg):
    _rerank = cfg.rerank
    _steps = {
        "filter": "drop seen and unavailable items",
        "freshness": f"freshness boost (weight {_rerank.freshness_weight:g}, decay {_rerank.freshness_decay:g} per 30 days)",
        "mmr": f"MMR diversity (λ = {_rerank.lam:g})",
        "pins": f"pin up to {_rerank.max_pins} promoted item(s)",
        "cap": f"at most {_rerank.category_cap} per category" if _rerank.category_cap else "no category cap",
        "explore": f"ε-exploration (ε = {_rerank.exploration_rate:g})",
    }
    mo.md(f"""
    | stage | job | this pipeline (its config) |
    |---|---|---|
    | 1. **candidates** | find a few hundred items worth a look, fast, without losing the good ones | {describe_stage_one(cfg)} |
    | 2. **ranking** | order them by predicted interest with a richer model | {ranker_name(cfg.ranker)} (`{cfg.ranker}`, one of {len(RANKERS)} rankers) over user, item and context features; keeps the top {cfg.n_ranked} |
    | 3. **reranking** | choose the final slate: diversity, freshness, business rules, exploration | {"; ".join(_steps[s] for s in _rerank.order)}; slate of {cfg.k} |
    """)
    return


@app.cell
def _(built):
    pipe, train, test = built.pipeline, built.train, built.test
    _rel = relevance_matrix(test)
    users = np.flatnonzero(np.diff(_rel.indptr) > 0)
    # every user's slate, kept on disk (workbench.lessons.results) as what this page draws of it: the funnel, the
    # metrics, and the slates of the users the dropdown below offers (the whole slate, with every stage's
    # candidates, is too big to read back faster than it is computed)
    TOUR_CODE = results.code("candidates", "ranking", "rerank", "metrics", "pipeline.py", "types.py")

    @mo.persistent_cache(save_path=results.folder())
    def tour_at(artefact: str, code: str, who: np.ndarray, shown: int):
        whole = built.pipeline.recommend(who)
        rows = np.arange(min(shown, len(who)))
        return {
            "funnel": [whole.stages["candidates"].counts.mean(), whole.stages["ranked"].counts.mean(),
                       (whole.items >= 0).sum(axis=1).mean()],
            "seconds": whole.timings_ms["total"].sum() / 1e3,
            "metrics": built.pipeline.evaluate(whole, built.test),
            "shown": Slate(users=whole.users[rows], items=whole.items[rows], scores=whole.scores[rows],
                           propensities=whole.propensities[rows], trace={n: np.asarray(a)[rows] for n, a in whole.trace.items()},
                           stages={"ranked": whole.stages["ranked"].select_users(rows)}, meta=dict(whole.meta)),
        }  # fmt: skip

    with mo.status.spinner(title=f"The slates of the {len(users):,} users with test items: read from disk, or "
                                 "computed once and kept there (tens of seconds)"):  # fmt: skip
        tour = tour_at(built.key, TOUR_CODE, users, SHOWN_USERS)
    slate = tour["shown"]
    _share = test.n_interactions / (train.n_interactions + test.n_interactions)
    kit.show(
        f"**{train.name.split(':')[0]}**: {train.n_users:,} users, {train.n_items:,} items, "
        f"{train.n_interactions:,} training interactions; each user's later {test.n_interactions:,} interactions "
        f"({_share:.0%} of all) are held out as the test period. Recommending to the {len(users):,} users "
        f"with test items took {tour['seconds']:.1f} s."
    )
    return pipe, slate, test, tour, train, users


@app.cell
def _(pipe, run, tour, train, users):
    _funnel = pd.DataFrame({
        "stage": ["catalogue", "candidates", "ranked", "slate"],
        "items": [train.n_items, *tour["funnel"]],
    })  # fmt: skip
    latency = pipe.profile_latency(users[: 10 if run.small else 40])
    _chart_table = latency.assign(budget_ms=[LATENCY_BUDGET_MS[s][1] for s in latency["stage"]])
    _total = latency.set_index("stage").loc["total"]
    _budget = LATENCY_BUDGET_MS["total"][1]
    mo.vstack([
        mo.md("## The funnel, and what each stage costs"),
        mo.hstack([
            charts.funnel_chart(_funnel, title="Items per user that survive each stage (mean over users)", width=400),
            charts.latency_chart(
                _chart_table, title="Time per request (one user) against the budget (black tick)", width=400,
                reading=f"a request takes {_total['p50_ms']:.1f} ms at the median, {_total['p99_ms']:.1f} ms at p99 "
                        f"(budget: < {_budget:g} ms p99)",
            ),
        ], justify="start", gap=2, wrap=True),
        kit.show(f"Funnel per user: " + " → ".join(f"{s} {v:,.0f}" for s, v in zip(_funnel["stage"], _funnel["items"]))
                 + f". A request takes {_total['p50_ms']:.1f} ms at the median and {_total['p99_ms']:.1f} ms at p99 "
                 f"(budget < {_budget:g} ms)."),
        mo.accordion({"Latency table (ms per request, p50/p99 over requests)": kit.table(latency)}),
    ])  # fmt: skip
    return


@app.cell
def _(test, train, users):
    _ids = train.users["user_id"].to_numpy()
    _n_test = np.bincount(test.interactions["user"].to_numpy(), minlength=train.n_users)
    _options = {f"user {_ids[u]} · {_n_test[u]} test items": int(u) for u in users[:SHOWN_USERS]}
    user = mo.ui.dropdown(options=_options, value=next(iter(_options)), label="user", searchable=True)
    mo.vstack([mo.md("## One user's slate, explained"), user])
    return (user,)


@app.cell
def _(pipe, slate, test, user):
    _why = pipe.explain(user.value, slate)
    _held_out = set(test.interactions.loc[test.interactions["user"] == user.value, "item"])
    _why.insert(3, "watched later", _why["item"].isin(_held_out))
    _why["ranking_score"] = _why["ranking_score"].astype(float)
    _cols = [c for c in ("position", "title", "watched later", "sources", "ranking_score", "ranked_position",
                         "place_before_mmr", "what reranking did") if c in _why.columns]  # fmt: skip
    _source_cols = [c for c in _why.columns if c.startswith("rank in ")]
    mo.vstack([
        mo.md(f"Each row is one item of the final slate: which candidate sources proposed it, the ranker's score "
              f"and the item's place in the ranked list, and what reranking did. MMR's moves count places in the "
              f"list MMR was given (after seen items are dropped and the freshness re-sort), shown as "
              f"*place_before_mmr*. {kit.RANKS} "
              f"**{int(_why['watched later'].sum())} of {len(_why)}** are items this user went on to watch."),
        kit.table(_why[_cols], digits=3),
        mo.accordion({"Rank of each item in each source's own list": kit.table(_why[["position", "title", *_source_cols]])}),
    ])  # fmt: skip
    return


@app.cell
def _(slate, tour):
    _table = tour["metrics"]
    _m = _table.set_index("metric")["mean"]
    mo.vstack([
        mo.md("## How good is it? (every user with test items)"),
        kit.show(f"NDCG@{slate.k} **{_m['ndcg']:.4f}**, recall@{slate.k} **{_m['recall']:.4f}**, catalogue coverage "
                 f"**{_m['catalogue_coverage']:.1%}**, intra-list diversity **{_m['intra_list_diversity']:.3f}**."),
        mo.md("Notebook 05 works every one of these metrics out by hand."),
        mo.accordion({f"The full metrics table (intervals: {_table.attrs['ci']})": kit.table(_table)}),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(f"""
    ## Where next

    1. **02 · Candidate generation**: each source's recall, their overlap, how fusion picks between them,
       and this pipeline's stage 1 against the textbook's.
    2. **03 · Ranking**: the {len(RANKERS)} rankers ({", ".join(ranker_name(r) for r in RANKERS)}) compared on the
       same candidates, the features they see, what the best one looks at.
    3. **04 · Reranking what-if**: sliders for diversity, freshness and exploration, redrawn for every user.
    4. **05 · Metrics**: the textbook example, editable, every metric worked out.
    5. **06 · A/B testing** and **07 · Interleaving**: measuring online, with simulated users whose truth is known.
    """)
    return


@app.cell
def _():
    recall_at_k_box = exercises.editor("recall_at_k")
    exercises.task("recall_at_k", recall_at_k_box)
    return (recall_at_k_box,)


@app.function
def my_recall_at_k(recommended, relevant, k):
    hits = sum(1 for item in recommended[:k] if item in relevant)
    return hits / k  # is k the right denominator?


@app.cell
def _(recall_at_k_box):
    exercises.show("recall_at_k", my_recall_at_k, recall_at_k_box)
    return


@app.cell
def _(cfg, run):
    kit.footer(run, cfg, __file__)
    return


if __name__ == "__main__":
    app.run()
