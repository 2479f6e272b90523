"""Two configs side by side: does config B recommend better than config A, on the same data, split and seed?

`compare` fits two pipeline configs on the same data, split and seed and `write_compare` writes
one static page: the metric table of both with intervals and the paired differences B − A, the
accuracy–diversity frontier of each with both configs marked, and both stamps.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.lessons.kit import NotebookSettings
from workbench.provenance import provenance
from workbench.report.render import StaticRenderer, page, stamp_html


@dataclass(eq=False)
class Comparison:
    """Two pipeline configs fitted and judged on the same data, split, seed and users.

    metrics: one row per metric: ``metric``, ``k``, ``a``, ``a_low``, ``a_high``, ``b``, ``b_low``,
        ``b_high`` (mean over users with its 95% interval; NaN intervals for catalogue-level figures),
        ``diff`` (B − A), ``diff_low``, ``diff_high`` (paired over the same users: mean ± 1.96·sd/√n of
        the per-user differences) and ``users``.
    frontier: ``config``, ``lam`` and the headline metrics along λ for each config (its other knobs fixed).
    current: one row per config: ``config``, ``lam`` and its headline metrics at its own λ.
    """

    names: tuple[str, str]
    configs: tuple[Any, Any]
    provenance: tuple[dict, dict]
    metrics: pd.DataFrame
    frontier: pd.DataFrame
    current: pd.DataFrame
    k: int
    notes: list[str]


def compare(config_a: str | Path, config_b: str | Path, settings: NotebookSettings | None = None) -> Comparison:
    """Fit (or load from the model store) the pipelines of two TOML configs on the same data, split and seed
    (``settings``: the configs' own ``seed`` fields are replaced by ``settings.seed``), recommend to every
    user and compare: see `Comparison`. Raises ValueError naming a missing or invalid file before fitting."""
    from workbench.lessons import kit
    from workbench.lessons.whatif import Knobs, prepare
    from workbench.metrics import relevance_matrix
    from workbench.metrics.per_user import paired_difference, per_user_figures
    from workbench.pipeline import PipelineConfig

    settings = settings or NotebookSettings()
    paths = (Path(config_a), Path(config_b))
    configs, notes = [], []
    for p in paths:
        if not p.is_file():
            raise ValueError(f"--compare {p}: no such file; expected a pipeline TOML file such as configs/default.toml")
        try:
            cfg = PipelineConfig.from_toml(p)
        except Exception as exc:  # tomllib's and the config's own messages name the problem
            raise ValueError(f"--compare {p}: {exc}") from None
        if cfg.seed != settings.seed:
            notes.append(f"{p.name}: seed = {cfg.seed} replaced by the report's seed {settings.seed} (same seed for both)")
        configs.append(dataclasses.replace(cfg, seed=settings.seed))
    names = (paths[0].stem, paths[1].stem) if paths[0].stem != paths[1].stem else ("A: " + str(paths[0]), "B: " + str(paths[1]))
    k = min(c.k for c in configs)
    if configs[0].k != configs[1].k:
        notes.append(f"the slates are {configs[0].k} and {configs[1].k} long: both are judged on their top {k}")

    per_user, tables, frontiers, currents, provs = [], [], [], [], []
    for name, cfg, path in zip(names, configs, paths):
        built = kit.trained(settings, cfg)
        pipe, test = built.pipeline, built.test
        relevance = relevance_matrix(test)
        slate = pipe.recommend(np.arange(built.train.n_users))
        tables.append(pipe.evaluate(slate, test, (k,)).set_index("metric"))
        per_user.append(per_user_figures(pipe, slate, relevance, k))
        whatif, _ = prepare(built)
        knobs = Knobs.of(cfg.rerank, k)
        frontiers.append(whatif.frontier(knobs).assign(config=name))
        currents.append({"config": name, "lam": float(cfg.rerank.lam), **whatif.run(knobs).headline()})
        provs.append(provenance(settings.record(), cfg, command=f"workbench report --compare {paths[0]} {paths[1]} " + " ".join(map(shlex.quote, settings.cli()))))
        provs[-1]["config_file"] = str(path)
        provs[-1]["artefact"] = built.describe()

    rows = []
    for metric in tables[0].index:
        a, b = tables[0].loc[metric], tables[1].loc[metric]
        row = {"metric": metric, "k": k, "a": a["mean"], "a_low": a["ci_low"], "a_high": a["ci_high"],
               "b": b["mean"], "b_low": b["ci_low"], "b_high": b["ci_high"], "diff": b["mean"] - a["mean"],
               "diff_low": np.nan, "diff_high": np.nan, "users": int(a["users"])}  # fmt: skip
        if metric in per_user[0] and metric in per_user[1]:
            paired = paired_difference(per_user[0][metric], per_user[1][metric])
            if paired is not None:
                mean, low, high, n = paired
                row |= {"diff": mean, "diff_low": low, "diff_high": high, "users": n}
        rows.append(row)
    return Comparison(names, tuple(configs), tuple(provs), pd.DataFrame(rows), pd.concat(frontiers, ignore_index=True),
                      pd.DataFrame(currents), k, notes)  # fmt: skip


def _interval(mean: float, low: float, high: float) -> str:
    if np.isnan(mean):
        return "–"
    fmt = (lambda v: f"{v:.4f}") if abs(mean) < 100 else (lambda v: f"{v:,.1f}")
    return fmt(mean) + ("" if np.isnan(low) else f" [{fmt(low)}, {fmt(high)}]")


def compare_html(cmp: Comparison) -> str:
    """The comparison as one static page (see `write_compare`)."""
    from workbench.viz import charts

    a, b = cmp.names
    renderer = StaticRenderer()
    head = (f"<tr><th>metric@{cmp.k}</th><th>{html.escape(a)} (A)</th><th>{html.escape(b)} (B)</th><th>B − A (paired)</th>"
            "<th>users</th><th>reading</th></tr>")  # fmt: skip
    body = []
    for r in cmp.metrics.itertuples():
        if np.isnan(r.diff_low):
            reading = "catalogue-level figure: no per-user interval"
        elif r.diff_low > 0 or r.diff_high < 0:
            reading = f"{'B' if r.diff > 0 else 'A'} higher (interval excludes 0)"
        else:
            reading = "no clear difference (interval includes 0)"
        body.append(f"<tr><td>{html.escape(r.metric)}</td><td>{_interval(r.a, r.a_low, r.a_high)}</td>"
                    f"<td>{_interval(r.b, r.b_low, r.b_high)}</td><td>{_interval(r.diff, r.diff_low, r.diff_high)}</td>"
                    f"<td>{r.users:,}</td><td>{reading}</td></tr>")  # fmt: skip
    chart = charts.frontiers_chart(
        cmp.frontier, cmp.current, group="config",
        x_title=f"intra-list diversity@{cmp.k} (mean pairwise 1 − cosine, 0–2)", y_title=f"NDCG@{cmp.k} (0–1)",
        title="The accuracy–diversity frontier of each config, traced by MMR λ",
    )  # fmt: skip
    prov = cmp.provenance[0]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in cmp.notes)
    text = (f"<h1>{html.escape(a)} against {html.escape(b)}</h1>"
            f"<p>Both pipelines are fitted on <b>{html.escape(prov['data'])}</b>{' (small world)' if prov['small'] else ''}, "
            f"the same temporal split and seed <b>{prov['seed']}</b>, and recommend to the same users; each metric is the "
            f"mean over users with its 95% interval (mean ± 1.96·sd/√n), and B − A is the mean of the per-user "
            f"differences with its own interval. Terms: <code>docs/GLOSSARY.md</code>.</p>"
            + (f"<ul class='wb-note'>{notes}</ul>" if notes else "")
            + f"<h2>Metrics</h2><table class='wb-table'>{head}{''.join(body)}</table>"
            f"<h2>Frontier</h2>{renderer.chart(chart.to_dict())}"
            f"<p class='wb-note'>Each line varies MMR λ with the config's other reranking knobs fixed; "
            f"the diamonds are the configs as written.</p>")  # fmt: skip
    stamps = [stamp_html(p, label=f"{'A' if i == 0 else 'B'}: {p['config_file']} · {p['artefact']}")
              for i, p in enumerate(cmp.provenance)]  # fmt: skip
    return page(f"{a} against {b}", text, stamps)


def write_compare(config_a: str | Path, config_b: str | Path, out_dir: str | Path = "reports",
                  settings: NotebookSettings | None = None) -> Path:  # fmt: skip
    """`compare` two TOML configs and write ``out_dir/compare-<A>-<B>.html`` (static, opens from disk) and
    its ``.json`` (both provenances and the metric table); returns the page's path."""
    cmp = compare(config_a, config_b, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = "compare-" + "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", Path(p).stem) for p in (config_a, config_b))
    target = out / f"{stem}.html"
    target.write_text(compare_html(cmp), encoding="utf-8")
    (out / f"{stem}.json").write_text(json.dumps({"provenance": cmp.provenance, "notes": cmp.notes,
                                                  "metrics": cmp.metrics.to_dict("records")}, indent=2, default=float),
                                      encoding="utf-8")  # fmt: skip
    return target
