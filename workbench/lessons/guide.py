"""The guided route through the notebooks: the learning path and the glossary, read from the files.

- `learning_path`: one `Step` per numbered notebook (``notebooks/NN_name.py``), read from the notebook
  itself: its title and one-line description (the PEP 723 header's ``[tool.marimo.opengraph]``, which
  marimo's index page also shows; else ``app_title`` and the first paragraph), the controls it offers
  (their labels), its 'Your turn' exercises (`workbench.lessons.exercises`), an estimate of the time it
  takes, and the notebook that comes before it (``[tool.workbench] after = [...]`` in the header, else
  the previous number). Adding a notebook adds its step.
- `glossary`: the entries of ``docs/GLOSSARY.md``; `used_on` picks those a page's source mentions and
  `panel` shows them on the page ("Words used on this page").
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
GLOSSARY_FILE = ROOT / "docs" / "GLOSSARY.md"
WORDS_PER_MINUTE = 150  # reading with the page open, not skimming
MINUTES_PER_CONTROL = 2  # moving a control and reading what changed
MINUTES_PER_EXERCISE = 8  # writing one small function until its check passes
_HEADER = re.compile(r"^# /// script\s*$(.*?)^# ///\s*$", re.M | re.S)
_TEXT = re.compile(r'(?:mo\.md|kit\.show)\(\s*r?f?(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', re.S)
_LABEL = re.compile(r'\blabel=(?:f?"([^"]+)"|\'([^\']+)\')')


def header(source: str) -> dict[str, Any]:
    """The notebook's PEP 723 ``# /// script`` block as TOML (empty when it has none)."""
    m = _HEADER.search(source)
    if m is None:
        return {}
    body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in m.group(1).splitlines())
    return tomllib.loads(body)


@dataclass(frozen=True)
class Step:
    """One notebook on the learning path; see the module docstring."""

    stem: str
    title: str
    description: str
    controls: tuple[str, ...]
    exercises: tuple[str, ...]
    words: int
    minutes: int
    after: tuple[str, ...]

    @property
    def file(self) -> str:
        return f"{self.stem}.py"

    def to_try(self) -> str:
        """What to try, from what the page offers: its controls and its exercises."""
        parts = []
        if self.controls:
            parts.append("change " + ", ".join(self.controls[:6]) + (" …" if len(self.controls) > 6 else ""))
        if self.exercises:
            parts.append("write " + " and ".join(self.exercises))
        return "; ".join(parts) if parts else "read it top to bottom"


def _first_paragraph(source: str) -> str:
    for text in _TEXT.findall(source):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", re.sub(r"^\s*#.*$", "", text, flags=re.M)) if p.strip()]
        if paragraphs:
            return re.sub(r"\s+", " ", paragraphs[0])
    return ""


def read_step(path: Path, previous: str | None) -> Step:
    """The `Step` of one notebook file; ``previous``: the stem numbered before it."""
    from workbench.lessons.exercises import for_notebook

    source = path.read_text(encoding="utf-8")
    meta = header(source)
    og = meta.get("tool", {}).get("marimo", {}).get("opengraph", {})
    own = meta.get("tool", {}).get("workbench", {})
    app_title = re.search(r'app_title="([^"]+)"', source)
    title = og.get("title") or (app_title.group(1) if app_title else path.stem.replace("_", " "))
    description = og.get("description") or _first_paragraph(source)
    controls = tuple(dict.fromkeys(a or b for a, b in _LABEL.findall(source) if "{" not in (a or b)))
    if "kit.data_picker(" in source and not any(c.startswith("data set") for c in controls):
        controls = ("data set", *controls)
    exercises = tuple(ex.title for ex in for_notebook(path.stem))
    words = sum(len(re.findall(r"[A-Za-z]{2,}", t)) for t in _TEXT.findall(source))
    minutes = words / WORDS_PER_MINUTE + MINUTES_PER_CONTROL * len(controls) + MINUTES_PER_EXERCISE * len(exercises)
    after = tuple(own.get("after", [previous] if previous else []))
    return Step(path.stem, title, description, controls, exercises, words, max(5, 5 * math.ceil(minutes / 5)), after)


def learning_path(folder: Path = NOTEBOOK_DIR) -> list[Step]:
    """Every numbered notebook of ``folder`` as a `Step`, in teaching order."""
    paths = sorted(folder.glob("[0-9][0-9]_*.py"))
    steps, previous = [], None
    for path in paths:
        steps.append(read_step(path, previous))
        previous = path.stem
    return steps


# --- the glossary --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One glossary entry: its heading, the other spellings pages use, and its definition (Markdown)."""

    term: str
    aliases: tuple[str, ...]
    definition: str

    @property
    def anchor(self) -> str:
        """GitHub's anchor for the entry's heading."""
        return "".join(c for c in self.term.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def glossary(path: Path = GLOSSARY_FILE) -> list[Term]:
    """The entries of ``docs/GLOSSARY.md`` (``### Term``, an optional ``*Also:* a, b`` line, the definition)."""
    out = []
    for block in re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        body = re.split(r"^## ", body, flags=re.M)[0].strip()
        aliases: tuple[str, ...] = ()
        m = re.match(r"\*Also:\*\s*(.+)\n", body)
        if m:
            aliases = tuple(a.strip() for a in m.group(1).split(",") if a.strip())
            body = body[m.end():].strip()
        out.append(Term(head.strip(), aliases, re.sub(r"\s*\n\s*", " ", body)))
    return out


def _mentions(text: str, word: str) -> bool:
    if len(word) <= 2 and not word.isupper():
        return False  # one- or two-letter spellings (k, p, ε) are too common to mean the term
    flags = 0 if (word.isupper() or any(c.isupper() for c in word[1:])) else re.I
    return re.search(rf"(?<![\w@]){re.escape(word)}(?![\w])", text, flags) is not None


def prose(source: str) -> str:
    """The text of a notebook's string literals (its Markdown, statements and labels), without its code:
    what a reader sees, so that ``df.map(...)`` does not count as a mention of MAP."""
    import io
    import tokenize

    parts = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING:
            parts.append(re.sub(r"\{[^{}]*\}", " ", tok.string))  # f-string fields are code
    return "\n".join(parts)


def used_on(text: str, terms: list[Term] | None = None) -> list[Term]:
    """The glossary entries whose term or an alias the text mentions, in glossary order."""
    terms = glossary() if terms is None else terms
    return [t for t in terms if any(_mentions(text, w) for w in (t.term, *t.aliases))]


def panel(notebook: str | Path, *shown: str) -> Any:
    """A collapsed "Words used on this page" accordion with the glossary entries the notebook's prose mentions.

    shown: names the page computes and shows (model names from its config, metric labels), which its
    source does not spell out."""
    import marimo as mo

    terms = used_on(prose(Path(notebook).read_text(encoding="utf-8")) + "\n" + "\n".join(shown))
    text = "\n\n".join(f"**{t.term}**: {t.definition}" for t in terms)
    return mo.accordion({f"Words used on this page ({len(terms)}; all of them in docs/GLOSSARY.md)": mo.md(text)})
