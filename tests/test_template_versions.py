"""Versions of the return template are data (assets/templates/v<n>.yaml, decision 0019).

In a copy of the project, one file goes into `assets/templates/`: `v2.yaml`, the v1 template
with a column added to `supported` (`nrpf_individuals`), a column of `services` renamed
(`provider_name` is headed `provider`, its old name mapped), a new sheet (`waiting_list`, with
a voluntary column), and a new reason code for `unable_to_support`. A metric family that reads
the new column and a template change on a measure whose definition the new reason changes go
into `assets/metrics/`, and the suites are regenerated (`python -m pipelines.validation`).
Nothing under `pipelines/` changes. One raw folder then holds returns on version 1 and version
2 (and one on an unknown version 9), and the warehouse built from it must show:

- no structural error, nor any other issue, for the version 1 returns;
- the new column and the new sheet in the raw tables, NULL / no rows for version 1 returns;
- the renamed column read under its one name;
- an unknown version set aside with a sentence naming the file, the version and those known;
- the figure that needs the new column `[x]` where the template lacks it, and the change of a
  measure whose definition changed with the template `[b]` across the break;
- every validation suite passing, with expectations written per version where they differ.

The rest of the file checks the template files' loader itself, in-process.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import schemas
from pipelines.ingest import authority_returns
from pipelines.paths import PROJECT_DIR
from tests.fixtures import builders as B
from tests.fixtures.project_copy import copy_project
from tests.fixtures.template_v2 import V1, edit, v2_text

OLD, NEW = "2023-24", "2024-25"
HARTLEPOOL, MIDDLESBROUGH, BIRMINGHAM = "E06000001", "E06000002", "E08000025"
REDCAR, STOCKTON = "E06000003", "E06000004"


NRPF_SQL = """-- Individuals supported who had no recourse to public funds (collected from template version 2).
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'supported' and field = 'nrpf_individuals'
),
parts as (
    select r.financial_year, r.gss_code, r.region_code, 'nrpf_individuals' as measure, 'all' as breakdown,
           sum(c.value) as numerator, null::hugeint as denominator
    from returns r
    left join cells c on c.financial_year = r.financial_year and c.gss_code = r.gss_code
    group by all
)
select * from parts
"""
NRPF_YAML = """description: Individuals supported who had no recourse to public funds.
source: authority_returns
theme: context
method_version: 1
measures:
  - id: nrpf_individuals
    title: Individuals with no recourse to public funds
    unit: individuals
    kind: count
    counts_people: true
    definition: Individuals supported who had no recourse to public funds (template version 2 on).
    geographies: [national, regional, local_authority]
    breakdowns: [all]
    reads:
      numerator: [{sheet: supported, columns: [nrpf_individuals]}]
"""
BREAK_NOTE = "From template version 2 the households unable to be supported include those declined for safeguarding."

# run in the copy: write the raw folder (the builders follow the copy's templates), build the
# warehouse, run every suite on both years
SCRIPT = """
import sys
from pathlib import Path

import duckdb

from pipelines import validation, warehouse
from tests.conftest import build_warehouse
from tests.fixtures import builders as B
from tests.fixtures.project_copy import copy_project
from tests.fixtures.template_v2 import V1, edit, v2_text

raw, db = Path(sys.argv[1]), Path(sys.argv[2])
OLD, NEW = "2023-24", "2024-25"
v2_sheets = {"waiting_list": {"refuge": 4, "dispersed": {"households": 2, "comments": "two on hold"}}}
supported = {"refuge": {"households": 10, "women": 8, "children": 6, "nrpf_individuals": 12},
             "sanctuary": {"households": 4, "women": 4, "nrpf_individuals": 3}}
for year in (OLD, NEW):
    new = year == NEW
    B.write_return(raw, year, "E06000001", "Hartlepool", version=2 if new else 1, supported=supported,
                   unable={"capacity": 4, "safeguarding": 3} if new else {"capacity": 4},
                   services=[{"accommodation_type": "refuge", "units": 6, "provider_name": "Refuge North"}],
                   sheets=v2_sheets if new else None)
    B.write_return(raw, year, "E06000002", "Middlesbrough", supported={"refuge": {"households": 20, "women": 15}},
                   unable={"capacity": 6}, services=[{"accommodation_type": "dispersed", "units": 10}])
    B.write_return(raw, year, "E08000025", "Birmingham", version=2 if new else 1,
                   supported={"refuge": {"households": 30, "women": 20, "nrpf_individuals": 20}},
                   unable={"capacity": 10}, sheets=v2_sheets if new else None)
    B.write_refuge_services(raw, year, [{"gss_code": "E06000001", "bedspaces": 7}])
    B.write_referrals(raw, year, [{"outcome": "accepted"}])
    B.write_marac(raw, year, [{"marac_id": "M1", "pfa_code": "E23000013", "quarter_end": q, "cases_discussed": 5}
                              for q in B.quarter_ends(year)])
