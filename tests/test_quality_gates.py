"""The statistician's query loop: `dasa check`, decisions files, DRAFT and final releases,
and the quality report (pipelines/quality.py, pipelines/release/quality_page.py)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pytest

from pipelines import warehouse
from pipelines.build import build_release, read_for_check
from pipelines.cli import main
from pipelines.paths import RAW_DIR
from pipelines.quality import assess
from pipelines.release import write_release
from pipelines.release_assets import gather_release_inputs, write_release_atomically
from tests.fixtures import builders as B
from tests.fixtures import small_inputs

YEAR = "2024-25"
HARTLEPOOL, MIDDLESBROUGH, BIRMINGHAM = "E06000001", "E06000002", "E08000025"


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def _decisions(raw: Path, year: str, entries: list[dict]) -> Path:
    lines = ["decisions:"]
    for e in entries:
        lines.append(f"  - issue_id: {e['issue_id']}")
        lines += [f"    {k}: {json.dumps(v)}" for k, v in e.items() if k != "issue_id"]
    path = raw / year / "decisions.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _accept(issue_id: str) -> dict:
    return {"issue_id": issue_id, "decision": "accepted", "reason": "Confirmed by the authority: not collected.",
            "decided_by": "J. Analyst", "date": "2025-07-01"}


# --- a small raw folder for dasa check ---------------------------------------------------------
@pytest.fixture(scope="module")
def check_raw(tmp_path_factory) -> Path:
    """One year, three authorities:
    - Middlesbrough: 'n/a' in the refuge children cell (supported!F2): an open cell error;
    - Hartlepool: submission 1 has 'lots' in supported!C2 (women), submission 2 is clean;
    - Birmingham: submission 1 has no move_on sheet (set aside), submission 2 is clean."""
    raw = tmp_path_factory.mktemp("check_raw")
    B.write_return(raw, YEAR, MIDDLESBROUGH, "Middlesbrough", supported={"refuge": {"women": 5, "children": "n/a"}})
    B.write_return(raw, YEAR, HARTLEPOOL, "Hartlepool", submission=1, supported={"refuge": {"women": "lots"}})
    B.write_return(raw, YEAR, HARTLEPOOL, "Hartlepool", submission=2, supported={"refuge": {"women": 4}})

    def drop_move_on(wb):
        del wb["move_on"]

    B.write_return(raw, YEAR, BIRMINGHAM, "Birmingham", submission=1, mutate=drop_move_on)
    B.write_return(raw, YEAR, BIRMINGHAM, "Birmingham", submission=2)
    B.write_refuge_services(raw, YEAR, small_inputs.REFUGE_SERVICES)
    B.write_referrals(raw, YEAR, small_inputs.REFERRALS)
    B.write_marac(raw, YEAR, [{"marac_id": "M1", "pfa_code": "E23000013", "quarter_end": q, "cases_discussed": 10,
                               "repeat_cases": 2} for q in B.quarter_ends(YEAR)])
    return raw


@pytest.fixture(scope="module")
def check_assessment(check_raw):
    con = read_for_check(check_raw, [YEAR])
    try:
        return assess(con, check_raw, [YEAR])
    finally:
        con.close()


def _issue(assessment, file_part: str, code: str) -> dict:
    rows = [r for r in assessment.issues.iter_rows(named=True) if file_part in r["file"] and r["code"] == code]
    assert len(rows) == 1, (file_part, code, assessment.issues.select("file", "code"))
    return rows[0]


def _copy(raw: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "raw"
    shutil.copytree(raw, dest)
    return dest


def test_check_fails_on_an_open_error_and_writes_the_query_lists(check_raw, check_assessment, tmp_path, capsys):
    out = tmp_path / "queries"
    assert main(["check", "--raw-dir", str(check_raw), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    open_error = _issue(check_assessment, MIDDLESBROUGH, "bad_count")
    assert open_error["status"] == "open" and open_error["blocking"]
    assert "returns received: 3 of" in printed
    assert "OPEN: 1 error(s)" in printed and open_error["issue_id"] in printed
    assert "Middlesbrough (E06000002): 1 cell error: open" in printed

    header, rows = _read_csv(out / "E06000002_middlesbrough.csv")
    assert header == ["issue_id", "financial_year", "authority_code", "authority_name", "file", "sheet",
                      "cell_or_line", "level", "status", "problem", "what_to_do"]
    errors = [r for r in rows if r["level"] != "warning"]
    assert len(errors) == 1
    row = errors[0]
    assert (row["issue_id"], row["sheet"], row["cell_or_line"], row["level"], row["status"]) == \
        (open_error["issue_id"], "supported", "F2", "cell_error", "open")
    assert row["file"] == f"{YEAR}/authority_returns/{MIDDLESBROUGH}_s1.xlsx"
    assert "'n/a'" in row["problem"] and "whole number" in row["what_to_do"]
    # issues fixed by a resubmission are not sent back; the combined list holds the same rows
    assert not list(out.glob(f"{HARTLEPOOL}*.csv")) and not list(out.glob(f"{BIRMINGHAM}*.csv"))
    _, combined = _read_csv(out / "all_queries.csv")
    assert [r["issue_id"] for r in combined if r["level"] != "warning"] == [open_error["issue_id"]]


def test_a_resubmission_fixes_the_issues_of_the_workbook_it_replaces(check_assessment):
    cell = _issue(check_assessment, f"{HARTLEPOOL}_s1", "bad_count")
    assert (cell["location"], cell["status"], cell["blocking"]) == ("C2", "fixed_by_resubmission", False)
    missing = _issue(check_assessment, f"{BIRMINGHAM}_s1", "missing_sheet")
    assert missing["status"] == "fixed_by_resubmission" and not missing["blocking"]
    [set_aside] = check_assessment.quarantined
    assert set_aside["file"].endswith(f"{BIRMINGHAM}_s1.xlsx") and "move_on" in set_aside["reason"]
    assert set_aside["status"] == "fixed_by_resubmission"
    assert [r["issue_id"] for r in check_assessment.open_errors.iter_rows(named=True)] == \
        [_issue(check_assessment, MIDDLESBROUGH, "bad_count")["issue_id"]]


def test_an_accepted_error_is_no_longer_open(check_raw, check_assessment, tmp_path, capsys):
    raw = _copy(check_raw, tmp_path)
    issue_id = _issue(check_assessment, MIDDLESBROUGH, "bad_count")["issue_id"]
    _decisions(raw, YEAR, [_accept(issue_id)])
    out = tmp_path / "queries"
    (out / "stale.csv").parent.mkdir()
    (out / "stale.csv").write_text("left from an earlier run\n")
    assert main(["check", "--raw-dir", str(raw), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OK: no open error in 2024-25." in printed and "1 cell error: accepted" in printed
    assert not (out / "stale.csv").exists()
    _, combined = _read_csv(out / "all_queries.csv")
    assert issue_id not in {r["issue_id"] for r in combined}


def test_a_rejected_error_stays_open(check_raw, check_assessment, tmp_path):
    raw = _copy(check_raw, tmp_path)
    issue_id = _issue(check_assessment, MIDDLESBROUGH, "bad_count")["issue_id"]
    _decisions(raw, YEAR, [_accept(issue_id) | {"decision": "rejected"}])
    out = tmp_path / "queries"
    assert main(["check", "--raw-dir", str(raw), "--out", str(out)]) == 1
    _, rows = _read_csv(out / "E06000002_middlesbrough.csv")
    assert [r["status"] for r in rows if r["issue_id"] == issue_id] == ["rejected"]


@pytest.mark.parametrize("change, expected", [
    ({"issue_id": "AR-2024-25-0000000000"}, "unknown issue id AR-2024-25-0000000000"),
    ({"issue_id": "AR-2023-24-0000000000"}, "it is an id of 2023-24"),
    ({"reason": None}, "missing reason"),
    ({"decided_by": ""}, "missing decided_by"),
    ({"decision": "maybe"}, "decision 'maybe' must be one of accepted, rejected"),
    ({"date": "1 July"}, "is not a date"),
    ({"approved": "yes"}, "unknown key 'approved'"),
])
def test_a_bad_decisions_file_is_a_clear_error(check_raw, check_assessment, tmp_path, capsys, change, expected):
    raw = _copy(check_raw, tmp_path)
    entry = _accept(_issue(check_assessment, MIDDLESBROUGH, "bad_count")["issue_id"]) | change
    path = _decisions(raw, YEAR, [entry])
    assert main(["check", "--raw-dir", str(raw), "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "entry 1" in err and expected in err, err
    assert "Traceback" not in err


# --- releases: DRAFT while an error is open, final when every one is closed ---------------------
def _files(release: Path) -> dict[str, Path]:
    return {p.relative_to(release).as_posix(): p for p in release.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def draft_build(small_raw, tmp_path_factory):
    """The small raw folder (tests/fixtures/small_inputs.py): Middlesbrough's 'n/a' in both years
    is open, so the release is a draft."""
    tmp = tmp_path_factory.mktemp("draft_build")
    result = build_release(raw_dir=small_raw, year=YEAR, out_dir=tmp / "release", db_path=tmp / "dasa.duckdb",
                           instance=dg.DagsterInstance.ephemeral(), audit_dir=tmp_path_factory.mktemp("draft_audit"))
    return result


@pytest.fixture(scope="module")
def open_ids(draft_build) -> list[str]:
    con = duckdb.connect(str(draft_build.db_path), read_only=True)
    try:
        ids = con.execute("SELECT issue_id FROM raw_issues WHERE level = 'cell_error' AND file LIKE '%E06000002%' "
                          "ORDER BY issue_id").fetchall()
    finally:
        con.close()
    return [i for (i,) in ids]


def _release_from(db_path: Path, raw: Path, target: Path, con_setup=None) -> Path:
    """The release asset's own steps (gather, then write atomically) on a built warehouse."""
    con = duckdb.connect(str(db_path))
    try:
        if con_setup:
            con_setup(con)
        inputs = gather_release_inputs(con, YEAR, raw_dir=raw)
    finally:
        con.close()
    write_release_atomically(target, inputs)
    return target


