"""The reranking what-if as a widget for JupyterLab (anywidget, so it also runs inside marimo).

The same three sliders as notebook 04 (MMR λ, freshness decay, exploration rate) plus k
and a user picker, over the same functions (`workbench.lessons.whatif.WhatIf.run`). Moving a
slider in the browser, or setting ``panel.lam = 0.3`` from Python, reranks every user and
recomputes the metrics; the widget shows them with their change against the ranking order
and the chosen user's slate (positions as in `workbench.lessons.kit.RANKS`).

    from workbench.lessons import kit
    from workbench.lessons.whatif import prepare
    from workbench.viz.panel import RerankPanel
    panel = RerankPanel(prepare(kit.trained(kit.NotebookSettings()))[0]); panel
"""

from __future__ import annotations

import dataclasses
import time

import anywidget
import numpy as np
import traitlets

from workbench.lessons.kit import ABSENT
from workbench.lessons.whatif import DECAY_STEPS, HEADLINE, Knobs, WhatIf, WhatIfResult


_ESM = r"""
function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function slider(model, name, label, min, max, step, fmt) {
  const box = el("label", { class: "wb-control" });
  const caption = el("span", {}, label);
  const input = el("input", { type: "range", min, max, step, "aria-label": label });
  const shown = el("output");
  const sync = () => { input.value = model.get(name); shown.textContent = fmt(model.get(name)); };
  input.addEventListener("change", () => { model.set(name, Number(input.value)); model.save_changes(); });
  input.addEventListener("input", () => { shown.textContent = fmt(Number(input.value)); });
  model.on(`change:${name}`, sync);
  sync();
  box.append(caption, input, shown);
  return box;
}

function decaySlider(model) {
  const steps = model.get("decay_steps");
  const box = el("label", { class: "wb-control" });
  const caption = el("span", {}, "freshness decay (per 30 days)");
  const input = el("input", { type: "range", min: 0, max: steps.length - 1, step: 1, "aria-label": "freshness decay" });
  const shown = el("output");
  const nearest = (v) => steps.reduce((b, s, i) => Math.abs(s - v) < Math.abs(steps[b] - v) ? i : b, 0);
  const sync = () => { input.value = nearest(model.get("freshness_decay")); shown.textContent = model.get("freshness_decay"); };
  input.addEventListener("change", () => { model.set("freshness_decay", steps[Number(input.value)]); model.save_changes(); });
  model.on("change:freshness_decay", sync);
  sync();
  box.append(caption, input, shown);
  return box;
}

function table(rows, columns) {
  const t = el("table", { class: "wb-table" });
  const head = el("tr");
  for (const [, title] of columns) head.append(el("th", {}, title));
  t.append(head);
  for (const r of rows) {
    const tr = el("tr", r.in_test ? { class: "wb-hit" } : {});
    for (const [key] of columns) tr.append(el("td", {}, String(r[key])));
    t.append(tr);
  }
  return t;
}

function render({ model, el: root }) {
  root.classList.add("wb-panel");
  const users = el("select", { "aria-label": "user" });
  const fillUsers = () => {
    users.replaceChildren(...model.get("users").map(([v, label]) => { const o = el("option", { value: v }, label); return o; }));
    users.value = model.get("user");
  };
  users.addEventListener("change", () => { model.set("user", Number(users.value)); model.save_changes(); });
  model.on("change:users", fillUsers);
  model.on("change:user", () => { users.value = model.get("user"); });
  fillUsers();

  const controls = el("div", { class: "wb-controls" });
  controls.append(
    slider(model, "lam", "MMR λ (relevance weight)", 0, 1, 0.05, (v) => Number(v).toFixed(2)),
    decaySlider(model),
    slider(model, "exploration_rate", "exploration rate ε", 0, 0.5, 0.05, (v) => Number(v).toFixed(2)),
    slider(model, "k", "slate size k", 5, 30, 5, (v) => String(v)),
    users,
  );
  const status = el("div", { class: "wb-status" });
  const metrics = el("div");
  const slate = el("div");
  const draw = () => {
    status.textContent = model.get("error") || `reranked every user and recomputed the metrics in ${model.get("elapsed_ms").toFixed(0)} ms`;
    metrics.replaceChildren(table(model.get("metrics"), [["metric", "metric"], ["value", "value"], ["change", "vs ranking order"]]));
    slate.replaceChildren(table(model.get("slate"), [["position", "#"], ["title", "title"], ["ranked_position", "ranked #"], ["note", "note"]]));
  };
  for (const name of ["metrics", "slate", "error", "elapsed_ms"]) model.on(`change:${name}`, draw);
  draw();
  const body = el("div", { class: "wb-body" });
  body.append(metrics, slate);
  root.append(controls, status, body);
}

export default { render };
"""

