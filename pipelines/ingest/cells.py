"""Typing one spreadsheet cell by the data contract, without ever guessing.

Every parser returns `(value, problem)`: `problem` is None when the cell is fine or blank,
otherwise a sentence a person can act on. A blank cell is "not collected" (value None,
no problem); anything that is not exactly what the contract allows is a cell error.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re

_WHOLE = re.compile(r"^[0-9]+$")
# The largest whole number a spreadsheet stores exactly (2^53 - 1): anything larger is not a
# count, and could not be held in the warehouse's 64-bit columns either.
MAX_WHOLE = 2**53 - 1
_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def describe(value: object) -> str:
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def parse_count(value: object, *, error_code: str | None = None) -> tuple[int | None, str | None]:
    """A count is a whole number >= 0 stored as a number; blank means not collected."""
    if error_code is not None:
        return None, f"{error_problem(error_code)}; a count must be a whole number"
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"holds {describe(value)}; a count must be a whole number"
    if isinstance(value, int):
        if value < 0:
            return None, f"holds the negative number {value}; a count must be 0 or more"
        if value > MAX_WHOLE:
            return None, f"holds {describe(value)}, far too large to be a count"
        return value, None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None, f"holds {describe(value)}; a count must be a whole number"
        if not value.is_integer():
            return None, f"holds the decimal {value:g}; a count must be a whole number"
        if value < 0:
            return None, f"holds the negative number {value:g}; a count must be 0 or more"
        if value > MAX_WHOLE:
            return None, f"holds {value:g}, far too large to be a count"
        return int(value), None
    if isinstance(value, str):
        text = value.strip()
        if _WHOLE.match(text):
            return None, f"holds the number {describe(value)} stored as text; enter it as a number"
        return None, f"holds the text {describe(value)}; a count must be a whole number (leave it empty if not collected)"
    return None, f"holds {describe(value)} of type {type(value).__name__}; a count must be a whole number"


def error_problem(error_code: str) -> str:
    """What an error cell holds: a formula error (`#REF!`), or a formula with no saved value."""
    if error_code.startswith("="):
        return (f"holds the formula {describe(error_code)} with no saved value (open and save the workbook in a "
                "spreadsheet program so its value is stored, or type the number)")
    return f"holds the formula error {error_code}"


def parse_int(value: object) -> tuple[int | None, str | None]:
    if is_blank(value):
        return None, None
    if isinstance(value, bool):
        return None, f"holds {describe(value)}; expected a whole number"
    number = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value.strip()):
        number = int(value.strip())
    if number is None:
        return None, f"holds {describe(value)}; expected a whole number"
    if abs(number) > MAX_WHOLE:
        return None, f"holds {describe(value)}, far too large for a whole number here"
    return number, None


def parse_text(value: object) -> tuple[str | None, str | None]:
    if is_blank(value):
        return None, None
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(), None
    return str(value), None


def parse_code(value: object, codes: tuple[str, ...]) -> tuple[str | None, str | None]:
    if is_blank(value):
        return None, None
    text = str(value).strip()
    if text in codes:
        return text, None
    return None, f"holds {describe(value)}, which is not one of: {', '.join(codes)}"


def parse_yesno(value: object) -> tuple[str | None, str | None]:
    return parse_code(value, ("yes", "no"))


def parse_date(value: object) -> tuple[str | None, str | None]:
    """Dates are kept as ISO text (`YYYY-MM-DD`)."""
    if is_blank(value):
        return None, None
    if isinstance(value, dt.datetime):
        return value.date().isoformat(), None
    if isinstance(value, dt.date):
        return value.isoformat(), None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            pass
    return None, f"holds {describe(value)}; expected a date (YYYY-MM-DD)"


def parse_year(value: object) -> tuple[str | None, str | None]:
    if is_blank(value):
        return None, None
    text = str(value).strip()
    m = _YEAR.match(text)
    if m and (int(m.group(1)) + 1) % 100 == int(m.group(2)):
        return text, None
    return None, f"holds {describe(value)}; expected a financial year like 2024-25"


def column_letter(index: int) -> str:
    """0-based column index to an Excel column letter (0 -> A, 26 -> AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def near(name: str, found, what: str) -> str:
    """A hint when a required sheet or column seems to be there under another spelling."""
    key = name.replace("_", "").replace(" ", "").lower()
    candidates = [str(f) for f in found]
    close = [f for f in candidates if f.replace("_", "").replace(" ", "").lower() == key]
    close = close or difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    if close:
        return f" (there is a {what} {close[0]!r}: rename it to '{name}')"
    return ""
