"""Reproducible reports: notebook pages that open anywhere, with provenance stamps, and config comparisons.

One module per question:

- ``render``: how does a notebook's exported page open anywhere, with nothing to fetch? (`StaticRenderer`,
  `static_page`, `page`, `stamp_html`).
- ``export``: which notebooks are there, and how are they run into reports? (`list_notebooks`,
  `export_reports`).
- ``comparison``: does config B recommend better than config A on the same data, split and seed?
  (`compare`, `compare_html`, `write_compare`; its per-user figures and paired differences are
  `workbench.metrics.per_user`'s).
- ``command``: ``workbench report`` (`main`; ``python -m workbench.report``).

`provenance` (`workbench.provenance`) records what a reader needs to re-run a page and get the same
numbers; every notebook shows it in its footer (`workbench.lessons.kit.footer`).
"""

from workbench.report.command import main
from workbench.report.comparison import Comparison, compare, compare_html, write_compare
from workbench.report.export import FORMATS, NOTEBOOK_DIR, ROOT, export_reports, list_notebooks
from workbench.report.render import StaticRenderer, page, stamp_html, static_page

__all__ = [
    "FORMATS", "NOTEBOOK_DIR", "ROOT", "Comparison", "StaticRenderer", "compare", "compare_html", "export_reports",
    "list_notebooks", "main", "page", "stamp_html", "static_page", "write_compare",
]  # fmt: skip
