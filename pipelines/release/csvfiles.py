"""Tidy and per-table CSV files, and `metadata.csv` describing every column of every CSV.

UTF-8, `\\n` line endings, deterministic row order. Text cells that a spreadsheet program
would read as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return) get a `'`
prefix; published numbers such as `-3.2` in value columns stay numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipelines.metric_catalog import SOURCES
from pipelines.release.context import RETURNS_COLUMNS, ReleaseContext
from pipelines.release.model import FIGURE_COLUMNS, LEVEL_ORDER, is_number_text
from pipelines.release.tables import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_FIGURE_COLUMNS = {"value", "numerator", "denominator"}
VALUE_TEXT = "number or symbol"

FIGURE_DESCRIPTIONS = {
    "figure_id": "Stable id of the figure: {measure}.{breakdown}.{geography_code}.{time_period}. "
                 "The same figure has the same id in every release.",
    "measure": "Id of the measure (see the Methodology section of index.html for its definition).",
    "breakdown": "Breakdown of the measure; all is the total.",
    "time_period": "Financial year (April to March), written YYYY-YY.",
    "geographic_level": "national, regional, local_authority or police_force_area.",
    "geography_code": "ONS GSS code of the geography.",
    "geography_name": "Name of the geography.",
    "value": "The figure as published: a number, or a symbol ([c], [x], [z], [low], [b]) explained in the release.",
    "value_status": "published, rounded, not_available, not_applicable, low, suppressed or break_in_series.",
    "numerator": "Numerator of a rate or share, after disclosure control; empty for a count.",
    "denominator": "Denominator of a rate or share, after disclosure control; empty for a count.",
    "unit": "Unit of the value.",
}
RETURNS_DESCRIPTIONS = {
    "financial_year": "Financial year of the return.",
    "gss_code": "ONS GSS code of the Tier 1 authority expected to make a return.",
    "authority_name": "Name of the authority.",
    "region_code": "ONS GSS code of the authority's region.",
    "region_name": "Name of the authority's region.",
    "received": "yes when a usable return was received, no when none was (its figures are [x]).",
    "file": "The workbook used (path under data/raw), empty when no return was received.",
    "submission_number": "Submission number of the workbook used (resubmissions count up from 1).",
    "superseded_files": "Earlier submissions not used, separated by '; '.",
    "supported_completeness": "Completeness of the people supported section: complete, partial or not_collected.",
    "characteristics_completeness": "Completeness of the characteristics section: complete, partial or not_collected.",
}
ISSUE_DESCRIPTIONS = {
    "financial_year": "Financial year of the input.",
    "source": "Source of the input: authority_returns, womens_aid or safelives.",
    "file": "Input file (path under data/raw).",
    "sheet": "Sheet of a workbook, empty for other files.",
    "location": "Cell (for example D7) or line of the problem.",
    "level": "structural (the return was set aside), cell_error (the cell was treated as not collected) or warning.",
    "code": "Id of the check that found the problem.",
    "message": "What was found, as written by the check (free text).",
}
METADATA_DESCRIPTIONS = {
    "file": "CSV file described (path inside the release's data folder).",
    "column": "Column heading, exactly as in the file.",
    "position": "Position of the column in the file, from 1.",
    "type": "text, number, or number or symbol.",
    "description": "What the column holds.",
}


def safe_text(value: str) -> str:
    """Make a text cell safe to open in a spreadsheet program."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + value if value[:1] in _FORMULA_CHARS and value else value


_FORMULA_CHARS = frozenset(FORMULA_STARTS)


def safe_cell(value: str, numeric: bool) -> str:
    if numeric and value[:1] == "-" and is_number_text(value):
        return value  # a negative number, not a formula
    return safe_text(value)


