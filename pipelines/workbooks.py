"""Opening an untrusted .xlsx workbook without letting it exhaust the reader.

A return comes from outside the project: it may be empty, protected by a password, another
kind of file renamed `.xlsx`, a damaged zip, a zip bomb, or a sheet that claims a million
rows. `read_workbook` says which, in a sentence an authority can act on, or returns the
sheets as rows. Before any parser sees the file, its first bytes are looked at
(`identify`) and its zip inspected directly (`inspect`): the number of parts and of sheets,
the total declared decompressed size and each large part's compression ratio, then each
sheet part, streamed in bounded chunks: its declared `<dimension>`, its `<c>` elements,
whether any `<row r=>`/`<c r=>` tag names a place beyond the limits, its merged ranges, its
formula error cells. Those are checked against `Limits` (`assets/input_limits.yaml`). No
part is ever decompressed beyond its declared size (zipfile stops there and checks the
CRC); calamine, which is not zipfile, runs in a worker under a memory cap.

A sheet that only *claims* a huge range (its `<dimension>`, or empty formatted cells far out:
common in real files) is read up to its last real cell (one holding a value or a formula),
through openpyxl with explicit bounds: calamine cannot be given bounds, and makes a grid
out to the furthest cell holding anything, even an empty text, which for `XFD1048576` is a
512 GiB allocation and an abort. A sheet whose real cells go beyond a limit is set aside.

This module imports nothing of the warehouse (no polars or DuckDB), so a worker process
(`pipelines.read_workers`) starts in milliseconds; openpyxl is imported only when used.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

from python_calamine import CalamineWorkbook

LIMITS_FILE = Path(__file__).resolve().parent.parent / "assets" / "input_limits.yaml"
CHUNK = 1 << 20  # bytes of a decompressed part handled at once
RATIO_FROM = 1_000_000  # the compression ratio is checked for parts declaring more than this


@dataclass(frozen=True)
class Limits:
    """What one workbook may hold and how long and how much memory reading it may take.
    The values are in `assets/input_limits.yaml` (`limits()`); tests make their own."""

    max_file_bytes: int
    max_members: int
    max_sheets: int
    max_uncompressed_bytes: int
    max_compression_ratio: float
    max_rows: int
    max_columns: int
    max_cells: int
    read_seconds: float
    worker_memory_bytes: int
    workers: int

    @classmethod
    def from_yaml(cls, path: Path) -> Limits:
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names = [f.name for f in fields(cls)]
        missing, unknown = [n for n in names if n not in data], sorted(set(data) - set(names))
        if missing or unknown:
            raise ValueError(f"{path}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}")
        return cls(**{n: data[n] for n in names})


@cache
def limits() -> Limits:
    """The project's limits, from `assets/input_limits.yaml`."""
    return Limits.from_yaml(LIMITS_FILE)


# --- what a reading gives ------------------------------------------------------------------------

Rows = list[list[tuple[object, str | None]]]  # (value, formula error code or None), from A1
Merge = tuple[int, int, int, int, str]  # first row, first column, last row, last column (1-based), "C3:C4"


@dataclass(frozen=True)
class Problem:
    """Why a workbook is set aside: an issue code, a sentence, and the sheet when there is one."""

    code: str
    message: str
    sheet: str | None = None


@dataclass
class WorkbookRead:
    """Either the sheets (rows, and each sheet's merged ranges) or the problem that set it aside."""

    sheets: dict[str, Rows] = field(default_factory=dict)
    merges: dict[str, list[Merge]] = field(default_factory=dict)
    problem: Problem | None = None


class SetAside(Exception):
    def __init__(self, code: str, message: str, sheet: str | None = None):
        super().__init__(message)
        self.problem = Problem(code, message, sheet)


