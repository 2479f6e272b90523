"""The notebooks' what-ifs as ipywidgets panels for JupyterLab (notebooks/*.ipynb).

- `RerankPanel`: notebook 04's sliders (MMR λ, freshness decay, exploration rate ε, slate size k)
  and a user dropdown over `workbench.lessons.whatif.WhatIf`. A move reranks every user and
  recomputes the metrics; an ``Output`` area shows notebook 04's two altair charts (what reranking
  did to the user's slate, the accuracy–diversity frontier).
- `ABPanel` and `InterleavingPanel`: notebooks 06 and 07's studies over a `workbench.lessons.lab.Lab`:
  true-lift, users-per-day and days sliders; the p-value day by day over repeats of the same design
  (`charts.pvalue_chart`); the power of the design (A/B: the power curve and the share of repeats that
  end significant; interleaving: that share and B's share of the users who preferred one ranker).

Every control is an ipywidgets slider or dropdown, and the panel's attributes are those widgets'
values: ``panel.lam = 0.3`` moves the λ slider (the page shows 0.30) and recomputes, exactly as
a drag in the browser does. ``panel.sweep(lam=[...])`` computes other settings without moving
anything, and a status line names every knob that differs from where the panel started (with a
button that puts them back), so a notebook run top to bottom never leaves a silent change.

The panels compute no reading of their own: the figures they show come from `workbench.lessons`
(`slate_readings`, `ab_design`, `interleaving_design`), tested there.

Charts go to the ``Output`` as SVG drawn by vl-convert (altair's ``svg`` renderer): they need no
network and no JavaScript of ours, and they survive in the saved notebook. (JupyterLab 4 draws
Vega-Lite up to v5 itself; altair 6 writes v6, which it would show as raw JSON.)

    from workbench.lessons import kit
    from workbench.lessons.whatif import prepare
    from workbench.viz.panel import RerankPanel
    panel = RerankPanel(prepare(kit.trained(kit.NotebookSettings()))[0]); panel
"""

from __future__ import annotations

import dataclasses
import html
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import altair as alt
import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import clear_output, display

from workbench.experiment.interleaving import METHODS
from workbench.lessons.ab_design import POWER, RUNS, ab_design, power_curves
from workbench.lessons.interleaving_design import interleaving_design
from workbench.lessons.lab import ALPHA, Lab
from workbench.lessons.slate_readings import metric_rows, slate_rows
from workbench.lessons.whatif import DECAY_STEPS, Knobs, WhatIf, WhatIfResult
from workbench.viz import charts

