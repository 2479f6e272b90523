"""Static pages: how does a notebook's page open anywhere, with nothing to fetch?

`static_page` turns the page of ``marimo export html`` into a **static** one: marimo's export draws
its page with a JavaScript frontend fetched from a CDN, and marimo's self-contained alternative (``html-wasm``)
re-runs the notebook in the browser under Pyodide, where torch and FAISS do not exist. So the
static page keeps the outputs the export recorded (text, tables, statistics, the values the
controls had) and draws every chart as inline SVG with vl-convert: one HTML file with nothing to
fetch, which opens from disk (``file://``) with no network. ``fmt="marimo"`` keeps marimo's own
interactive pages instead (they need marimo's frontend from its CDN).

Each page carries a provenance stamp in the flow of the page (`stamp_html`; it never covers content).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd

TABLE_ROWS = 200  # rows a static table shows (the rest are counted)


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