@pytest.fixture(scope="module")
def final_release(draft_build, open_ids, small_raw, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("final_release")
    raw = tmp / "raw"
    shutil.copytree(small_raw, raw)
    for issue_id in open_ids:
        year = issue_id[3:10]
        _decisions(raw, year, [_accept(issue_id)])
    db = tmp / "dasa.duckdb"
    shutil.copy(draft_build.db_path, db)
    return _release_from(db, raw, tmp / "release")


def test_open_errors_make_a_draft_marked_on_every_page_and_file(draft_build, final_release, open_ids):
    assert draft_build.draft and draft_build.open_errors == len(open_ids) == 2
    files = _files(draft_build.release_dir)
    pages = [n for n in files if n.endswith(".html")]
    top = {"index.html", "tables.html", "authorities.html", "data-quality.html", "methodology.html", "technical.html",
           "quality.html"}
    assert top <= set(pages)
    assert all(p in top or p.startswith("trace/") for p in pages), pages
    for name in pages:
        html = files[name].read_text(encoding="utf-8")
        assert "<title>DRAFT: " in html and '<div class="draft-banner"' in html and "<strong>DRAFT</strong>" in html, name
    csvs = [n for n in files if n.endswith(".csv") and not n.startswith("data/ees/")]
    assert "data/figures.csv" in csvs and "data/quality_issues.csv" in csvs and "data/metadata.csv" in csvs
    ees = [n for n in files if n.startswith("data/ees/")]  # EES files have their own .meta.csv: the name says DRAFT
    assert ees and all(n.startswith("data/ees/DRAFT_") for n in ees), ees
    csvs = [n for n in csvs if not n.startswith("data/ees/")]
    final_files = _files(final_release)
    for name in csvs:  # the columns of a final release (a draft is marked in metadata and beside the files)
        assert _read_csv(files[name])[0] == _read_csv(final_files[name])[0], name
    _, meta = _read_csv(files["data/metadata.csv"])
    assert meta and all(r["description"].startswith("DRAFT: not for publication. ") for r in meta)
    assert {r["file"] for r in meta} >= {n.removeprefix("data/") for n in csvs if n != "data/metadata.csv"}
    assert "DRAFT release" in files["data/DRAFT-NOT-FOR-PUBLICATION.txt"].read_text(encoding="utf-8")
    cover = openpyxl.load_workbook(files[f"dasa-{YEAR}.xlsx"], read_only=True)["Cover"]
    assert "DRAFT" in str(next(cover.iter_rows(values_only=True))[0])
    with zipfile.ZipFile(files[f"dasa-{YEAR}.ods"]) as z:
        assert "DRAFT" in z.read("content.xml").decode("utf-8")
    assert json.loads(files["manifest.json"].read_text())["release_status"] == "DRAFT"
    assert json.loads(files["build.json"].read_text())["release_status"] == "DRAFT"
    quality = files["quality.html"].read_text(encoding="utf-8")
    for issue_id in open_ids:
        assert issue_id in quality
    assert "Draft: 2 errors open." in quality


def test_a_final_release_carries_no_draft_mark(final_release, open_ids):
    files = _files(final_release)
    for name, path in files.items():
        if name.endswith((".html", ".csv", ".json")) and not name.startswith("assets/"):
            assert "DRAFT" not in path.read_text(encoding="utf-8"), name
    assert "data/DRAFT-NOT-FOR-PUBLICATION.txt" not in files
    cover = openpyxl.load_workbook(files[f"dasa-{YEAR}.xlsx"], read_only=True)["Cover"]
    assert not any("DRAFT" in str(v) for row in cover.iter_rows(values_only=True) for v in row if v)
    manifest = json.loads(files["manifest.json"].read_text())
    assert manifest["release_status"] == "final"
    assert {i["path"] for i in manifest["inputs"]} >= {"2023-24/decisions.yaml", "2024-25/decisions.yaml"}
    quality = files["quality.html"].read_text(encoding="utf-8")
    assert "<strong>Passed.</strong>" in quality
    accepted = quality[quality.index('id="accepted"'):quality.index('id="fixed"')]
    for issue_id in open_ids:
        assert issue_id in accepted
    assert "Confirmed by the authority: not collected." in accepted and "J. Analyst" in accepted
    _, rows = _read_csv(files["data/quality_issues.csv"])
    by_id = {r["issue_id"]: r for r in rows}
    assert all(by_id[i]["status"] == "accepted" and by_id[i]["blocking"] == "no" for i in open_ids)
    # Hartlepool's first 2024-25 submission was replaced: nothing in it is open
    assert all(r["status"] != "open" or r["level"] == "warning" for r in rows)


def test_final_refuses_while_an_error_is_open_and_names_it(small_raw, open_ids, tmp_path, capsys):
    out = tmp_path / "release"
    assert main(["release", "--final", "--raw-dir", str(small_raw), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "refusing to build the final 2024-25 release: 2 errors" in err
    for issue_id in open_ids:
        assert issue_id in err
    assert "sheet supported, F2" in err and "Traceback" not in err
    assert not out.exists()


def test_quality_report_renders_validation_results_when_the_suites_ran(draft_build, small_raw, tmp_path):
    # a build runs the suites (Dagster asset checks): their results are in the report
    draft_quality = (draft_build.release_dir / "quality.html").read_text(encoding="utf-8")
    assert "Validation suites not run" not in draft_quality
    assert (draft_build.release_dir / "data" / "validation_results.csv").exists()

    # a warehouse without results says so
    bare = tmp_path / "bare.duckdb"
    shutil.copy(draft_build.db_path, bare)
    release = _release_from(bare, small_raw, tmp_path / "bare_release",
                            lambda con: con.execute("DROP TABLE IF EXISTS val_results"))
    assert "Validation suites not run" in (release / "quality.html").read_text(encoding="utf-8")
    assert not (release / "data" / "validation_results.csv").exists()

    def add_results(con):
        con.execute("""CREATE OR REPLACE TABLE val_results AS SELECT * FROM (VALUES
            ('2024-25', 'raw_authority_returns__supported', 'raw_authority_returns__supported',
             'expect_column_values_to_be_between', 'women', 'blocking', false, 3, 40, 'min_value 0'),
            ('2024-25', 'raw_authority_returns__supported', 'raw_authority_returns__supported',
             'expect_column_to_exist', 'households', 'warning', true, 0, 40, '')
            ) AS t(financial_year, suite, table_name, expectation, column_name, severity, success,
                   unexpected_count, element_count, details)""")

    db = tmp_path / "dasa.duckdb"
    shutil.copy(draft_build.db_path, db)
    release = _release_from(db, small_raw, tmp_path / "release", add_results)
    quality = (release / "quality.html").read_text(encoding="utf-8")
    assert "Validation suites not run" not in quality
    section = quality[quality.index('id="validation"'):quality.index('id="disclosure-control"')]
    assert "expect_column_values_to_be_between" in section and "FAILED" in section and "min_value 0" in section
    assert re.search(r"<td>failed</td>", section)
    _, rows = _read_csv(release / "data" / "validation_results.csv")
    assert [(r["expectation"], r["success"]) for r in rows] == [
        ("expect_column_to_exist", "yes"), ("expect_column_values_to_be_between", "no")]


def test_quality_report_counts_suppressed_cells_per_measure_with_no_split_by_rule(draft_build):
    _, figures = _read_csv(draft_build.release_dir / "data" / "figures.csv")
    year = max(r["time_period"] for r in figures)
    suppressed: dict[str, list[int]] = {}
    for r in figures:
        if r["value_status"] == "suppressed":
            counts = suppressed.setdefault(r["measure"], [0, 0])
            counts[0] += r["time_period"] == year
            counts[1] += 1
    assert suppressed, "the small release has suppressed cells"
    quality = (draft_build.release_dir / "quality.html").read_text(encoding="utf-8")
    section = quality[quality.index('id="disclosure-control"'):]
    section = section[:section.index("</section>")]
    for measure, (in_year, in_all) in suppressed.items():
        row = re.search(rf"<code>{re.escape(measure)}</code>.*?</tr>", section, re.S).group(0)
        assert row.endswith(f'<td class="num">{in_year}</td><td class="num">{in_all}</td></tr>'), (measure, row)
    # which rule withholds a figure is not public: no column or sentence splits the [c] by rule
    assert not re.search(r"primary|secondary|carried", section, re.I), section
    assert "suppression_log" not in quality


# --- the sample data --------------------------------------------------------------------------------
def test_quality_report_lists_the_sample_imperfections_with_their_locations(tmp_path):
    """The documented cell errors (pipelines/sample_data/README.md) are found where they are,
    accepted by the committed decisions files, and shown so in the quality report; the name
    mismatches are open warnings."""
    from tests.fixtures.release_inputs import build_inputs

    years = ["2021-22", "2022-23", "2023-24", "2024-25"]
    con = read_for_check(RAW_DIR, years)
    try:
        assessment = assess(con, RAW_DIR, years)
    finally:
        con.close()
    assert not assessment.blocking
    cell_errors = {(r["file"].split("/")[-1], r["sheet"], r["location"], r["status"])
                   for r in assessment.issues.iter_rows(named=True) if r["level"] == "cell_error"}
    assert cell_errors == {
        ("E08000026_coventry_s1.xlsx", "supported", "D2", "accepted"),
        ("E61000001_greater-london-authority_s1.xlsx", "unable_to_support", "B2", "accepted"),
        ("E08000017_doncaster_s1.xlsx", "length_of_stay", "E3", "accepted"),
        ("E10000031_warwickshire_s1.xlsx", "characteristics", "B11", "accepted"),
    }
    warnings = {(r["file"].split("/")[-1], r["location"], r["code"], r["status"])
                for r in assessment.issues.iter_rows(named=True) if r["level"] == "warning"}
    assert ("E08000013_st-helens_s1.xlsx", "B3", "name_mismatch", "open") in warnings
    assert len(warnings) == 4

    inputs = dataclasses.replace(build_inputs(), quality=assessment)
    write_release(tmp_path, inputs)
    quality = (tmp_path / "quality.html").read_text(encoding="utf-8")
    accepted = quality[quality.index('id="accepted"'):quality.index('id="fixed"')]
    assert accepted.count("Deliberate imperfection of the sample data") == 4
    for file, sheet, cell, _ in cell_errors:
        assert f"{file}, sheet {sheet}, <strong>{cell}</strong>" in accepted.replace("<wbr>", ""), (file, cell)
    every = quality[quality.index('id="all-issues"'):quality.index('id="validation"')]
    assert "Showing 8 of 8 problems." in every and "St Helens" in every


def test_an_accepted_warning_is_counted_apart_from_the_errors(draft_build, open_ids, small_raw, tmp_path):
    """Accepting a warning is not accepting an error: the page says 2 of 2 errors accepted and the
    warning apart (it once said "Of 2 errors found, 3 were accepted")."""
    con = duckdb.connect(str(draft_build.db_path), read_only=True)
    try:
        (warning,) = warehouse.one_row(con.execute(
            "SELECT min(issue_id) FROM raw_issues WHERE level = 'warning' AND financial_year = ?", [YEAR]))
    finally:
        con.close()
    assert warning
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    by_year: dict[str, list[dict]] = {}
    for issue_id in [*open_ids, warning]:
        by_year.setdefault(issue_id[3:10], []).append(_accept(issue_id))
    for year, entries in by_year.items():
        _decisions(raw, year, entries)
    db = tmp_path / "dasa.duckdb"
    shutil.copy(draft_build.db_path, db)
    release = _release_from(db, raw, tmp_path / "release")
    page = re.sub(r"\s+", " ", (release / "index.html").read_text(encoding="utf-8"))
    found, accepted, fixed, still = map(int, re.search(
        r"Of (\d+) errors found in the inputs \(structural errors and cell errors\), (\d+) were accepted with a "
        r"reason, (\d+) fixed by a resubmission and (\d+) are still open", page).groups())
    assert (accepted, still) == (len(open_ids), 0) and found == accepted + fixed, page
    assert re.search(r"warnings?, which never block publication, 1 was accepted", page)
    quality = re.sub(r"\s+", " ", (release / "quality.html").read_text(encoding="utf-8"))
    assert f"<dt>Accepted</dt><dd>{accepted}</dd>" in quality
    assert "(1 accepted, 0 fixed by a resubmission," in quality


def test_all_years_with_an_out_dir_write_each_year_in_its_own_folder(small_raw, tmp_path):
    """`dasa release --all --out-dir DIR` writes DIR/<year>/ for every year (it once wrote every
    year over one folder's name); the project's releases folder is not touched."""
    site = tmp_path / "site"
    result = build_release(raw_dir=small_raw, all_years=True, out_dir=site, db_path=tmp_path / "dasa.duckdb",
                           instance=dg.DagsterInstance.ephemeral(), audit_dir=tmp_path / "restricted" / "audit")
    years = sorted(p.name for p in site.iterdir())
    assert years == ["2023-24", "2024-25"] and result.release_dir == site / "2024-25"
    for y in years:
        _, rows = _read_csv(site / y / "data" / "figures.csv")
        assert max(r["time_period"] for r in rows) == y
        assert (site / y / "index.html").is_file()
