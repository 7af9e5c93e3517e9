"""Malformed inputs: each is reported exactly (level, code, message, location), and nothing
else is lost: every other file reads as it did without it.

Each case (tests/fixtures/bad_inputs.py) is the small raw folder plus one problem. The
readers run as the pipeline runs them (`pipelines.ingest`, into an in-memory warehouse), and
the result is compared with the baseline's. A few whole builds check that the problems
reach the release only as escaped, formula-safe text and change no other figure.
"""

from __future__ import annotations

import csv
import random
import re
import shutil
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines import schemas
from pipelines.ingest import INGESTERS, authority_returns, read_extracts
from tests.fixtures import bad_inputs as BI
from tests.fixtures import builders as B
from tests.fixtures import small_inputs as S

Y = BI.Y

class Snapshot:
    """What the readers made of one source and year: issues, input statuses, every raw row
    (the rows `pipelines.ingest` writes to the warehouse, before they are written)."""

    def __init__(self, raw: Path, source: str, year: str):
        if source == "authority_returns":
            read = authority_returns.read_year(raw, year)
            issues = read.issues
            self.status = {f["file"]: f["status"] for f in read.files}
            self.tables = {"files": read.files, "cells": read.cells,
                           **{name: read.rows.get(name, []) for name in (t.name for t in schemas.RETURN_SHEETS)}}
        else:
            reads = read_extracts(raw, year, source)
            issues = [i for r in reads for i in r.issues]
            self.status = {r.file: r.status for r in reads if r.file}
            self.tables = {r.table.name: r.frame.to_dicts() for r in reads}
        self.issues = {(i.issue_id, i.level, i.code, i.file, i.sheet, i.location(), i.message) for i in issues}
        self.ids = [i.issue_id for i in issues]

    def rows(self, table: str, file: str) -> list[dict]:
        return [r for r in self.tables[table] if r["file"] == file]


@pytest.fixture(scope="session")
def baseline(small_raw):
    cache: dict[tuple[str, str], Snapshot] = {}

    def get(source: str, year: str) -> Snapshot:
        if (source, year) not in cache:
            cache[(source, year)] = Snapshot(small_raw, source, year)
        return cache[(source, year)]
    return get


def _variant(small_raw: Path, tmp_path: Path, case: BI.Case) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    case.make(raw)
    return raw


def test_the_corpus_is_large_and_every_case_distinct():
    ids = [c.id for c in BI.CASES]
    assert len(ids) == len(set(ids)) >= 30
    assert {c.source for c in BI.CASES} == {"authority_returns", "womens_aid", "safelives"}
    assert {"structural", "cell_error", "warning"} <= {e.level for c in BI.CASES for e in c.expected}


@pytest.mark.parametrize("case", BI.CASES, ids=lambda c: c.id)
def test_each_bad_input_is_reported_exactly_and_nothing_else_is_lost(case, small_raw, tmp_path, baseline):
    base = baseline(case.source, case.year)
    raw = _variant(small_raw, tmp_path, case)
    got = Snapshot(raw, case.source, case.year)  # never raises: every problem is a reported issue

    # 1. exactly the expected problems, where they are
    new = sorted(got.issues - base.issues, key=lambda i: (i[1], i[2], i[3], i[4] or "", i[5]))
    want = sorted(case.expected, key=lambda e: (e.level, e.code, e.file or case.file, e.sheet or "", e.location))
    assert [(i[1], i[2], i[3], i[4], i[5]) for i in new] == [
        (e.level, e.code, e.file or case.file, e.sheet, e.location) for e in want]
    for issue, expected in zip(new, want):
        message = issue[6]
        assert expected.message in message, message
        assert "Traceback" not in message and "Error(" not in message
    gone = {i for i in base.issues - got.issues if i[3] != case.file}
    assert gone == set(), "a problem in another file is no longer reported"
    assert len(got.ids) == len(set(got.ids)), "two issues share an id"

    # 2. the file is set aside or read, as its level says
    assert got.status[case.file] == case.status
    for other in case.affects:
        assert got.status[other] == "quarantined"

    # 3. every other file's rows are exactly the baseline's
    own = {case.file, *case.affects}
    for table in base.tables:
        for file in {r["file"] for r in base.tables[table]} - own:
            assert got.rows(table, file) == base.rows(table, file), (table, file)
        for file in case.affects:
            assert got.rows(table, file) == [] or table == "files", (table, file)

    # 4. the bad file itself: kept lines unchanged, left-out lines absent, bad cells not collected
    if case.source != "authority_returns":
        table = Path(case.file).stem
        before = {r["line"]: r for r in base.rows(table, case.file)}
        after = {r["line"]: r for r in got.rows(table, case.file)}
        if case.status == "quarantined":
            assert after == {}
        else:
            assert {k: v for k, v in before.items() if k not in case.left_out} == \
                {k: v for k, v in after.items() if k in before and k not in case.left_out}
            assert set(case.left_out).isdisjoint(after)
    else:
        cells = {(c["sheet"], f"{c['column_letter']}{c['sheet_row']}"): c
                 for c in got.rows("cells", case.file)}
        if case.status == "quarantined":
            assert cells == {}
        for sheet, cell, raw_value in case.not_collected:
            c = cells[(sheet, cell)]
            assert (c["value"], c["cell_status"], c["raw_value"]) == (None, "error", raw_value)
            # and the row the metrics read holds nothing there either
            (row,) = [r for r in got.rows(sheet, case.file) if r["sheet_row"] == c["sheet_row"]]
            assert row[c["field"]] is None, (sheet, cell, row[c["field"]])
        if case.notes is not None:
            (record,) = got.rows("files", case.file)
            assert record["notes"] == case.notes and record["status"] == "ok"