STYLE = {"description_width": "initial"}
WIDE = widgets.Layout(width="420px")
USERS_PER_DAY = (50, 100, 200, 500, 1000, 2000, 5000)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], highlight: str | None = None) -> str:
    """Rows of dicts as a small HTML table; ``highlight``: a bool key that shades its rows."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for r in rows:
        shade = " style='background:#dafbe1'" if highlight and r.get(highlight) else ""
        cells = "".join(f"<td style='padding:2px 8px;border-top:1px solid #d0d7de'>{html.escape(str(r[key]))}</td>"
                        for key, _ in columns)  # fmt: skip
        body.append(f"<tr{shade}>{cells}</tr>")
    return f"<table style='border-collapse:collapse'><tr>{head}</tr>{''.join(body)}</table>"


def show_charts(output: widgets.Output, *items: Any) -> None:
    """Replace what ``output`` shows with ``items`` (altair charts as SVG, others as they are)."""
    with output, alt.renderers.enable("svg"):
        clear_output(wait=True)
        for item in items:
            display(item)


class _Panel(widgets.VBox):
    """Shared machinery: named controls whose values are the panel's attributes, a status line that
    names the knobs moved away from their start (with a reset button), and one recompute per change."""

    def __init__(self, controls: dict[str, widgets.ValueWidget], rows: Sequence[Sequence[str]], body: Sequence[widgets.Widget]) -> None:
        self._controls = controls
        self._start = {name: w.value for name, w in controls.items()}
        self.status = widgets.HTML()
        self.drift = widgets.HTML()
        self.reset_button = widgets.Button(description="reset the controls", tooltip="put every control back where it started",
                                           layout=widgets.Layout(width="auto", display="none"))  # fmt: skip
        self.reset_button.on_click(lambda _: self.reset())
        self.error = ""
        self._holding = False
        boxes = [widgets.HBox([controls[n] for n in row]) for row in rows]
        super().__init__([*boxes, widgets.HBox([self.drift, self.reset_button]), self.status, *body])
        for w in controls.values():
            w.observe(self._changed, names="value")

    def __getattr__(self, name: str) -> Any:  # panel.lam -> the λ slider's value
        controls = self.__dict__.get("_controls")
        if controls is not None and name in controls:
            return controls[name].value
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:  # panel.lam = 0.3 moves the λ slider
        controls = self.__dict__.get("_controls")
        if controls is not None and name in controls:
            self._set(name, value)
        else:
            super().__setattr__(name, value)

    def _check(self, name: str, value: Any) -> Any:
        """The value a control accepts, or ValueError naming the value and the control's range."""
        w = self._controls[name]
        if isinstance(w, (widgets.SelectionSlider, widgets.Dropdown)):
            options = [o[1] if isinstance(o, tuple) else o for o in w.options]
            match = [o for o in options if o == value or (isinstance(o, float) and isinstance(value, (int, float))
                                                         and np.isclose(o, value))]  # fmt: skip
            if not match:
                raise ValueError(f"{name}={value!r}: expected one of {options}")
            return match[0]
        if not w.min <= value <= w.max:
            raise ValueError(f"{name}={value!r}: expected {w.min}..{w.max}")
        return value

    def _set(self, name: str, value: Any) -> None:
        self._controls[name].value = self._check(name, value)

    def moved(self) -> dict[str, tuple[Any, Any]]:
        """The controls away from where the panel started: ``{name: (start, now)}``."""
        return {n: (self._start[n], w.value) for n, w in self._controls.items() if w.value != self._start[n]}

    def reset(self) -> None:
        """Every control back where the panel started (one recompute)."""
        self._hold(lambda: [setattr(self._controls[n], "value", v) for n, v in self._start.items()])

    def _hold(self, change: Callable[[], Any]) -> None:
        self._holding = True
        try:
            change()
        finally:
            self._holding = False
        self._changed()

    def set(self, **values: Any) -> None:
        """Move several controls at once (one recompute): ``panel.set(lam=0.5, k=20)``."""
        checked = {n: self._check(n, v) for n, v in values.items() if n in self._controls or self._unknown(n)}
        self._hold(lambda: [setattr(self._controls[n], "value", v) for n, v in checked.items()])

    def _unknown(self, name: str) -> bool:
        raise ValueError(f"{name!r}: not a control of this panel; expected one of {list(self._controls)}")

    def _changed(self, change: object = None) -> None:
        if self._holding:
            return
        moved = self.moved()
        self.drift.value = ("<span style='color:#9a6700'>moved from the start: "
                            + ", ".join(f"{n} {self._fmt(a)} → {self._fmt(b)}" for n, (a, b) in moved.items())
                            + "</span>") if moved else "<span style='color:#57606a'>every control at its start</span>"  # fmt: skip
        self.reset_button.layout.display = None if moved else "none"
        t0 = time.perf_counter()
        try:
            self.recompute()
        except ValueError as err:
            self.error = str(err)
            self.status.value = f"<b style='color:#cf222e'>cannot recompute: {html.escape(str(err))}</b>"
            return
        self.error = ""
        self.elapsed_ms = (time.perf_counter() - t0) * 1e3
        self.status.value = f"<span style='color:#57606a'>{html.escape(self.done_line())}</span>"

    @staticmethod
    def _fmt(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)

    def recompute(self) -> None:  # pragma: no cover - each panel defines it
        raise NotImplementedError

    def done_line(self) -> str:
        return f"recomputed in {self.elapsed_ms:.0f} ms"


# --- reranking (notebook 04) ----------------------------------------------------------------------------