def read_workbook(path: Path, lim: Limits) -> WorkbookRead:
    """Everything done with an untrusted workbook: identify it, inspect it, read its sheets.
    Never raises for anything in the file (a failure of the parsers is `unreadable_workbook`)."""
    try:
        identify(path, lim)
        found = inspect(path, lim)
    except SetAside as exc:
        return WorkbookRead(problem=exc.problem)
    try:
        sheets = load_sheets(path, found)
    except MemoryError:
        raise  # the worker reports it: the reader ran out of memory
    except Exception as exc:  # noqa: BLE001 - any failure of a parser on an untrusted file means the same
        return WorkbookRead(problem=Problem(
            "unreadable_workbook",
            f"{path.name} cannot be read as an Excel workbook ({type(exc).__name__}); ask the authority to open it "
            "in Excel, save it again as an .xlsx workbook and send that copy"))
    return WorkbookRead(sheets=sheets, merges={s.name: s.merges for s in found.sheets.values()
                                               if s.merges and s.name is not None})


# --- what kind of file ---------------------------------------------------------------------------

_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 compound file: Office 97-2003, or encrypted OOXML


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def identify(path: Path, lim: Limits) -> None:
    """Set aside a file that is empty, too large, or not a zip (an .xlsx is a zip)."""
    size = path.stat().st_size
    name = path.name
    if size == 0:
        raise SetAside("empty_file", f"{name} is empty (0 bytes): the copy received holds nothing. Ask the authority "
                                     "to send the workbook again")
    if size > lim.max_file_bytes:
        raise SetAside("too_large", f"{name} is {_mb(size)}, more than the {_mb(lim.max_file_bytes)} a return may be "
                                    f"(limit max_file_bytes); {_SMALL}")
    with path.open("rb") as f:
        head = f.read(1024)
    if head.startswith(b"PK"):
        return
    if head.startswith(_CFB):
        if _holds(path, _utf16("EncryptionInfo")) or _holds(path, _utf16("EncryptedPackage")):
            raise SetAside("password_protected",
                           f"{name} is protected by a password (it is encrypted), so it cannot be read. Ask the "
                           "authority for a copy saved without a password (File > Info > Protect Workbook > "
                           "Encrypt with Password, and clear the password)")
        if _holds(path, _utf16("Workbook")) or _holds(path, _utf16("Book")):
            what = "an Excel 97-2003 workbook (.xls) renamed .xlsx"
        elif _holds(path, _utf16("WordDocument")):
            what = "a Word 97-2003 document (.doc)"
        else:
            what = "an Office 97-2003 file"
        raise SetAside("not_a_workbook", f"{name} is not an .xlsx workbook: it is {what}. {_SAVE_AS}")
    raise SetAside("not_a_workbook", f"{name} is not an .xlsx workbook: it looks like {_looks_like(head)}. {_SAVE_AS}")


_SAVE_AS = "Ask the authority to save the return from the template as an Excel workbook (.xlsx) and send that"
_SMALL = ("a return made from the template is under 100 kB. Ask the authority to send the return on the template, "
          "without added pictures, sheets or formatting")


def _holds(path: Path, needle: bytes) -> bool:
    """Whether the file holds these bytes (read in bounded chunks; the file is at most max_file_bytes)."""
    tail = b""
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle):]
    return False


def _looks_like(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"%pdf"):
        return "a PDF document"
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:512]:
        return "a web page (HTML)"
    if text.startswith(b"<?xml"):
        return "an XML file (perhaps an Excel 2003 XML spreadsheet)"
    if text.startswith(b"{\\rtf"):
        return "a rich-text document (RTF)"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff") or head.startswith(b"GIF8"):
        return "an image"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
        try:  # a multi-byte character cut by the 1024 bytes read
            decoded = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            pass
    if decoded is not None and all(c.isprintable() or c in "\r\n\t" for c in decoded):
        return "a text file (perhaps CSV)" if ("," in decoded or ";" in decoded or "\t" in decoded) else "a text file"
    return "a file of an unknown kind"