def test_the_readers_never_change_a_raw_file(small_raw, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    for case in BI.CASES:
        if case.id in ("not_a_workbook", "csv_not_utf8", "marac_quarter_twice"):
            case.make(raw)
    before = _hashes(raw)
    for source in INGESTERS:
        for year in S.YEARS:
            Snapshot(raw, source, year)
    assert _hashes(raw) == before


def test_issue_ids_are_the_same_when_the_same_inputs_are_read_again(small_raw, tmp_path):
    case = next(c for c in BI.CASES if c.id == "duplicate_submission")
    raw = _variant(small_raw, tmp_path, case)
    first, second = Snapshot(raw, case.source, Y), Snapshot(raw, case.source, Y)
    assert sorted(first.ids) == sorted(second.ids) and len(first.ids) > 0


def test_problems_without_a_cell_of_their_own_have_ids_of_their_own(tmp_path):
    """Two missing rows in one sheet, or two Maracs missing quarters in one file, are at the
    same place: what they are about keeps their ids apart."""
    def two_rows_missing(wb):
        for key in ("sanctuary", "other"):
            BI._delete_row("supported", key)(wb)
    B.write_return(tmp_path, Y, BI.REDCAR, BI.REDCAR_NAME, mutate=two_rows_missing)
    B.write_marac(tmp_path, Y, [{"marac_id": m, "quarter_end": q} for m in ("M1", "M2")
                                for q in B.quarter_ends(Y)[:2]])
    for source, code in (("authority_returns", "missing_row"), ("safelives", "marac_left_out")):
        snap = Snapshot(tmp_path, source, Y)
        ids = [i[0] for i in snap.issues if i[2] == code]
        assert len(ids) == 2 and len(set(ids)) == 2, (source, snap.issues)


def test_a_parquet_extract_is_read_by_record_and_a_broken_one_set_aside(tmp_path):
    import polars as pl

    B.write_refuge_services(tmp_path, Y, [{"gss_code": S.HARTLEPOOL, "bedspaces": 3}])
    path = B.write_referrals(tmp_path, Y, [{"outcome": "declined", "decline_reason": "nrpf"}, {"referral_id": "R00001"}])
    parquet = path.with_suffix(".parquet")
    pl.read_csv(path, infer_schema=False).write_parquet(parquet)
    path.unlink()
    (_, referrals) = read_extracts(tmp_path, Y, "womens_aid")
    assert [(i.level, i.code, i.location(), i.message) for i in referrals.issues] == [
        ("cell_error", "duplicate_key", "record 2, column referral_id",
         "repeats referral_id 'R00001' of record 1; this record is left out, so the record counts once")]
    assert referrals.frame["line"].to_list() == [1]
    parquet.write_bytes(b"PAR1 and then not a Parquet file")
    (_, referrals) = read_extracts(tmp_path, Y, "womens_aid")
    assert referrals.status == "quarantined" and referrals.frame.height == 0
    assert [(i.level, i.code) for i in referrals.issues] == [("structural", "unreadable_file")]
    assert referrals.issues[0].message.startswith("cannot be read as a Parquet table")


def test_a_formula_with_no_saved_value_is_not_read_as_blank(tmp_path):
    """A formula saved by a program that does not calculate has no value: it is a cell error,
    not a silent "not collected"."""
    def formula(wb):
        wb["supported"]["B2"] = "=SUM(1,2)"
    B.write_return(tmp_path, Y, BI.REDCAR, BI.REDCAR_NAME, mutate=formula)
    snap = Snapshot(tmp_path, "authority_returns", Y)
    assert [(i[1], i[2], i[4], i[5]) for i in snap.issues] == [("cell_error", "bad_count", "supported", "B2")]
    (issue,) = snap.issues
    assert "=SUM(1,2)" in issue[6] and "no saved value" in issue[6]


# --- no input crashes a reader ---------------------------------------------------------------------

_CSV_PIECES = [b"\x00", b"\r", b"\n", b'"', b",", b";", b"\xef\xbb\xbf", b"\xff", b"\t", b"\r\n", b"=1+1", b"-",
               b"999999999999999999999999", b"\xe2\x80\xa8"]
_CELL_VALUES = [None, "", " ", "n/a", -1, 1.5, 10**20, True, "#N/A", "#DIV/0!", "=1+", "=A1", "refuge", "yes",
                "E06000001", "2024-25", "\n", "x" * 300, 0, "about", "field", "value", BI.SCRIPT]


def test_no_corrupted_extract_crashes_the_reader(small_raw, tmp_path):
    """Random damage to the baseline's CSV files (seeded, so the same every run): each read ends
    with a table and issues, never an exception."""
    rng = random.Random(20241)
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    files = sorted(raw.glob(f"{Y}/*/*.csv"))
    originals = {f: f.read_bytes() for f in files}
    levels = set()
    for _ in range(150):
        f = rng.choice(files)
        data = bytearray(originals[f])
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data) + 1)
            op = rng.random()
            if op < 0.4:
                data[pos:pos] = rng.choice(_CSV_PIECES)
            elif op < 0.7:
                del data[pos:pos + rng.randint(1, 20)]
            else:
                data[pos:pos + 1] = bytes([rng.randrange(256)])
        f.write_bytes(bytes(data))
        reads = read_extracts(raw, Y, f.parent.name)
        levels |= {i.level for r in reads for i in r.issues}
        f.write_bytes(originals[f])
    assert levels == {"structural", "cell_error", "warning"}


