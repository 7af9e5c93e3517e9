"""The HTML release: the main page `index.html` and the pages beside it, from Jinja2 templates
in `reports/templates/` that extend one base (`_base.html.j2`: header, the pages' navigation,
the draft banner and the footer). Autoescape on, StrictUndefined, no clock.

Pages (docs/decisions/0021-release-pages.md):
- `index.html`: main points with the statistician's commentary, one section per theme with its
  headline charts and tables, the sources side by side, revisions, downloads and contact;
- `tables.html`: every other table of the themes, with its chart;
- `authorities.html`: the local authority and police force area tables (search and sort);
- `data-quality.html`: coverage, completeness, resubmissions and the problems found;
- `methodology.html`: sources, things you need to know, definitions, disclosure control, symbols;
- `technical.html`: how each figure was made (figure ids, queries, input files and hashes);
- `quality.html` (pipelines/release/quality_page.py): the quality report.
Charts are drawn without scripts (pipelines/release/charts.py); the only script, for searching
and sorting, is inlined into the pages whose tables use it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pipelines.paths import REPORTS_DIR
from pipelines.release.charts import chart_html, describe
from pipelines.release.context import ReleaseContext
from pipelines.release.model import LEVEL_LABELS

TEMPLATES_DIR = REPORTS_DIR / "templates"
STATIC_DIR = REPORTS_DIR / "static"
# (file, title in the navigation, template); quality.html is written by quality_page.py
PAGES = (
    ("index.html", "Main points and themes", "index.html.j2"),
    ("tables.html", "All tables", "tables.html.j2"),
    ("authorities.html", "Local authorities", "authorities.html.j2"),
    ("data-quality.html", "Data quality and coverage", "data-quality.html.j2"),
    ("methodology.html", "Methodology", "methodology.html.j2"),
    ("technical.html", "How each figure was made", "technical.html.j2"),
    ("quality.html", "Quality report", "quality.html.j2"),
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment per process, so each template is compiled once however many releases
    are written (it still notices an edited template)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["slug"] = lambda s: "".join(ch if ch.isalnum() else "-" for ch in str(s).lower()).strip("-")
    env.globals["release_pages"] = [(f, title) for f, title, _ in PAGES]
    return env


def _size(path: Path) -> str:
    n = path.stat().st_size
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{(n + 512) // 1024} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _downloads(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> list[dict[str, str]]:
    by_name = {p.relative_to(out_dir).as_posix(): p for p in written}
    items = []

    def add(rel: str, title: str, description: str, table: bool = False) -> None:
        if rel in by_name:
            items.append({"href": rel, "title": title, "description": description, "size": _size(by_name[rel]),
                          "table": table})

    add(f"dasa-{ctx.year}.ods", f"All tables, OpenDocument spreadsheet (dasa-{ctx.year}.ods)",
        "Cover sheet, contents, notes and one table per sheet. Opens in LibreOffice, Excel and most spreadsheet programs.")
    add(f"dasa-{ctx.year}.xlsx", f"All tables, Excel workbook (dasa-{ctx.year}.xlsx)",
        "The same workbook in Excel format.")
    add("data/figures.csv", "Every figure, one row each (data/figures.csv)",
        "Tidy data: measure, breakdown, year, geography, value as published, status, numerator, denominator, unit.")
    add("data/metadata.csv", "Column descriptions (data/metadata.csv)", "Describes every column of every CSV file.")
    for t in ctx.tables:
        add(f"data/{t.id}.csv", f"Table {t.number}: {t.title}", "", table=True)
    add("data/revisions.csv", "Figures revised since the previous release of this year (data/revisions.csv)",
        "Previous and new value of each revised figure, with the reason; only the header when there is none.")
    add("data/returns.csv", "Returns expected and received (data/returns.csv)",
        "One row per authority expected to make a return, per year.")
    add("data/issues.csv", "Problems found reading the inputs (data/issues.csv)",
        "Every structural error, cell error and warning, with file, sheet and cell or line.")
    items.append({"href": "quality.html", "title": "Quality report (quality.html)", "size": "", "table": False,
                  "description": "Every check and its outcome, decisions on each issue, and validation results."})
    add("data/quality_issues.csv", "Every issue with its status and decision (data/quality_issues.csv)",
        "Open, accepted (with the reason and who decided) or fixed by a resubmission.")
    for other in ctx.config.other_downloads:
        items.append({"href": other["file"], "title": other.get("title", other["file"]),
                      "description": other.get("description", ""), "size": "", "table": False})
    return items


def page_context(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> dict:
    """What every page's template is given."""
    charts = {}
    for t in ctx.tables:
        if t.chart is not None:
            t.chart.alt, t.chart.description = describe(t.chart, t.number)
            charts[t.id] = chart_html(t.chart)
    symbols_used = {
        t.id: [s for s in ctx.config.symbols
               if any(c.value == s or (s == "[r]" and c.figure_id in ctx.revised.ids) for r in t.rows for c in r.cells)]
        for t in ctx.tables
    }
    sections = [s for s in ctx.config.sections if s.id != "coverage" and ctx.tables_of(s.id)]
    css = (STATIC_DIR / "release.css").read_text(encoding="utf-8")
    js = (STATIC_DIR / "release.js").read_text(encoding="utf-8")
    return dict(
        ctx=ctx,
        cfg=ctx.config,
        sections=sections,
        charts=charts,
        symbols_used=symbols_used,
        commentary=ctx.commentary,
        downloads=_downloads(out_dir, ctx, written),
        level_labels=LEVEL_LABELS,
        css=Markup(css),
        js=Markup(js),
    )


def render_pages(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> dict[str, str]:
    """Every page but quality.html, by file name."""
    env = environment()
    values = page_context(out_dir, ctx, written)
    return {name: env.get_template(template).render(page=name, **values)
            for name, _, template in PAGES if name != "quality.html"}


def write_html(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> list[Path]:
    out = []
    for name, text in render_pages(out_dir, ctx, written).items():
        page = out_dir / name
        page.write_text(text, encoding="utf-8", newline="\n")
        out.append(page)
    return out