# --- inspecting the zip ------------------------------------------------------------------------


@dataclass
class SheetFound:
    """One sheet part, as its tags describe it."""

    part: str
    name: str | None  # the sheet's name in the workbook (None for a part the workbook does not list)
    cells: int = 0  # <c> elements
    dimension: tuple[int, int] | None = None  # (last row, last column) the sheet declares
    max_row: int = 0  # the furthest row and column any <row>/<c> tag names (worked out for the
    max_col: int = 0  # openpyxl path only: they are its bounds)
    exact: bool = True  # every <row> and <c> tag gives its r= (else the furthest ones are worked out)
    real_rows: int | None = None  # the last row and column of a cell holding a value or formula,
    real_cols: int | None = None  # worked out only when a sheet claims more than the limits
    merges: list[Merge] = field(default_factory=list)
    has_errors: bool = False  # a formula error cell (t="e")
    unsaved: bool = False  # a formula with no saved value

    def bounds(self) -> tuple[int, int]:
        """The rows and columns to read: up to the last real cell when the sheet claims more than
        the limits (or its tags do not all say where they are), else up to the furthest tag."""
        if self.real_rows is not None:
            assert self.real_cols is not None  # both are worked out together
            return self.real_rows, self.real_cols
        return self.max_row, self.max_col


@dataclass
class Inspection:
    sheets: dict[str, SheetFound]  # by part (xl/worksheets/sheet1.xml)
    use_openpyxl: bool  # an error cell, a formula with no saved value, or a sheet read within bounds
    limits: Limits