class RerankPanel(_Panel):
    """Sliders for λ, freshness decay, ε, k and a user dropdown over a `WhatIf`; see the module docstring.

    ``panel.metrics`` (rows: metric, value, change vs the ranking order), ``panel.slate`` (the
    user's final slate: position, title, ranked_position, note) and ``panel.result`` hold what it shows.
    """

    def __init__(self, whatif: WhatIf, user: int | None = None) -> None:
        k0 = whatif.knobs
        pickable = whatif.pickable_users()
        if not len(pickable):
            raise ValueError("no user has held-out test items to show: check the test split")
        ids = whatif.train.users["user_id"].to_numpy()
        counts = np.diff(whatif.relevance.indptr)
        users = [(f"user {ids[u]} · {int(counts[u])} test items", int(u)) for u in pickable]
        if user is not None and user not in set(pickable.tolist()):
            raise ValueError(f"user={user!r}: expected a user with held-out test items, e.g. {pickable[:5].tolist()}")
        controls = {
            "lam": widgets.FloatSlider(value=k0.lam, min=0.0, max=1.0, step=0.05, readout_format=".2f",
                                       description="MMR λ (relevance weight)", continuous_update=False, style=STYLE, layout=WIDE),
            "freshness_decay": widgets.SelectionSlider(options=sorted(set(DECAY_STEPS) | {k0.freshness_decay}),
                                                       value=k0.freshness_decay, description="freshness decay (per 30 days)",
                                                       continuous_update=False, style=STYLE, layout=WIDE),
            "exploration_rate": widgets.FloatSlider(value=k0.exploration_rate, min=0.0, max=0.5, step=0.05, readout_format=".2f",
                                                    description="exploration rate ε", continuous_update=False, style=STYLE, layout=WIDE),
            "k": widgets.IntSlider(value=k0.k, min=1, max=max(whatif.ranked.n, k0.k), step=1, description="slate size k",
                                   continuous_update=False, style=STYLE, layout=WIDE),
            "user": widgets.Dropdown(options=users, value=int(pickable[0]) if user is None else int(user),
                                     description="user", style=STYLE),
        }  # fmt: skip
        self._whatif = whatif
        self._baselines: dict[int, dict[str, float]] = {}
        self._frontiers: dict[tuple, pd.DataFrame] = {}
        self.result: WhatIfResult | None = None
        self.metrics: list[dict[str, Any]] = []
        self.slate: list[dict[str, Any]] = []
        self.elapsed_ms = 0.0
        self.metrics_view = widgets.HTML()
        self.slate_view = widgets.HTML()
        self.charts = widgets.Output()
        body = [widgets.HBox([self.metrics_view, widgets.Accordion([self.slate_view], titles=("the slate, row by row",))]),
                self.charts]  # fmt: skip
        super().__init__(controls, [("lam", "freshness_decay"), ("exploration_rate", "k"), ("user",)], body)
        self._changed()

    def knobs(self) -> Knobs:
        """The what-if's knobs with the sliders' λ, decay, ε and k (the other stage-3 fields as the pipeline has them)."""
        return dataclasses.replace(self._whatif.knobs, lam=float(self.lam), freshness_decay=float(self.freshness_decay),
                                   exploration_rate=float(self.exploration_rate), k=int(self.k))  # fmt: skip

    def headline(self) -> dict[str, float]:
        """The current headline metrics (mean over users)."""
        return self.result.headline() if self.result is not None else {}

    def sweep(self, **grid: Sequence[Any]) -> pd.DataFrame:
        """Headline metrics at each value of one knob, the others as the sliders are, without moving
        any slider: ``panel.sweep(lam=[1.0, 0.7, 0.3])`` has one column per value."""
        if len(grid) != 1:
            raise ValueError(f"sweep one knob at a time, got {list(grid)}")
        (name, values), = grid.items()
        if name not in ("lam", "freshness_decay", "exploration_rate", "k"):
            raise ValueError(f"{name!r}: expected one of lam, freshness_decay, exploration_rate, k")
        out = {}
        for v in values:
            self._check(name, v)
            out[f"{name}={v:g}"] = self._whatif.run(dataclasses.replace(self.knobs(), **{name: v})).headline()
        return pd.DataFrame(out)

    def _baseline(self, k: int) -> dict[str, float]:
        if k not in self._baselines:
            self._baselines[k] = self._whatif.run(self._whatif.ranking_order(k)).headline()
        return self._baselines[k]

    def _frontier(self, knobs: Knobs) -> pd.DataFrame:
        key = (knobs.freshness_decay, knobs.exploration_rate, knobs.k)
        if key not in self._frontiers:
            self._frontiers[key] = self._whatif.frontier(knobs)
        return self._frontiers[key]

    def recompute(self) -> None:
        knobs = self.knobs()
        t0 = time.perf_counter()
        result = self._whatif.run(knobs)
        self.move_ms = (time.perf_counter() - t0) * 1e3
        self.result = result
        base = self._baseline(knobs.k)
        now = result.headline()
        self.metrics = metric_rows(now, base, knobs.k)
        self.metrics_view.value = (f"<b>Every user, at λ = {knobs.lam:.2f}, decay = {knobs.freshness_decay:g}, "
                                   f"ε = {knobs.exploration_rate:.2f}, k = {knobs.k}</b>"
                                   + _table(self.metrics, [("metric", "metric"), ("value", "value"),
                                                           ("change", "vs ranking order")]))  # fmt: skip
        before, after = self._whatif.before_after(result, int(self.user))
        self.slate = slate_rows(after)
        self.slate_view.value = _table(self.slate, [("position", "#"), ("title", "title"), ("ranked_position", "ranked #"),
                                                    ("note", "note")], highlight="in_test")  # fmt: skip
        who = self._controls["user"].label.split(" ·")[0]
        show_charts(
            self.charts,
            charts.slate_change_chart(before, after, title=f"What reranking did to the slate of {who}"),
            charts.frontier_chart(self._frontier(knobs), {"lam": knobs.lam, **now},
                                  x_title=f"intra-list diversity@{knobs.k} (mean pairwise 1 − cosine, 0–2)",
                                  y_title=f"NDCG@{knobs.k} (0–1)",
                                  title="The accuracy–diversity frontier traced by λ (other knobs as set)"),
        )  # fmt: skip

    def done_line(self) -> str:
        return (f"reranked every user and recomputed the metrics in {self.move_ms:.0f} ms "
                f"(with the charts: {self.elapsed_ms:.0f} ms)")  # fmt: skip