def test_no_damaged_workbook_crashes_the_reader(tmp_path):
    """Random values in random cells, renamed or removed sheets, and flipped bytes (seeded)."""
    rng = random.Random(20242)
    statuses = set()
    for n in range(25):
        def mutate(wb):
            for _ in range(rng.randint(1, 6)):
                ws = rng.choice(wb.worksheets)
                ws.cell(rng.randint(1, 14), rng.randint(1, 10)).value = rng.choice(_CELL_VALUES)
            if rng.random() < 0.15:
                rng.choice(wb.worksheets).title = rng.choice(["x", "Supported", "services "])
            if rng.random() < 0.15 and len(wb.worksheets) > 1:
                wb.remove(rng.choice(wb.worksheets))
        raw = tmp_path / f"r{n}"
        path = B.write_return(raw, Y, S.HARTLEPOOL, "Hartlepool", supported={"refuge": {"households": 3}},
                              mutate=mutate)
        if rng.random() < 0.3:
            data = bytearray(path.read_bytes())
            for _ in range(rng.randint(1, 5)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path.write_bytes(bytes(data))
        read = authority_returns.read_year(raw, Y)
        statuses |= {f["status"] for f in read.files}
        for f in read.files:
            assert (f["status"] == "quarantined") == any(
                i.level == "structural" and i.file == f["file"] for i in read.issues)
    assert statuses == {"ok", "quarantined"}


_hashes = BI.file_hashes

# --- whole builds --------------------------------------------------------------------------------
# `bad_release` (tests/conftest.py, built once per session by BI.build_bad_release): the
# problems of SET_ASIDE, lines left out of the extracts, hostile free text and a hostile
# gss_code, in one raw folder.
SET_ASIDE = BI.SET_ASIDE
QUARANTINED_EXTRACT = BI.QUARANTINED_EXTRACT


def _metric_rows(db: Path) -> dict[str, set[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'metric\\_%' ESCAPE '\\' "
            "ORDER BY 1").fetchall()]
        # floats to 9 significant digits: DuckDB may sum in another order from one run to the next
        return {t: {tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row)
                    for row in con.execute(f'SELECT * FROM "{t}"').fetchall()} for t in tables}
    finally:
        con.close()


