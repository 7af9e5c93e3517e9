"""Reading the inputs: every cell typed by the contract, every problem reported with its location."""

from __future__ import annotations

import polars as pl

from pipelines import schemas
from pipelines.ingest import authority_returns, extracts
from tests.fixtures import builders as B

Y = "2024-25"


def _read(raw):
    return authority_returns.read_year(raw, Y)


def test_a_formula_error_in_a_count_cell_is_a_cell_error_at_its_location(tmp_path):
    def put_error(wb):
        wb["supported"]["B2"] = "#DIV/0!"  # openpyxl stores this as an error cell (type e)
    B.write_return(tmp_path, Y, "E06000001", "Hartlepool", supported={"refuge": {"households": 3}}, mutate=put_error)
    read = _read(tmp_path)
    issues = [(i.level, i.sheet, i.location(), i.code) for i in read.issues]
    assert issues == [("cell_error", "supported", "B2", "bad_count")]
    cell = next(c for c in read.cells if c["sheet"] == "supported" and c["sheet_row"] == 2 and c["field"] == "households")
    assert (cell["value"], cell["cell_status"], cell["raw_value"]) == (None, "error", "#DIV/0!")
    assert read.files[0]["status"] == "ok"


def test_bad_count_cells_are_not_collected_and_reported(tmp_path):
    values = {"women": "1,204", "men": 12.5, "trans_nonbinary": -3, "children": "12", "identity_not_recorded": "unknown"}
    B.write_return(tmp_path, Y, "E06000001", "Hartlepool", supported={"refuge": values})
    read = _read(tmp_path)
    got = sorted((i.location(), i.message.split(";")[0]) for i in read.issues)
    assert got == [
        ("C2", "column 'women' holds the text '1,204'"),
        ("D2", "column 'men' holds the decimal 12.5"),
        ("E2", "column 'trans_nonbinary' holds the negative number -3"),
        ("F2", "column 'children' holds the number '12' stored as text"),
        ("G2", "column 'identity_not_recorded' holds the text 'unknown'"),
    ]
    row = next(r for r in read.rows["supported"] if r["accommodation_type"] == "refuge")
    assert [row[c] for c in schemas.IDENTITIES] == [None] * 5


def test_structural_errors_set_the_return_aside(tmp_path):
    B.write_return(tmp_path, Y, "E10000006", "Cumbria", file_name="cumbria.xlsx")  # abolished April 2023
    B.write_return(tmp_path, Y, "E06000002", "Middlesbrough", about={"financial_year": "2023-24"}, file_name="mid.xlsx")
    B.write_return(tmp_path, Y, "E06000003", "Redcar and Cleveland", file_name="redcar.xlsx",
                   mutate=lambda wb: wb.remove(wb["move_on"]))
    (tmp_path / Y / "authority_returns" / "not_a_workbook.xlsx").write_text("hello")
    read = _read(tmp_path)
    status = {f["file"].split("/")[-1]: (f["status"], f["quarantine_reason"]) for f in read.files}
    assert all(s == "quarantined" for s, _ in status.values())
    assert "E10000006, which is not a Tier 1 authority in force in 2024-25" in status["cumbria.xlsx"][1]
    assert "sheet about, B4: says financial_year 2023-24 but is in the 2024-25 folder" in status["mid.xlsx"][1]
    assert "has no sheet named 'move_on'" in status["redcar.xlsx"][1]
    assert "is not an .xlsx workbook: it looks like a text file" in status["not_a_workbook.xlsx"][1]
    assert read.cells == [] and all(not rows for rows in read.rows.values())


def test_name_mismatch_is_a_warning_and_the_code_is_used(tmp_path):
    B.write_return(tmp_path, Y, "E06000019", "Herefordshire Council")
    read = _read(tmp_path)
    assert [(i.level, i.code, i.location()) for i in read.issues] == [("warning", "name_mismatch", "B3")]
    assert read.files[0]["status"] == "ok"


def test_csv_with_a_bom_is_read_and_bad_cells_named_by_line(tmp_path):
    path = B.write_referrals(tmp_path, Y, [{"outcome": "accepted"}, {"outcome": "maybe", "children": "two"}])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    read = extracts.read_extract(tmp_path, Y, schemas.REFERRALS)
    assert read.status == "ok"
    assert [(i.location(), i.field) for i in read.issues] == [("line 3, column children", "children"),
                                                              ("line 3, column outcome", "outcome")]
    assert read.frame.select("line", "outcome", "children").rows() == [(2, "accepted", 0), (3, None, None)]


def test_semicolon_csv_is_a_structural_error(tmp_path):
    path = B.write_referrals(tmp_path, Y, [{"outcome": "accepted"}])
    path.write_text(path.read_text().replace(",", ";"))
    read = extracts.read_extract(tmp_path, Y, schemas.REFERRALS)
    assert read.status == "quarantined"
    assert read.issues[0].message == "is separated by semicolons; the contract requires commas"
    assert isinstance(read.frame, pl.DataFrame) and read.frame.height == 0
