# /// script
# [tool.marimo.opengraph]
# title = "Glossary"
# description = "Plain words for every term the notebooks use (docs/GLOSSARY.md as a page); the 'Terms' links of the exercises open it on one entry."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Glossary")

with app.setup:
    import marimo as mo

    from workbench.lessons import guide

    TERMS = guide.glossary()


@app.cell
def _():
    # A page's "Terms: ..." links open this page as ?file=glossary.py&term=<anchor>: that entry comes first.
    _anchor = mo.query_params().get("term") or ""
    _entry = next((t for t in TERMS if t.anchor == _anchor), None)
    if _entry is not None:
        _also = f"\n\n*Also:* {', '.join(_entry.aliases)}" if _entry.aliases else ""
        _top = mo.callout(mo.md(f"## {_entry.term}{_also}\n\n{_entry.definition}"), kind="info")
    elif _anchor:
        _top = mo.callout(mo.md(f"No glossary entry has the anchor `{_anchor}`; every entry is below."), kind="warn")
    else:
        _top = mo.md("")
    _top
    return


@app.cell
def _():
    mo.md(guide.GLOSSARY_FILE.read_text(encoding="utf-8"))
    return


if __name__ == "__main__":
    app.run()