def test_a_build_with_bad_inputs_keeps_every_other_figure(bad_release, small_db):
    out, result = bad_release
    assert result.quarantined == len(SET_ASIDE) - 1 + 1  # Cumbria's is in 2023-24; the hostile gss_code's is set aside
    assert result.returns_received == 4  # Hartlepool, Middlesbrough, Birmingham, Redcar
    got, want = _metric_rows(result.db_path), _metric_rows(small_db)
    assert set(got) == set(want)
    compared = 0
    for table in want:
        def comparable(rows, table=table):
            # metric rows: measure, breakdown, financial_year, geographic_level, geography_code, ...
            if table == "metric_refuge_referrals":  # 2023-24's referrals file was set aside
                return {r for r in rows if r[2] == Y}
            if table in ("metric_refuge_provision", "metric_marac"):
                return rows  # the extracts' figures must not change at any level
            # Redcar's own return adds Redcar, and changes the North East and England totals
            return {r for r in rows if r[3] == "local_authority" and r[4] != BI.REDCAR}
        assert comparable(got[table]) == comparable(want[table]), table
        compared += len(comparable(want[table]))
    assert compared > 5000
    con = duckdb.connect(str(result.db_path), read_only=True)
    try:
        status = con.execute("SELECT status FROM raw_input_files WHERE path = ?", [QUARANTINED_EXTRACT]).fetchone()
        last_year = con.execute("SELECT count(*) FROM raw_womens_aid__referrals WHERE financial_year = '2023-24'")
        assert status == ("quarantined",) and last_year.fetchone() == (0,)
    finally:
        con.close()


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def test_free_text_reaches_the_html_only_escaped(bad_release):
    out, _ = bad_release
    pages = list(out.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<script>alert(1)" not in html, page.name
        assert "=HYPERLINK(" not in html or "&#34;" in html or "&quot;" in html
    index = (out / "data-quality.html").read_text(encoding="utf-8")  # the problems found, and the notes
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index  # it is shown, as text
    assert "HYPERLINK(" in index
    note = index.split('id="release-notes"', 1)[1]
    assert "left out of the rates (&lt;script&gt;alert(1)&lt;/script&gt;" in note  # a Marac id, escaped


def test_every_csv_cell_is_formula_safe(bad_release):
    out, _ = bad_release
    meta = {}
    for row in _csv_rows(out / "data" / "metadata.csv")[1:]:
        meta.setdefault(row[0], {})[int(row[2]) - 1] = row[3]
    checked = 0
    for path in sorted((out / "data").glob("*.csv")):
        header, *rows = _csv_rows(path)
        numeric = {i for i, t in meta.get(path.name, {}).items() if t != "text"}
        for row in [header, *rows]:
            for i, cell in enumerate(row):
                if i in numeric and (NUMBER.match(cell) or cell.startswith("[") or cell == ""):
                    continue
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (path.name, cell)
                checked += 1
    assert checked > 100
    issues = _csv_rows(out / "data" / "issues.csv")
    header = issues[0]
    sheets = [r[header.index("sheet")] for r in issues[1:]]
    assert "'=SUM(1+1)" in sheets  # a sheet name that would be a formula, prefixed
    messages = [r[header.index("message")] for r in issues[1:]]
    assert any(BI.SCRIPT in m for m in messages)  # quoted as typed, not altered
    assert any("=cmd|' /C calc'!A0" in m for m in messages)  # a gss_code, in the structural error


def test_spreadsheets_store_free_text_as_text(bad_release):
    out, _ = bad_release
    wb = openpyxl.load_workbook(out / "dasa-2024-25.xlsx")
    risky, seen = [], set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)
                if isinstance(c.value, str):
                    seen.add(c.value)
                    if c.value.startswith(("=", "+", "-", "@")):
                        risky.append(c)
    assert "=SUM(1+1)" in seen and any(BI.SCRIPT in v for v in seen)
    assert risky and all(c.quotePrefix for c in risky)
    with zipfile.ZipFile(out / "dasa-2024-25.ods") as z:
        content = z.read("content.xml").decode("utf-8")
    assert "table:formula" not in content
    assert "&lt;script&gt;alert(1)" in content and "<script>" not in content
    assert "=SUM(1+1)" in content
