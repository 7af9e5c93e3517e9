"""Revisions: a final release is kept as a vintage; after a resubmission, the rebuilt release
marks exactly the figures whose published value changed ([r]) and says why.

The figures that depend on the resubmitted cells are found independently of the revisions
code: they are the figures whose published value differs between the first release (built
when no vintage existed) and a from-scratch build of the new raw folder with no vintages,
less the figures the first release withheld ([c]): those stay [c] in every later build.
"""

from __future__ import annotations

import csv
import filecmp
import json
import re
import shutil
from pathlib import Path

import dagster as dg
import openpyxl
import polars as pl
import pytest

from pipelines import provenance
from pipelines.build import build_release
from pipelines.disclosure import CARRIED
from tests.fixtures import builders as B
from tests.fixtures.public_text import rules_beside_figure_ids
from tests.fixtures.small_inputs import BIRMINGHAM, HARTLEPOOL, NORTH_EAST, WEST_MIDLANDS

YEAR = "2024-25"
ENGLAND = "E92000001"


def _build(raw: Path, out: Path, db: Path, vintages: Path, draft: bool = False) -> Path:
    # the restricted audit bundle goes beside the module's folder, never beside the release
    audit = B.audit_root_beside(out)
    # a hand-made world of three authorities: protected against exact recovery only (see
    # build_warehouse in conftest.py); the sample release is built with the full audit
    build_release(raw_dir=raw, out_dir=out, db_path=db, vintages_dir=vintages, draft=draft,
                  instance=dg.DagsterInstance.ephemeral(), audit_dir=audit, protection_width=0)
    return out


def _resubmit(source: Path, target: Path, *cells: tuple[str, str, str, int]) -> None:
    """Copy a return, change cells (sheet, row key, column, value) and give it the next
    submission number."""
    wb = openpyxl.load_workbook(source)
    about = {row[0].value: row[1] for row in wb["about"].iter_rows(min_row=2)}
    about["submission_number"].value = int(about["submission_number"].value) + 1
    for sheet, key, column, value in cells:
        ws = wb[sheet]
        header = [c.value for c in ws[1]]
        rows = [row for row in ws.iter_rows(min_row=2) if row[0].value == key]
        assert len(rows) == 1
        rows[0][header.index(column)].value = value
    wb.save(target)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _figures(release: Path) -> dict[str, dict[str, str]]:
    return {r["figure_id"]: r for r in _rows(release / "data" / "figures.csv")}