def inspect(path: Path, lim: Limits) -> Inspection:
    name = path.name
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            RuntimeError) as exc:
        raise SetAside("damaged_workbook", f"{name} is a damaged file: it starts as an .xlsx workbook (a zip) but "
                                           f"{_zip_damage(path, exc)}. {_DAMAGED}") from None
    with z:
        infos = z.infolist()
        if len(infos) > lim.max_members:
            raise SetAside("too_large", f"{name} holds {len(infos):,} parts, more than the {lim.max_members:,} a "
                                        f"workbook may hold (limit max_members); {_SMALL}")
        names = {i.filename for i in infos}
        if not any(n.startswith("xl/") for n in names):
            raise SetAside("not_a_workbook", f"{name} is not an .xlsx workbook: it is {_zip_kind(z, names)}. {_SAVE_AS}")
        declared = sum(i.file_size for i in infos)
        if declared > lim.max_uncompressed_bytes:
            raise SetAside("too_large", f"{name} would expand to {_mb(declared)} when opened, more than the "
                                        f"{_mb(lim.max_uncompressed_bytes)} a return may (limit "
                                        f"max_uncompressed_bytes); {_SMALL}")
        for i in infos:
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > RATIO_FROM and ratio > lim.max_compression_ratio:
                raise SetAside("too_large", f"{name}: its part {i.filename} is compressed {ratio:,.0f} to 1 "
                                            f"({_mb(i.compress_size)} expanding to {_mb(i.file_size)}), beyond the "
                                            f"{lim.max_compression_ratio:,.0f} to 1 of any real workbook (limit "
                                            "max_compression_ratio): it looks built to exhaust the reader (a zip "
                                            "bomb), so it was not opened. Ask the authority to send the return on "
                                            "the template")
        try:
            return _inspect_parts(z, infos, lim, name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise SetAside("damaged_workbook", f"{name} is a damaged file: {_zip_damage(path, exc)}. "
                                               f"{_DAMAGED}") from None


_DAMAGED = ("Perhaps it was cut short when it was sent or saved: ask the authority to send the workbook again (if "
            "the copy they have is damaged too, to save it again from Excel)")


def _zip_damage(path: Path, exc: BaseException) -> str:
    text = str(exc)
    if "encrypted" in text:
        return "its parts are encrypted with a zip password"
    if "CRC" in text:
        return "a part of it fails its checksum (its contents were changed or damaged)"
    if isinstance(exc, (zlib.error, EOFError)) or "decompress" in text.lower():
        return "a part of it cannot be decompressed"
    if isinstance(exc, NotImplementedError):
        return "it uses a kind of compression or encryption Excel does not write"
    if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in text:
        return "its end is missing (the list of its parts is not there)"
    return "it cannot be opened as a zip"


def _zip_kind(z: zipfile.ZipFile, names: set[str]) -> str:
    if any(n.startswith("word/") for n in names):
        return "a Word document (.docx)"
    if any(n.startswith("ppt/") for n in names):
        return "a PowerPoint presentation (.pptx)"
    if "mimetype" in names:
        try:
            with z.open("mimetype") as f:
                mime = f.read(100)
        except Exception:  # noqa: BLE001 - only a better sentence is lost
            mime = b""
        if b"opendocument.spreadsheet" in mime:
            return "an OpenDocument spreadsheet (.ods)"
        if b"opendocument" in mime:
            return "an OpenDocument file"
    return "a zip archive that holds no Excel workbook"


# tags of the sheet XML, with or without a namespace prefix (<x:c ...>)
_P = rb"<(?:[A-Za-z_][\w.-]*:)?"
_CELL_TAG = re.compile(_P + rb"c[\s/>]")
_CELL_REF = re.compile(_P + rb"c\s[^>]*?\br=\"([A-Za-z]{1,3})([0-9]{1,7})\"")
_ROW_REF = re.compile(_P + rb"row\s[^>]*?\br=\"([0-9]{1,7})\"")
_PREFIXED = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)(?:c|row)[\s/>]")
_DIMENSION = re.compile(_P + rb"dimension\s[^>]*?\bref=\"([^\"]*)\"")
_MERGE = re.compile(_P + rb"mergeCell\s[^>]*?\bref=\"([^\"]*)\"")
_CELL_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?c>")
# a formula cell with no saved value: `<f>..</f>` (or `<f .../>`) then no `<v>`, or an empty one
_UNSAVED_FORMULA = re.compile(rb"<f(?:\s[^>]*)?(?:/>|>[^<]*</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>")
_COORD = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_ATTR = re.compile(rb"([\w:.-]+)\s*=\s*\"([^\"]*)\"")
_SHEET = re.compile(_P + rb"sheet\s[^>]*>")
_RELATIONSHIP = re.compile(_P + rb"Relationship\s[^>]*>")


