"""Accessible spreadsheets (`.ods` and `.xlsx`) in the style of the Analysis Function
guidance and gptables: a cover sheet, contents, notes, then one table per sheet with units in
the column headings, `[note n]` markers in titles and symbols where a value is missing.

Published numbers are stored as numbers (`value_num`) with a number format showing the
published decimal places; symbols are stored as text. Text is never stored as a formula.
Both files are byte-deterministic: fixed document dates and zip entry timestamps.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.metric_catalog import SOURCES
from pipelines.release.context import LEVEL_WORDS, RETURNS_COLUMNS, ReleaseContext
from pipelines.release.csvfiles import FORMULA_STARTS, table_frame
from pipelines.release.model import with_commas
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


@dataclass
class XSheet:
    name: str
    title: str
    lines: list[XCell] = field(default_factory=list)  # text lines under the title
    header: list[str] = field(default_factory=list)
    rows: list[list[XCell]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    is_cover: bool = False


def _t(value: str) -> XCell:
    return XCell(value.replace("\r\n", "\n"), "text")


def _num_cell(value: str, num: float | None, decimals: int) -> XCell:
    if num is None:
        return _t(value)  # a symbol, never 0
    if decimals == 0 and float(num).is_integer():
        return XCell(int(num), "number", 0, shown=with_commas(value))
    return XCell(float(num), "number", decimals, shown=with_commas(value))


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
            out.append(_t(h))
            if table.geography_position == i:
                out.append(_t(r.code or ""))
                if table.show_region:
                    out.append(_t(r.region or ""))
        out += [_num_cell(c.value, c.num, c.decimals) for c in r.cells]
        rows.append(out)
    sources = sorted({SOURCES.get(d.source, d.source) for m in table.measures if (d := ctx.idx.definition(m))})
    title = f"{table.title} {table.note_markers}".strip()
    lines = [_t("This worksheet contains one table. Units are given in the column headings.")]
    if table.notes:
        lines.append(_t("Notes for this table are on the Notes worksheet: " + ", ".join(
            f"note {n.number}" for n in table.notes) + "."))
    if sources:
        lines.append(_t("Source: " + "; ".join(sources) + "."))
    used = _used_symbols(rows, ctx.config.symbols)
    if used:
        lines.append(_t("Some cells show a symbol instead of a number: " + "; ".join(
            f"{s} {ctx.config.symbols[s]}" for s in used) + "."))
    if ctx.draft:
        lines.append(_t("DRAFT: not for publication."))
    return XSheet(name=f"Table_{table.number}", title=title, lines=lines, header=header, rows=rows)


def build_workbook(ctx: ReleaseContext) -> list[XSheet]:
    cfg = ctx.config
    sheets: list[XSheet] = []
    table_sheets = [_table_sheet(ctx, t) for t in ctx.tables]

    cover_title = f"{cfg.title}: {ctx.year}" + (" (DRAFT)" if ctx.draft else "")
    cover_lines: list[XCell] = []
    if ctx.draft:
        cover_lines.append(_t("DRAFT: this is a draft for checking, not for publication."))
    cover_lines += [
        _t(cfg.summary),
        _t(f"Period covered: financial year {ctx.year} (1 April {ctx.year[:4]} to 31 March "
           f"{int(ctx.year[:4]) + 1}), with earlier years {ctx.years[0]} onwards for comparison."
           if len(ctx.years) > 1 else f"Period covered: financial year {ctx.year}."),
        _t(f"Publication date: {ctx.publication_date}"),
        _t(f"Status: {ctx.status}. {cfg.status_options.get(ctx.status, '')}".strip()),
        _t(f"Published by: {cfg.publisher}"),
        _t(f"Contact: {cfg.contact}"),
        _t("Things you need to know"),
        *[_t(f"{c['title']}: {c['text']}") for c in cfg.caveats],
        _t("Symbols used in this workbook"),
        *[_t(f"{s} {meaning}") for s, meaning in cfg.symbols.items()],
        _t("The Contents worksheet lists every table. Notes are on the Notes worksheet and are "
           "marked [note n] in table titles. The same figures are in data/figures.csv, one row each."),
    ]
    sheets.append(XSheet(name="Cover", title=cover_title, lines=cover_lines, is_cover=True, widths=[110]))

    contents_rows = [[XCell("Notes", "link", target="Notes"), _t("Notes used in the tables")]]
    contents_rows += [[XCell(s.name, "link", target=s.name), _t(s.title)] for s in table_sheets]
    contents_rows += [
        [XCell("Returns", "link", target="Returns"), _t("Returns expected and received, by authority and year")],
        [XCell("Issues", "link", target="Issues"), _t("Problems found reading the inputs")],
    ]
    sheets.append(XSheet(
        name="Contents", title="Contents",
        lines=[_t("This worksheet contains one table. Select a sheet name to go to it.")],
        header=["Sheet name", "Table title"], rows=contents_rows,
    ))
    note_rows = [[_t(f"note {n.number}"), _t(n.text),
                  _t(", ".join(f"Table_{t.number}" for t in ctx.tables if n in t.notes))] for n in ctx.notes]
    sheets.append(XSheet(
        name="Notes", title="Notes",
        lines=[_t("This worksheet contains one table. Notes are referred to as [note n] in table titles.")],
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
                row.append(_t(v.replace("_", " ") if c.endswith("completeness") else v))
        ret_rows.append(row)
    sheets.append(XSheet(
        name="Returns", title=f"Returns expected and received, by authority, {ctx.years[0]} to {ctx.year}"
        if len(ctx.years) > 1 else f"Returns expected and received, by authority, {ctx.year}",
        lines=[_t("This worksheet contains one table. An authority with no return has its figures shown as [x].")],
        header=[labels[c] for c in RETURNS_COLUMNS], rows=ret_rows,
    ))
    issue_labels = {"financial_year": "Financial year", "source": "Source", "file": "File", "sheet": "Sheet",
                    "location": "Cell or line", "level": "Level", "code": "Check", "message": "Message"}
    issue_rows = [
        [_t(LEVEL_WORDS.get(r[c], r[c]) if c == "level" else r[c]) for c in ctx.issue_columns] for r in ctx.issues
    ]
    sheets.append(XSheet(
        name="Issues", title="Problems found reading the inputs",
        lines=[_t("This worksheet contains one table. Messages are shown as the checks wrote them."
                  if issue_rows else "This worksheet contains one table. No problems were found.")],
        header=[issue_labels.get(c, c.replace("_", " ").capitalize()) for c in ctx.issue_columns],
        rows=issue_rows or [[_t("None")] + [_t("") for _ in ctx.issue_columns[1:]]],
    ))
    for s in sheets:
        if not s.widths:
            s.widths = _widths(s)
    return sheets


# --- zip normalisation -------------------------------------------------------------------
def normalise_zip(data: bytes, rewrite: dict[str, callable] | None = None) -> bytes:
    """Rewrite a zip with fixed timestamps and attributes, entries in their original order."""
    rewrite = rewrite or {}
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename in rewrite:
                content = rewrite[info.filename](content)
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            zi.compress_type = info.compress_type
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            dst.writestr(zi, content, compress_type=info.compress_type, compresslevel=6)
    return out.getvalue()


_ROOT_TAG = re.compile(r"<(?P<tag>[A-Za-z][\w.-]*:[\w.-]+)(?P<attrs>(?:\s+[^\s=/>]+\s*=\s*\"[^\"]*\")*)\s*(?P<end>/?>)")
_ATTR = re.compile(r'\s+([^\s=/>]+)\s*=\s*"([^"]*)"')


def canonical_odf_namespaces(content: bytes) -> bytes:
    """Declare the same namespaces, in the same order, on the root of every ODF XML part.

    odfpy keeps the namespaces it has seen in a class attribute shared by every document in
    the process, so without this the declarations (and the bytes) depend on what else the
    process built before.
    """
    from odf.namespaces import nsdict

    text = content.decode("utf-8")
    start = text.find("?>") + 2 if text.startswith("<?xml") else 0
    m = _ROOT_TAG.search(text, start)
    if m is None:
        return content
    attrs = _ATTR.findall(m.group("attrs"))
    declared = {name[6:]: uri for name, uri in attrs if name.startswith("xmlns:")}
    for uri, prefix in nsdict.items():
        if prefix != "xml":
            declared[prefix] = uri
    others = [(name, value) for name, value in attrs if not name.startswith("xmlns:")]
    root = "<" + m.group("tag") + "".join(f' xmlns:{p}="{declared[p]}"' for p in sorted(declared)) + "".join(
        f' {name}="{value}"' for name, value in others) + m.group("end")
    return (text[: m.start()] + root + text[m.end():]).encode("utf-8")


def _fixed_moment(ctx: ReleaseContext) -> dt.datetime:
    date = ctx.config.publication_dates.get(ctx.year) or dt.date(int(ctx.year[:4]) + 1, 4, 1)
    return dt.datetime(date.year, date.month, date.day, 9, 30, 0)


# --- xlsx ----------------------------------------------------------------------------------
def write_xlsx(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink
    from openpyxl.worksheet.table import Table as XTable
    from openpyxl.worksheet.table import TableStyleInfo

    wb = Workbook()
    wb.remove(wb.active)
    title_font = Font(bold=True, size=15)
    bold = Font(bold=True)
    link_font = Font(color="0563C1", underline="single")
    wrap = Alignment(wrap_text=True, vertical="top")

    def put(ws, row: int, col: int, cell: XCell):
        c = ws.cell(row=row, column=col)
        if cell.kind == "number":
            c.value = cell.value
            c.number_format = "#,##0" + ("." + "0" * cell.decimals if cell.decimals else "")
        else:
            text = "" if cell.value is None else str(cell.value)
            c.value = text if text else None
            if text:
                c.data_type = "s"  # never a formula, whatever the text starts with
                if text.startswith(FORMULA_STARTS):
                    c.quotePrefix = True
            if cell.kind == "link":
                c.hyperlink = Hyperlink(ref=c.coordinate, location=f"'{cell.target}'!A1", display=text)
                c.font = link_font
            if "\n" in text:
                c.alignment = wrap
        return c

    for n, sheet in enumerate(sheets, start=1):
        ws = wb.create_sheet(sheet.name)
        t = ws.cell(row=1, column=1, value=sheet.title)
        t.data_type = "s"
        t.font = title_font
        r = 2
        for line in sheet.lines:
            c = put(ws, r, 1, line)
            if sheet.is_cover:
                c.alignment = Alignment(wrap_text=True, vertical="top")
                if line.value in ("Things you need to know", "Symbols used in this workbook"):
                    c.font = Font(bold=True, size=13)
            r += 1
        if sheet.header:
            top = r
            for j, h in enumerate(sheet.header, start=1):
                c = ws.cell(row=r, column=j, value=h)
                c.data_type = "s"
                c.font = bold
                c.alignment = Alignment(wrap_text=True, vertical="bottom")
            for row in sheet.rows:
                r += 1
                for j, cell in enumerate(row, start=1):
                    put(ws, r, j, cell)
            ref = f"A{top}:{get_column_letter(len(sheet.header))}{max(r, top + 1)}"
            xt = XTable(displayName=f"table_{n}_{re.sub(r'[^A-Za-z0-9_]', '_', sheet.name)}", ref=ref)
            xt.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=False,
                                               showColumnStripes=False, showFirstColumn=False,
                                               showLastColumn=False)
            ws.add_table(xt)
            ws.freeze_panes = ws.cell(row=top + 1, column=1)
        for j, w in enumerate(sheet.widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = w

    moment = _fixed_moment(ctx)
    props = wb.properties
    props.title = f"{ctx.config.title}: {ctx.year}"
    props.creator = ctx.config.publisher
    props.lastModifiedBy = ctx.config.publisher
    props.created = moment
    props.modified = moment
    props.language = "en-GB"
    buf = io.BytesIO()
    wb.save(buf)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def fix_core(content: bytes) -> bytes:  # openpyxl stamps "modified" with the clock on save
        text = content.decode("utf-8")
        text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{stamp}\g<2>", text)
        text = re.sub(r"(<dcterms:created[^>]*>)[^<]*(</dcterms:created>)", rf"\g<1>{stamp}\g<2>", text)
        return text.encode("utf-8")

    path.write_bytes(normalise_zip(buf.getvalue(), {"docProps/core.xml": fix_core}))
    return path


# --- ods -----------------------------------------------------------------------------------
def write_ods(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    from odf import dc, meta, teletype
    from odf.number import Number, NumberStyle
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import (
        ParagraphProperties,
        Style,
        TableCellProperties,
        TableColumnProperties,
        TextProperties,
    )
    from odf.table import Table as OTable
    from odf.table import TableCell, TableColumn, TableRow
    from odf.text import A, P

    doc = OpenDocumentSpreadsheet()
    moment = _fixed_moment(ctx).strftime("%Y-%m-%dT%H:%M:%S")
    doc.meta.addElement(dc.Title(text=f"{ctx.config.title}: {ctx.year}"))
    doc.meta.addElement(dc.Language(text="en-GB"))
    doc.meta.addElement(meta.InitialCreator(text=ctx.config.publisher))
    doc.meta.addElement(meta.CreationDate(text=moment))
    doc.meta.addElement(dc.Date(text=moment))

    title_style = Style(name="title", family="table-cell")
    title_style.addElement(TextProperties(fontweight="bold", fontsize="15pt"))
    doc.automaticstyles.addElement(title_style)
    heading_style = Style(name="heading", family="table-cell")
    heading_style.addElement(TextProperties(fontweight="bold", fontsize="13pt"))
    doc.automaticstyles.addElement(heading_style)
    header_style = Style(name="header", family="table-cell")
    header_style.addElement(TextProperties(fontweight="bold"))
    header_style.addElement(TableCellProperties(wrapoption="wrap", verticalalign="bottom"))
    doc.automaticstyles.addElement(header_style)
    wrap_style = Style(name="wrap", family="table-cell")
    wrap_style.addElement(TableCellProperties(wrapoption="wrap", verticalalign="top"))
    doc.automaticstyles.addElement(wrap_style)
    num_styles: dict[int, Style] = {}

    def num_style(decimals: int) -> Style:
        if decimals not in num_styles:
            ns = NumberStyle(name=f"N{decimals}")
            ns.addElement(Number(decimalplaces=str(decimals), minintegerdigits="1", grouping="true"))
            doc.automaticstyles.addElement(ns)
            cs = Style(name=f"num{decimals}", family="table-cell", datastylename=f"N{decimals}")
            cs.addElement(ParagraphProperties(textalign="end"))
            doc.automaticstyles.addElement(cs)
            num_styles[decimals] = cs
        return num_styles[decimals]

    col_styles: dict[int, Style] = {}

    def col_style(width: int) -> Style:
        if width not in col_styles:
            st = Style(name=f"col{width}", family="table-column")
            st.addElement(TableColumnProperties(columnwidth=f"{width * 0.21:.2f}cm"))
            doc.automaticstyles.addElement(st)
            col_styles[width] = st
        return col_styles[width]

    def display(cell: XCell) -> str:
        if cell.kind == "number":
            return cell.shown or str(cell.value)
        return "" if cell.value is None else str(cell.value)

    def make_cell(cell: XCell, style: Style | None = None) -> TableCell:
        if cell.kind == "number":
            tc = TableCell(valuetype="float", value=repr(cell.value) if isinstance(cell.value, float)
                           else str(cell.value), stylename=num_style(cell.decimals))
            tc.addElement(P(text=display(cell)))
            return tc
        text = display(cell)
        kwargs = {"stylename": style} if style is not None else ({"stylename": wrap_style} if "\n" in text else {})
        if not text:
            return TableCell(**kwargs)
        tc = TableCell(valuetype="string", **kwargs)
        p = P()
        if cell.kind == "link":
            a = A(href=f"#{cell.target}", type="simple")
            teletype.addTextToElement(a, text)
            p.addElement(a)
        elif "\n" in text or "\t" in text or "  " in text:
            teletype.addTextToElement(p, text)  # line breaks, tabs and runs of spaces as ODF elements
        else:
            p = P(text=text)
        tc.addElement(p)
        return tc

    for sheet in sheets:
        t = OTable(name=sheet.name)
        for w in sheet.widths:
            t.addElement(TableColumn(stylename=col_style(w)))
        row = TableRow()
        row.addElement(make_cell(_t(sheet.title), title_style))
        t.addElement(row)
        for line in sheet.lines:
            row = TableRow()
            is_heading = sheet.is_cover and line.value in ("Things you need to know", "Symbols used in this workbook")
            row.addElement(make_cell(line, heading_style if is_heading else (wrap_style if sheet.is_cover else None)))
            t.addElement(row)
        if sheet.header:
            row = TableRow()
            for h in sheet.header:
                row.addElement(make_cell(_t(h), header_style))
            t.addElement(row)
            for data_row in sheet.rows:
                row = TableRow()
                for cell in data_row:
                    row.addElement(make_cell(cell))
                t.addElement(row)
        doc.spreadsheet.addElement(t)

    buf = io.BytesIO()
    doc.write(buf)
    xml_parts = ("content.xml", "styles.xml", "meta.xml", "settings.xml", "META-INF/manifest.xml")
    path.write_bytes(normalise_zip(buf.getvalue(), {name: canonical_odf_namespaces for name in xml_parts}))
    return path


def write_spreadsheets(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    sheets = build_workbook(ctx)
    return [
        write_ods(out_dir / f"dasa-{ctx.year}.ods", ctx, sheets),
        write_xlsx(out_dir / f"dasa-{ctx.year}.xlsx", ctx, sheets),
    ]
