"""Hostile workbooks: bounded reading, and a reader that hangs or dies.

A workbook is inspected before it is parsed (pipelines.workbooks) and parsed in a worker
process under a time limit and a memory cap (pipelines.read_workers). Each test here would
fail, or crash the test process, with the reader as it was: calamine on every file in this
process, openpyxl padding rows to the declared dimension, and every failure worded
"cannot be opened (BadZipFile); ask the authority to resend it". The one-problem-per-file
cases of the same kind are in the corpus (tests/fixtures/bad_inputs.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pipelines import workbooks as W
from pipelines.ingest import authority_returns
from pipelines.paths import PROJECT_DIR, RAW_DIR
from tests.fixtures import bad_inputs as BI
from tests.fixtures import hostile as H

Y = BI.Y
FOLDER = f"{Y}/authority_returns"


_SUBMISSION = itertools.count(2)


def _redcar(raw: Path, file: str, **kw) -> Path:
    """A valid return from Redcar and Cleveland, under its own submission number (two with the
    same number would both be set aside as duplicates)."""
    kw.setdefault("about", {"submission_number": next(_SUBMISSION)})
    return BI._redcar(raw, **kw).rename(raw / FOLDER / file)


def _read(raw: Path, **kw):
    return authority_returns.read_year(raw, Y, **kw)


def _issues(read, file: str | None = None):
    return [(i.level, i.code, i.file.rsplit("/", 1)[-1], i.sheet, i.location())
            for i in read.issues if file is None or i.file.endswith("/" + file)]


def _cells(read, file: str) -> dict:
    return {(c["sheet"], f"{c['column_letter']}{c['sheet_row']}"): (c["raw_value"], c["value"], c["cell_status"])
            for c in read.cells if c["file"].endswith("/" + file)}


@pytest.fixture()
def raw(small_raw, tmp_path) -> Path:
    out = tmp_path / "raw"
    shutil.copytree(small_raw, out)
    return out


# --- the limits ----------------------------------------------------------------------------------


def test_the_limits_come_from_the_yaml_file_and_the_sample_is_far_inside_them():
    lim = W.limits()
    assert dataclasses.is_dataclass(lim) and lim == W.Limits.from_yaml(W.LIMITS_FILE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lim.max_rows = 1  # type: ignore[misc]
    paths = sorted(RAW_DIR.glob("*/authority_returns/*.xlsx"))
    assert len(paths) > 400
    most = dict(size=0, parts=0, unpacked=0, sheets=0, rows=0, cols=0, cells=0)
    for p in paths:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
        found = W.inspect(p, lim)
        assert not found.use_openpyxl or any(s.has_errors or s.unsaved for s in found.sheets.values())
        most["size"] = max(most["size"], p.stat().st_size)
        most["parts"] = max(most["parts"], len(infos))
        most["unpacked"] = max(most["unpacked"], sum(i.file_size for i in infos))
        most["sheets"] = max(most["sheets"], len(found.sheets))
        for s in found.sheets.values():
            most["rows"] = max(most["rows"], s.dimension[0])
            most["cols"] = max(most["cols"], s.dimension[1])
            most["cells"] = max(most["cells"], s.cells)
    limit = dict(size=lim.max_file_bytes, parts=lim.max_members, unpacked=lim.max_uncompressed_bytes,
                 sheets=lim.max_sheets, rows=lim.max_rows, cols=lim.max_columns, cells=lim.max_cells)
    for key, value in most.items():
        assert value * 3 <= limit[key], (key, value, limit[key])  # far inside: a third at most


# --- sheets that claim more than they hold -------------------------------------------------------


def _claiming(raw: Path, file: str, *changes, sheet: str = "supported", mutate=None) -> Path:
    path = _redcar(raw, file, mutate=mutate)
    def change(xml):
        for c in changes:
            xml = c(xml)
        return xml
    return H.rewrite_part(path, H.sheet_part(path, sheet), change)


def test_a_sheet_claiming_every_cell_is_read_up_to_its_last_real_cell(raw):
    """The declared dimension A1:XFD1048576 and an empty text cell at XFD1048576 (calamine
    would make a grid to it and abort), or an empty formatted cell there with a formula error
    cell elsewhere (read-only openpyxl would pad a million rows to 16,384 columns): each is
    read exactly as the same workbook without the claim, in well under a second."""
    _redcar(raw, "plain.xlsx")
    _claiming(raw, "claims.xlsx", H.claim_range, lambda x: H.append_row(x, H.empty_text_cell()))
    _redcar(raw, "plain_error.xlsx", mutate=BI._set("move_on", "B2", "#REF!"))
    _claiming(raw, "claims_error.xlsx", H.claim_range, lambda x: H.set_cell(x, "B2", H.error_cell("B2")),
              lambda x: H.append_row(x, H.formatted_cell()), sheet="move_on")
    # and the claim alone, with no cell beyond the table
    _claiming(raw, "dimension_only.xlsx", H.claim_range)
    start = time.monotonic()
    read = _read(raw)
    assert time.monotonic() - start < 20
    assert _cells(read, "plain.xlsx") and _cells(read, "claims.xlsx") == _cells(read, "plain.xlsx")
    assert _cells(read, "dimension_only.xlsx") == _cells(read, "plain.xlsx")
    assert _cells(read, "claims_error.xlsx") == _cells(read, "plain_error.xlsx")
    assert _cells(read, "claims_error.xlsx")[("move_on", "B2")] == ("#REF!", None, "error")
    for name in ("claims.xlsx", "dimension_only.xlsx"):
        assert _issues(read, name) == []
    assert _issues(read, "claims_error.xlsx") == [("cell_error", "bad_count", "claims_error.xlsx", "move_on", "B2")]


@pytest.mark.parametrize("change, where", [
    (lambda x: H.append_row(x, H.number_cell()), "row"),  # a value at the last cell
    (lambda x: H.append_row(x, H.error_cell(H.LAST_CELL)), "row"),  # an error there (the openpyxl path)
    (lambda x: H.add_to_row(x, 2, H.number_cell("XFD2")), "column"),  # far out along a row of the table
], ids=["value_at_the_last_cell", "error_at_the_last_cell", "value_at_the_last_column"])
def test_a_sheet_really_holding_cells_beyond_the_limits_is_set_aside_and_the_year_goes_on(raw, change, where):
    _claiming(raw, "bad.xlsx", H.claim_range, change)
    read = _read(raw)
    (issue,) = [i for i in read.issues if i.file.endswith("bad.xlsx")]
    assert (issue.level, issue.code, issue.sheet, issue.location()) == ("structural", "oversized_sheet", "supported", "")
    if where == "row":
        assert "holds cells down to row 1,048,576, more than the 10,000 rows a sheet may have (limit max_rows)" \
            in issue.message
    else:
        assert "holds cells out to column XFD (column 16,384), more than the 200 columns" in issue.message
    assert {f["file"].rsplit("/", 1)[-1]: f["status"] for f in read.files}["bad.xlsx"] == "quarantined"
    assert sum(f["status"] == "ok" for f in read.files) >= 3  # the other returns of the year


def test_a_sheet_with_more_cells_than_the_limit_is_set_aside(raw):
    lim = dataclasses.replace(W.limits(), max_cells=50)
    _redcar(raw, "bad.xlsx")
    read = _read(raw, limits=lim)
    issues = [i for i in read.issues if i.file.endswith("bad.xlsx")]
    assert [(i.code, i.sheet) for i in issues] == [("oversized_sheet", "supported")]
    assert "holds 63 cells, more than the 50 a sheet may hold (limit max_cells)" in issues[0].message


def test_a_zip_bomb_is_not_opened(tmp_path):
    lim = W.limits()
    raw = tmp_path
    big = H.zip_bomb(_redcar(raw, "big.xlsx"), lim.max_uncompressed_bytes + 1)
    dense = H.zip_bomb(_redcar(raw, "dense.xlsx"), 5_000_000)
    assert big.stat().st_size < 200_000 and dense.stat().st_size < 100_000
    read = _read(raw)
    got = {i.file.rsplit("/", 1)[-1]: (i.level, i.code, i.message) for i in read.issues}
    assert got["big.xlsx"][:2] == ("structural", "too_large")
    assert got["big.xlsx"][2].startswith("big.xlsx would expand to 50.")
    assert "MB when opened, more than the 50.0 MB a return may (limit max_uncompressed_bytes)" in got["big.xlsx"][2]
    assert got["dense.xlsx"][:2] == ("structural", "too_large")
    assert "its part xl/media/image1.bin is compressed" in got["dense.xlsx"][2]
    assert "(limit max_compression_ratio): it looks built to exhaust the reader (a zip bomb)" in got["dense.xlsx"][2]


def test_a_part_longer_than_it_declares_is_damaged_not_read(tmp_path):
    """A zip whose headers declare a small sheet that is in fact large (a zip bomb that lies):
    no more than the declared size is ever decompressed, and the part then fails its checksum."""
    lim = W.limits()
    path = _redcar(tmp_path, "bad.xlsx")
    part = H.sheet_part(path, "supported")
    H.rewrite_part(path, part, lambda x: x.replace(b"</sheetData>", b"<row r=\"9\"/>" * 30_000 + b"</sheetData>"))
    # the directory now under-declares the part: write its declared size as 1 kB in both headers
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
    real = info.file_size.to_bytes(4, "little")
    assert data.count(real) >= 2
    data = data.replace(real, (1000).to_bytes(4, "little"))
    path.write_bytes(bytes(data))
    got = W.read_workbook(path, lim)
    assert got.problem is not None and got.problem.code == "damaged_workbook"
    assert "fails its checksum" in got.problem.message


# --- what kind of file -------------------------------------------------------------------------


def test_each_kind_of_unreadable_file_is_named(tmp_path):
    lim = W.limits()
    folder = tmp_path
    cases = {
        "empty.xlsx": (b"", "empty_file", "is empty (0 bytes)"),
        "encrypted.xlsx": (H.fake_encrypted(folder / "x").read_bytes(), "password_protected", "protected by a password"),
        "old.xlsx": (H.fake_xls(folder / "x").read_bytes(), "not_a_workbook", "an Excel 97-2003 workbook (.xls)"),
        "report.xlsx": (b"%PDF-1.4\n...", "not_a_workbook", "it looks like a PDF document"),
        "page.xlsx": (b"\xef\xbb\xbf  <html><head>", "not_a_workbook", "it looks like a web page (HTML)"),
        "image.xlsx": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not_a_workbook", "it looks like an image"),
        "binary.xlsx": (bytes(range(256)) * 4, "not_a_workbook", "it looks like a file of an unknown kind"),
        "cut.xlsx": (b"PK\x03\x04" + b"\0" * 100, "damaged_workbook", "its end is missing"),
    }
    for name, (content, code, words) in cases.items():
        path = folder / name
        path.write_bytes(content)
        got = W.read_workbook(path, lim)
        assert got.problem is not None and (got.problem.code, got.problem.sheet) == (code, None), name
        assert got.problem.message.startswith(name) and words in got.problem.message, got.problem.message
        assert "resend" not in got.problem.message and "BadZipFile" not in got.problem.message


def test_a_real_encrypted_workbook_is_named_password_protected(tmp_path):
    msoffcrypto = pytest.importorskip("msoffcrypto")  # not a dependency: used when installed
    import io

    plain = _redcar(tmp_path, "plain.xlsx")
    out = io.BytesIO()
    with plain.open("rb") as f:
        msoffcrypto.OfficeFile(f).encrypt("secret", out)
    path = tmp_path / "locked.xlsx"
    path.write_bytes(out.getvalue())
    assert W.read_workbook(path, W.limits()).problem.code == "password_protected"


# --- merged cells --------------------------------------------------------------------------------


def test_merged_cells_over_a_table_are_a_warning_at_their_first_cell_and_nothing_else_changes(raw):
    def merges(wb):
        wb["supported"].merge_cells("C2:C3")  # women, refuge and dispersed: 3 and 0
        wb["length_of_stay"].merge_cells("E1:F1")  # the header row, out past the last heading
        wb["supported"].merge_cells("M2:N3")  # beside the table: nothing is read there
        wb["supported"]["M2"] = "note"
    _redcar(raw, "merged.xlsx", mutate=merges)
    read = _read(raw)
    issues = [i for i in read.issues if i.file.endswith("merged.xlsx")]
    assert [(i.level, i.code, i.sheet, i.location(), i.field) for i in issues] == [
        ("warning", "merged_cells", "supported", "C2", "women"),
        ("warning", "merged_cells", "length_of_stay", "E1", "over_6_months"),
    ]
    assert issues[0].where_and_what() == (
        f"{FOLDER}/merged.xlsx, sheet supported, C2: cells C2:C3 are merged: only the value of C2 is read, and the "
        "other cells of the range count as not collected. Unmerge the cells and type each value in its own cell")
    assert "cells E1:F1 are merged: only the value of E1 is read" in issues[1].message
    assert _statuses(read)["merged.xlsx"] == "ok"


def test_a_merge_loses_only_the_cells_it_covers(raw):
    _redcar(raw, "plain.xlsx")
    _redcar(raw, "merged.xlsx", mutate=BI._merge("supported", "C2:C3"))
    read = _read(raw)
    plain, merged = _cells(read, "plain.xlsx"), _cells(read, "merged.xlsx")
    assert plain[("supported", "C2")] == merged[("supported", "C2")] == ("3", 3, "ok")
    assert plain[("supported", "C3")] == ("0", 0, "ok") and merged[("supported", "C3")] == (None, None, "blank")
    assert {k: v for k, v in merged.items() if k != ("supported", "C3")} == \
        {k: v for k, v in plain.items() if k != ("supported", "C3")}
    assert _issues(read, "merged.xlsx") == [("warning", "merged_cells", "merged.xlsx", "supported", "C2")]


# --- a reader that hangs or dies -----------------------------------------------------------------


def _year_with_a_victim(raw: Path) -> None:
    _redcar(raw, H.VICTIM)
    _redcar(raw, "zz_after.xlsx", code="E06000004", name="Stockton-on-Tees")  # read after it


def _statuses(read) -> dict[str, str]:
    return {f["file"].rsplit("/", 1)[-1]: f["status"] for f in read.files}


@pytest.mark.parametrize("reader, code, words", [
    (H.hangs, "read_timeout", "reading it took more than 1 s, so it was stopped and the file set aside"),
    (H.killed, "reader_failed", "the reader stopped abruptly on it (it was stopped by the signal SIGKILL)"),
    (H.aborts, "reader_failed", "the reader stopped abruptly on it (it was stopped by the signal SIGABRT)"),
    (H.exhausts_memory, "reader_failed", "the reader ran out of memory on it (a reader may use 0.5 GiB)"),
    (H.raises, "reader_failed", "the reader failed on it (RuntimeError)"),
])
def test_a_reader_that_hangs_or_dies_sets_aside_its_file_only(raw, small_raw, reader, code, words):
    _year_with_a_victim(raw)
    # 1 s for the reader that hangs; the others fail on their own, however busy the machine
    lim = dataclasses.replace(W.limits(), read_seconds=1 if code == "read_timeout" else 20,
                              worker_memory_bytes=512 << 20)
    start = time.monotonic()
    read = _read(raw, limits=lim, reader=reader)
    assert time.monotonic() - start < 30
    got = [i for i in read.issues if i.file.endswith(H.VICTIM)]
    assert [(i.level, i.code, i.sheet, i.location()) for i in got] == [("structural", code, None, "")]
    assert got[0].message.startswith(f"{H.VICTIM} could not be read: ") and words in got[0].message, got[0].message
    statuses = _statuses(read)
    assert statuses.pop(H.VICTIM) == "quarantined"
    assert statuses.pop("zz_after.xlsx") == "ok"  # the file after it was read
    # and the rest of the year is exactly as read by the plain reader
    plain = _read(small_raw)
    assert statuses == _statuses(plain)
    assert [c for c in read.cells if H.VICTIM not in c["file"] and "zz_after" not in c["file"]] == plain.cells
    others = [i.as_row() for i in read.issues if H.VICTIM not in i.file and "zz_after" not in i.file]
    assert others == [i.as_row() for i in plain.issues]


def test_calamine_aborting_in_a_worker_is_told_as_running_out_of_memory(raw):
    """The reader as it was (calamine with no inspection), on a cell at XFD1048576: Rust aborts
    after "memory allocation of 549755813888 bytes failed". Only the worker goes."""
    path = _redcar(raw, H.VICTIM)
    H.rewrite_part(path, H.sheet_part(path, "supported"), lambda x: H.append_row(H.claim_range(x), H.number_cell()))
    read = _read(raw, reader=H.calamine_unguarded)
    (issue,) = [i for i in read.issues if i.file.endswith(H.VICTIM)]
    assert issue.code == "reader_failed" and "the reader ran out of memory on it" in issue.message
    assert _statuses(read)[H.VICTIM] == "quarantined" and list(_statuses(read).values()).count("ok") >= 3


def test_the_year_reads_the_same_with_one_worker_or_two(raw):
    _redcar(raw, "merged.xlsx", mutate=BI._merge("supported", "C2:C3"))
    (raw / FOLDER / "empty.xlsx").write_bytes(b"")
    one = _read(raw, limits=dataclasses.replace(W.limits(), workers=1))
    two = _read(raw, limits=dataclasses.replace(W.limits(), workers=2))
    assert [i.as_row() for i in one.issues] == [i.as_row() for i in two.issues]
    assert one.cells == two.cells and one.files == two.files


# --- the command line ----------------------------------------------------------------------------


def test_dasa_check_on_a_folder_with_a_huge_range_workbook_reports_it_and_does_not_crash(raw, tmp_path):
    path = _redcar(raw, "huge.xlsx")
    H.rewrite_part(path, H.sheet_part(path, "supported"), lambda x: H.append_row(H.claim_range(x), H.number_cell()))
    dasa = Path(sys.executable).with_name("dasa")
    command = [str(dasa)] if dasa.exists() else [sys.executable, "-m", "pipelines.cli"]
    start = time.monotonic()
    done = subprocess.run([*command, "check", "--raw-dir", str(raw), "--year", Y, "--out", str(tmp_path / "q")],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_DIR)
    assert time.monotonic() - start < 60
    out = done.stdout + done.stderr
    assert done.returncode in (0, 1), out
    assert "Traceback" not in out and "panicked" not in out and "memory allocation" not in out, out
    assert "huge.xlsx" in out and "holds cells down to row 1,048,576" in out, out