def column_number(letters: str) -> int:
    """Excel column letters to a 1-based number (A -> 1, XFD -> 16384)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rem = divmod(number - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _coord(text: str) -> tuple[int, int] | None:
    m = _COORD.match(text.strip())
    return (int(m.group(2)), column_number(m.group(1))) if m else None


def _chunks(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], lim: Limits, name: str,
            *, split_after_cells: bool = False):
    """The decompressed part in pieces of about CHUNK bytes, each ending at the end of a tag (at the
    end of a cell, `</c>`, for sheets) so that no tag, and no cell, is cut in two. `budget` holds
    the bytes still allowed for the whole workbook: the real size is counted, not the declared one
    (zipfile never gives more than the declared size of a part, and checks its CRC)."""
    if info.file_size <= CHUNK:  # the usual case: one piece (zipfile gives no more than the declared size)
        data = z.read(info)
        budget[0] -= len(data)
        if budget[0] < 0:
            raise SetAside("too_large", f"{name} expands to more than {_mb(lim.max_uncompressed_bytes)} when "
                                        f"opened (limit max_uncompressed_bytes); {_SMALL}")
        if data:
            yield data
        return
    carry = b""
    got = 0
    with z.open(info) as f:
        while True:
            data = f.read(CHUNK)
            got += len(data)
            budget[0] -= len(data)
            if budget[0] < 0:
                raise SetAside("too_large", f"{name} expands to more than {_mb(lim.max_uncompressed_bytes)} when "
                                            f"opened (limit max_uncompressed_bytes); {_SMALL}")
            buf = carry + data if carry else data
            if not data or got >= info.file_size:  # the whole part (the usual case: one piece)
                if f.read(1):  # cannot be: zipfile stops at the declared size
                    raise zipfile.BadZipFile("a part is longer than it declares")
                if buf:
                    yield buf
                return
            cut = -1
            if split_after_cells:
                for m in _CELL_END.finditer(buf, max(0, len(buf) - 65536)):
                    cut = m.end()
            if cut < 0 or len(buf) - cut > CHUNK:  # no cell ends near the end: cut at a tag's end
                cut = buf.rfind(b">") + 1
            if cut <= 0 and len(buf) > 4 * CHUNK:  # a text of megabytes with no tag: let it go
                cut = len(buf)
            yield buf[:cut]
            carry = buf[cut:]


def _read_part(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget, lim, name, pattern: re.Pattern) -> list[bytes]:
    return [m.group(0) for chunk in _chunks(z, info, budget, lim, name) for m in pattern.finditer(chunk)]


_ENTITY = re.compile(r"&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(m: re.Match) -> str:
    ref = m.group(1)
    if not ref.startswith("#"):
        return _NAMED[ref]
    code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
    return chr(code) if 0 < code <= 0x10FFFF else m.group(0)


def _attrs(tag: bytes) -> dict[str, str]:
    """The attributes of one tag, by local name (`r:id` -> `id`), unescaped as XML is."""
    return {k.decode("utf-8", "replace").rsplit(":", 1)[-1]: _ENTITY.sub(_entity, v.decode("utf-8", "replace"))
            for k, v in _ATTR.findall(tag)}


def _sheet_names(z: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo], lim, name) -> dict[str, str]:
    """Sheet part -> the sheet's name, from xl/workbook.xml and its relationships (read only
    when a sheet must be named: over a limit, or holding merged cells)."""
    rels_info = by_name.get("xl/_rels/workbook.xml.rels")
    book_info = by_name.get("xl/workbook.xml")
    if rels_info is None or book_info is None:
        return {}
    budget = [lim.max_uncompressed_bytes]  # parts whose declared size was checked; read once more
    targets = {}
    for tag in _read_part(z, rels_info, budget, lim, name, _RELATIONSHIP):
        a = _attrs(tag)
        if "Id" in a and "Target" in a:
            t = a["Target"]
            targets[a["Id"]] = posixpath.normpath(t.lstrip("/") if t.startswith("/") else posixpath.join("xl", t))
    sheets = [_attrs(tag) for tag in _read_part(z, book_info, budget, lim, name, _SHEET)]
    return {targets[s["id"]]: s.get("name", "") for s in sheets if s.get("id") in targets}


_SHEET_PARTS = ("xl/worksheets/", "xl/chartsheets/", "xl/dialogsheets/", "xl/macrosheets/")


def _inspect_parts(z: zipfile.ZipFile, infos: list[zipfile.ZipInfo], lim: Limits, name: str) -> Inspection:
    budget = [lim.max_uncompressed_bytes]
    by_name = {i.filename: i for i in infos}
    n_sheets = sum(1 for i in infos if i.filename.startswith(_SHEET_PARTS) and i.filename.endswith(".xml"))
    if n_sheets > lim.max_sheets:
        raise SetAside("too_large", f"{name} has {n_sheets:,} sheets, more than the {lim.max_sheets} a return may "
                                    "have (limit max_sheets); the template has 7. Ask the authority to send the return "
                                    "with the template's sheets only")
    names: dict[str, str] | None = None

    def sheet_name(part: str) -> str | None:
        nonlocal names
        if names is None:
            names = _sheet_names(z, by_name, lim, name)
        return names.get(part)

    found: dict[str, SheetFound] = {}
    use_openpyxl = False
    big = _over_limits(lim)
    for info in infos:
        part = info.filename
        if not (part.startswith("xl/worksheets/") and part.endswith(".xml")):
            continue  # bounded by its declared size: zipfile and the parsers never expand a part beyond it
        sheet = SheetFound(part, None)
        over = _scan_sheet(z, info, budget, lim, name, sheet, big)

        def oversized(what: str, sheet: SheetFound = sheet, part: str = part) -> SetAside:  # bound: this sheet's
            sheet.name = sheet_name(part)
            where = "" if sheet.name is not None else f"its part {part} "
            return SetAside("oversized_sheet", f"{where}{what}; {_TRIM}", sheet=sheet.name)

        if sheet.cells > lim.max_cells:
            raise oversized(f"holds {sheet.cells:,} cells, more than the {lim.max_cells:,} a sheet may hold "
                            "(limit max_cells)")
        if over or not sheet.exact or (sheet.dimension is not None and (
                sheet.dimension[0] > lim.max_rows or sheet.dimension[1] > lim.max_columns)):
            # it claims more than the limits: what does it really hold? (a second pass over a part
            # already measured: its size is not counted twice)
            _scan_real_cells(z, info, [lim.max_uncompressed_bytes], lim, name, sheet)
            assert sheet.real_rows is not None and sheet.real_cols is not None  # set by the scan
            if sheet.real_rows > lim.max_rows:
                raise oversized(f"holds cells down to row {sheet.real_rows:,}, more than the {lim.max_rows:,} rows a "
                                "sheet may have (limit max_rows)")
            if sheet.real_cols > lim.max_columns:
                raise oversized(f"holds cells out to column {column_letters(sheet.real_cols)} (column "
                                f"{sheet.real_cols:,}), more than the {lim.max_columns:,} columns a sheet may have "
                                "(limit max_columns)")
            use_openpyxl = True
        use_openpyxl = use_openpyxl or sheet.has_errors or sheet.unsaved
        if sheet.merges:
            sheet.name = sheet_name(part)
        found[part] = sheet
    if use_openpyxl:  # openpyxl is given the rows and columns to read: the furthest ones the tags name
        for sheet in found.values():
            if sheet.real_rows is None:
                _scan_extent(z, by_name[sheet.part], [lim.max_uncompressed_bytes], lim, name, sheet)
    return Inspection(found, use_openpyxl, lim)


_TRIM = ("the template's sheets have a few dozen rows and columns. Ask the authority to delete what is below and to "
         "the right of the table (or copy the table into a fresh template) and send the return again")


@cache
def _over_limits(lim: Limits) -> re.Pattern:
    """A cell or row tag (`<c r="..."`, `<row r="..."`) naming a place that may be beyond the
    limits: more column letters or row digits than the limits have, or as many (then compared)."""
    letters, digits = len(column_letters(lim.max_columns)), len(str(lim.max_rows))
    return re.compile(rb"<c r=\"(?:[A-Za-z]{%d,}[0-9]*|[A-Za-z]*[0-9]{%d,})\"|<row r=\"([0-9]{%d,})\""
                      % (letters, digits, digits))


def _scan_sheet(z, info, budget, lim, name, sheet: SheetFound, big: re.Pattern) -> bool:
    """One pass over a sheet part: counts of its tags, whether any names a place beyond the
    limits (returned), its merges, error and formula cells. Tags written the usual way (`<c r="B2"
    ...>`, no namespace prefix) are checked with fast literal searches; otherwise every tag is
    followed to where it is (`_scan_real_cells`)."""
    over = False
    n_row_tags = n_row_refs = n_cell_refs = 0
    for chunk in _chunks(z, info, budget, lim, name, split_after_cells=True):
        if (b":c" in chunk or b":row" in chunk) and _PREFIXED.search(chunk):
            sheet.cells += len(_CELL_TAG.findall(chunk))
            over = True  # not the usual form: worked out tag by tag
        else:
            n_cells = chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/")
            sheet.cells += n_cells
            n_cell_refs += chunk.count(b'<c r="')
            n_row_tags += chunk.count(b"<row ") + chunk.count(b"<row>") + chunk.count(b"<row/")
            n_row_refs += chunk.count(b'<row r="')
            if not over:
                for m in big.finditer(chunk):
                    col, row = _split_ref(m.group(0))
                    if row > lim.max_rows or col > lim.max_columns:
                        over = True
                        break
        if sheet.dimension is None and b"<dimension" in chunk and (m := _DIMENSION.search(chunk)):
            sheet.dimension = _coord(m.group(1).decode("ascii", "replace").split(":")[-1])
        if b"mergeCell" in chunk:
            for ref in _MERGE.findall(chunk):
                merge = _merge(ref.decode("utf-8", "replace"))
                if merge:
                    sheet.merges.append(merge)
        sheet.has_errors = sheet.has_errors or b' t="e"' in chunk
        sheet.unsaved = sheet.unsaved or (b"<f" in chunk and _UNSAVED_FORMULA.search(chunk) is not None)
    sheet.exact = n_cell_refs == sheet.cells and n_row_refs == n_row_tags
    return over


def _split_ref(tag: bytes) -> tuple[int, int]:
    """(column, row) of `<c r="XFD1048576"` or (0, row) of `<row r="1048576"`."""
    ref = tag.split(b'"')[1].decode("ascii")
    letters = ref.rstrip("0123456789")
    digits = ref[len(letters):]
    return (column_number(letters) if letters else 0), (int(digits) if digits else 0)


def _scan_extent(z, info, budget, lim, name, sheet: SheetFound) -> None:
    """The furthest row and column the cell and row tags of a sheet name (all give r=)."""
    rows: set[bytes] = set()
    cols: set[bytes] = set()
    for chunk in _chunks(z, info, budget, lim, name, split_after_cells=True):
        refs = _CELL_REF.findall(chunk)
        if refs:
            c, r = zip(*refs)
            cols.update(c)
            rows.update(r)
        rows.update(_ROW_REF.findall(chunk))
    sheet.max_row = max((int(r) for r in rows), default=0)
    sheet.max_col = max((column_number(c.decode("ascii")) for c in cols), default=0)


def _merge(ref: str) -> Merge | None:
    first, _, last = ref.partition(":")
    a, b = _coord(first), _coord(last or first)
    if not a or not b:
        return None
    (r1, c1), (r2, c2) = a, b
    r1, r2 = sorted((r1, r2))
    c1, c2 = sorted((c1, c2))
    return (r1, c1, r2, c2, f"{column_letters(c1)}{r1}:{column_letters(c2)}{r2}")


_R_ROW = re.compile(rb"\br=\"([0-9]{1,7})\"")
_R_CELL = re.compile(rb"\br=\"([A-Za-z]{1,3})([0-9]{1,7})\"")
_TOKEN = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)([^>]*?)(/?)>([^<]*)")


def _scan_real_cells(z, info, budget, lim, name, sheet: SheetFound) -> None:
    """The last row and column holding a cell with a value or a formula, following the tags as a
    parser does (a <row> or <c> without r= is the one after the previous)."""
    row = col = 0
    in_cell = content = False
    cell_row = cell_col = 0
    last_row = last_col = 0
    for chunk in _chunks(z, info, budget, lim, name, split_after_cells=True):
        for closing, tag, attrs, empty, text in _TOKEN.findall(chunk):
            if tag == b"row" and not closing:
                m = _R_ROW.search(attrs)
                row = int(m.group(1)) if m else row + 1
                col = 0
            elif tag == b"c":
                if closing:
                    if in_cell and content:
                        last_row, last_col = max(last_row, cell_row), max(last_col, cell_col)
                    in_cell = False
                    continue
                m = _R_CELL.search(attrs)
                if m:
                    col, cell_row = column_number(m.group(1).decode("ascii")), int(m.group(2))
                else:
                    col, cell_row = col + 1, row
                cell_col = col
                in_cell, content = not empty, False
            elif in_cell and not closing:
                if tag == b"f" or (tag in (b"v", b"t") and not empty and text.strip()):
                    content = True
    sheet.real_rows, sheet.real_cols = last_row, last_col


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 100_000 else f"{n / 1000:,.0f} kB"


# --- reading the sheets --------------------------------------------------------------------------


def load_sheets(path: Path, found: Inspection) -> dict[str, Rows]:
    """Every sheet of a workbook as rows of (value, error) pairs, row 1 and column A first.

    calamine (Rust) reads a workbook about 40 times faster than openpyxl, but reports a
    formula error cell as empty, and a formula with no saved value (a workbook written by a
    program that does not calculate) as nothing at all: either would turn into a silent "not
    collected". So a workbook holding any error cell (`t="e"` in its sheet XML) or unsaved
    formula is read with openpyxl, which keeps each cell's type. The error of a formula with
    no saved value is its formula text (`=SUM(B2:B4)`). A workbook with a sheet that claims
    more than the limits but holds less is read with openpyxl too, each such sheet only up to
    its last real cell (calamine cannot be given bounds).
    """
    sheets: dict[str, Rows]
    if found.use_openpyxl:
        sheets = _openpyxl_sheets(path, found)
    else:
        wb = CalamineWorkbook.from_path(str(path))
        sheets = {name: [[(v, None) for v in row]
                         for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False)]
                  for name in wb.sheet_names}
    for rows in sheets.values():
        # drop trailing empty rows (Excel often keeps formatting below the data)
        while rows and all((v is None or (isinstance(v, str) and v.strip() == "")) and e is None for v, e in rows[-1]):
            rows.pop()
    return sheets


def _openpyxl_sheets(path: Path, found: Inspection) -> dict[str, Rows]:
    """Each sheet read only up to the furthest cell its tags refer to (its last real cell, when it
    claims more than the limits): read-only openpyxl would otherwise pad every row out to the
    sheet's declared <dimension>, which may be A1:XFD1048576."""
    import openpyxl

    unsaved = any(s.unsaved for s in found.sheets.values())
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False) if unsaved else None
    try:
        sheets = {}
        for ws in wb.worksheets:
            scanned = found.sheets.get(getattr(ws, "_worksheet_path", ""))
            if scanned is not None:
                n_rows, n_cols = scanned.bounds()
            else:  # a part openpyxl names otherwise: at most the limits
                n_rows, n_cols = found.limits.max_rows, found.limits.max_columns
            if n_rows == 0 or n_cols == 0:
                sheets[ws.title] = []  # no cell at all (iter_rows would take 0 as "no bound")
                continue
            kw = {"min_row": 1, "max_row": n_rows, "min_col": 1, "max_col": n_cols}
            rows = []
            # pyright matches a **dict of ints to iter_rows' values_only: bool too
            formula_rows = formulas[ws.title].iter_rows(**kw) if formulas is not None else None  # pyright: ignore[reportCallIssue, reportArgumentType]
            for row in ws.iter_rows(**kw):  # pyright: ignore[reportCallIssue, reportArgumentType]
                fvalues = [getattr(c, "value", None) for c in next(formula_rows, ())] if formula_rows else []
                cells = []
                for i, cell in enumerate(row):
                    value = getattr(cell, "value", None)
                    error = value if getattr(cell, "data_type", None) == "e" else None
                    written = fvalues[i] if i < len(fvalues) else None
                    if value is None and isinstance(written, str) and written.startswith("="):
                        error = written
                    cells.append((None if error else value, error))
                rows.append(cells)
            sheets[ws.title] = rows
    finally:
        wb.close()
        if formulas is not None:
            formulas.close()
    return sheets