def csv_bytes(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> bytes:
    numeric = numeric or set()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([safe_text(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v, i in numeric) for i, v in enumerate(row)])
    return buf.getvalue().encode("utf-8")


def figure_rows(ctx: ReleaseContext) -> list[list[str]]:
    frame = ctx.figures.select(FIGURE_COLUMNS)
    rows = [["" if v is None else str(v) for v in r] for r in frame.iter_rows()]
    pos = {c: i for i, c in enumerate(FIGURE_COLUMNS)}
    year_rank = {y: i for i, y in enumerate(ctx.years)}
    rows.sort(key=lambda r: (
        r[pos["measure"]], r[pos["breakdown"]], year_rank.get(r[pos["time_period"]], 99), r[pos["time_period"]],
        LEVEL_ORDER.get(r[pos["geographic_level"]], 9), r[pos["geography_code"]], r[pos["figure_id"]],
    ))
    return rows


def table_frame(table: Table) -> tuple[list[str], list[list[str]], set[int]]:
    """Headings, rows and the positions of value columns of a table, for CSV and spreadsheets."""
    header: list[str] = []
    for i, label in enumerate(table.row_labels):
        header.append(label)
        if table.geography_position == i:
            header.append(f"{label} code")
            if table.show_region:
                header.append("Region")
    first_value = len(header)
    header += [c.flat for c in table.columns]
    rows = []
    for r in table.rows:
        out: list[str] = []
        for i, h in enumerate(r.headers):
            out.append(h)
            if table.geography_position == i:
                out.append(r.code or "")
                if table.show_region:
                    out.append(r.region or "")
        out += [c.value for c in r.cells]
        rows.append(out)
    return header, rows, set(range(first_value, len(header)))


def _table_column_docs(ctx: ReleaseContext, table: Table) -> list[tuple[str, str, str]]:
    header, _, numeric = table_frame(table)
    docs = []
    value_columns = iter(table.columns)
    for i, h in enumerate(header):
        if i not in numeric:
            if h.endswith(" code"):
                desc, typ = "ONS GSS code of the geography in the row.", "text"
            elif h == "Region" and table.show_region:
                desc, typ = "Region of the local authority.", "text"
            else:
                desc, typ = f"Row heading: {h}.", "text"
            docs.append((h, typ, desc))
            continue
        col = next(value_columns)
        measures = {col.key.get("measure") or table.fixed.get("measure")} - {None}
        if not measures:
            measures = set(table.measures)
        parts = [f"{col.flat}."]
        for m in sorted(measures):
            d = ctx.idx.definition(m)
            if ctx.idx.is_change(m):
                parts.append(f"{ctx.idx.title(m)}: {ctx.config.change_note}")
            elif d:
                parts.append(f"{d.title}: {d.definition} Source: {SOURCES.get(d.source, d.source)}.")
        parts.append("Values as published: a number, or a symbol explained in the release.")
        docs.append((h, VALUE_TEXT, " ".join(parts)))
    return docs


def write_csvs(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    metadata: list[list[str]] = []

    def emit(name: str, header: list[str], rows: list[list[str]], numeric: set[int],
             docs: list[tuple[str, str, str]]) -> None:
        path = data / name
        path.write_bytes(csv_bytes(header, rows, numeric))
        written.append(path)
        for pos, (col, typ, desc) in enumerate(docs, start=1):
            metadata.append([name, col, str(pos), typ, desc])

    fig_numeric = {i for i, c in enumerate(FIGURE_COLUMNS) if c in NUMERIC_FIGURE_COLUMNS}
    emit("figures.csv", list(FIGURE_COLUMNS), figure_rows(ctx), fig_numeric,
         [(c, VALUE_TEXT if c in NUMERIC_FIGURE_COLUMNS else "text", FIGURE_DESCRIPTIONS[c]) for c in FIGURE_COLUMNS])
    for table in ctx.tables:
        header, rows, numeric = table_frame(table)
        emit(f"{table.id}.csv", header, rows, numeric, _table_column_docs(ctx, table))
    emit("returns.csv", list(RETURNS_COLUMNS), ctx.returns_rows, set(),
         [(c, "text", RETURNS_DESCRIPTIONS[c]) for c in RETURNS_COLUMNS])
    emit("issues.csv", ctx.issue_columns, [[r[c] for c in ctx.issue_columns] for r in ctx.issues], set(),
         [(c, "text", ISSUE_DESCRIPTIONS.get(c, f"{c.replace('_', ' ').capitalize()} (recorded with the issue).")) for c in ctx.issue_columns])
    meta_header = ["file", "column", "position", "type", "description"]
    for pos, col in enumerate(meta_header, start=1):
        metadata.append(["metadata.csv", col, str(pos), "number" if col == "position" else "text",
                         METADATA_DESCRIPTIONS[col]])
    path = data / "metadata.csv"
    path.write_bytes(csv_bytes(meta_header, metadata, {2}))
    written.append(path)
    return written
