"""Text put into a cell of an output file: formula text neutralised, XML-unsafe characters replaced.

Issue messages, sheet names, codes and file names quote what a sender typed, so any text
cell of an output may hold `=HYPERLINK(...)` or `=cmd|' /C calc'!A0`. One predicate,
`reads_as_formula`, says whether a spreadsheet program would take a text for a formula (it
starts with `=`, `+`, `-`, `@`, a tab or a carriage return), and one function,
`neutralise`, makes it plain text by putting `'` in front. Every writer uses them:

- CSV files (`pipelines.release.csvfiles`, the query lists of `dasa check`): `safe_text`
  and `safe_cell` below, the neutralised text itself;
- `.xlsx`: the text is kept as typed and the cell gets the quote-prefix style
  (`quotePrefix`), Excel's own mark for "text, even though it looks like a formula";
- `.ods`: OpenDocument has no such mark, so the cell holds the neutralised text, as the
  CSV does (see docs/decisions/0005-spreadsheet-writers.md).

A published number such as `-3.2` in a value column is a number, not a formula
(`safe_cell(value, numeric=True)`). The HTML is escaped by Jinja's autoescape instead.

`xml_chars` replaces what XML 1.0 cannot hold (NUL and other control characters, lone
surrogates, U+FFFE and U+FFFF, ...) and the characters it discourages with U+FFFD, so no
input text makes an `.xlsx` or `.ods` ill-formed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARS = frozenset(FORMULA_STARTS)
QUOTE = "'"
# The same test as a regular expression, for polars columns (a CR is a newline by then).
FORMULA_START_RE = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_STARTS if c != "\r") + "]"
# A published number (ASCII digits, nothing after): the same test in Python and in polars.
NUMBER_PATTERN = r"-?[0-9]+(\.[0-9]+)?"
NUMBER_RE = "^" + NUMBER_PATTERN + "$"
_NUMBER = re.compile(NUMBER_PATTERN)


def reads_as_formula(text: str) -> bool:
    """Whether a spreadsheet program would read this text as a formula (or as the start of one)."""
    return bool(text) and text[0] in _FORMULA_CHARS


def neutralise(text: str) -> str:
    """Text a spreadsheet reads as text: `'` in front of text that would read as a formula."""
    return QUOTE + text if reads_as_formula(text) else text


def safe_text(value: str) -> str:
    """A CSV text cell: carriage returns as newlines, then neutralised."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return neutralise(value)


def is_negative_number(value: str) -> bool:
    """`-3.2`: a published number, not a formula (only in a value column)."""
    return value[:1] == "-" and _NUMBER.fullmatch(value) is not None


def safe_cell(value: str, numeric: bool) -> str:
    """A CSV cell: text neutralised, except a negative number in a value column."""
    if numeric and is_negative_number(value):
        return value
    return safe_text(value)


def csv_bytes(header: Sequence[str], rows: list[list[str]], numeric: set[int] | None = None) -> bytes:
    """UTF-8 CSV, `\\n` line ends, every cell made safe; `numeric` are the positions of value columns."""
    numeric = numeric or set()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([safe_text(h) for h in header])
    # most cells are plain (no formula start, no carriage return): written as they are; the
    # others go through safe_cell (hundreds of thousands of cells per release)
    formula = _FORMULA_CHARS
    writer.writerows([v if not v or (v[0] not in formula and "\r" not in v) else safe_cell(v, i in numeric)
                      for i, v in enumerate(row)] for row in rows)
    return buf.getvalue().encode("utf-8")


def _ranges_re(ranges: tuple[tuple[int, int], ...]) -> re.Pattern:
    return re.compile("[" + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges) + "]")


# Characters XML 1.0 cannot hold, and those it discourages (C1 controls but NEL, the
# non-characters U+nFFFE and U+nFFFF of every plane).
XML_UNREPRESENTABLE = _ranges_re(
    ((0x0, 0x0), (0xD800, 0xDFFF), (0xFFFE, 0xFFFF), (0x01, 0x08), (0x0B, 0x0C), (0x0E, 0x1F),
     (0x7F, 0x84), (0x86, 0x9F), *((p * 0x10000 + 0xFFFE, p * 0x10000 + 0xFFFF) for p in range(1, 17)))
)
REPLACEMENT = "\ufffd"


def xml_chars(text: str) -> str:
    """Text with every character XML 1.0 cannot hold (or discourages) replaced by U+FFFD."""
    return XML_UNREPRESENTABLE.sub(REPLACEMENT, text)
