"""Accessible spreadsheets (`.ods` and `.xlsx`) in the style of the Analysis Function
guidance and gptables: a cover sheet, contents, notes, then one table per sheet with units in
the column headings, `[note n]` markers in titles and symbols where a value is missing.

Published numbers are stored as numbers (`value_num`) with a number format showing the
published decimal places; symbols are stored as text. Text is never stored as a formula,
and text a spreadsheet program would read as one (`pipelines.cell_text.reads_as_formula`)
is marked so that editing the cell does not make it one: the `.xlsx` gives the cell the
quote-prefix style, and the `.ods`, whose format has no such mark, holds the text with a
`'` in front, as the CSV files do (docs/decisions/0005-spreadsheet-writers.md). Characters
XML cannot hold become U+FFFD in both. Both files are byte-deterministic: fixed document
dates and zip entry timestamps.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.cell_text import neutralise, xml_chars
from pipelines.metric_catalog import SOURCES
from pipelines.release.context import LEVEL_WORDS, RETURNS_COLUMNS, ReleaseContext
from pipelines.release.csvfiles import table_frame
from pipelines.release.model import decimals_of, is_number_text, with_commas
from pipelines.release.tables import Table
from pipelines.safe_paths import inside

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


def _t(value: str) -> XCell:
    return XCell(value.replace("\r\n", "\n"), "text")


def _num_cell(value: str, num: float | None, decimals: int) -> XCell:
    if num is None:
        return _t(value)  # a symbol, never 0
    if decimals == 0 and float(num).is_integer():
        return XCell(int(num), "number", 0, shown=with_commas(value))
    return XCell(float(num), "number", decimals, shown=with_commas(value))


def _revised(cell: XCell) -> XCell:
    """A revised figure: a number keeps its value and its format shows [r] after it; a symbol gets [r] beside it."""
    if cell.kind == "number":
        return XCell(cell.value, "number", cell.decimals, shown=f"{cell.shown} [r]", suffix=" [r]")
    return _t(f"{cell.value} [r]")


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
        out += [_revised(_num_cell(c.value, c.num, c.decimals)) if c.figure_id and c.figure_id in ctx.revised.ids
                else _num_cell(c.value, c.num, c.decimals) for c in r.cells]
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
    if "[r]" in ctx.config.symbols and "[r]" not in used and any(
            c.suffix or (isinstance(c.value, str) and c.value.endswith(" [r]")) for row in rows for c in row):
        used = [s for s in ctx.config.symbols if s in used or s == "[r]"]
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
        [XCell("Revisions", "link", target="Revisions"), _t("Figures revised since the previous release of this year")],
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
                          if is_number_text(v) else _t(v))
        rows.append([_t(r.get("figure_id", "")), _t(r.get("label", "")), *values, _t(r.get("reason", ""))])
    intro = ctx.revised.intro.strip()
    return XSheet(
        name="Revisions", title=f"Figures revised since the previous release for {ctx.year}",
        lines=[_t("This worksheet contains one table. " + (intro + " " if intro else "")
                  + ("Revised figures are marked [r] in the tables." if rows else "There are no revisions."))],
        header=header,
        rows=rows or [[_t("None")] + [_t("") for _ in header[1:]]],
    )


# --- zip files -------------------------------------------------------------------------------
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


def _fixed_moment(ctx: ReleaseContext) -> dt.datetime:
    date = ctx.config.publication_dates.get(ctx.year) or dt.date(int(ctx.year[:4]) + 1, 4, 1)
    return dt.datetime(date.year, date.month, date.day, 9, 30, 0)


# --- xlsx ----------------------------------------------------------------------------------
def write_xlsx(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    from pipelines.release.xlsx import xlsx_bytes

    stamp = _fixed_moment(ctx).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_bytes(xlsx_bytes(sheets, title=f"{ctx.config.title}: {ctx.year}", creator=ctx.config.publisher,
                                stamp=stamp))
    return path


# --- ods -----------------------------------------------------------------------------------
# The OpenDocument parts are written as text: a spreadsheet of a few thousand cells needs
# only tables, rows, cells, paragraphs, links and a handful of styles. The markup is what
# odfpy wrote for the same workbook, so the files are unchanged: every namespace declared on
# every root, in prefix order; text escaped as odfpy escapes it (&, <, > and characters XML
# cannot hold); tabs, line breaks and runs of spaces as ODF elements.
ODF_NAMESPACES = (
    ("anim", "urn:oasis:names:tc:opendocument:xmlns:animation:1.0"),
    ("chart", "urn:oasis:names:tc:opendocument:xmlns:chart:1.0"),
    ("chartooo", "http://openoffice.org/2010/chart"),
    ("config", "urn:oasis:names:tc:opendocument:xmlns:config:1.0"),
    ("css3t", "http://www.w3.org/TR/css3-text/"),
    ("db", "urn:oasis:names:tc:opendocument:xmlns:database:1.0"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("dom", "http://www.w3.org/2001/xml-events"),
    ("dr3d", "urn:oasis:names:tc:opendocument:xmlns:dr3d:1.0"),
    ("draw", "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"),
    ("field", "urn:openoffice:names:experimental:ooo-ms-interop:xmlns:field:1.0"),
    ("fo", "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"),
    ("form", "urn:oasis:names:tc:opendocument:xmlns:form:1.0"),
    ("formx", "urn:openoffice:names:experimental:ooxml-odf-interop:xmlns:form:1.0"),
    ("grddl", "http://www.w3.org/2003/g/data-view#"),
    ("koffice", "http://www.koffice.org/2005/"),
    ("loext", "urn:org:documentfoundation:names:experimental:office:xmlns:loext:1.0"),
    ("manifest", "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"),
    ("math", "http://www.w3.org/1998/Math/MathML"),
    ("meta", "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"),
    ("number", "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"),
    ("of", "urn:oasis:names:tc:opendocument:xmlns:of:1.2"),
    ("office", "urn:oasis:names:tc:opendocument:xmlns:office:1.0"),
    ("ooo", "http://openoffice.org/2004/office"),
    ("oooc", "http://openoffice.org/2004/calc"),
    ("ooow", "http://openoffice.org/2004/writer"),
    ("presentation", "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"),
    ("rdfa", "http://docs.oasis-open.org/opendocument/meta/rdfa#"),
    ("rpt", "http://openoffice.org/2005/report"),
    ("script", "urn:oasis:names:tc:opendocument:xmlns:script:1.0"),
    ("smil", "urn:oasis:names:tc:opendocument:xmlns:smil-compatible:1.0"),
    ("style", "urn:oasis:names:tc:opendocument:xmlns:style:1.0"),
    ("svg", "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"),
    ("table", "urn:oasis:names:tc:opendocument:xmlns:table:1.0"),
    ("tableooo", "http://openoffice.org/2009/table"),
    ("text", "urn:oasis:names:tc:opendocument:xmlns:text:1.0"),
    ("xforms", "http://www.w3.org/2002/xforms"),
    ("xhtml", "http://www.w3.org/1999/xhtml"),
    ("xlink", "http://www.w3.org/1999/xlink"),
    ("xsd", "http://www.w3.org/2001/XMLSchema"),
    ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
)
_ODF_PROLOGUE = "<?xml version='1.0' encoding='UTF-8'?>\n"
_ODF_XMLNS = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in ODF_NAMESPACES)
ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
ODS_GENERATOR = "dasa"  # the program that wrote the file (ODF meta:generator)


_ODF_WHITESPACE = re.compile(r"\t|\n|  +")


def odf_text(text: str) -> str:
    """Character data: characters XML cannot hold as U+FFFD (cell_text.xml_chars), &, < and > escaped."""
    text = xml_chars(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def odf_attr(value: str) -> str:
    """An attribute value with its quotes (line ends as character references)."""
    text = odf_text(value).replace("\n", "&#10;").replace("\r", "&#12;")
    if '"' in text:
        return '"' + text.replace('"', "&quot;") + '"' if "'" in text else "'" + text + "'"
    return '"' + text + '"'


def _odf_space(m: re.Match) -> str:
    ws = m.group()
    if ws == "\t":
        return "<text:tab/>"
    if ws == "\n":
        return "<text:line-break/>"
    return f' <text:s text:c="{len(ws) - 1}"/>'  # one space, then the rest as <text:s>


def odf_paragraph_text(text: str) -> str:
    """Text inside <text:p>: tabs, line breaks and runs of spaces as ODF elements."""
    return _ODF_WHITESPACE.sub(_odf_space, odf_text(text))


def _odf_part(root: str, attrs: str, body: str) -> bytes:
    return f"{_ODF_PROLOGUE}<{root}{_ODF_XMLNS}{attrs}>{body}</{root}>".encode("utf-8")


def ods_content_xml(sheets: list[XSheet]) -> bytes:
    styles: list[tuple[str, str]] = [  # automatic styles in the order they are made: (name, xml)
        ("title", '<style:style style:name="title" style:family="table-cell" style:display-name="title">'
                  '<style:text-properties fo:font-weight="bold" fo:font-size="15pt"/></style:style>'),
        ("heading", '<style:style style:name="heading" style:family="table-cell" style:display-name="heading">'
                    '<style:text-properties fo:font-weight="bold" fo:font-size="13pt"/></style:style>'),
        ("header", '<style:style style:name="header" style:family="table-cell" style:display-name="header">'
                   '<style:text-properties fo:font-weight="bold"/>'
                   '<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="bottom"/></style:style>'),
        ("wrap", '<style:style style:name="wrap" style:family="table-cell" style:display-name="wrap">'
                 '<style:table-cell-properties fo:wrap-option="wrap" style:vertical-align="top"/></style:style>'),
    ]
    made: set[str] = {name for name, _ in styles}
    used: set[str] = set()

    def num_style(decimals: int, suffix: str = "") -> str:
        tag = "r" if suffix else ""  # the one suffix used: " [r]" after a revised figure
        name, data = f"num{decimals}{tag}", f"N{decimals}{tag}"
        if name not in made:
            made.add(name)
            after = f"<number:text>{odf_text(suffix)}</number:text>" if suffix else ""
            styles.append((data, f'<number:number-style style:name="{data}" '
                           f'style:display-name="{data}"><number:number number:decimal-places="{decimals}" '
                           f'number:min-integer-digits="1" number:grouping="true"/>{after}</number:number-style>'))
            styles.append((name, f'<style:style style:name="{name}" style:family="table-cell" '
                           f'style:data-style-name="{data}" style:display-name="{name}">'
                           '<style:paragraph-properties fo:text-align="end"/></style:style>'))
        used.add(name)
        used.add(data)
        return name

    def col_style(width: int) -> str:
        name = f"col{width}"
        if name not in made:
            made.add(name)
            styles.append((name, f'<style:style style:name="{name}" style:family="table-column" '
                           f'style:display-name="{name}"><style:table-column-properties '
                           f'style:column-width="{width * 0.21:.2f}cm"/></style:style>'))
        used.add(name)
        return name

    def cell(c: XCell, style: str | None = None) -> str:
        if c.kind == "number":
            value = repr(c.value) if isinstance(c.value, float) else str(c.value)
            shown = c.shown or str(c.value)
            return (f'<table:table-cell office:value-type="float" office:value={odf_attr(value)} '
                    f'table:style-name="{num_style(c.decimals, c.suffix)}"><text:p>{odf_text(shown)}</text:p></table:table-cell>')
        # text that would read as a formula is stored with ' in front, as in the CSV files:
        # an OpenDocument cell has no quote-prefix mark, and a string cell starting = can
        # become a formula when the cell is edited (docs/decisions/0005)
        text = "" if c.value is None else neutralise(str(c.value))
        if style is None and "\n" in text:
            style = "wrap"
        if style is not None:
            used.add(style)
        styled = f' table:style-name="{style}"' if style is not None else ""
        if not text:
            return f"<table:table-cell{styled}/>"
        inner = odf_paragraph_text(text)
        if c.kind == "link":
            inner = f'<text:a xlink:href={odf_attr("#" + c.target)} xlink:type="simple">{inner}</text:a>'
        return f'<table:table-cell office:value-type="string"{styled}><text:p>{inner}</text:p></table:table-cell>'

    def row(cells: str) -> str:
        return f"<table:table-row>{cells}</table:table-row>" if cells else "<table:table-row/>"

    body: list[str] = []
    for sheet in sheets:
        body.append(f"<table:table table:name={odf_attr(sheet.name)}>")
        body += [f'<table:table-column table:style-name="{col_style(w)}"/>' for w in sheet.widths]
        body.append(row(cell(_t(sheet.title), "title")))
        for line in sheet.lines:
            is_heading = sheet.is_cover and line.value in ("Things you need to know", "Symbols used in this workbook")
            body.append(row(cell(line, "heading" if is_heading else ("wrap" if sheet.is_cover else None))))
        if sheet.header:
            body.append(row("".join(cell(_t(h), "header") for h in sheet.header)))
            body += [row("".join(cell(c) for c in data_row)) for data_row in sheet.rows]
        body.append("</table:table>")
    spreadsheet = "".join(body)
    auto = "".join(xml for name, xml in styles if name in used)
    auto = f"<office:automatic-styles>{auto}</office:automatic-styles>" if auto else "<office:automatic-styles/>"
    return _odf_part("office:document-content", ' office:version="1.2"',
                     f"{auto}<office:body><office:spreadsheet>{spreadsheet}</office:spreadsheet></office:body>")


def write_ods(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    moment = _fixed_moment(ctx).strftime("%Y-%m-%dT%H:%M:%S")
    meta = (f"<office:meta><dc:title>{odf_text(f'{ctx.config.title}: {ctx.year}')}</dc:title>"
            "<dc:language>en-GB</dc:language>"
            f"<meta:initial-creator>{odf_text(ctx.config.publisher)}</meta:initial-creator>"
            f"<meta:creation-date>{moment}</meta:creation-date><dc:date>{moment}</dc:date>"
            f"<meta:generator>{ODS_GENERATOR}</meta:generator></office:meta>")
    manifest = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="{media}"/>'
        for name, media in (("/", ODS_MIMETYPE), ("styles.xml", "text/xml"), ("content.xml", "text/xml"),
                            ("meta.xml", "text/xml"))
    )
    deflated = zipfile.ZIP_DEFLATED
    path.write_bytes(zip_bytes([
        ("mimetype", ODS_MIMETYPE.encode("ascii"), zipfile.ZIP_STORED),
        ("styles.xml", _odf_part("office:document-styles", ' office:version="1.2"',
                                 "<office:styles/><office:automatic-styles></office:automatic-styles>"), deflated),
        ("content.xml", ods_content_xml(sheets), deflated),
        ("meta.xml", _odf_part("office:document-meta", ' office:version="1.2"', meta), deflated),
        ("META-INF/manifest.xml", _odf_part("manifest:manifest", "", manifest), deflated),
    ]))
    return path


def write_spreadsheets(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    sheets = build_workbook(ctx)
    return [
        write_ods(inside(out_dir, f"dasa-{ctx.year}.ods"), ctx, sheets),
        write_xlsx(inside(out_dir, f"dasa-{ctx.year}.xlsx"), ctx, sheets),
    ]
