"""The workbook both spreadsheets are written from, built from the release context: a cover
sheet, contents, notes, then one table per sheet, in the style of the Analysis Function
guidance and gptables (units in the column headings, `[note n]` markers in titles, symbols
where a value is missing), and the deterministic zip the `.ods` is packed in (XlsxWriter
packs the `.xlsx`).

Published numbers are numbers with the published decimal places; symbols are text. The
writers (`ods.py`, `xlsx.py`) decide how a text that would read as a formula is marked.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field

from pipelines.metric_catalog import SOURCES
from pipelines.release.context import LEVEL_WORDS, RETURNS_COLUMNS, ReleaseContext
from pipelines.release.csvfiles import table_frame
from pipelines.release.model import decimals_of, is_number_text, with_commas
from pipelines.release.tables import Table

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# --- a neutral model of the workbook ---------------------------------------------------
@dataclass(frozen=True)
class XCell:
    value: str | float | int | None
    kind: str = "text"  # text | number | link
    decimals: int = 0
    target: str = ""  # sheet name for a link
    shown: str = ""  # a number as published, with thousands separators (what the cell displays)
    suffix: str = ""  # text the number format shows after a number (" [r]" for a revised figure)


@dataclass
class XSheet:
    name: str
    title: str
    lines: list[XCell] = field(default_factory=list)  # text lines under the title
    header: list[str] = field(default_factory=list)
    rows: list[list[XCell]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    is_cover: bool = False


def text_cell(value: str) -> XCell:
    return XCell(value.replace("\r\n", "\n"), "text")


def _num_cell(value: str, num: float | None, decimals: int) -> XCell:
    if num is None:
        return text_cell(value)  # a symbol, never 0
    if decimals == 0 and float(num).is_integer():
        return XCell(int(num), "number", 0, shown=with_commas(value))
    return XCell(float(num), "number", decimals, shown=with_commas(value))


def _revised(cell: XCell) -> XCell:
    """A revised figure: a number keeps its value and its format shows [r] after it; a symbol gets [r] beside it."""
    if cell.kind == "number":
        return XCell(cell.value, "number", cell.decimals, shown=f"{cell.shown} [r]", suffix=" [r]")
    return text_cell(f"{cell.value} [r]")


def _widths(sheet: XSheet) -> list[int]:
    n = len(sheet.header)
    widths = [10] * n
    for i, h in enumerate(sheet.header):
        widths[i] = max(widths[i], min(40, len(h) // 2 + 4))
    for row in sheet.rows:
        for i, c in enumerate(row):
            text = c.value if isinstance(c.value, str) else f"{c.value:,}"
            widths[i] = max(widths[i], min(60, max((len(x) for x in str(text).split("\n")), default=0) + 2))
    return widths


def _used_symbols(rows: list[list[XCell]], symbols: dict[str, str]) -> list[str]:
    used = {c.value for r in rows for c in r if isinstance(c.value, str) and c.value in symbols}
    return [s for s in symbols if s in used]


def _table_sheet(ctx: ReleaseContext, table: Table) -> XSheet:
    header, _, numeric = table_frame(table)
    rows = []
    for r in table.rows:
        out: list[XCell] = []
        for i, h in enumerate(r.headers):
            out.append(text_cell(h))
            if table.geography_position == i:
                out.append(text_cell(r.code or ""))
                if table.show_region:
                    out.append(text_cell(r.region or ""))
        out += [_revised(_num_cell(c.value, c.num, c.decimals)) if c.figure_id and c.figure_id in ctx.revised.ids
                else _num_cell(c.value, c.num, c.decimals) for c in r.cells]
        rows.append(out)
    sources = sorted({SOURCES.get(d.source, d.source) for m in table.measures if (d := ctx.idx.definition(m))})
    title = f"{table.title} {table.note_markers}".strip()
    lines = [text_cell("This worksheet contains one table. Units are given in the column headings.")]
    if table.notes:
        lines.append(text_cell("Notes for this table are on the Notes worksheet: " + ", ".join(
            f"note {n.number}" for n in table.notes) + "."))
    if sources:
        lines.append(text_cell("Source: " + "; ".join(sources) + "."))
    used = _used_symbols(rows, ctx.config.symbols)
    if "[r]" in ctx.config.symbols and "[r]" not in used and any(
            c.suffix or (isinstance(c.value, str) and c.value.endswith(" [r]")) for row in rows for c in row):
        used = [s for s in ctx.config.symbols if s in used or s == "[r]"]
    if used:
        lines.append(text_cell("Some cells show a symbol instead of a number: " + "; ".join(
            f"{s} {ctx.config.symbols[s]}" for s in used) + "."))
    if ctx.draft:
        lines.append(text_cell("DRAFT: not for publication."))
    return XSheet(name=f"Table_{table.number}", title=title, lines=lines, header=header, rows=rows)


def build_workbook(ctx: ReleaseContext) -> list[XSheet]:
    cfg = ctx.config
    sheets: list[XSheet] = []
    table_sheets = [_table_sheet(ctx, t) for t in ctx.tables]

    cover_title = f"{cfg.title}: {ctx.year}" + (" (DRAFT)" if ctx.draft else "")
    cover_lines: list[XCell] = []
    if ctx.draft:
        cover_lines.append(text_cell("DRAFT: this is a draft for checking, not for publication."))
    cover_lines += [
        text_cell(cfg.summary),
        text_cell(f"Period covered: financial year {ctx.year} (1 April {ctx.year[:4]} to 31 March "
           f"{int(ctx.year[:4]) + 1}), with earlier years {ctx.years[0]} onwards for comparison."
           if len(ctx.years) > 1 else f"Period covered: financial year {ctx.year}."),
        text_cell(f"Publication date: {ctx.publication_date}"),
        text_cell(f"Status: {ctx.status}. {cfg.status_options.get(ctx.status, '')}".strip()),
        text_cell(f"Published by: {cfg.publisher}"),
        text_cell(f"Contact: {ctx.contact}"),
        text_cell("Things you need to know"),
        *[text_cell(f"{c['title']}: {c['text']}") for c in cfg.caveats],
        text_cell("Symbols used in this workbook"),
        *[text_cell(f"{s} {meaning}") for s, meaning in cfg.symbols.items()],
        text_cell("The Contents worksheet lists every table. Notes are on the Notes worksheet and are "
           "marked [note n] in table titles. The same figures are in data/figures.csv, one row each."),
    ]
    sheets.append(XSheet(name="Cover", title=cover_title, lines=cover_lines, is_cover=True, widths=[110]))

    contents_rows = [[XCell("Notes", "link", target="Notes"), text_cell("Notes used in the tables")]]
    contents_rows += [[XCell(s.name, "link", target=s.name), text_cell(s.title)] for s in table_sheets]
    contents_rows += [
        [XCell("Returns", "link", target="Returns"), text_cell("Returns expected and received, by authority and year")],
        [XCell("Issues", "link", target="Issues"), text_cell("Problems found reading the inputs")],
        [XCell("Revisions", "link", target="Revisions"), text_cell("Figures revised since the previous release of this year")],
    ]
    sheets.append(XSheet(
        name="Contents", title="Contents",
        lines=[text_cell("This worksheet contains one table. Select a sheet name to go to it.")],
        header=["Sheet name", "Table title"], rows=contents_rows,
    ))
    note_rows = [[text_cell(f"note {n.number}"), text_cell(n.text),
                  text_cell(", ".join(f"Table_{t.number}" for t in ctx.tables if n in t.notes))] for n in ctx.notes]
    sheets.append(XSheet(
        name="Notes", title="Notes",
        lines=[text_cell("This worksheet contains one table. Notes are referred to as [note n] in table titles.")],
        header=["Note number", "Note text", "Tables the note applies to"], rows=note_rows,
    ))
    sheets += table_sheets

    labels = {
        "financial_year": "Financial year", "gss_code": "Authority code", "authority_name": "Authority",
        "region_code": "Region code", "region_name": "Region", "received": "Return received",
        "file": "Workbook used", "submission_number": "Submission number",
        "superseded_files": "Earlier submissions not used",
        "supported_completeness": "People supported section", "characteristics_completeness": "Characteristics section",
    }
    ret_rows = []
    for r in ctx.returns_rows:
        row = []
        for c, v in zip(RETURNS_COLUMNS, r):
            if c == "submission_number" and v.isdigit():
                row.append(XCell(int(v), "number", shown=v))
            else:
                row.append(text_cell(v.replace("_", " ") if c.endswith("completeness") else v))
        ret_rows.append(row)
    sheets.append(XSheet(
        name="Returns", title=f"Returns expected and received, by authority, {ctx.years[0]} to {ctx.year}"
        if len(ctx.years) > 1 else f"Returns expected and received, by authority, {ctx.year}",
        lines=[text_cell("This worksheet contains one table. An authority with no return has its figures shown as [x].")],
        header=[labels[c] for c in RETURNS_COLUMNS], rows=ret_rows,
    ))
    issue_labels = {"financial_year": "Financial year", "source": "Source", "file": "File", "sheet": "Sheet",
                    "location": "Cell or line", "level": "Level", "code": "Check", "message": "Message"}
    issue_rows = [
        [text_cell(LEVEL_WORDS.get(r[c], r[c]) if c == "level" else r[c]) for c in ctx.issue_columns] for r in ctx.issues
    ]
    sheets.append(XSheet(
        name="Issues", title="Problems found reading the inputs",
        lines=[text_cell("This worksheet contains one table. Messages are shown as the checks wrote them."
                  if issue_rows else "This worksheet contains one table. No problems were found.")],
        header=[issue_labels.get(c, c.replace("_", " ").capitalize()) for c in ctx.issue_columns],
        rows=issue_rows or [[text_cell("None")] + [text_cell("") for _ in ctx.issue_columns[1:]]],
    ))
    sheets.append(_revisions_sheet(ctx))
    for s in sheets:
        if not s.widths:
            s.widths = _widths(s)
    return sheets


def _revisions_sheet(ctx: ReleaseContext) -> XSheet:
    header = ["Figure id", "Figure", "Previous value", "Revised value", "Reason"]
    rows = []
    for r in ctx.revisions:
        values = []
        for key in ("previous_value", "value"):
            v = str(r.get(key, ""))
            values.append(XCell(int(v) if "." not in v else float(v), "number", decimals_of(v), shown=with_commas(v))
                          if is_number_text(v) else text_cell(v))
        rows.append([text_cell(r.get("figure_id", "")), text_cell(r.get("label", "")), *values, text_cell(r.get("reason", ""))])
    intro = ctx.revised.intro.strip()
    return XSheet(
        name="Revisions", title=f"Figures revised since the previous release for {ctx.year}",
        lines=[text_cell("This worksheet contains one table. " + (intro + " " if intro else "")
                  + ("Revised figures are marked [r] in the tables." if rows else "There are no revisions."))],
        header=header,
        rows=rows or [[text_cell("None")] + [text_cell("") for _ in header[1:]]],
    )


def zip_bytes(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A zip of (name, content, compress_type) entries, in that order, with fixed timestamps
    and attributes: the same bytes on every build."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, content, compress_type in entries:
            zi = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            zi.compress_type = compress_type
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            dst.writestr(zi, content, compress_type=compress_type, compresslevel=6)
    return out.getvalue()


def fixed_moment(ctx: ReleaseContext) -> dt.datetime:
    date = ctx.config.publication_dates.get(ctx.year) or dt.date(int(ctx.year[:4]) + 1, 4, 1)
    return dt.datetime(date.year, date.month, date.day, 9, 30, 0)
