"""Tidy and per-table CSV files, and `metadata.csv` describing every column of every CSV.

UTF-8, `\\n` line endings, deterministic row order. Text cells that a spreadsheet program
would read as a formula (starting `=`, `+`, `-`, `@`, tab or carriage return) get a `'`
prefix; published numbers such as `-3.2` in value columns stay numbers. The rule is
`pipelines.cell_text`'s, shared with the spreadsheets and the query lists. Every file is
written inside `data/` through `pipelines.safe_paths.inside` (table ids become file names).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipelines.cell_text import (FORMULA_START_RE, FORMULA_STARTS, NUMBER_RE, QUOTE, csv_bytes,  # noqa: F401
                                 safe_cell, safe_text)
from pipelines.metric_catalog import SOURCES
from pipelines.release.context import RETURNS_COLUMNS, ReleaseContext
from pipelines.release.model import FIGURE_COLUMNS, LEVEL_ORDER
from pipelines.release.tables import Table
from pipelines.safe_paths import inside

Docs = list[tuple[str, str, str]]  # (column, type, description) of each column of a file

NUMERIC_FIGURE_COLUMNS = {"value", "numerator", "denominator"}
VALUE_TEXT = "number or symbol"

FIGURE_DESCRIPTIONS = {
    "figure_id": "Stable id of the figure: {measure}.{breakdown}.{geography_code}.{time_period}. "
                 "The same figure has the same id in every release.",
    "measure": "Id of the measure (see methodology.html for its definition).",
    "breakdown": "Breakdown of the measure; all is the total.",
    "time_period": "Financial year (April to March), written YYYY-YY.",
    "geographic_level": "national, regional, local_authority or police_force_area.",
    "geography_code": "ONS GSS code of the geography.",
    "geography_name": "Name of the geography.",
    "value": "The figure as published: a number, or a symbol ([c], [x], [z], [low], [b]) explained in the release.",
    "value_status": "published, rounded, not_available, not_applicable, low, suppressed, break_in_series, or "
                    "revised (a number changed since the previous release of the year, shown with [r]; "
                    "see revisions.csv).",
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
REVISION_DESCRIPTIONS = {
    "figure_id": "Stable id of the revised figure (as in figures.csv).",
    "measure": "Id of the measure.",
    "breakdown": "Breakdown of the measure; all is the total.",
    "time_period": "Financial year of the figure.",
    "geographic_level": "national, regional, local_authority or police_force_area.",
    "geography_code": "ONS GSS code of the geography.",
    "geography_name": "Name of the geography.",
    "previous_value": "The figure as published in the previous release of this year: a number or a symbol "
                      "(a figure withheld, [c], in either release is not listed).",
    "value": "The figure as published in this release: a number or a symbol.",
    "unit": "Unit of the value.",
    "reason": "Why it changed: the input files that differ from the previous release (resubmitted returns "
              "with their old and new file and submission number, or changed extracts).",
}
METADATA_DESCRIPTIONS = {
    "file": "CSV file described (path inside the release's data folder).",
    "column": "Column heading, exactly as in the file.",
    "position": "Position of the column in the file, from 1.",
    "type": "text, number, or number or symbol.",
    "description": "What the column holds.",
}


def safe_series(col: pl.Series, numeric: bool, *, has_cr: bool = True, has_risky: bool = True) -> pl.Series:
    """`safe_cell` over a whole String column (polars, not a Python call per cell).
    `has_cr` / `has_risky` False say the column has no carriage return / no cell starting
    with a formula character, so that step can be skipped."""
    text = col
    if has_cr and col.str.contains("\r", literal=True).any():
        text = col.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
    if not (has_risky or has_cr):
        return text
    risky = text.str.contains(FORMULA_START_RE)
    if not risky.any():
        return text
    if numeric:  # a negative number is not a formula (cell_text.is_negative_number)
        risky = risky & ~col.str.contains(NUMBER_RE)
    return pl.select(pl.when(risky).then(pl.lit(QUOTE) + text).otherwise(text)).to_series().alias(col.name)


def frame_csv_bytes(header: Sequence[str], frame: pl.DataFrame, numeric: set[int] | None = None) -> bytes:
    """The bytes of `csv_bytes(header, rows, numeric)` for rows held in a frame of String
    columns (nulls are empty cells): the cells are made safe and written by polars."""
    numeric = numeric or set()
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow([safe_text(h) for h in header])
    head = buf.getvalue().encode("utf-8")
    if frame.height == 0:
        return head
    frame = frame.select(pl.all().fill_null(""))
    # Which columns need work, found in one parallel pass: nearly all need none.
    flags = frame.select(
        *(pl.col(c).str.contains("\r", literal=True).any().alias(f"cr{i}") for i, c in enumerate(frame.columns)),
        *(pl.col(c).str.contains(FORMULA_START_RE).any().alias(f"risky{i}") for i, c in enumerate(frame.columns)),
    ).row(0, named=True)
    columns = []
    for i, col in enumerate(frame.get_columns()):
        col = safe_series(col, i in numeric, has_cr=flags[f"cr{i}"], has_risky=flags[f"risky{i}"]).alias(f"c{i}")
        if frame.width > 1:  # csv writes an empty cell bare; polars quotes "" and writes null bare
            col = col.replace("", None)
        columns.append(col)
    # (A lone empty cell is a row of its own: csv and polars both write it as "".)
    body = pl.DataFrame(columns).write_csv(include_header=False, line_terminator="\n", quote_style="necessary")
    return head + body.encode("utf-8")


def figures_frame(ctx: ReleaseContext) -> pl.DataFrame:
    """figures.csv's rows, as text, in their published order."""
    frame = ctx.figures.select(_text_column(ctx.figures, c) for c in FIGURE_COLUMNS)
    year_rank = {y: i for i, y in enumerate(ctx.years)}
    return frame.sort(
        "measure", "breakdown",
        pl.col("time_period").replace_strict(year_rank, default=99, return_dtype=pl.Int64),
        "time_period",
        pl.col("geographic_level").replace_strict(LEVEL_ORDER, default=9, return_dtype=pl.Int64),
        "geography_code", "figure_id",
        maintain_order=True,
    )