_CSS = """
.wb-panel { font: 13px/1.4 system-ui, sans-serif; }
.wb-controls { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: center; margin-bottom: 6px; }
.wb-control { display: flex; gap: 6px; align-items: center; }
.wb-status { color: #57606a; margin: 4px 0 8px; }
.wb-body { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
.wb-table { border-collapse: collapse; }
.wb-table th, .wb-table td { border-bottom: 1px solid #d0d7de; padding: 2px 8px; text-align: left; }
.wb-hit td { background: #dafbe1; }
"""


class RerankPanel(anywidget.AnyWidget):
    """Sliders for λ, freshness decay, ε, k and a user over a `WhatIf`; see the module docstring."""

    _esm = _ESM
    _css = _CSS
    lam = traitlets.Float(0.7).tag(sync=True)
    freshness_decay = traitlets.Float(1.0).tag(sync=True)
    exploration_rate = traitlets.Float(0.0).tag(sync=True)
    k = traitlets.Int(10).tag(sync=True)
    user = traitlets.Int(0).tag(sync=True)
    users = traitlets.List().tag(sync=True)
    decay_steps = traitlets.List(list(DECAY_STEPS)).tag(sync=True)
    metrics = traitlets.List().tag(sync=True)
    slate = traitlets.List().tag(sync=True)
    elapsed_ms = traitlets.Float(0.0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, whatif: WhatIf, **kwargs) -> None:
        for name in ("lam", "freshness_decay", "exploration_rate", "k"):  # start where the pipeline is
            kwargs.setdefault(name, getattr(whatif.knobs, name))
        pickable = whatif.pickable_users()
        if not len(pickable):
            raise ValueError("no user has held-out test items to show: check the test split")
        ids = whatif.train.users["user_id"].to_numpy()
        counts = np.diff(whatif.relevance.indptr)
        kwargs.setdefault("user", int(pickable[0]))
        super().__init__(users=[[int(u), f"user {ids[u]} · {int(counts[u])} test items"] for u in pickable], **kwargs)
        self._whatif = whatif
        self._baselines: dict[int, dict[str, float]] = {}
        self.result: WhatIfResult | None = None
        self.observe(self._recompute, names=["lam", "freshness_decay", "exploration_rate", "k"])
        self.observe(self._show_user, names=["user"])
        self._recompute()

    def knobs(self) -> Knobs:
        """The what-if's knobs with the sliders' λ, decay, ε and k (the other stage-3 fields as the pipeline has them)."""
        return dataclasses.replace(self._whatif.knobs, lam=self.lam, freshness_decay=self.freshness_decay,
                                   exploration_rate=self.exploration_rate, k=self.k)  # fmt: skip

    def headline(self) -> dict[str, float]:
        """The current headline metrics (mean over users)."""
        return self.result.headline() if self.result is not None else {}

    def _baseline(self, k: int) -> dict[str, float]:
        if k not in self._baselines:
            self._baselines[k] = self._whatif.run(self._whatif.ranking_order(k)).headline()
        return self._baselines[k]

    def _recompute(self, change: object = None) -> None:
        t0 = time.perf_counter()
        try:
            result = self._whatif.run(self.knobs())
        except ValueError as err:
            self.error = f"cannot rerank: {err}"
            return
        self.elapsed_ms = (time.perf_counter() - t0) * 1e3
        self.error = ""
        self.result = result
        base = self._baseline(self.k)
        now = result.headline()
        self.metrics = [{"metric": f"{HEADLINE[m]}@{self.k}", "value": round(v, 4), "change": f"{v - base[m]:+.4f}"}
                        for m, v in now.items()]  # fmt: skip
        self._show_user()

    def _show_user(self, change: object = None) -> None:
        if self.result is None:
            return
        _, after = self._whatif.before_after(self.result, self.user)
        notes = np.where(after["explored"], "explored", np.where(after["pinned"], "pinned", np.where(after["in_test"], "watched later", "")))
        ranked = after["ranked_position"].astype(object).where(after["ranked_position"].notna(), ABSENT)
        self.slate = [{"position": int(r.position), "title": str(r.title), "ranked_position": str(p),
                       "note": str(n), "in_test": bool(r.in_test)} for r, p, n in zip(after.itertuples(), ranked, notes)]  # fmt: skip
