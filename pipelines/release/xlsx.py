"""The release workbook as an Office Open XML spreadsheet (`.xlsx`), written with XlsxWriter.

The workbook model (`workbook.XSheet`) needs only text and number cells, two alignments,
four fonts, number formats with the published decimal places, internal links, one table
per sheet and frozen header rows; XlsxWriter writes the parts, escapes their XML and packs
them (docs/decisions/0016-xlsxwriter.md).

Text is never stored as a formula: every text cell is written with `write_string` (and the
workbook is opened with XlsxWriter's conversions of strings to formulas, numbers and URLs
off), and text a spreadsheet program would read as a formula
(`pipelines.cell_text.reads_as_formula`, the rule of the CSV files and the `.ods` too) gets
the quote-prefix format, titles and headings included. Characters XML 1.0 cannot hold
(`cell_text.XML_UNREPRESENTABLE`, as in the `.ods`) become U+FFFD before any text reaches
XlsxWriter, so the two spreadsheets hold the same text.

The bytes are the same on every build: the document's created date is the release's fixed
moment (`workbook.fixed_moment`), and a workbook built in memory gets XlsxWriter's fixed
zip entry dates (1 January 1980).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipelines.cell_text import XML_UNREPRESENTABLE, reads_as_formula, xml_chars
from pipelines.release.context import ReleaseContext
from pipelines.release.workbook import XCell, XSheet, fixed_moment

MAX_TEXT = 32767  # the longest text a cell holds; longer text is cut
PIXELS_PER_CHARACTER = 7  # Calibri 11's digit width: a model width of w characters is 7w pixels
COVER_HEADINGS = ("Things you need to know", "Symbols used in this workbook")
OPTIONS = {
    "in_memory": True,  # no temporary files, and fixed zip entry dates
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}

FONTS: dict[str, dict[str, Any]] = {
    "": {},
    "title": {"bold": True, "font_size": 15},
    "heading": {"bold": True, "font_size": 13},
    "bold": {"bold": True},
    "link": {"font_color": "#0563C1", "underline": 1},
}
ALIGNMENTS: dict[str, dict[str, Any]] = {
    "": {},
    "top": {"text_wrap": True, "valign": "top"},
    "bottom": {"text_wrap": True, "valign": "bottom"},
}
# the control characters a table column name holds as _x0009_ and _x000a_, as Excel writes them
_NAME_CONTROLS = re.compile("[\t\n]")


def _clean(text: str) -> str:
    """Text as a cell keeps it: at most MAX_TEXT characters, those XML cannot hold as U+FFFD,
    and a lone carriage return as a line end (as an XML reader takes one)."""
    text = text[:MAX_TEXT]
    if XML_UNREPRESENTABLE.search(text):
        text = xml_chars(text)
    return text.replace("\r", "\n") if "\r" in text else text


def _column_name(header: str) -> str:
    """A table column's name: the heading, its tabs and line ends as OOXML's `_x0009_` and `_x000a_`."""
    return _NAME_CONTROLS.sub(lambda m: f"_x{ord(m.group()):04x}_", _clean(header))


class _Formats:
    """One XlsxWriter format per combination of font, number format, alignment and quote prefix."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.made: dict[tuple[str, str, str, bool], Format | None] = {}

    def get(self, font: str = "", num_format: str = "", align: str = "", quote: bool = False) -> Format | None:
        key = (font, num_format, align, quote)
        if key not in self.made:
            props = {**FONTS[font], **ALIGNMENTS[align]}
            if num_format:
                props["num_format"] = num_format
            if quote:
                props["quote_prefix"] = True
            self.made[key] = self.book.add_format(props) if props else None
        return self.made[key]


def _number_format(cell: XCell) -> str:
    code = "#,##0" + ("." + "0" * cell.decimals if cell.decimals else "")
    if cell.suffix:  # shown after the number, which stays a number
        code += '"' + cell.suffix.replace('"', "") + '"'
    return code


def _put(ws: Worksheet, formats: _Formats, row: int, col: int, cell: XCell, *, cover: bool = False) -> None:
    """One cell (an empty text cell without a format is not written). Cover lines wrap, and
    its two headings are larger."""
    align = "top" if cover else ""
    if cell.kind == "number":
        assert isinstance(cell.value, (int, float))  # a number cell holds its number
        ws.write_number(row, col, cell.value, formats.get(num_format=_number_format(cell), align=align))
        return
    typed = "" if cell.value is None else str(cell.value)
    quote = reads_as_formula(typed)
    text = _clean(typed)
    if "\n" in text and not align:
        align = "top"
    if cell.kind == "link":
        location = f"'{cell.target}'!A1"
        shown = text or _clean(location)  # a link with no text shows where it goes
        ws.write_url(row, col, f"internal:{location}", formats.get("link", "", align, quote), shown)
        return
    fmt = formats.get("heading" if cover and text in COVER_HEADINGS else "", "", align, quote)
    if text:
        ws.write_string(row, col, text, fmt)
    elif fmt is not None:
        ws.write_blank(row, col, None, fmt)


def _write_sheet(book: xlsxwriter.Workbook, formats: _Formats, sheet: XSheet, number: int) -> None:
    ws = book.add_worksheet(sheet.name)
    for j, width in enumerate(sheet.widths):
        ws.set_column_pixels(j, j, width * PIXELS_PER_CHARACTER)
    ws.write_string(0, 0, _clean(sheet.title), formats.get("title", quote=reads_as_formula(sheet.title)))
    row = 1
    for line in sheet.lines:
        _put(ws, formats, row, 0, line, cover=sheet.is_cover)
        row += 1
    if not sheet.header:
        return
    top = row  # the header row; a table without data rows keeps one empty row
    name = f"table_{number}_{re.sub(r'[^A-Za-z0-9_]', '_', sheet.name)}"
    heading_formats = [formats.get("bold", "", "bottom", reads_as_formula(h)) for h in sheet.header]
    options = {"name": name, "style": "Table Style Light 1", "autofilter": True, "banded_rows": False,
               "columns": [{"header": _column_name(h), "header_format": f}
                           for h, f in zip(sheet.header, heading_formats)]}
    if ws.add_table(top, 0, top + max(len(sheet.rows), 1), len(sheet.header) - 1, options) != 0:
        raise ValueError(f"sheet {sheet.name}: XlsxWriter refused its table (headings {sheet.header!r})")
    for j, h in enumerate(sheet.header):  # add_table wrote each heading as its column's name
        if _column_name(h) != _clean(h):
            ws.write_string(top, j, _clean(h), heading_formats[j])
    for i, data_row in enumerate(sheet.rows, start=top + 1):
        for j, cell in enumerate(data_row):
            _put(ws, formats, i, j, cell)
    ws.freeze_panes(top + 1, 0)


def xlsx_bytes(sheets: list[XSheet], *, title: str, creator: str, created: dt.datetime) -> bytes:
    """The workbook's zip: `created` is its created and modified date."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, OPTIONS)
    book.set_properties({"title": _clean(title), "author": _clean(creator), "created": created})
    formats = _Formats(book)
    for number, sheet in enumerate(sheets, start=1):
        _write_sheet(book, formats, sheet, number)
    book.close()
    return out.getvalue()


def write_xlsx(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    path.write_bytes(xlsx_bytes(sheets, title=f"{ctx.config.title}: {ctx.year}", creator=ctx.config.publisher,
                                created=fixed_moment(ctx)))
    return path