def _kept(vintages: Path) -> list[str]:
    folder = vintages / YEAR
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _accept_open_errors(raw: Path) -> None:
    """Accept every open error in a decisions file, so the folder builds a final release."""
    from pipelines.assets import years_in
    from pipelines.build import read_for_check
    from pipelines.quality import assess

    years = years_in(raw)
    con = read_for_check(raw, years)
    open_errors = assess(con, raw, years).open_errors
    con.close()
    for year in sorted(set(open_errors["financial_year"].to_list())):
        lines = ["decisions:"]
        for issue_id in open_errors.filter(pl.col("financial_year") == year)["issue_id"].to_list():
            lines += [f"  - issue_id: {issue_id}", "    decision: accepted", "    reason: Checked with the authority.",
                      "    decided_by: A. Statistician", '    date: "2025-07-01"']
        (raw / year / "decisions.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def builds(small_raw, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("revisions")
    vintages, db = tmp / "vintages", tmp / "dasa.duckdb"
    out: dict = {"vintages": vintages}
    first_raw = tmp / "first_raw"
    shutil.copytree(small_raw, first_raw)
    _accept_open_errors(first_raw)
    small_raw = first_raw
    out["first"] = _build(small_raw, tmp / "first", db, vintages)
    out["kept_first"] = _kept(vintages)

    raw = tmp / "raw"
    shutil.copytree(small_raw, raw)
    returns_2324, returns_2425 = raw / "2023-24" / "authority_returns", raw / YEAR / "authority_returns"
    # Birmingham (West Midlands) resubmits 2023-24: women in refuges 20 -> 26
    _resubmit(returns_2324 / f"{BIRMINGHAM}_s1.xlsx", returns_2324 / f"{BIRMINGHAM}_s2.xlsx",
              ("supported", "refuge", "women", 26))
    # Hartlepool (North East) resubmits 2024-25 again: households turned away for capacity 4 -> 9
    # (withheld in the first release), households supported in sanctuary 5 -> 3 (published in it)
    _resubmit(returns_2425 / "hartlepool_resubmitted.xlsx", returns_2425 / "hartlepool_third.xlsx",
              ("unable_to_support", "capacity", "households", 9), ("supported", "sanctuary", "households", 3))
    out["raw"] = raw
    out["second"] = _build(raw, tmp / "second", db, vintages)
    out["kept_second"] = _kept(vintages)
    out["scratch"] = _build(raw, tmp / "scratch", db, tmp / "no_vintages")  # no earlier release to compare with
    out["again"] = _build(raw, tmp / "again", db, vintages)
    out["kept_again"] = _kept(vintages)
    out["draft"] = _build(small_raw, tmp / "draft", db, vintages, draft=True)
    out["kept_draft"] = _kept(vintages)
    return out


@pytest.fixture(scope="module")
def changed(builds) -> dict[str, tuple[str, str]]:
    """figure_id -> (value before, value after), from two from-scratch builds."""
    before, after = _figures(builds["first"]), _figures(builds["scratch"])
    assert set(before) == set(after)
    return {i: (before[i]["value"], after[i]["value"]) for i in before if before[i]["value"] != after[i]["value"]}


@pytest.fixture(scope="module")
def withheld(builds) -> set[str]:
    """The figures [c] in the first release (vintage 1): they stay [c] in every later build."""
    return {i for i, f in _figures(builds["first"]).items() if f["value"] == "[c]"}


@pytest.fixture(scope="module")
def revised(changed) -> dict[str, tuple[str, str]]:
    """The changed figures a later release lists as revised: none withheld ([c]) before or after."""
    return {i: v for i, v in changed.items() if "[c]" not in v}


def test_the_resubmissions_change_figures_in_both_areas_only(changed):
    """The scenario is a real test: figures of both authorities, regions and England change,
    and nothing elsewhere (Middlesbrough is in the North East but its own figures stay)."""
    codes = {i.split(".")[2] for i in changed}
    assert {BIRMINGHAM, HARTLEPOOL, WEST_MIDLANDS, NORTH_EAST, ENGLAND} <= codes
    assert codes <= {BIRMINGHAM, HARTLEPOOL, WEST_MIDLANDS, NORTH_EAST, ENGLAND}
    assert f"individuals_supported.all.{BIRMINGHAM}.2023-24" in changed
    # a national count whose rounding to 10 absorbs the change is not a changed figure
    assert f"individuals_supported.women.{ENGLAND}.2023-24" not in changed


def test_first_release_is_kept_and_has_no_revisions(builds):
    assert builds["kept_first"] == ["1"]
    html = (builds["first"] / "index.html").read_text(encoding="utf-8")
    assert "There are no revisions" in html
    assert _rows(builds["first"] / "data" / "revisions.csv") == []
    assert "revised" not in {r["value_status"] for r in _figures(builds["first"]).values()}


def test_a_figure_withheld_in_vintage_1_stays_withheld_in_vintage_2(builds, withheld, changed):
    # Hartlepool's households turned away for capacity: 4 ([c]) in vintage 1, 9 after its
    # resubmission, which a build with no vintage publishes
    capacity = f"households_unable_to_support.capacity.{HARTLEPOOL}.{YEAR}"
    assert capacity in withheld and changed[capacity] == ("[c]", "9")
    for build in ("second", "again", "draft"):
        figures = _figures(builds[build])
        assert {i for i in withheld if figures[i]["value"] != "[c]"} == set(), build
    log = pl.read_parquet(B.audit_bundle_of(builds["second"], YEAR) / provenance.SUPPRESSION_LOG_FILE)
    assert log.filter(pl.col("figure_id") == capacity)["rule"].to_list() == [CARRIED]


def test_withheld_gathers_the_c_of_every_kept_vintage_of_every_year(builds, withheld, tmp_path):
    from pipelines.revisions import withheld as gather

    assert gather(builds["vintages"]) >= withheld
    assert gather(tmp_path / "none") == frozenset()
    other = tmp_path / "vintages" / "2023-24" / "1"  # a vintage of another year counts too
    other.mkdir(parents=True)
    (other / "vintage.json").write_text("{}", encoding="utf-8")
    (other / "figures.csv").write_text("figure_id,value\na.all.E06000001.2023-24,[c]\nb.all.E06000001.2023-24,7\n",
                                       encoding="utf-8")
    assert gather(tmp_path / "vintages") == {"a.all.E06000001.2023-24"}


def test_exactly_the_changed_figures_are_marked_revised(builds, revised, withheld):
    rows = {r["figure_id"]: r for r in _rows(builds["second"] / "data" / "revisions.csv")}
    assert set(rows) == set(revised)
    for fid, (old, new) in revised.items():
        assert (rows[fid]["previous_value"], rows[fid]["value"]) == (old, new), fid
    second, scratch = _figures(builds["second"]), _figures(builds["scratch"])
    assert set(second) == set(scratch)
    for fid, fig in second.items():
        # a revision never changes a value; a figure withheld in vintage 1 stays [c]
        assert fig["value"] == ("[c]" if fid in withheld else scratch[fid]["value"]), fid
        is_number = re.fullmatch(r"-?\d+(\.\d+)?", fig["value"]) is not None
        if fid in revised and is_number:
            assert fig["value_status"] == "revised", fid
        else:
            assert fig["value_status"] == ("suppressed" if fid in withheld else scratch[fid]["value_status"]), fid


def test_the_reason_names_the_resubmissions_of_the_figures_area(builds):
    rows = _rows(builds["second"] / "data" / "revisions.csv")
    birmingham = (f"Birmingham ({BIRMINGHAM}) resubmitted its 2023-24 return: "
                  f"2023-24/authority_returns/{BIRMINGHAM}_s2.xlsx (submission 2) replaces "
                  f"2023-24/authority_returns/{BIRMINGHAM}_s1.xlsx (submission 1)")
    hartlepool = (f"Hartlepool ({HARTLEPOOL}) resubmitted its 2024-25 return: "
                  "2024-25/authority_returns/hartlepool_third.xlsx (submission 3) replaces "
                  "2024-25/authority_returns/hartlepool_resubmitted.xlsx (submission 2)")
    seen = set()
    for r in rows:
        code, year, change = r["geography_code"], r["time_period"], r["measure"].endswith(("_change", "_change_percent"))
        west_midlands = code in (BIRMINGHAM, WEST_MIDLANDS)
        north_east = code in (HARTLEPOOL, NORTH_EAST)
        # Birmingham's change is to 2023-24: its figures of that year and the changes on it in 2024-25
        expect_b = (year == "2023-24" or change) and (west_midlands or code == ENGLAND)
        expect_h = year == YEAR and (north_east or code == ENGLAND)
        assert (birmingham in r["reason"]) == expect_b, (r["figure_id"], r["reason"])
        assert (hartlepool in r["reason"]) == expect_h, (r["figure_id"], r["reason"])
        seen.add((expect_b, expect_h))
    assert {(True, False), (False, True), (True, True)} <= seen  # both apart, and both for England changes


def test_page_and_spreadsheet_show_r_beside_exactly_the_revised_figures(builds, revised):
    html = (builds["second"] / "index.html").read_text(encoding="utf-8")
    site = "\n".join(p.read_text(encoding="utf-8") for p in sorted(builds["second"].glob("*.html")))
    cells = [(fid, a + b) for fid, a, b in re.findall(
        r'<td class="num[^"]*" data-sort="[^"]*" data-figure-id="([^"]+)">(?:<a [^>]*>)?([^<]*)(?:</a>)?([^<]*)</td>',
        site)]
    assert cells
    marked = {fid for fid, text in cells if text.endswith(" [r]")}
    shown = {fid for fid, _ in cells}
    assert marked == shown & set(revised) and marked
    section = html.split('<h2 id="revisions">', 1)[1].split("</section>", 1)[0]
    assert "There are no revisions" not in section
    assert f"{len(revised)} figures differ from the previous release of {YEAR}" in section
    assert f"Birmingham ({BIRMINGHAM}) resubmitted its 2023-24 return" in section  # the input changes, once each
    assert section.count(f"Hartlepool ({HARTLEPOOL}) resubmitted its 2024-25 return") == 1
    for fid in revised:
        assert f"<code>{fid}</code>" in section

    wb = openpyxl.load_workbook(builds["second"] / f"dasa-{YEAR}.xlsx")
    revisions = wb["Revisions"]
    ids = [row[0].value for row in revisions.iter_rows() if row[0].value in revised]
    assert sorted(ids) == sorted(revised)
    flagged = [c for ws in wb.worksheets if ws.title.startswith("Table_") for row in ws.iter_rows() for c in row
               if "[r]" in (c.number_format or "")]
    assert flagged and all(isinstance(c.value, (int, float)) for c in flagged)


def test_the_vintage_keeps_figures_and_inputs_with_submission_numbers(builds):
    assert builds["kept_second"] == ["1", "2"]
    kept = builds["vintages"] / YEAR / "2"
    assert filecmp.cmp(kept / "figures.csv", builds["second"] / "data" / "figures.csv", shallow=False)
    info = json.loads((kept / "vintage.json").read_text(encoding="utf-8"))
    assert info["compared_with"] == 1 and info["built_at"]
    inputs = {r["path"]: r for r in _rows(kept / "inputs.csv")}
    new = inputs[f"2023-24/authority_returns/{BIRMINGHAM}_s2.xlsx"]
    old = inputs[f"2023-24/authority_returns/{BIRMINGHAM}_s1.xlsx"]
    assert (new["gss_code"], new["submission_number"], new["in_use"]) == (BIRMINGHAM, "2", "yes")
    assert (old["submission_number"], old["in_use"]) == ("1", "no")
    assert len(new["sha256"]) == 64 and new["sha256"] != old["sha256"]
    assert not (builds["second"] / "vintages").exists()  # kept outside the publishable folder


def test_an_identical_rebuild_keeps_no_new_vintage_and_the_same_files(builds):
    assert builds["kept_again"] == builds["kept_second"]
    first, again = builds["second"], builds["again"]
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    differing = [str(p) for p in files if not filecmp.cmp(first / p, again / p, shallow=False)]
    assert differing == ["build.json"]


def test_a_draft_keeps_no_vintage(builds):
    # the draft's inputs differ from the last vintage: a final build would have kept a third
    assert builds["kept_draft"] == builds["kept_second"]
    assert _rows(builds["draft"] / "data" / "revisions.csv")  # it is still compared, for checking


# --- the reason, on hand-made input lists (no build) ------------------------------------------
def _file(path: str, sha: str, code: str = "", sub: str = "", in_use: str = "yes", source: str = "authority_returns",
          name: str = "Hartlepool", region: str = NORTH_EAST) -> dict[str, str]:
    return {"financial_year": path[:7], "source": source, "path": path, "sha256": sha, "gss_code": code,
            "authority_name": name if code else "", "region_code": region if code else "",
            "submission_number": sub, "in_use": in_use}


def test_input_changes_name_late_returns_dropped_returns_and_changed_extracts():
    from pipelines.revisions import input_changes

    before = [_file("2024-25/authority_returns/h1.xlsx", "a" * 64, HARTLEPOOL, "1"),
              _file("2024-25/womens_aid/referrals.csv", "b" * 64, source="womens_aid"),
              _file("2024-25/authority_returns/b1.xlsx", "c" * 64, BIRMINGHAM, "1", name="Birmingham",
                    region=WEST_MIDLANDS)]
    after = [_file("2024-25/authority_returns/h1.xlsx", "a" * 64, HARTLEPOOL, "1", in_use="no"),
             _file("2024-25/authority_returns/h2.xlsx", "d" * 64, HARTLEPOOL, "2"),
             _file("2024-25/womens_aid/referrals.csv", "e" * 64, source="womens_aid"),
             _file("2024-25/authority_returns/m1.xlsx", "f" * 64, "E06000002", "1", name="Middlesbrough")]
    texts = [c.text for c in input_changes(before, after)]
    assert texts == [
        "Hartlepool (E06000001) resubmitted its 2024-25 return: 2024-25/authority_returns/h2.xlsx (submission 2) "
        "replaces 2024-25/authority_returns/h1.xlsx (submission 1)",
        "Middlesbrough (E06000002) 2024-25 return received since the previous release: "
        "2024-25/authority_returns/m1.xlsx (submission 1)",
        "Birmingham (E08000025) 2024-25 return 2024-25/authority_returns/b1.xlsx (submission 1) is no longer used",
        "Women's Aid 2024-25 extract 2024-25/womens_aid/referrals.csv changed (its SHA-256 differs)",
    ]
    assert input_changes(after, after) == []


def test_a_figure_that_becomes_a_symbol_is_revised_but_keeps_its_symbol():
    import polars as pl

    from pipelines.revisions import compare, input_changes

    before = [_file("2024-25/authority_returns/h1.xlsx", "a" * 64, HARTLEPOOL, "1")]
    after = [_file("2024-25/authority_returns/h2.xlsx", "d" * 64, HARTLEPOOL, "2")]
    fig = {"measure": "individuals_supported", "breakdown": "all", "time_period": YEAR, "unit": "individuals",
           "geographic_level": "local_authority"}
    places = {HARTLEPOOL: ("Hartlepool", "7", "[x]"), "E06000002": ("Middlesbrough", "12", "13"),
              BIRMINGHAM: ("Birmingham", "30", "30"), "E06000003": ("Redcar and Cleveland", "8", "[c]"),
              "E06000004": ("Stockton-on-Tees", "[c]", "6")}
    figures = pl.DataFrame([{**fig, "figure_id": f"individuals_supported.all.{code}.{YEAR}", "geography_code": code,
                             "geography_name": name, "value": now} for code, (name, _, now) in places.items()])
    previous = pl.DataFrame({"figure_id": figures["figure_id"], "previous_value": [p[1] for p in places.values()]})
    table = compare(figures, previous, input_changes(before, after))
    rows = {r["geography_code"]: r for r in table.iter_rows(named=True)}
    # Birmingham's value did not change; a figure withheld before or now is not listed
    assert set(rows) == {HARTLEPOOL, "E06000002"}
    assert (rows[HARTLEPOOL]["previous_value"], rows[HARTLEPOOL]["value"]) == ("7", "[x]")
    assert rows[HARTLEPOOL]["reason"].startswith("Hartlepool (E06000001) resubmitted its 2024-25 return")
    # Middlesbrough's own return did not change: it changed through a shared total
    assert rows["E06000002"]["reason"].startswith("Changed through disclosure control or a shared total: Hartlepool")


def test_a_figure_withheld_before_or_after_a_resubmission_shows_no_value(builds, changed):
    """Hartlepool's capacity count was [c] in vintage 1 and would be 9 now; its sanctuary
    households were 5 in vintage 1 and are 3 ([c]) now. Neither shows a value in
    figures.csv, and no revision (csv, page or spreadsheet) is listed for either."""
    capacity = f"households_unable_to_support.capacity.{HARTLEPOOL}.{YEAR}"
    sanctuary = f"households_supported.sanctuary.{HARTLEPOOL}.{YEAR}"
    assert (changed[capacity], changed[sanctuary]) == (("[c]", "9"), ("5", "[c]"))
    first, second = _figures(builds["first"]), _figures(builds["second"])
    rows = {r["figure_id"]: r for r in _rows(builds["second"] / "data" / "revisions.csv")}
    assert rows
    for fid in (capacity, sanctuary):
        assert second[fid]["value"] == "[c]" and fid not in rows, fid
    for fid, r in rows.items():  # no row carries a value of a figure withheld in either release
        assert "[c]" not in (first[fid]["value"], second[fid]["value"], r["previous_value"], r["value"]), fid
    html = (builds["second"] / "index.html").read_text(encoding="utf-8")
    section = html.split('<h2 id="revisions">', 1)[1].split("</section>", 1)[0]
    assert "A figure withheld ([c]) in either release is not counted or listed" in section
    assert "[c]" not in section.replace("withheld ([c])", "")
    revisions = openpyxl.load_workbook(builds["second"] / f"dasa-{YEAR}.xlsx")["Revisions"]
    assert not {capacity, sanctuary} & {row[0].value for row in revisions.iter_rows()}
    # nor does any file of the rebuilt release give the rule (carried, primary, secondary) of a figure
    assert rules_beside_figure_ids(builds["second"]) == []


def test_provenance_of_a_revised_figure_says_how_it_is_shown(builds):
    """A revised figure keeps the rounding its status no longer names: an authority count
    published whole is 'exact', a rounded England or regional count 'base'."""
    index = json.loads((builds["second"] / "provenance.json").read_text(encoding="utf-8"))
    second, scratch = _figures(builds["second"]), _figures(builds["scratch"])
    codes = {}
    for info in index["families"].values():
        doc = json.loads((builds["second"] / info["file"]).read_text(encoding="utf-8"))
        codes.update({fid: entry["disclosure"] for fid, entry in doc["figures"].items()})
    revised = [fid for fid, fig in second.items() if fig["value_status"] == "revised"]
    authority_count = f"individuals_supported.all.{BIRMINGHAM}.2023-24"
    assert authority_count in revised and codes[authority_count] == "exact"
    assert scratch[authority_count]["value_status"] == "published"
    for fid in revised:
        if scratch[fid]["value_status"] == "rounded" and "." not in scratch[fid]["value"]:
            assert codes[fid] in ("base", "rate_base"), fid