# a version no template declares, and a version 2 return headed as version 1 was
B.write_return(raw, NEW, "E06000003", "Redcar and Cleveland", about={"template_version": 9})
def old_heading(wb):
    wb["services"]["C1"] = "provider_name"
B.write_return(raw, NEW, "E06000004", "Stockton-on-Tees", version=2, mutate=old_heading)

build_warehouse(raw, db)
with warehouse.connect(db) as con:
    for year in (OLD, NEW):
        validation.validate_year(con, year)
warehouse.close_all()
"""


def _tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.py"))}


def _run(proj: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("template-versions")
    proj = copy_project(root, with_tests=True)
    (proj / "assets" / "templates" / "v2.yaml").write_text(v2_text(), encoding="utf-8")
    metrics = proj / "assets" / "metrics"
    (metrics / "nrpf.sql").write_text(NRPF_SQL, encoding="utf-8")
    (metrics / "nrpf.yaml").write_text(NRPF_YAML, encoding="utf-8")
    turned_away = metrics / "turned_away.yaml"
    text = turned_away.read_text(encoding="utf-8")
    anchor = "  - id: households_unable_to_support\n"
    turned_away.write_text(edit(text, anchor, anchor + f"    template_changes:\n      - from_version: 2\n"
                                                        f"        note: {BREAK_NOTE}\n"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(proj), "DASA_STATE_DIR": str(root / "state"),
           "DASA_DAGSTER_STORAGE": "memory"}
    # the copy's own code answers, not the project's
    where = _run(proj, env, "-c", "import pipelines; print(pipelines.__file__)").stdout.strip()
    assert Path(where).resolve().is_relative_to(proj.resolve()), where
    stale = _run(proj, env, "-m", "pipelines.validation", "--check")
    wrote = _run(proj, env, "-m", "pipelines.validation")
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    raw, db = root / "raw", root / "dasa.duckdb"
    done = _run(proj, env, "-c", SCRIPT, str(raw), str(db))
    assert done.returncode == 0, done.stdout + done.stderr
    return {"proj": proj, "db": db, "stale": stale.stdout, "wrote": wrote.stdout}


@pytest.fixture()
def con(world):
    c = duckdb.connect(str(world["db"]), read_only=True)
    yield c
    c.close()


def _rows(con, sql: str, *params) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_a_new_version_needs_no_change_under_pipelines(world):
    assert _tree_digest(world["proj"] / "pipelines") == _tree_digest(PROJECT_DIR / "pipelines")
    # the suites follow the new version once regenerated: a new sheet has a suite of its own
    assert "out of date: expectations/raw_authority_returns__waiting_list.json" in world["stale"]
    assert "expectations/raw_authority_returns__waiting_list.json" in world["wrote"]


def test_returns_on_version_1_have_no_issue(con):
    v1 = _rows(con, "SELECT file, template_version, status FROM raw_authority_returns__files "
                    "WHERE template_version = 1 ORDER BY file")
    assert {r["file"] for r in v1} == {f"{OLD}/authority_returns/{c}_s1.xlsx" for c in (HARTLEPOOL, MIDDLESBROUGH,
                                                                                       BIRMINGHAM)} | {
        f"{NEW}/authority_returns/{MIDDLESBROUGH}_s1.xlsx"}
    assert {r["status"] for r in v1} == {"ok"}
    issues = _rows(con, "SELECT i.* FROM raw_issues i JOIN raw_authority_returns__files f "
                        "ON f.financial_year = i.financial_year AND f.file = i.file WHERE f.template_version = 1")
    assert issues == []


def test_the_new_column_is_read_from_version_2_and_null_for_version_1(con):
    rows = _rows(con, "SELECT financial_year, file, template_version, accommodation_type, nrpf_individuals "
                      "FROM raw_authority_returns__supported WHERE accommodation_type IN ('refuge', 'sanctuary')")
    got = {(r["financial_year"], r["file"].split("/")[-1][:9], r["accommodation_type"]): (r["template_version"],
                                                                                          r["nrpf_individuals"])
           for r in rows}
    assert got[(NEW, HARTLEPOOL, "refuge")] == (2, 12)
    assert got[(NEW, HARTLEPOOL, "sanctuary")] == (2, 3)
    assert got[(NEW, BIRMINGHAM, "refuge")] == (2, 20)
    assert got[(NEW, MIDDLESBROUGH, "refuge")] == (1, None)  # not collected: its template has no such column
    assert got[(OLD, HARTLEPOOL, "refuge")] == (1, None)
    # a count cell of its own, with its location, for the returns that have it only
    cells = _rows(con, "SELECT file, sheet_row, column_letter, value FROM raw_authority_returns__cells "
                       "WHERE field = 'nrpf_individuals' AND value > 0 ORDER BY file, sheet_row")
    assert [(c["file"].split("/")[-1], c["sheet_row"], c["column_letter"], c["value"]) for c in cells] == [
        (f"{HARTLEPOOL}_s1.xlsx", 2, "I", 12), (f"{HARTLEPOOL}_s1.xlsx", 4, "I", 3), (f"{BIRMINGHAM}_s1.xlsx", 2, "I", 20)]
    files = {r["file"] for r in _rows(con, "SELECT DISTINCT file FROM raw_authority_returns__cells "
                                           "WHERE field = 'nrpf_individuals'")}
    assert files == {f"{NEW}/authority_returns/{c}_s1.xlsx" for c in (HARTLEPOOL, BIRMINGHAM)}


def test_the_renamed_column_is_read_under_its_one_name(con):
    columns = {r["column_name"] for r in _rows(con, "SELECT column_name FROM information_schema.columns "
                                                    "WHERE table_name = 'raw_authority_returns__services'")}
    assert "provider_name" in columns and "provider" not in columns
    rows = _rows(con, "SELECT financial_year, template_version, provider_name FROM raw_authority_returns__services "
                      "WHERE file LIKE ? ORDER BY financial_year", f"%{HARTLEPOOL}%")
    # headed provider_name in version 1, provider in version 2: one column of the warehouse
    assert [(r["financial_year"], r["template_version"], r["provider_name"]) for r in rows] == [
        (OLD, 1, "Refuge North"), (NEW, 2, "Refuge North")]
    staged = _rows(con, "SELECT provider_name FROM stg_authority_returns__services WHERE gss_code = ? "
                        "AND financial_year = ?", HARTLEPOOL, NEW)
    assert staged == [{"provider_name": "Refuge North"}]


def test_the_new_sheet_has_rows_from_version_2_returns_only(con):
    rows = _rows(con, "SELECT file, template_version, accommodation_type, households, comments "
                      "FROM raw_authority_returns__waiting_list ORDER BY file, sheet_row")
    assert {r["file"] for r in rows} == {f"{NEW}/authority_returns/{c}_s1.xlsx" for c in (HARTLEPOOL, BIRMINGHAM)}
    assert {r["template_version"] for r in rows} == {2}
    assert len(rows) == 2 * len(schemas.ACCOMMODATION_TYPES)
    first = [r for r in rows if HARTLEPOOL in r["file"]]
    assert [(r["accommodation_type"], r["households"], r["comments"]) for r in first[:3]] == [
        ("refuge", 4, None), ("dispersed", 2, "two on hold"), ("sanctuary", 0, None)]


def test_an_unknown_version_is_a_structural_error_naming_the_versions_known(con):
    (f,) = _rows(con, "SELECT status, quarantine_reason, template_version FROM raw_authority_returns__files "
                      "WHERE gss_code = ?", REDCAR)
    assert f["status"] == "quarantined" and f["template_version"] == 9
    assert f["quarantine_reason"] == (
        f"{NEW}/authority_returns/{REDCAR}_s1.xlsx, sheet about, B5: gives template_version 9, which is not a version "
        "of the return template (the versions known are 1, 2); the return is not read until it is sent on one of "
        "them")
    issues = _rows(con, "SELECT level, code FROM raw_issues WHERE file LIKE ?", f"%{REDCAR}%")
    assert issues == [{"level": "structural", "code": "unknown_template_version"}]


def test_a_version_2_return_headed_as_version_1_is_told_the_new_heading(con):
    issues = _rows(con, "SELECT level, code, message FROM raw_issues WHERE file LIKE ? ORDER BY code", f"%{STOCKTON}%")
    assert [(i["level"], i["code"]) for i in issues] == [("warning", "extra_column"), ("structural", "missing_column")]
    missing = next(i for i in issues if i["code"] == "missing_column")
    assert missing["message"] == ("has no column 'provider' in its header row: 'provider_name' is what an earlier "
                                  "version of the template called it; rename the heading to 'provider', or give "
                                  "the template_version the return was made on")


def _figure(con, figure_id: str) -> tuple[str, str]:
    (row,) = con.execute("SELECT value, value_status FROM pub_figures WHERE figure_id = ?", [figure_id]).fetchall()
    return row


def test_a_figure_that_needs_the_new_column_is_x_where_the_template_lacks_it(con):
    assert _figure(con, f"nrpf_individuals.all.{HARTLEPOOL}.{NEW}") == ("15", "published")
    assert _figure(con, f"nrpf_individuals.all.{BIRMINGHAM}.{NEW}") == ("20", "published")
    assert _figure(con, f"nrpf_individuals.all.{MIDDLESBROUGH}.{NEW}") == ("[x]", "not_available")
    # no return of 2023-24 is on a template that collects it
    assert _figure(con, f"nrpf_individuals.all.{HARTLEPOOL}.{OLD}") == ("[x]", "not_available")
    assert _figure(con, f"nrpf_individuals.all.E92000001.{OLD}") == ("[x]", "not_available")
    assert _figure(con, f"nrpf_individuals_change.all.{HARTLEPOOL}.{NEW}") == ("[x]", "not_available")


def test_a_definition_that_changes_with_the_template_breaks_the_series(con):
    # Hartlepool's 2023-24 return is on version 1, its 2024-25 return on version 2
    assert _figure(con, f"households_unable_to_support_change.all.{HARTLEPOOL}.{NEW}") == ("[b]", "break_in_series")
    # England adds up returns of both versions in 2024-25, of version 1 only in 2023-24
    assert _figure(con, f"households_unable_to_support_change.all.E92000001.{NEW}") == ("[b]", "break_in_series")
    # Middlesbrough is on version 1 both years: its change is comparable
    assert _figure(con, f"households_unable_to_support_change.all.{MIDDLESBROUGH}.{NEW}") == ("0", "published")
    # the levels themselves are published as usual (the new reason counted from version 2)
    assert _figure(con, f"households_unable_to_support.all.{HARTLEPOOL}.{NEW}") == ("7", "published")
    # measures without a declared change are compared as before
    assert _figure(con, f"households_supported_change.all.{HARTLEPOOL}.{NEW}")[1] == "published"


def test_the_note_of_a_definition_change_is_a_caveat_of_the_measure(world):
    code = ("from pipelines import metric_catalog; m = metric_catalog.measures()['households_unable_to_support']; "
            "print(m.caveats[-1]); print(m.template_changes)")
    env = {**os.environ, "PYTHONPATH": str(world["proj"])}
    out = _run(world["proj"], env, "-c", code).stdout.splitlines()
    assert out[0] == f"{BREAK_NOTE} (A change across the break, from template version 2, is shown as [b].)"
    assert out[1] == f"((2, {BREAK_NOTE!r}),)"


def test_the_suites_follow_the_version_and_pass(world, con):
    failed = _rows(con, "SELECT financial_year, suite, expectation, details FROM val_results WHERE NOT success")
    assert failed == []
    suite = json.loads((world["proj"] / "expectations" / "raw_authority_returns__supported.json").read_text())
    on_new = [e for e in suite["expectations"] if e["kwargs"].get("column") == "nrpf_individuals"]
    assert [(e["type"], e["kwargs"]["row_condition"]["parameter"]) for e in on_new] == [
        ("expect_column_values_to_be_between", [2]), ("expect_column_values_to_be_null", [1])]
    unable = json.loads((world["proj"] / "expectations" / "raw_authority_returns__unable_to_support.json").read_text())
    (count,) = [e for e in unable["expectations"] if e["type"] == "expect_table_row_count_to_equal"]
    assert count["kwargs"]["value"] == {"$PARAMETER": "returns_read_v1 * 8 + returns_read_v2 * 9"}
    # a column every version declares alike is checked on every row, as with one version
    households = [e for e in suite["expectations"] if e["kwargs"].get("column") == "households"]
    assert households and all("row_condition" not in e["kwargs"] for e in households)


# --- the loader, in-process -------------------------------------------------------------------

def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def _line_of(text: str, part: str) -> int:
    return text[: text.index(part)].count("\n") + 1


def test_the_union_of_two_versions_keeps_one_name_per_column(tmp_path):
    templates = schemas.load_templates(_folder(tmp_path, v1=V1.read_text(encoding="utf-8"), v2=v2_text()))
    v1, v2 = templates[1], templates[2]
    services = v2.sheet("services")
    assert services is not None
    assert services.column("provider_name").header == "provider"  # headed as v2 says, kept under its first name
    sheets = {t.name: t for t in schemas.union_sheets(templates)}
    assert list(sheets) == [*v1.sheet_names, "waiting_list"]
    assert sheets["supported"].names == (*schemas.SUPPORTED.names, "nrpf_individuals")
    assert sheets["services"].names == schemas.SERVICES.names
    assert sheets["unable_to_support"].key_codes == (*schemas.UNABLE_REASONS, "safeguarding")
    assert not sheets["waiting_list"].column("comments").required


def test_the_committed_template_is_what_the_readers_read():
    assert schemas.VERSIONS == (1,) and schemas.LATEST.path == V1
    assert schemas.ABOUT_REQUIRED == ("gss_code", "financial_year", "template_version", "submission_number")
    assert [t.name for t in schemas.RETURN_SHEETS] == ["services", "supported", "characteristics", "unable_to_support",
                                                      "move_on", "length_of_stay"]
    assert all(t.required and all(c.required for c in t.columns) for t in schemas.RETURN_SHEETS)
    assert schemas.IDENTITIES == ("women", "men", "trans_nonbinary", "children", "identity_not_recorded")


@pytest.mark.parametrize("old, new, what", [
    ("      - {name: provider_name, type: text}\n", "      - {name: provider_name, typ: text}\n",
     "unknown key 'typ' in sheets[services].columns[provider_name] (did you mean 'type'?)"),
    ("  - name: move_on\n", "  - nme: move_on\n", "unknown key 'nme' in sheets[4] (did you mean 'name'?)"),
    ("      - {name: units, type: count,", "      - {name: units, type: number,", "sheets[services].columns[units].type: input"),
])
def test_a_misspelt_key_or_type_names_file_key_and_line(tmp_path, old, new, what):
    text = V1.read_text(encoding="utf-8")
    folder = _folder(tmp_path, v1=edit(text, old, new))
    with pytest.raises(schemas.TemplateError) as err:
        schemas.load_templates(folder)
    prefix = f"{folder / 'v1.yaml'}, line {_line_of(text, old.strip())}: "
    assert str(err.value).startswith(prefix + what), str(err.value)


def test_a_rename_from_a_column_the_version_before_lacks_is_an_error(tmp_path):
    v2 = edit(v2_text(), "renamed_from: provider_name", "renamed_from: provider_nme")
    folder = _folder(tmp_path, v1=V1.read_text(encoding="utf-8"), v2=v2)
    with pytest.raises(schemas.TemplateError, match=rf"v2.yaml, line {_line_of(v2, '{name: provider,')}: sheet "
                                                    "services: column 'provider' is renamed from 'provider_nme', "
                                                    "which is not a column of the sheet in version 1"):
        schemas.load_templates(folder)


@pytest.mark.parametrize("old, new, what", [
    ("version: 1\n", "version: 3\n", "says version 3, but the file of version 3 is v3.yaml"),
    ("codes: accommodation_types}\n      - {name: provider_name",
     "codes: accomodation_types}\n      - {name: provider_name", "codes 'accomodation_types' is not one of"),
    ("{name: template_version, type: int, required: true,", "{name: template_version, type: int,",
     "the about field 'template_version' must be declared, required, of type int"),
    ("    key: reason\n", "    key: households\n", "sheet unable_to_support: the key 'households' is not a code column"),
])
def test_a_template_that_cannot_be_read_is_refused_with_a_sentence(tmp_path, old, new, what):
    folder = _folder(tmp_path, v1=edit(V1.read_text(encoding="utf-8"), old, new))
    with pytest.raises(schemas.TemplateError, match=f"^{folder / 'v1.yaml'}, line [0-9]+: .*{what}"):
        schemas.load_templates(folder)


def test_a_column_keeps_its_type_across_versions(tmp_path):
    v2 = edit(v2_text(), "      - {name: individuals, type: count}\n", "      - {name: individuals, type: text}\n")
    folder = _folder(tmp_path, v1=V1.read_text(encoding="utf-8"), v2=v2)
    with pytest.raises(schemas.TemplateError, match="v2.yaml: sheet characteristics: column 'individuals' is of type "
                                                    "text here but count in version 1"):
        schemas.load_templates(folder)


# --- the reader, in-process, with the committed template --------------------------------------

def _issues(tmp_path: Path, **about) -> list:
    B.write_return(tmp_path, NEW, HARTLEPOOL, "Hartlepool", about=about)
    read = authority_returns.read_year(tmp_path, NEW)
    return [(i.level, i.code, i.sheet, i.location(), i.message) for i in read.issues]


def test_an_unknown_version_sets_the_return_aside_with_the_versions_known(tmp_path):
    assert _issues(tmp_path, template_version=9) == [
        ("structural", "unknown_template_version", "about", "B5",
         "gives template_version 9, which is not a version of the return template (the versions known are 1); the "
         "return is not read until it is sent on one of them")]


def test_a_return_that_gives_no_version_is_set_aside(tmp_path):
    assert _issues(tmp_path, template_version=None) == [
        ("structural", "missing_field", "about", "B5", "leaves the field 'template_version' blank")]

    def no_version_row(wb):
        wb["about"].delete_rows(5)

    B.write_return(tmp_path, NEW, MIDDLESBROUGH, "Middlesbrough", mutate=no_version_row)
    read = authority_returns.read_year(tmp_path, NEW)
    assert [(i.level, i.code, i.location(), i.message) for i in read.issues if MIDDLESBROUGH in i.file] == [
        ("structural", "missing_field", "column template_version", "does not give the field 'template_version'")]
    assert {f["gss_code"]: f["status"] for f in read.files} == {HARTLEPOOL: "quarantined", MIDDLESBROUGH: "quarantined"}


@pytest.fixture()
def two_versions(tmp_path, monkeypatch):
    """The reader with versions 1 and 2 loaded (the waiting list voluntary in version 2)."""
    v2 = edit(v2_text(), "  - name: waiting_list\n    required: true\n", "  - name: waiting_list\n    required: false\n")
    templates = schemas.load_templates(_folder(tmp_path, v1=V1.read_text(encoding="utf-8"), v2=v2))
    for name, value in {"TEMPLATES": templates, "VERSIONS": (1, 2), "LATEST": templates[2],
                        "ABOUT_FIELDS": schemas.union_about(templates),
                        "RETURN_SHEETS": schemas.union_sheets(templates)}.items():
        monkeypatch.setattr(schemas, name, value)
    return tmp_path / "raw"


def test_a_voluntary_sheet_or_column_may_be_left_out(two_versions):
    raw = two_versions

    def without_waiting_list(wb):
        del wb["waiting_list"]

    def without_comments(wb):
        wb["waiting_list"].delete_cols(3)

    B.write_return(raw, NEW, HARTLEPOOL, "Hartlepool", version=2, mutate=without_waiting_list)
    B.write_return(raw, NEW, MIDDLESBROUGH, "Middlesbrough", version=2, mutate=without_comments,
                   sheets={"waiting_list": {"refuge": 3}})
    B.write_return(raw, NEW, BIRMINGHAM, "Birmingham")  # version 1, beside them
    read = authority_returns.read_year(raw, NEW)
    assert read.issues == []
    assert {f["gss_code"]: (f["template_version"], f["status"]) for f in read.files} == {
        HARTLEPOOL: (2, "ok"), MIDDLESBROUGH: (2, "ok"), BIRMINGHAM: (1, "ok")}
    waiting = read.rows["waiting_list"]
    assert {r["file"] for r in waiting} == {f"{NEW}/authority_returns/{MIDDLESBROUGH}_s1.xlsx"}
    assert (waiting[0]["accommodation_type"], waiting[0]["households"], waiting[0]["comments"]) == ("refuge", 3, None)
    # the version 1 return's records hold its own columns, the version 2 ones the new column too
    supported = {r["file"].split("/")[-1][:9]: r for r in read.rows["supported"] if r["accommodation_type"] == "refuge"}
    assert "nrpf_individuals" not in supported[BIRMINGHAM] and supported[HARTLEPOOL]["nrpf_individuals"] == 0


def test_a_version_1_return_with_a_column_of_version_2_is_told_it_is_extra(two_versions):
    raw = two_versions

    def with_new_column(wb):
        wb["supported"]["K1"] = "nrpf_individuals"

    B.write_return(raw, NEW, HARTLEPOOL, "Hartlepool", mutate=with_new_column)
    read = authority_returns.read_year(raw, NEW)
    assert [(i.level, i.code, i.location(), i.message) for i in read.issues] == [
        ("warning", "extra_column", "K1", "has an extra column 'nrpf_individuals', which is ignored")]
