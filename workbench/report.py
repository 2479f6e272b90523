"""Reproducible reports: provenance stamps, notebook pages that open anywhere, and config comparisons.

`provenance` records what a reader needs to re-run a page and get the same numbers (the
command, seed, config, commit, package versions, threads); every notebook shows it in its
footer (`workbench.lessons.kit.footer`).

`export_reports` runs each notebook through ``marimo export html`` (which executes it) and, by
default, turns marimo's page into a **static** one: marimo's export draws its page with a
JavaScript frontend fetched from a CDN, and marimo's self-contained alternative (``html-wasm``)
re-runs the notebook in the browser under Pyodide, where torch and FAISS do not exist. So the
static page keeps the outputs the export recorded (text, tables, statistics, the values the
controls had) and draws every chart as inline SVG with vl-convert: one HTML file with nothing to
fetch, which opens from disk (``file://``) with no network. ``fmt="marimo"`` keeps marimo's own
interactive pages instead (they need marimo's frontend from its CDN).

Each page carries a provenance stamp in the flow of the page (it never covers content), a sidecar
``<name>.json`` with the full provenance, and ``index.html`` links them.

`compare` fits two pipeline configs on the same data, split and seed and `write_compare` writes
one static page: the metric table of both with intervals and the paired differences B − A, the
accuracy–diversity frontier of each with both configs marked, and both stamps.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import re
import shlex
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.lessons.kit import NotebookSettings, default_config
from workbench.provenance import provenance

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
FORMATS = ("static", "marimo")
TABLE_ROWS = 200  # rows a static table shows (the rest are counted)


def list_notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks ``NN_name.py``, in teaching order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def stamp_html(prov: Mapping[str, Any], label: str = "Recsys Workbench report") -> str:
    """The provenance stamp: a block in the flow of the page (never fixed over the content)."""
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v != "absent")
    config = json.dumps(prov["config"], sort_keys=True) if prov.get("config") is not None else "defaults"
    return (
        '<div class="workbench-stamp" id="workbench-stamp" style="position:static;display:block;'
        "font:12px/1.45 system-ui,sans-serif;background:#f4f6f8;border:1px solid #d0d7de;border-radius:6px;"
        'padding:6px 12px;margin:8px 0;color:#24292f;overflow-wrap:anywhere">'
        f"<b>{html.escape(label)}</b> · data <b>{html.escape(prov['data'])}</b> · seed <b>{prov['seed']}</b>"
        f"{' · small world' if prov.get('small') else ''} · commit <code>{html.escape(prov['commit'])}</code>"
        f" · re-run: <code>{html.escape(prov['command'])}</code><br>versions: {html.escape(versions)}"
        f"<details><summary>config</summary><code>{html.escape(config)}</code></details></div>"
    )


# --- static pages: marimo's exported outputs without marimo's frontend -------------------------------------

PAGE_CSS = """
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 0; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 24px 48px; }
.wb-cell { margin: 14px 0; }
.paragraph { display: block; margin: 0.5em 0; }
h1 { font-size: 1.8em; margin: 0.6em 0 0.3em; } h2 { font-size: 1.4em; margin-top: 1.2em; } h3 { font-size: 1.15em; }
code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; font-size: 0.92em; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
table.wb-table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
table.wb-table th, table.wb-table td { border-bottom: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
table.wb-table th { background: #f6f8fa; }
.wb-note { color: #57606a; font-size: 12px; }
.wb-chart { max-width: 100%; overflow-x: auto; margin: 6px 0; }
.wb-chart svg { max-width: 100%; height: auto; }
.wb-stat { display: inline-block; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px 12px; margin: 4px; min-width: 120px; }
.wb-stat .value { font-size: 1.5em; font-weight: 600; } .wb-stat .label, .wb-stat .caption { color: #57606a; font-size: 12px; }
.wb-control { display: inline-block; margin: 2px 18px 2px 0; color: #57606a; }
.wb-control b { color: #1f2328; }
.wb-callout { border-left: 4px solid #0969da; background: #f6f8fa; padding: 6px 12px; margin: 6px 0; }
.wb-callout.danger { border-color: #cf222e; } .wb-callout.warn { border-color: #9a6700; } .wb-callout.success { border-color: #1a7f37; }
.wb-error { color: #cf222e; }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
summary .paragraph, summary .markdown { display: inline; margin: 0; }
"""
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_MOUNT = re.compile(r'__MARIMO_MOUNT_CONFIG__",\s*\{\s*value:\s*Object\.freeze\((.*?)\),\s*writable', re.S)
_FILES = re.compile(r"files:\s*Object\.freeze\((.*?)\),\s*modelNotifications", re.S)


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node | str]


class _Tree(HTMLParser):
    """HTML as a small tree of `_Node` (tags lower-cased, entities decoded in text and attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("", {}, [])
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs}, [])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}, []))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def _parse(text: str) -> _Node:
    tree = _Tree()
    tree.feed(text)
    tree.close()
    return tree.root


def _arg(node: _Node, name: str, default: Any = None) -> Any:
    """A marimo component's argument: the JSON in its ``data-<name>`` attribute."""
    raw = node.attrs.get(f"data-{name}")
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class StaticRenderer:
    """Turns the outputs of a marimo export into plain HTML with inline SVG charts.

    files: marimo's virtual files of the export (``./@file/...`` → data URL). ``charts`` counts the
    charts drawn. Unknown ``marimo-*`` components keep their children (their text survives).
    """

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        self.files = dict(files or {})
        self.charts = 0

    # data --------------------------------------------------------------------------------------------
    def _fetch(self, url: str) -> tuple[str, str] | None:
        """(mime type, text) of a data URL or of one of the export's virtual files; None otherwise."""
        url = self.files.get(url, self.files.get(url.lstrip("./"), url))
        if not url.startswith("data:"):
            return None
        head, _, body = url[5:].partition(",")
        mime = head.split(";")[0]
        text = base64.b64decode(body).decode("utf-8") if head.endswith(";base64") else urllib.parse.unquote(body)
        return mime, text

    def _inline_data(self, node: Any) -> Any:
        """The spec with every ``{"url": ...}`` data source replaced by its values (no fetch at render time)."""
        if isinstance(node, dict):
            if isinstance(node.get("url"), str):
                got = self._fetch(node["url"])
                if got is not None:
                    mime, text = got
                    fmt = dict(node.get("format", {}))
                    fmt.setdefault("type", "csv" if "csv" in mime else "json")
                    rest = {k: v for k, v in node.items() if k not in ("url", "format")}
                    return {**rest, "values": text if fmt["type"] != "json" else json.loads(text),
                            **({"format": fmt} if fmt["type"] != "json" else {})}
            return {k: self._inline_data(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._inline_data(v) for v in node]
        return node

    # pieces ------------------------------------------------------------------------------------------
    def chart(self, spec: Mapping[str, Any] | str) -> str:
        """A Vega-Lite spec as inline SVG (vl-convert; no network)."""
        import vl_convert as vlc

        spec = json.loads(spec) if isinstance(spec, str) else dict(spec)
        spec = self._inline_data(spec)
        m = re.search(r"/v(\d+)\.(\d+)", str(spec.get("$schema", "")))
        versions = vlc.get_vegalite_versions()
        same = [v for v in versions if m and v.split(".")[0] == m.group(1)]
        svg = vlc.vegalite_to_svg(spec, vl_version=same[-1] if same else None, allowed_base_urls=[])
        self.charts += 1
        return f'<div class="wb-chart" data-chart="{self.charts}">{svg}</div>'

    def table(self, node: _Node) -> str:
        data = _arg(node, "data", [])
        if isinstance(data, str):
            got = self._fetch(data)
            if got is not None:
                mime, text = got
                data = pd.read_csv(io.StringIO(text)).to_dict("records") if "csv" in mime else json.loads(text)
            else:
                try:
                    data = json.loads(data)
                except json.JSONDecodeError:
                    data = []
        fields = [f[0] for f in _arg(node, "field-types", []) or []] or (list(data[0]) if data else [])
        total = _arg(node, "total-rows", len(data))
        head = "".join(f"<th>{html.escape(str(f))}</th>" for f in fields)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(f)))}</td>" for f in fields) + "</tr>"
                       for r in data[:TABLE_ROWS])  # fmt: skip
        shown = min(len(data), TABLE_ROWS)
        note = f'<div class="wb-note">{shown} of {total} rows shown</div>' if isinstance(total, int) and total > shown else ""
        label = _arg(node, "label")
        caption = f"<div>{self.html(label)}</div>" if label else ""
        return f'{caption}<table class="wb-table"><tr>{head}</tr>{rows}</table>{note}'

    def control(self, node: _Node) -> str:
        """A UI control as the value it had when the page was exported."""
        label = _arg(node, "label") or ""
        value = _arg(node, "initial-value")
        if node.tag == "marimo-dropdown" or node.tag == "marimo-multiselect":
            value = ", ".join(map(str, value)) if isinstance(value, list) else value
        elif node.tag in ("marimo-range-slider",) and isinstance(value, list):
            value = " – ".join(map(str, value))
        elif node.tag == "marimo-slider" and _arg(node, "steps"):
            steps = _arg(node, "steps")
            value = steps[value] if isinstance(value, int) and 0 <= value < len(steps) else value
        elif node.tag in ("marimo-checkbox", "marimo-switch"):
            value = "on" if value else "off"
        elif node.tag == "marimo-button":
            return ""
        label_text = re.sub(r"<[^>]+>", "", self.html(label)).strip()
        return (f'<span class="wb-control">{html.escape(label_text)}{":" if label_text else ""} '
                f"<b>{html.escape(_cell(value))}</b></span>")  # fmt: skip

    def mime(self, mime: str, data: Any) -> str:
        if re.fullmatch(r"application/vnd\.vegalite\.v\d+[.+]json", mime):
            return self.chart(data)
        if mime in ("text/html", "text/markdown"):
            return self.html(data)
        if mime.startswith("image/"):
            if mime == "image/svg+xml" and isinstance(data, str) and data.lstrip().startswith("<svg"):
                return f'<div class="wb-chart">{data}</div>'
            src = data if isinstance(data, str) and data.startswith("data:") else f"data:{mime};base64,{data}"
            return f'<img alt="" src="{html.escape(src)}">'
        if mime == "application/json":
            return f"<pre>{html.escape(json.dumps(data, indent=2))}</pre>"
        if mime == "text/plain":
            return f"<pre>{html.escape(str(data))}</pre>" if str(data).strip() else ""
        return f"<pre>{html.escape(str(data))[:5000]}</pre>"

    # the tree ----------------------------------------------------------------------------------------
    def html(self, text: Any) -> str:
        return "".join(self._node(c) for c in _parse(str(text)).children)

    def _children(self, node: _Node) -> str:
        return "".join(self._node(c) for c in node.children)

    def _node(self, node: _Node | str) -> str:
        if isinstance(node, str):
            return html.escape(node, quote=False)
        tag = node.tag
        if tag in ("script", "iframe", "link", "meta", "object", "embed"):
            return ""
        if tag == "marimo-ui-element":
            return self._children(node)
        if tag in ("marimo-vega",):
            return self.chart(_arg(node, "spec"))
        if tag == "marimo-mime-renderer":
            return self.mime(_arg(node, "mime"), _arg(node, "data"))
        if tag == "marimo-table":
            return self.table(node)
        if tag == "marimo-stat":
            parts = [f'<div class="{k}">{html.escape(str(_arg(node, k)))}</div>' for k in ("value", "label", "caption")
                     if _arg(node, k) not in (None, "")]  # fmt: skip
            return f'<div class="wb-stat">{"".join(parts)}</div>'
        if tag in ("marimo-accordion", "marimo-tabs"):
            labels = _arg(node, "labels" if tag == "marimo-accordion" else "tabs", []) or []
            panels = [c for c in node.children if isinstance(c, _Node)]
            opened = set(_arg(node, "expanded", []) or []) if tag == "marimo-accordion" else {0}
            return "".join(f"<details{' open' if i in opened or tag == 'marimo-tabs' else ''}><summary>"
                           f"{self.html(labels[i]) if i < len(labels) else ''}</summary>{self._children(p)}</details>"
                           for i, p in enumerate(panels))  # fmt: skip
        if tag == "marimo-callout-output":
            kind = str(_arg(node, "kind", "neutral"))
            title = _arg(node, "title")
            return (f'<div class="wb-callout {html.escape(kind)}">{f"<b>{html.escape(title)}</b>" if title else ""}'
                    f"{self.html(_arg(node, 'html', ''))}</div>")  # fmt: skip
        if tag == "marimo-json-output":
            return f"<pre>{html.escape(json.dumps(_arg(node, 'json-data'), indent=2))}</pre>"
        if tag == "marimo-tex":
            return f"<code>{html.escape(''.join(c for c in node.children if isinstance(c, str)).strip('|()[]'))}</code>"
        if tag.startswith("marimo-") and "data-initial-value" in node.attrs:
            return self.control(node)
        if tag.startswith("marimo-"):
            inner = _arg(node, "html")
            return self.html(inner) if isinstance(inner, str) else self._children(node)
        if tag == "a" and re.fullmatch(r"\?file=[\w.-]+\.py", node.attrs.get("href", "")):  # a link between notebooks
            node.attrs["href"] = node.attrs["href"][len("?file="):-len(".py")] + ".html"  # their pages sit side by side
        if tag == "a" and (m := re.fullmatch(r"\?file=glossary\.py&term=([\w-]*)", node.attrs.get("href", ""))):
            node.attrs["href"] = f"../docs/GLOSSARY.md#{m.group(1)}"  # the served glossary page's source, from reports/
        attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in node.attrs.items() if not k.startswith("on"))
        if tag in VOID:
            return f"<{tag}{attrs}>"
        return f"<{tag}{attrs}>{self._children(node)}</{tag}>"

    def outputs(self, cells: Sequence[Mapping[str, Any]]) -> str:
        """Every cell's recorded output, in notebook order."""
        out = []
        for cell in cells:
            parts = []
            for o in cell.get("outputs", []):
                data = o.get("data", {})
                if o.get("type") == "error" or "application/vnd.marimo+error" in data:
                    parts.append(f'<pre class="wb-error">{html.escape(json.dumps(data or o, indent=1)[:4000])}</pre>')
                    continue
                for mime in ("application/vnd.vegalite.v6+json", "application/vnd.vegalite.v5+json", "text/html",
                             "text/markdown", "image/svg+xml", "image/png", "application/json", "text/plain"):  # fmt: skip
                    if mime in data:
                        parts.append(self.mime(mime, data[mime]))
                        break
            body = "".join(p for p in parts if p)
            if body.strip():
                out.append(f'<section class="wb-cell" data-cell="{html.escape(str(cell.get("id", "")))}">{body}</section>')
        return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def page(title: str, body: str, stamps: Sequence[str]) -> str:
    """One self-contained HTML page: the stamps at the top, in the flow of the page, then ``body``."""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title><style>{PAGE_CSS}</style>"
            f"</head><body><main><header>{''.join(stamps)}</header>{body}</main></body></html>")  # fmt: skip