# --- experiments (notebooks 06 and 07) --------------------------------------------------------------------


def _study_controls(lab: Lab, users_per_day: int, days: int, only_positive: bool) -> dict[str, widgets.ValueWidget]:
    lifts = [round(float(x), 1) for x in lab.effects["lift_pct"] if x > 0 or not only_positive]
    if users_per_day not in USERS_PER_DAY:
        raise ValueError(f"users_per_day={users_per_day!r}: expected one of {USERS_PER_DAY}")
    if not 1 <= days <= 28:
        raise ValueError(f"days={days!r}: expected 1..28")
    return {
        "lift": widgets.SelectionSlider(options=lifts, value=lifts[min(2, len(lifts) - 1)], description="true CTR lift of B (%)",
                                        continuous_update=False, style=STYLE, layout=WIDE),
        "users_per_day": widgets.SelectionSlider(options=list(USERS_PER_DAY), value=users_per_day,
                                                 description="new users per day", continuous_update=False, style=STYLE,
                                                 layout=WIDE),
        "days": widgets.IntSlider(value=days, min=1, max=28, description="days", continuous_update=False, style=STYLE,
                                  layout=WIDE),
    }  # fmt: skip


class ABPanel(_Panel):
    """Notebook 06's A/B test: lift, users per day and days sliders; the estimate and p-value day by day
    over `RUNS` repeats of the design, and its power (simulated share, and the formula's curve).

    ``panel.readings`` (`daily_readings` of every repeat) and ``panel.summary`` (the figures shown) hold the numbers.
    """

    def __init__(self, lab: Lab, users_per_day: int = 500, days: int = 14, runs: int = RUNS, seed: int = 0) -> None:
        self._lab, self._runs, self._seed = lab, runs, seed
        self._curves: pd.DataFrame | None = None
        self.summary: dict[str, Any] = {}
        self.readings = pd.DataFrame()
        self.elapsed_ms = 0.0
        self.readout = widgets.HTML()
        self.charts = widgets.Output()
        super().__init__(_study_controls(lab, users_per_day, days, only_positive=False),
                         [("lift", "users_per_day"), ("days",)], [self.readout, self.charts])  # fmt: skip
        self._changed()

    def recompute(self) -> None:
        self.readings, self.summary = ab_design(self._lab, self.lift, int(self.users_per_day), int(self.days),
                                                runs=self._runs, seed=self._seed)  # fmt: skip
        s, readings = self.summary, self.readings
        per_arm, needed = s["users_per_arm"], s["users_per_arm_needed"]
        verdict = "significant" if s["significant"] else "not significant"
        plan = (f"{POWER:.0%} power needs {needed:,.0f} users per arm; this design has {per_arm:,.0f}"
                if not math.isnan(needed) else "no true lift (an A/A test): any significant result is a false positive")  # fmt: skip
        self.readout.value = (
            f"True lift <b>{s['true_lift_pct']:+.1f}%</b>. After day {int(self.days)} and {s['users']:,} users the test reads "
            f"<b>{s['estimate_pct']:+.1f}%</b> [{s['low_pct']:+.1f}%, {s['high_pct']:+.1f}%], p = {s['p_value']:.3g}: {verdict} "
            f"at α = {ALPHA:g}.<br>Power of this design, by simulation: <b>{s['power_simulated']:.0%}</b> of {self._runs} "
            f"repeats end significant; {plan}.")  # fmt: skip
        if self._curves is None:  # no slider enters: drawn once per lab
            self._curves = power_curves(self._lab)
        curves = self._curves
        show_charts(
            self.charts,
            charts.pvalue_chart(readings, alpha=ALPHA, title=f"p-value day by day, in {self._runs} repeats of the same test",
                                reading=f"{s['power_simulated']:.0%} of the {self._runs} repeats end below α = {ALPHA:g} "
                                        "(that share is the power)"),
            charts.power_chart(curves, x="n_per_arm", x_title="users per arm (count, log scale)", group="lift (%)",
                               log_x=True, mark_x=per_arm, target=POWER,
                               title="Power against users per arm, one curve per true lift",
                               reading=f"your design: {per_arm:,.0f} users per arm (vermillion line)"),
        )  # fmt: skip