def _text_column(frame: pl.DataFrame, name: str) -> pl.Series:
    """A column as `str(v)` would write it, None as ''."""
    col = frame.get_column(name)
    if col.dtype == pl.String:
        return col.fill_null("")
    return pl.Series(name, ["" if v is None else str(v) for v in col.to_list()], dtype=pl.String)


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
        measures: set[str] = {m for m in (col.key.get("measure") or table.fixed.get("measure"),) if m is not None}
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


DRAFT_TEXT = "DRAFT: not for publication"
DRAFT_FILE = "DRAFT-NOT-FOR-PUBLICATION.txt"  # beside the CSVs of a draft, so the folder itself says so
DRAFT_NOTE = ("Every file in this folder belongs to a DRAFT release, built for checking while some data issues "
              "are open: not for publication. The files have the columns of a final release; metadata.csv says "
              "DRAFT on every row, and a final release has neither this file nor the word DRAFT.\n")


def _revision_rows(ctx: ReleaseContext):
    """revisions.csv: one row per revised figure (header only when there is none)."""
    from pipelines.revisions import REVISION_COLUMNS

    numeric = {"previous_value", "value"}
    rows = [[str(r.get(c, "")) for c in REVISION_COLUMNS] for r in ctx.revisions]
    return (list(REVISION_COLUMNS), rows, {i for i, c in enumerate(REVISION_COLUMNS) if c in numeric},
            [(c, VALUE_TEXT if c in numeric else "text", REVISION_DESCRIPTIONS[c]) for c in REVISION_COLUMNS])


def write_csvs(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    data = out_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    metadata: list[list[str]] = []

    def emit(name: str, header: Sequence[str], rows: list[list[str]] | pl.DataFrame, numeric: set[int],
             docs: list[tuple[str, str, str]]) -> None:
        path = inside(data, name)
        if path in written:  # a table id that is the name of another file (config.RESERVED_TABLE_IDS)
            raise ValueError(f"{name} would be written twice in {data}")
        if isinstance(rows, pl.DataFrame):
            path.write_bytes(frame_csv_bytes(header, rows, numeric))
        else:
            path.write_bytes(csv_bytes(header, rows, numeric))
        written.append(path)
        for pos, (col, typ, desc) in enumerate(docs, start=1):  # a draft says so on every row (decision 0009)
            metadata.append([name, col, str(pos), typ, f"{DRAFT_TEXT}. {desc}" if ctx.draft else desc])

    fig_numeric = {i for i, c in enumerate(FIGURE_COLUMNS) if c in NUMERIC_FIGURE_COLUMNS}
    # a year of returns short of full coverage: said where the values are described
    described = {**FIGURE_DESCRIPTIONS, "value": " ".join([FIGURE_DESCRIPTIONS["value"],
                                                           *(f"Coverage: {c}" for c in ctx.coverage_caveats)])}
    emit("figures.csv", list(FIGURE_COLUMNS), figures_frame(ctx), fig_numeric,
         [(c, VALUE_TEXT if c in NUMERIC_FIGURE_COLUMNS else "text", described[c]) for c in FIGURE_COLUMNS])
    for table in ctx.tables:
        header, rows, numeric = table_frame(table)
        emit(f"{table.id}.csv", header, rows, numeric, _table_column_docs(ctx, table))
    emit("returns.csv", list(RETURNS_COLUMNS), ctx.returns_rows, set(),
         [(c, "text", RETURNS_DESCRIPTIONS[c]) for c in RETURNS_COLUMNS])
    emit("issues.csv", ctx.issue_columns, [[r[c] for c in ctx.issue_columns] for r in ctx.issues], set(),
         [(c, "text", ISSUE_DESCRIPTIONS.get(c, f"{c.replace('_', ' ').capitalize()} (recorded with the issue).")) for c in ctx.issue_columns])
    from pipelines.release.quality_page import quality_csvs

    for name, header, rows, docs in quality_csvs(ctx):
        emit(name, header, rows, set(), docs)
    emit("revisions.csv", *_revision_rows(ctx))
    meta_header = ["file", "column", "position", "type", "description"]
    meta_docs = [(col, "number" if col == "position" else "text", METADATA_DESCRIPTIONS[col]) for col in meta_header]
    for pos, (col, typ, desc) in enumerate(meta_docs, start=1):
        metadata.append(["metadata.csv", col, str(pos), typ, f"{DRAFT_TEXT}. {desc}" if ctx.draft else desc])
    path = data / "metadata.csv"
    path.write_bytes(csv_bytes(meta_header, metadata, {2}))
    written.append(path)
    if ctx.draft:
        path = data / DRAFT_FILE
        path.write_text(DRAFT_NOTE, encoding="utf-8")
        written.append(path)
    return written
