"""Does a chart follow the house rules, and does it read as it should once it renders?

- `chart_problems` reads the spec: a title and a one-line reading, titled x/y axes with units, colours
  from the colour-blind-safe palette (`workbench.viz.charts.PALETTE`) and schemes.
- `rendering_problems` draws it through ``vl-convert`` (as a browser would) and lists what a reader would
  miss: a text cut short with "…", a title, subtitle, axis or legend title absent from the drawing, axis
  labels drawn on top of each other, a data mark that draws nothing (`empty_marks`), a drawing wider than
  the page gives it.
"""

from __future__ import annotations

import altair as alt

from workbench.viz.charts import CATEGORY, GREY, ORDERED_SCHEME, PALETTE

NEUTRALS = ("black", "white", GREY)
SCHEMES = ("blues", ORDERED_SCHEME)  # sequential schemes readable with colour vision deficiencies


def chart_problems(chart: alt.TopLevelMixin | dict) -> list[str]:
    """What breaks the house rules: missing title or reading, x/y axes without a title,
    quantitative axes whose title gives no unit in parentheses, a colour outside the
    colour-blind-safe palette (`PALETTE`, neutrals) or a colour scheme outside `SCHEMES`.
    ``chart``: an altair chart or its Vega-Lite spec."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    problems: list[str] = []
    allowed = {c.lower() for c in (*PALETTE.values(), *NEUTRALS)}

    def colours(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "scheme" and isinstance(v, str) and v not in SCHEMES:
                    problems.append(f"colour scheme {v!r} is not one of {SCHEMES}")
                colours(v, k)
        elif isinstance(node, list):
            for v in node:
                colours(v, key)
        elif key in ("color", "fill", "stroke", "range", "category", "value") and isinstance(node, str):
            if (node.startswith("#") or node in ("red", "blue", "green", "orange", "gray", "grey")) and node.lower() not in allowed:
                problems.append(f"colour {node!r} is outside the colour-blind-safe palette")

    colours({k: v for k, v in spec.items() if k not in ("datasets", "data")})
    ranges = (spec.get("config") or {}).get("range") or {}
    if ranges.get("category") != CATEGORY or ranges.get("ordinal") != {"scheme": ORDERED_SCHEME}:
        problems.append("default colours are not the colour-blind-safe palettes (finish the chart with titled)")
    title = spec.get("title")
    if not isinstance(title, dict) or not title.get("text"):
        problems.append("no title")
    elif not title.get("subtitle"):
        problems.append("no one-line reading (subtitle)")

    def walk(node: object) -> None:
        if isinstance(node, dict):
            enc = node.get("encoding")
            if isinstance(enc, dict):
                for ch in ("x", "y"):
                    e = enc.get(ch)
                    if not isinstance(e, dict) or "field" not in e and "aggregate" not in e:
                        continue
                    name = e.get("title") or (e.get("axis") or {}).get("title")
                    if e.get("axis", {}) is None:
                        continue
                    if not name:
                        problems.append(f"{ch} axis of {e.get('field')!r} has no title")
                    elif e.get("type") == "quantitative" and "(" not in str(name):
                        problems.append(f"{ch} axis {name!r} gives no unit in parentheses")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return problems


ELLIPSIS = "…"
LEGEND_CHANNELS = ("color", "fill", "stroke", "size", "shape", "opacity", "strokeDash")


def _spec_texts(spec: dict) -> tuple[list[str], list[str]]:
    """(titles a reader must see in full: title, subtitle, axis and legend titles; every string in the spec)."""
    required: list[str] = []
    strings: list[str] = []
    title = spec.get("title")
    if isinstance(title, dict):
        required += [t for t in (title.get("text"), title.get("subtitle")) if isinstance(t, str) and t]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            enc = node.get("encoding")
            if isinstance(enc, dict):
                for channel, e in enc.items():
                    if not isinstance(e, dict) or "field" not in e:
                        continue
                    guide = "axis" if channel in ("x", "y") else "legend" if channel in LEGEND_CHANNELS else None
                    if guide is None or (guide in e and e[guide] is None):
                        continue
                    name = (e.get(guide) or {}).get("title", e.get("title"))
                    if isinstance(name, str) and name:
                        required.append(name)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            strings.append(node)

    walk(spec)
    return list(dict.fromkeys(required)), strings


def _label_marks(node: object, out: list[list[dict]]) -> list[list[dict]]:
    if isinstance(node, dict):
        if node.get("marktype") == "text" and node.get("role") == "axis-label":
            out.append([it for it in node.get("items", []) if it.get("text") not in (None, "") and it.get("opacity", 1) != 0])
        for v in node.values():
            _label_marks(v, out)
    elif isinstance(node, list):
        for v in node:
            _label_marks(v, out)
    return out


def _overlaps(labels: list[dict], char_width: float = 0.55) -> list[str]:
    """Neighbouring axis labels whose (estimated) boxes intersect: widths from the character count
    (``char_width`` em per character), heights from the font size; rotated labels are skipped."""
    if len(labels) < 2 or any(it.get("angle") not in (None, 0) for it in labels):
        return []
    size = [float(it.get("fontSize") or 10) for it in labels]
    horizontal = len({round(float(it["y"]), 1) for it in labels}) == 1
    spans = []
    for it, fs in zip(labels, size):
        if horizontal:
            w, x = char_width * fs * len(str(it["text"])), float(it["x"])
            lo = {"left": x, "right": x - w}.get(it.get("align"), x - w / 2)
            spans.append((lo, lo + w, str(it["text"])))
        else:
            y = float(it["y"])
            spans.append((y - fs / 2, y + fs / 2, str(it["text"])))
    spans.sort()
    return [f"axis labels {a!r} and {b!r} overlap" for (_, end, a), (start, _, b) in zip(spans, spans[1:]) if start < end - 0.5]


def _placed(item: dict) -> bool:
    """A scenegraph item the renderer could place: numeric x and y (NaN arrives as null), and numeric
    width/height where it has them (a bar from 0 on a log axis gets none)."""
    num = (int, float)
    return (isinstance(item.get("x"), num) and isinstance(item.get("y"), num)
            and all(isinstance(item[key], num) for key in ("width", "height") if key in item))  # fmt: skip


def _data_marks(node: object, out: list[dict]) -> list[dict]:
    if isinstance(node, dict):
        if node.get("role") == "mark" and node.get("marktype") not in (None, "group"):
            out.append(node)
        for v in node.values():
            _data_marks(v, out)
    elif isinstance(node, list):
        for v in node:
            _data_marks(v, out)
    return out


def empty_marks(scenegraph: dict) -> list[str]:
    """Marks of a rendered chart (``vl_convert.vegalite_to_scenegraph``) that draw nothing: a chart with
    no data mark, or a data mark with no item the renderer could place (no data rows, or rows its scales
    cannot place, such as bars stacked from 0 on a log axis)."""
    marks = _data_marks(scenegraph, [])
    if not marks:
        return ["no data mark is drawn"]
    problems = []
    for m in marks:
        items = m.get("items", [])
        if not any(_placed(it) for it in items):
            why = "no data rows" if not items else f"none of its {len(items)} items has a position"
            problems.append(f"mark {m.get('name') or m.get('marktype')!r} draws nothing ({why})")
    return problems


def rendering_problems(chart: alt.TopLevelMixin | dict, max_width: float | None = None) -> list[str]:
    """What a reader would miss once the chart renders (through ``vl-convert``, as a browser would):
    a text cut short with "…", a title, subtitle, axis or legend title absent from the drawing,
    axis labels drawn on top of each other, a data mark that draws nothing (`empty_marks`), or a
    drawing wider than ``max_width`` pixels."""
    import xml.etree.ElementTree as ET

    import vl_convert as vlc

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    svg = ET.fromstring(vlc.vegalite_to_svg(spec))
    texts = ["".join(el.itertext()) for el in svg.iter() if el.tag.endswith("}text") or el.tag == "text"]
    required, strings = _spec_texts(spec)
    problems = [f"text cut short: {t!r}" for t in texts if ELLIPSIS in t and not any(t in s for s in strings)]
    problems += [f"missing from the drawing: {t!r}" for t in required if t not in texts]
    scenegraph = vlc.vegalite_to_scenegraph(spec)
    for labels in _label_marks(scenegraph, []):
        problems += _overlaps(labels)
    problems += empty_marks(scenegraph)
    width = float(svg.get("width", 0))
    if max_width is not None and width > max_width:
        problems.append(f"{width:.0f} px wide, over the {max_width:.0f} px the page gives it")
    return problems