class InterleavingPanel(_Panel):
    """Notebook 07's interleaving experiment: lift, users per day and days sliders and the method; the
    sign test's p-value day by day over `RUNS` repeats, and the design's power (share of repeats that
    end significant for B, the truly better ranker) beside an A/B test of the same users.

    ``panel.readings`` (`interleaving_readings`) and ``panel.summary`` hold the numbers.
    """

    def __init__(self, lab: Lab, users_per_day: int = 100, days: int = 7, runs: int = RUNS, seed: int = 0) -> None:
        self._lab, self._runs, self._seed = lab, runs, seed
        self.summary: dict[str, float] = {}
        self.readings = pd.DataFrame()
        self.elapsed_ms = 0.0
        self.readout = widgets.HTML()
        self.charts = widgets.Output()
        controls = _study_controls(lab, users_per_day, days, only_positive=True)
        controls["method"] = widgets.Dropdown(options=list(METHODS), value="team_draft", description="interleaving method",
                                              style=STYLE)  # fmt: skip
        super().__init__(controls, [("lift", "users_per_day"), ("days", "method")], [self.readout, self.charts])
        self._changed()

    def recompute(self) -> None:
        days = int(self.days)
        readings, ab, self.summary = interleaving_design(self._lab, self.lift, int(self.users_per_day), days,
                                                         method=self.method, runs=self._runs, seed=self._seed)  # fmt: skip
        self.readings = readings
        s = self.summary
        verdict = f"{s['preferred']} is significantly preferred" if s["preferred"] else "no significant preference"
        self.readout.value = (
            f"True lift <b>{s['true_lift_pct']:+.1f}%</b>. After day {days} and {s['users']:,} users ({self.method}): "
            f"B preferred by {s['wins_b']:,}, A by {s['wins_a']:,}, {s['ties']:,} ties; p = {s['p_value']:.3g}: {verdict}."
            f"<br>Power of this design, by simulation over {self._runs} repeats: interleaving <b>{s['power_interleaving']:.0%}</b>, "
            f"an A/B test of the same users <b>{s['power_ab']:.0%}</b>.")  # fmt: skip
        show_charts(
            self.charts,
            charts.pvalue_chart(readings, alpha=ALPHA, title=f"Sign-test p-value day by day, in {self._runs} repeats ({self.method})",
                                reading=f"{s['power_interleaving']:.0%} of the repeats end below α = {ALPHA:g} for B; "
                                        f"an A/B test of the same users: {s['power_ab']:.0%}"),
            charts.pvalue_chart(ab, alpha=ALPHA, title=f"The same users in an A/B test: p-value day by day, {self._runs} repeats",
                                reading=f"{s['power_ab']:.0%} of the A/B repeats end significant"),
        )  # fmt: skip
