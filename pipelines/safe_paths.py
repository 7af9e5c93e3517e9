"""File names built from data: validated codes or hashes, never raw text.

A name that reaches the file system from the inputs (a workbook's `gss_code`, a file name,
a table id of `reports/release.yaml`, a metric family) could climb out of the folder it is
written to (`../../x`), be absolute (`/tmp/x`), name a device on Windows (`CON`, `nul.txt`),
hold a NUL, or be too long for the file system. Every write whose name is not a constant
goes through `inside(folder, name)`, which refuses such a name with `UnsafeName` rather than
write somewhere else; names made from input text come from `file_name_for` or
`hashed_name`, which never give a refused name. See docs/decisions/0008-bad-input-handling.md.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

# An ONS GSS code of England: E and eight ASCII digits (fullmatch: no trailing newline).
GSS_CODE = re.compile(r"E[0-9]{8}")
# A plain name: ASCII letters, digits, `_` and `-`, then an optional extension of the same.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)*")
MAX_PLAIN = 100  # the longest name file_name_for keeps as it is
MAX_NAME_BYTES = 255  # the longest file name most file systems hold (UTF-8 bytes)
_SEPARATORS = ("/", "\\")
# Characters Windows does not allow in a name (with the separators and control characters).
_WINDOWS_FORBIDDEN = frozenset('<>:"|?*')
# Device names on Windows, with or without an extension (`nul.txt` is the device too).
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{d}{n}" for d in ("COM", "LPT")
                                                           for n in (*"123456789", "¹", "²", "³"))})


class UnsafeName(ValueError):
    """A file name that would not stay a plain name inside its folder."""


def is_gss_code(text: object) -> bool:
    """Whether text is an England GSS code such as E06000001 (nothing before or after)."""
    return isinstance(text, str) and GSS_CODE.fullmatch(text) is not None


def name_problem(name: str) -> str | None:
    """Why `name` may not be used as one file name inside a folder (None when it may)."""
    if not isinstance(name, str) or not name:
        return "the name is empty"
    if "\0" in name:
        return "it holds a NUL character"
    if any(s in name for s in _SEPARATORS) or Path(name).is_absolute():
        return "it holds a path separator or is absolute"
    if ".." in name or name == ".":
        return "it holds '..' or is '.'"
    if any(ord(c) < 32 or c in _WINDOWS_FORBIDDEN for c in name):
        return "it holds a control character or one of < > : \" | ? *"
    if name[-1] in ". ":
        return "it ends with a dot or a space"
    if name.split(".", 1)[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        return "it is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def one_name(name: str) -> str:
    """`name`, refusing (UnsafeName) one that is not a plain file name (see name_problem).
    For a folder of the operator's own layout (a year folder, which may be a symlink);
    a file written from data goes through `inside`."""
    problem = name_problem(name)
    if problem is not None:
        raise UnsafeName(f"refused the file name {name!r}: {problem}")
    return name


def inside(folder: Path | str, name: str) -> Path:
    """`folder / name`, refusing (UnsafeName) a name that is not one plain file name or whose
    resolved path (symlinks followed) is not inside the resolved folder."""
    problem = name_problem(name)
    if problem is None:
        base = Path(folder).resolve()
        target = (base / name).resolve()
        if target.parent != base:
            problem = f"it resolves to {target}, outside {base}"
    if problem is not None:
        raise UnsafeName(f"refused to write {name!r} in {folder}: {problem}")
    return Path(folder) / name


def hashed_name(text: str, prefix: str) -> str:
    """`<prefix>_<first 12 hex digits of the SHA-256 of text>`: a stable name for text that
    cannot be a name itself."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{prefix}_{digest}"


def file_name_for(text: str, *, prefix: str = "unidentified") -> str:
    """A safe file stem for text: the text itself when it is plain (ASCII letters, digits,
    `_` and `-`, at most MAX_PLAIN characters, not a Windows device name), else
    `hashed_name(text, prefix)`."""
    if (isinstance(text, str) and len(text) <= MAX_PLAIN and _PLAIN.fullmatch(text) and "." not in text
            and name_problem(text) is None):
        return text
    return hashed_name(str(text), prefix)


def unprintable(name: str) -> str | None:
    """Why a file's name cannot stand in the warehouse, the release and a terminal as it is:
    bytes that are not UTF-8 (Python holds them as lone surrogates), or control characters
    (a line break in a name would forge a line of `dasa check`'s output); None when it can."""
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in name):
        return "bytes that are not UTF-8 text"
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        return "a control character (such as a line break)"
    return None


def printable(text: str) -> str:
    """A name as plain, printable text: undecodable bytes as \\xNN, control characters escaped."""
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(ch if ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 else ch.encode("unicode_escape").decode()
                   for ch in raw)


# DuckDB's readers (read_parquet, read_csv, parquet_schema) take `*`, `?` and `[` in a path as
# a pattern: a raw folder named `d*ir` would read the files of every folder it matches too.
_PATTERN = re.compile(r"([*?\[])")


def duckdb_file(path: Path | str) -> str:
    """`path` as DuckDB's readers take it as that one file, never as a pattern: each `*`, `?`
    and `[` written as a class of itself (`[*]`). (polars' readers are given `glob=False`.)"""
    return _PATTERN.sub(r"[\1]", str(path))