def static_page(exported: str, prov: Mapping[str, Any]) -> tuple[str, int]:
    """marimo's exported page as a static page (see the module docstring); returns (HTML, charts drawn)."""
    mount = _MOUNT.search(exported)
    if mount is None:
        raise ValueError("not a marimo HTML export: no __MARIMO_MOUNT_CONFIG__ in the page")
    config = json.loads(mount.group(1))
    files = _FILES.search(exported)
    renderer = StaticRenderer(json.loads(files.group(1)) if files else {})
    body = renderer.outputs(config.get("session", {}).get("cells", []))
    title = (config.get("appConfig") or {}).get("app_title") or str(config.get("filename", "report"))
    return page(title, body, [stamp_html(prov)]), renderer.charts


# --- export ------------------------------------------------------------------------------------------


def _default_config(settings: NotebookSettings) -> dict[str, Any]:
    return default_config(settings).to_dict()


def export_reports(
    out_dir: str | Path = "reports",
    settings: NotebookSettings | None = None,
    notebooks: Sequence[str | Path] | None = None,
    fmt: str = "static",
    timeout_s: float = 900.0,
) -> list[Path]:
    """Export each notebook to ``out_dir/<name>.html``; return the paths.

    fmt: ``"static"`` (default): one self-contained page per notebook that opens from disk with no
    network (outputs as exported, charts as inline SVG); ``"marimo"``: marimo's interactive export
    (it loads marimo's frontend from a CDN). Each page gets a provenance stamp, a sidecar
    ``<name>.json`` with the full provenance (including the default PipelineConfig the notebooks
    start from; each notebook also prints the exact config it ran), and ``index.html`` links them.
    Raises ValueError for an unknown ``fmt`` and FileNotFoundError for a missing notebook before
    running anything, and RuntimeError naming the notebook when its export fails.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt={fmt!r}: expected one of {FORMATS}")
    settings = settings or NotebookSettings()
    paths = [Path(p) for p in notebooks] if notebooks else list_notebooks()
    for nb in paths:
        if not nb.is_file():
            raise FileNotFoundError(f"notebook {nb} does not exist")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    marimo = Path(sys.executable).with_name("marimo")
    written: list[Path] = []
    rows: list[str] = []
    for nb in paths:
        target = out / f"{nb.stem}.html"
        with tempfile.TemporaryDirectory() as tmp:
            exported = Path(tmp) / target.name
            cmd = [str(marimo) if marimo.exists() else "marimo", "export", "html", str(nb), "-o", str(exported), "-f",
                   "--", *settings.cli()]  # fmt: skip
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
            if run.returncode != 0:
                raise RuntimeError(f"exporting {nb.name} failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
            text = exported.read_text(encoding="utf-8")
        prov = provenance(settings.record(), _default_config(settings), notebook=nb.name)
        if fmt == "static":
            text, _ = static_page(text, prov)
        else:
            text = text.replace("<body>", "<body>" + stamp_html(prov), 1)
        target.write_text(text, encoding="utf-8")
        (out / f"{nb.stem}.json").write_text(json.dumps(prov, indent=2, sort_keys=True), encoding="utf-8")
        written.append(target)
        rows.append(f'<li><a href="{target.name}">{html.escape(nb.stem)}</a></li>')
    index = out / "index.html"
    stamp = stamp_html(provenance(settings.record(), _default_config(settings), command="workbench report " + " ".join(map(shlex.quote, settings.cli()))))
    index.write_text(page("Recsys Workbench reports", f"<h1>Recsys Workbench reports</h1><ol>{''.join(rows)}</ol>", [stamp]),
                     encoding="utf-8")  # fmt: skip
    return written


# --- two configs, side by side ------------------------------------------------------------------------


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


def _per_user(pipe: Any, slate: Any, relevance: Any, k: int) -> dict[str, np.ndarray]:
    """Per-user figures of the top ``k`` of ``slate`` (accuracy over users with test items; NaN elsewhere)."""
    from workbench.metrics import beyond
    from workbench.metrics.accuracy import ACCURACY_METRICS, accuracy_metrics

    ds = pipe.train_
    items = slate.items[:, :k]
    acc = accuracy_metrics(items, relevance[slate.users], (k,))
    out = {name: acc[(name, k)] for name in ACCURACY_METRICS}
    out["novelty_bits"] = beyond.novelty(items, ds.item_popularity, ds.n_users)
    out["intra_list_diversity"] = beyond.intra_list_diversity(items, ds.item_features)
    if ds.item_category is not None:
        out["category_diversity"] = beyond.category_diversity(items, ds.item_category)
    if ds.item_age_days is not None:
        out["mean_item_age_days"] = beyond.mean_item_age(items, ds.item_age_days)
    return out


def compare(config_a: str | Path, config_b: str | Path, settings: NotebookSettings | None = None) -> Comparison:
    """Fit (or load from the model store) the pipelines of two TOML configs on the same data, split and seed
    (``settings``: the configs' own ``seed`` fields are replaced by ``settings.seed``), recommend to every
    user and compare: see `Comparison`. Raises ValueError naming a missing or invalid file before fitting."""
    from workbench.lessons import kit
    from workbench.lessons.whatif import Knobs, prepare
    from workbench.metrics import relevance_matrix
    from workbench.metrics.evaluate import Z_95
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
        per_user.append(_per_user(pipe, slate, relevance, k))
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
            d = per_user[1][metric] - per_user[0][metric]
            d = d[~np.isnan(d)]
            if d.size >= 2:
                half = Z_95 * float(d.std(ddof=1)) / np.sqrt(d.size)
                row |= {"diff": float(d.mean()), "diff_low": float(d.mean()) - half, "diff_high": float(d.mean()) + half,
                        "users": int(d.size)}  # fmt: skip
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.report [--out reports] [--data synthetic] [--seed 0] [--small] [--format static|marimo]
    [--compare A.toml B.toml] [notebooks...]``."""
    import argparse

    from workbench.arguments import data_arg, data_help

    parser = argparse.ArgumentParser(prog="workbench report", description=export_reports.__doc__)
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every notebooks/NN_*.py)")
    parser.add_argument("--out", default="reports")
    parser.add_argument("--data", default="synthetic", type=data_arg, help=data_help())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="shrink the synthetic world (quick check)")
    parser.add_argument("--format", choices=FORMATS, default="static",
                        help="static: self-contained pages that open from disk (default); marimo: marimo's interactive "
                             "export (loads marimo's frontend from its CDN)")  # fmt: skip
    parser.add_argument("--compare", nargs=2, metavar=("A.toml", "B.toml"),
                        help="one page comparing two pipeline configs on the same data and seed (instead of the notebooks)")
    args = parser.parse_args(argv)
    settings = NotebookSettings(args.data, args.seed, args.small)
    if args.compare:
        if args.notebooks:
            parser.error("--compare writes one comparison page: give no notebooks with it")
        print(write_compare(*args.compare, out_dir=args.out, settings=settings))
        return 0
    for p in export_reports(args.out, settings, args.notebooks or None, fmt=args.format):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
