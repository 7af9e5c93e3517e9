"""Byte-reproducible file writers: xlsx (openpyxl, then a normalised zip) and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import pathlib
import zipfile
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.xml.functions import tostring

# openpyxl stamps the clock into docProps/core.xml and zipfile into each entry: fix both.
FIXED_PROPERTY_TIME = dt.datetime(2025, 4, 1, 0, 0, 0)
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
DATE_FORMAT = "yyyy-mm-dd"
CORE_PROPERTIES = "docProps/core.xml"


class Text(str):
    """A string written as text even if it looks like a formula (`=...`)."""


def write_xlsx(path: pathlib.Path, sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> None:
    """Write sheets of rows (first row = header). None leaves a cell empty; a date is written
    as an Excel date; a str equal to an Excel error code (`#REF!`) becomes an error cell."""
    wb = Workbook()
    assert wb.active is not None  # a new workbook has one sheet, replaced by those given
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None:
                    continue
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, dt.date):
                    cell.number_format = DATE_FORMAT
                elif isinstance(value, Text):
                    cell.data_type = "s"
    wb.properties.creator = "dasa sample data generator"
    wb.properties.created = FIXED_PROPERTY_TIME
    wb.properties.modified = FIXED_PROPERTY_TIME
    buffer = io.BytesIO()
    wb.save(buffer)  # sets properties.modified to the clock: put the fixed time back
    wb.properties.modified = FIXED_PROPERTY_TIME
    core = tostring(wb.properties.to_tree())
    path.write_bytes(normalise_zip(buffer.getvalue(), {CORE_PROPERTIES: core}))


def normalise_zip(data: bytes, replace: dict[str, bytes] | None = None) -> bytes:
    """The same zip with entries sorted by name, fixed timestamps and attributes, and no
    compression: the bytes then depend on nothing but the content (not the clock, not the
    zlib build), and git can delta-compress the many near-identical workbooks."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in sorted(src.namelist()):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 0
            info.external_attr = 0
            dst.writestr(info, replace.get(name, src.read(name)))
    return out.getvalue()


def write_csv(path: pathlib.Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """UTF-8, comma-separated, header first, `\\n` line endings; None is written empty."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
