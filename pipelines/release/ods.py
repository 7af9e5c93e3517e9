"""The `.ods` writer: the workbook (`workbook.XSheet`) as OpenDocument parts written as text.

Text is never stored as a formula, and text a spreadsheet program would read as one
(`pipelines.cell_text.reads_as_formula`) is held with a `'` in front, as the CSV files do,
since the format has no quote-prefix mark (docs/decisions/0005-spreadsheet-writers.md).
Characters XML cannot hold become U+FFFD. The file is byte-deterministic: fixed document
dates and zip entry timestamps.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from pipelines.cell_text import neutralise, xml_chars
from pipelines.release.context import ReleaseContext
from pipelines.release.workbook import XCell, XSheet, fixed_moment, text_cell, zip_bytes

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
    """An attribute value with its quotes: line feeds, carriage returns and tabs as character
    references (`&#10;`, `&#13;`, `&#9;`, as xml.sax.saxutils.quoteattr writes them), which a
    reader would otherwise turn into spaces."""
    text = odf_text(value).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
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
    return f"{_ODF_PROLOGUE}<{root}{_ODF_XMLNS}{attrs}>{body}</{root}>".encode()


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
        body.append(row(cell(text_cell(sheet.title), "title")))
        for line in sheet.lines:
            is_heading = sheet.is_cover and line.value in ("Things you need to know", "Symbols used in this workbook")
            body.append(row(cell(line, "heading" if is_heading else ("wrap" if sheet.is_cover else None))))
        if sheet.header:
            body.append(row("".join(cell(text_cell(h), "header") for h in sheet.header)))
            body += [row("".join(cell(c) for c in data_row)) for data_row in sheet.rows]
        body.append("</table:table>")
    spreadsheet = "".join(body)
    auto = "".join(xml for name, xml in styles if name in used)
    auto = f"<office:automatic-styles>{auto}</office:automatic-styles>" if auto else "<office:automatic-styles/>"
    return _odf_part("office:document-content", ' office:version="1.2"',
                     f"{auto}<office:body><office:spreadsheet>{spreadsheet}</office:spreadsheet></office:body>")


def write_ods(path: Path, ctx: ReleaseContext, sheets: list[XSheet]) -> Path:
    moment = fixed_moment(ctx).strftime("%Y-%m-%dT%H:%M:%S")
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
