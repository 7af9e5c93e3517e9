"""The HTML release: `index.html` from Jinja2 templates in `reports/templates/`, with
`assets/plotly.min.js` shipped once beside it. Autoescape on, StrictUndefined, no clock."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pipelines.paths import REPORTS_DIR
from pipelines.release.charts import chart_html, describe, plotly_js
from pipelines.release.context import ReleaseContext
from pipelines.release.model import LEVEL_LABELS

TEMPLATES_DIR = REPORTS_DIR / "templates"
STATIC_DIR = REPORTS_DIR / "static"
PLOTLY_ASSET = "assets/plotly.min.js"


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


def render_html(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> str:
    charts = {}
    for t in ctx.tables:
        if t.chart is not None:
            t.chart.alt, t.chart.description = describe(t.chart, t.number)
            charts[t.id] = Markup(chart_html(t.chart))  # plotly's JSON escapes <, > and /
    symbols_used = {
        t.id: [s for s in ctx.config.symbols
               if any(c.value == s or (s == "[r]" and c.figure_id in ctx.revised.ids) for r in t.rows for c in r.cells)]
        for t in ctx.tables
    }
    sections = [s for s in ctx.config.sections if s.id != "coverage" and ctx.tables_of(s.id)]
    css = (STATIC_DIR / "release.css").read_text(encoding="utf-8")
    js = (STATIC_DIR / "release.js").read_text(encoding="utf-8")
    env = environment()
    return env.get_template("index.html.j2").render(
        ctx=ctx,
        cfg=ctx.config,
        sections=sections,
        charts=charts,
        symbols_used=symbols_used,
        downloads=_downloads(out_dir, ctx, written),
        level_labels=LEVEL_LABELS,
        css=Markup(css),
        js=Markup(js),
        plotly_src=PLOTLY_ASSET,
    )


def write_html(out_dir: Path, ctx: ReleaseContext, written: list[Path]) -> list[Path]:
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    plotly_path = out_dir / PLOTLY_ASSET
    plotly_path.write_text(plotly_js(), encoding="utf-8", newline="\n")
    page = out_dir / "index.html"
    page.write_text(render_html(out_dir, ctx, written), encoding="utf-8", newline="\n")
    return [plotly_path, page]
