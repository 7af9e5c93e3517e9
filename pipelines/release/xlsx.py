"""The release workbook as an Office Open XML spreadsheet (`.xlsx`), written as text.

The workbook model (`workbook.XSheet`) needs only text and number cells, two
alignments, four fonts, number formats with the published decimal places, internal links,
one table per sheet and frozen header rows, so the parts are written directly instead of
through openpyxl's object model (which took most of a second per release). The markup is
what openpyxl 3.1 wrote for the same workbook, part for part and in the same order, so the
files are unchanged; `tests/test_release_render.py` checks the two agree.

Text is never stored as a formula: every text cell is an inline string, and text a
spreadsheet program would read as a formula (`pipelines.cell_text.reads_as_formula`, the
rule of the CSV files and the `.ods` too) gets the quote-prefix style, titles and headings
included. Characters XML 1.0 cannot hold (`cell_text.XML_UNREPRESENTABLE`, as in the `.ods`)
become U+FFFD wherever text is written, so no input text makes the file ill-formed.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from pipelines.cell_text import XML_UNREPRESENTABLE, reads_as_formula, xml_chars
from pipelines.release.context import ReleaseContext
from pipelines.release.workbook import XCell, XSheet, fixed_moment, zip_bytes
from pipelines.release.xlsx_theme import THEME_XML

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
TABLE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
APPLICATION = "dasa"  # the program that wrote the file (docProps/app.xml)
APP_VERSION = "3.1"
MAX_TEXT = 32767  # the longest text a cell holds; longer text is cut, as openpyxl did
COVER_HEADINGS = ("Things you need to know", "Symbols used in this workbook")

# Fonts and alignments, as <font> and <alignment> markup.
DEFAULT_FONT = ('<font><name val="Calibri" /><family val="2" /><color theme="1" /><sz val="11" />'
                '<scheme val="minor" /></font>')
TITLE_FONT = '<font><b val="1" /><sz val="15" /></font>'
HEADING_FONT = '<font><b val="1" /><sz val="13" /></font>'
BOLD_FONT = '<font><b val="1" /></font>'
LINK_FONT = '<font><color rgb="000563C1" /><u val="single" /></font>'
WRAP_TOP = '<alignment vertical="top" wrapText="1" />'
WRAP_BOTTOM = '<alignment vertical="bottom" wrapText="1" />'
BUILTIN_NUMBER_FORMATS = {"#,##0": 3, "#,##0.00": 4}  # Excel's built-in ids; others are numbered from 164

INDEXED_COLOURS = (
    "00000000 00FFFFFF 00FF0000 0000FF00 000000FF 00FFFF00 00FF00FF 0000FFFF "
    "00000000 00FFFFFF 00FF0000 0000FF00 000000FF 00FFFF00 00FF00FF 0000FFFF "
    "00800000 00008000 00000080 00808000 00800080 00008080 00C0C0C0 00808080 "
    "009999FF 00993366 00FFFFCC 00CCFFFF 00660066 00FF8080 000066CC 00CCCCFF "
    "00000080 00FF00FF 00FFFF00 0000FFFF 00800080 00800000 00008080 000000FF "
    "0000CCFF 00CCFFFF 00CCFFCC 00FFFF99 0099CCFF 00FF99CC 00CC99FF 00FFCC99 "
    "003366FF 0033CCCC 0099CC00 00FFCC00 00FF9900 00FF6600 00666699 00969696 "
    "00003366 00339966 00003300 00333300 00993300 00993366 00333399 00333333"
).split()


def xml_text(text: str) -> str:
    """Character data: characters XML cannot hold as U+FFFD, then &, < and > escaped."""
    if XML_UNREPRESENTABLE.search(text):
        text = xml_chars(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(text: str) -> str:
    """An attribute value (without its quotes), escaped as ElementTree escapes it."""
    return (xml_text(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


_LOW_CONTROL = re.compile("[\001-\031]")  # 1 to 25: the range openpyxl escapes (031 is octal)


def ooxml_escape(text: str) -> str:
    """Control characters in a table column name, as `_x000a_`."""
    return _LOW_CONTROL.sub(lambda m: f"_x{ord(m.group()):04x}_", text)


def column_letter(n: int) -> str:
    letters = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _number(value: float | int) -> str:
    return f"{value:.16g}"


class _Styles:
    """Fonts, alignments, number formats and cell formats, numbered in order of first use."""

    def __init__(self) -> None:
        self.fonts = [DEFAULT_FONT]
        self.alignments = [""]
        self.formats: list[str] = []  # custom number format codes (ids from 164)
        self.xfs: dict[tuple[int, int, int, bool], int] = {(0, 0, 0, False): 0}

    def font(self, xml: str) -> int:
        if xml not in self.fonts:
            self.fonts.append(xml)
        return self.fonts.index(xml)

    def alignment(self, xml: str) -> int:
        if xml not in self.alignments:
            self.alignments.append(xml)
        return self.alignments.index(xml)

    def number_format(self, code: str) -> int:
        if code in BUILTIN_NUMBER_FORMATS:
            return BUILTIN_NUMBER_FORMATS[code]
        if code not in self.formats:
            self.formats.append(code)
        return 164 + self.formats.index(code)

    def xf(self, font: int, num_fmt: int, alignment: int, quote: bool) -> int:
        key = (font, num_fmt, alignment, quote)
        if key not in self.xfs:
            self.xfs[key] = len(self.xfs)
        return self.xfs[key]

    def xml(self) -> str:
        fmts = "".join(f'<numFmt numFmtId="{164 + i}" formatCode="{xml_attr(code)}" />'
                       for i, code in enumerate(self.formats))
        numfmts = f'<numFmts count="{len(self.formats)}">{fmts}</numFmts>' if fmts else '<numFmts count="0" />'
        xfs = []
        for font, num_fmt, alignment, quote in self.xfs:
            head = f'<xf numFmtId="{num_fmt}" fontId="{font}" fillId="0" borderId="0"'
            tail = f' pivotButton="0" quotePrefix="{int(quote)}" xfId="0"'
            if alignment:
                xfs.append(f'{head} applyAlignment="1"{tail}>{self.alignments[alignment]}</xf>')
            else:
                xfs.append(f"{head}{tail} />")
        colours = "".join(f'<rgbColor rgb="{c}" />' for c in INDEXED_COLOURS)
        return (
            f'<styleSheet xmlns="{MAIN_NS}">{numfmts}'
            f'<fonts count="{len(self.fonts)}">{"".join(self.fonts)}</fonts>'
            '<fills count="2"><fill><patternFill /></fill><fill><patternFill patternType="gray125" /></fill></fills>'
            '<borders count="1"><border><left /><right /><top /><bottom /><diagonal /></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" /></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0" hidden="0" /></cellStyles>'
            '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16" />'
            f"<colors><indexedColors>{colours}</indexedColors></colors></styleSheet>"
        )


def _text_cell(ref: str, text: str, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if text == "":
        return f'<c r="{ref}"{s} t="inlineStr" />'
    stripped = text.strip()
    space = ' xml:space="preserve"' if stripped and stripped != text else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{xml_text(text)}</t></is></c>'


def _clean(text: str) -> str:
    """Text as a cell keeps it: at most MAX_TEXT characters, those XML cannot hold as U+FFFD."""
    text = text[:MAX_TEXT]
    return xml_chars(text) if XML_UNREPRESENTABLE.search(text) else text


class _SheetWriter:
    def __init__(self, styles: _Styles) -> None:
        self.styles = styles
        self.links: list[str] = []

    def put(self, ref: str, cell: XCell, *, cover: bool = False) -> str | None:
        """A cell (None: an empty cell that is not written). Cover lines wrap, and its two
        headings are larger."""
        st = self.styles
        font = alignment = 0
        heading = cover and cell.value in COVER_HEADINGS
        if cover:
            alignment = st.alignment(WRAP_TOP)
        if cell.kind == "number":
            if heading:
                font = st.font(HEADING_FONT)
            code = "#,##0" + ("." + "0" * cell.decimals if cell.decimals else "")
            if cell.suffix:  # shown after the number, which stays a number
                code += '"' + cell.suffix.replace('"', "") + '"'
            style = st.xf(font, st.number_format(code), alignment, False)
            assert isinstance(cell.value, (int, float))  # a number cell holds its number
            return f'<c r="{ref}" s="{style}" t="n"><v>{_number(cell.value)}</v></c>'
        text = "" if cell.value is None else str(cell.value)
        quote = reads_as_formula(text)
        if "\n" in text and not alignment:
            alignment = st.alignment(WRAP_TOP)
        if cell.kind == "link":
            location = f"'{cell.target}'!A1"
            self.links.append(f'<hyperlink ref="{ref}" location="{xml_attr(location)}" display="{xml_attr(text)}" />')
            font = st.font(LINK_FONT)
            if not text:
                text = location  # a link with no text shows where it goes, as openpyxl did
        if heading:
            font = st.font(HEADING_FONT)
        if not text:
            if not (font or alignment):
                return None
            return f'<c r="{ref}" s="{st.xf(font, 0, alignment, quote)}" t="n" />'
        style = st.xf(font, 0, alignment, quote) if (font or alignment or quote) else 0
        return _text_cell(ref, _clean(text), style)


def _sheet_xml(sheet: XSheet, number: int, styles: _Styles) -> tuple[str, str | None]:
    """The worksheet, and its table (None for a sheet without one)."""
    w = _SheetWriter(styles)
    rows: list[tuple[int, list[str]]] = []
    max_col = 1
    title_font = styles.font(TITLE_FONT)
    rows.append((1, [_text_cell("A1", _clean(sheet.title),
                                styles.xf(title_font, 0, 0, reads_as_formula(sheet.title)))]))
    r = 2
    for line in sheet.lines:
        cell = w.put(f"A{r}", line, cover=sheet.is_cover)
        rows.append((r, [cell] if cell else []))
        r += 1
    table = None
    top = r
    letters: list[str] = []
    if sheet.header:
        width = max([len(sheet.header), *(len(row) for row in sheet.rows)])
        letters = [column_letter(j) for j in range(1, width + 1)]
        max_col = max(max_col, width)
        bold = styles.font(BOLD_FONT)
        bottom = styles.alignment(WRAP_BOTTOM)
        header_style = styles.xf(bold, 0, bottom, False)
        rows.append((r, [_text_cell(f"{letters[j]}{r}", _clean(h),
                                    styles.xf(bold, 0, bottom, True) if reads_as_formula(h) else header_style)
                         for j, h in enumerate(sheet.header)]))
        for data_row in sheet.rows:
            r += 1
            cells = [w.put(f"{letters[j]}{r}", c) for j, c in enumerate(data_row)]
            if data_row or r == top + 1:  # a row is written when it has cells, even empty ones
                rows.append((r, [c for c in cells if c]))
        last = max(r, top + 1)
        if r == top:  # the frozen row's first cell exists, though empty
            rows.append((top + 1, []))
        ref = f"A{top}:{column_letter(len(sheet.header))}{last}"
        name = f"table_{number}_{re.sub(r'[^A-Za-z0-9_]', '_', sheet.name)}"
        columns = "".join(f'<tableColumn id="{j}" name="{xml_attr(ooxml_escape(_clean(h)))}" />'
                          for j, h in enumerate(sheet.header, start=1))
        table = (f'<table id="{{table_id}}" name="{xml_attr(name)}" displayName="{xml_attr(name)}" ref="{ref}" '
                 f'headerRowCount="1" xmlns="{MAIN_NS}"><autoFilter ref="{ref}" />'
                 f'<tableColumns count="{len(sheet.header)}">{columns}</tableColumns>'
                 '<tableStyleInfo name="TableStyleLight1" showFirstColumn="0" showLastColumn="0" '
                 'showRowStripes="0" showColumnStripes="0" /></table>')
        view = (f'<pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" state="frozen" />'
                '<selection pane="bottomLeft" activeCell="A1" sqref="A1" />')
    else:
        view = '<selection activeCell="A1" sqref="A1" />'
    max_row = rows[-1][0]
    data = "".join(f'<row r="{i}">{"".join(cells)}</row>' for i, cells in rows)
    cols = "".join(f'<col width="{_number(wd)}" customWidth="1" min="{j}" max="{j}" />'
                   for j, wd in enumerate(sheet.widths, start=1))
    parts = [
        f'<worksheet xmlns="{MAIN_NS}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1" /><pageSetUpPr />'
        f'</sheetPr><dimension ref="A1:{column_letter(max_col)}{max_row}" />'
        f'<sheetViews><sheetView workbookViewId="0">{view}</sheetView></sheetViews>'
        '<sheetFormatPr baseColWidth="8" defaultRowHeight="15" />',
        f"<cols>{cols}</cols>" if cols else "",
        f"<sheetData>{data}</sheetData>",
        f'<hyperlinks>{"".join(w.links)}</hyperlinks>' if w.links else "",
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5" />',
        f'<tableParts count="1"><tablePart xmlns:r="{REL_NS}" r:id="rId1" /></tableParts>' if table else "",
        "</worksheet>",
    ]
    return "".join(parts), table


def _relationships(items: list[tuple[str, str]]) -> str:
    rels = "".join(f'<Relationship Type="{typ}" Target="{target}" Id="rId{i}" />'
                   for i, (typ, target) in enumerate(items, start=1))
    return f'<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'


def xlsx_bytes(sheets: list[XSheet], *, title: str, creator: str, stamp: str) -> bytes:
    """The workbook's zip: `stamp` (YYYY-MM-DDTHH:MM:SSZ) is its created and modified date."""

    styles = _Styles()
    deflated = zipfile.ZIP_DEFLATED
    app = (f'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
           f"<Application>{APPLICATION}</Application><AppVersion>{APP_VERSION}</AppVersion></Properties>")
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{xml_text(creator)}</dc:creator><dc:title>{xml_text(title)}</dc:title>"
        "<dc:language>en-GB</dc:language>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        f"<cp:lastModifiedBy>{xml_text(creator)}</cp:lastModifiedBy></cp:coreProperties>"
    )
    entries: list[tuple[str, bytes, int]] = [
        ("docProps/app.xml", app.encode("utf-8"), deflated),
        ("docProps/core.xml", core.encode("utf-8"), deflated),
        ("xl/theme/theme1.xml", THEME_XML.encode("utf-8"), deflated),
    ]
    overrides: list[tuple[str, str]] = []
    n_tables = 0
    for n, sheet in enumerate(sheets, start=1):
        sheet_xml, table = _sheet_xml(sheet, n, styles)
        entries.append((f"xl/worksheets/sheet{n}.xml", sheet_xml.encode("utf-8"), deflated))
        overrides.append((f"/xl/worksheets/sheet{n}.xml", SHEET_TYPE))
        if table is not None:
            n_tables += 1
            entries.append((f"xl/tables/table{n_tables}.xml",
                            table.replace("{table_id}", str(n_tables), 1).encode("utf-8"), deflated))
            overrides.append((f"/xl/tables/table{n_tables}.xml", TABLE_TYPE))
            rels = _relationships([(f"{REL_NS}/table", f"/xl/tables/table{n_tables}.xml")])
            entries.append((f"xl/worksheets/_rels/sheet{n}.xml.rels", rels.encode("utf-8"), deflated))
    entries.append(("xl/styles.xml", styles.xml().encode("utf-8"), deflated))
    entries.append(("_rels/.rels", _relationships([
        (f"{REL_NS}/officeDocument", "xl/workbook.xml"),
        ("http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties", "docProps/core.xml"),
        (f"{REL_NS}/extended-properties", "docProps/app.xml"),
    ]).encode("utf-8"), deflated))
    sheet_list = "".join(f'<sheet name="{xml_attr(s.name)}" sheetId="{n}" state="visible" r:id="rId{n}" />'
                         for n, s in enumerate(sheets, start=1))
    workbook = (
        f'<workbook xmlns:r="{REL_NS}" xmlns="{MAIN_NS}"><workbookPr /><workbookProtection /><bookViews>'
        '<workbookView visibility="visible" minimized="0" showHorizontalScroll="1" showVerticalScroll="1" '
        'showSheetTabs="1" tabRatio="600" firstSheet="0" activeTab="0" autoFilterDateGrouping="1" /></bookViews>'
        f'<sheets>{sheet_list}</sheets><definedNames /><calcPr calcId="124519" fullCalcOnLoad="1" /></workbook>'
    )
    entries.append(("xl/workbook.xml", workbook.encode("utf-8"), deflated))
    entries.append(("xl/_rels/workbook.xml.rels", _relationships(
        [(f"{REL_NS}/worksheet", f"/xl/worksheets/sheet{n}.xml") for n in range(1, len(sheets) + 1)]
        + [(f"{REL_NS}/styles", "styles.xml"), (f"{REL_NS}/theme", "theme/theme1.xml")]
    ).encode("utf-8"), deflated))
    office = "application/vnd.openxmlformats-officedocument"
    types = [
        ("/xl/styles.xml", f"{office}.spreadsheetml.styles+xml"),
        ("/xl/theme/theme1.xml", f"{office}.theme+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", f"{office}.extended-properties+xml"),
        *overrides,
        ("/xl/workbook.xml", f"{office}.spreadsheetml.sheet.main+xml"),
    ]
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />'
        '<Default Extension="xml" ContentType="application/xml" />'
        + "".join(f'<Override PartName="{part}" ContentType="{typ}" />' for part, typ in types)
        + "</Types>"
    )
    entries.append(("[Content_Types].xml", content_types.encode("utf-8"), deflated))
    return zip_bytes(entries)


def write_xlsx(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    stamp = fixed_moment(ctx).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_bytes(xlsx_bytes(sheets, title=f"{ctx.config.title}: {ctx.year}", creator=ctx.config.publisher,
                                stamp=stamp))
    return path
