"""Validation suites: kept in step with schemas.py, catching what they should, run as asset checks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines import schemas, validation
from pipelines.build import BuildError, build_release
from pipelines.paths import RAW_DIR
from tests.conftest import build_warehouse

SAMPLE_YEAR = "2024-25"


# --- The suite files ---------------------------------------------------------------------

def test_committed_suites_are_up_to_date_with_schemas_and_staging_sql():
    assert validation.stale_suites() == [], "run `uv run python -m pipelines.validation` and commit expectations/"


def test_a_change_to_a_declaration_makes_its_suite_out_of_date():
    services = validation.target("raw_authority_returns__services")
    committed = json.loads(services.path.read_text(encoding="utf-8"))
    more_types = dataclasses.replace(services.declared, columns=tuple(
        dataclasses.replace(c, codes=(*c.codes, "hostel")) if c.name == "accommodation_type" else c
        for c in services.declared.columns))
    rendered = json.loads(validation.render_suite(dataclasses.replace(services, declared=more_types), committed))
    assert rendered != committed
    allowed = [e["kwargs"]["value_set"] for e in rendered["expectations"]
               if e["kwargs"].get("column") == "accommodation_type" and e["type"].endswith("in_set")]
    assert allowed == [[*schemas.ACCOMMODATION_TYPES, "hostel"]]
    # a person's rules survive regeneration
    assert [e for e in rendered["expectations"] if e["meta"]["origin"] == "rule"] == \
        [e for e in committed["expectations"] if e["meta"]["origin"] == "rule"]


def test_schema_part_of_each_raw_suite_is_the_declaration():
    for table in (*schemas.RETURN_SHEETS, *schemas.EXTRACTS):
        suite = json.loads(validation.target(table.raw_table).path.read_text(encoding="utf-8"))
        schema = [e for e in suite["expectations"] if e["meta"]["origin"] == "schema"]
        column_set = next(e["kwargs"]["column_set"] for e in schema if e["type"] == "expect_table_columns_to_match_set")
        assert set(table.names) <= set(column_set) and {"financial_year", "file"} <= set(column_set)
        for col in table.columns:
            on_col = {e["type"]: e["kwargs"] for e in schema if e["kwargs"].get("column") == col.name}
            if col.type == "count":
                assert on_col["expect_column_values_to_be_between"]["min_value"] == 0, (table.name, col.name)
            if col.type == "code":
                assert on_col["expect_column_values_to_be_in_set"]["value_set"] == list(col.codes), (table.name, col.name)
        types = next(e["kwargs"]["column_types"] for e in schema if e["type"] == "expect_table_column_types_to_match")
        assert {c.name for c in table.columns if c.type == "count"} == {c for c in table.names if types[c] == "Int64"}


def test_every_expectation_is_tagged_and_says_what_it_checks():
    for t in validation.targets():
        suite = validation.load_suite(t)
        assert suite["name"] == t.table and suite["expectations"]
        for e in suite["expectations"]:
            assert e["meta"]["severity"] in ("blocking", "warning")
            assert e["meta"]["origin"] in ("schema", "rule")
            assert e["meta"]["rule"].strip()


# --- Running them ------------------------------------------------------------------------

@pytest.fixture()
def scratch(small_db, tmp_path):
    """A writable copy of the small warehouse."""
    path = tmp_path / "dasa.duckdb"
    shutil.copy(small_db, path)
    con = duckdb.connect(str(path))
    yield con
    con.close()


def _failed(results: pl.DataFrame, table: str, expectation: str, column: str | None) -> dict:
    on_column = pl.col("column_name").is_null() if column is None else pl.col("column_name") == column
    rows = results.filter(~pl.col("success") & (pl.col("table_name") == table)
                          & (pl.col("expectation") == expectation) & on_column)
    assert rows.height == 1, results.filter(~pl.col("success")).select("table_name", "expectation", "column_name", "details")
    return rows.row(0, named=True)


def test_suites_catch_an_unknown_code_a_negative_count_and_a_duplicate_key(scratch):
    year = "2024-25"
    tables = ["raw_authority_returns__supported", "raw_authority_returns__move_on", "raw_womens_aid__referrals"]
    validation.validate_year(scratch, "2023-24", tables)
    clean = validation.validate_year(scratch, year, tables)
    assert validation.failures(clean).height == 0
    # three bad rows, as a reader bug or a hand edit could leave them
    scratch.execute("UPDATE raw_authority_returns__supported SET accommodation_type = 'hostel' "
                    "WHERE financial_year = ? AND sheet_row = 2 AND file LIKE '%E06000002%'", [year])
    scratch.execute("UPDATE raw_authority_returns__move_on SET households = -3 "
                    "WHERE financial_year = ? AND destination = 'unknown' AND file LIKE '%E06000002%'", [year])
    scratch.execute("INSERT INTO raw_womens_aid__referrals SELECT * REPLACE (line + 100 AS line) "
                    "FROM raw_womens_aid__referrals WHERE financial_year = ? AND referral_id = 'R00001'", [year])
    scratch.execute("ALTER TABLE raw_womens_aid__referrals ALTER children TYPE DOUBLE")
    results = validation.validate_year(scratch, year, tables)

    code = _failed(results, "raw_authority_returns__supported", "expect_column_values_to_be_in_set", "accommodation_type")
    assert code["severity"] == "blocking" and code["unexpected_count"] == 1
    assert "'hostel'" in code["details"] and "sheet_row=2" in code["details"]
    negative = _failed(results, "raw_authority_returns__move_on", "expect_column_values_to_be_between", "households")
    assert negative["severity"] == "blocking" and negative["unexpected_count"] == 1 and "-3" in negative["details"]
    duplicate = _failed(results, "raw_womens_aid__referrals", "expect_column_values_to_be_unique", "referral_id")
    assert duplicate["severity"] == "blocking" and duplicate["unexpected_count"] == 2
    assert "'R00001'" in duplicate["details"]
    retyped = _failed(results, "raw_womens_aid__referrals", "expect_table_column_types_to_match", None)
    assert retyped["severity"] == "blocking" and "children is Float64, expected Int64" in retyped["details"]
    # the other year is untouched, and rerunning replaces the year's rows instead of adding to them
    stored = pl.from_arrow(scratch.execute("SELECT * FROM val_results").to_arrow_table())
    assert stored.filter(pl.col("financial_year") == year).height == results.height == clean.height
    assert stored.filter(pl.col("financial_year") == "2023-24").height == clean.height
    assert stored.columns == list(validation.RESULT_SCHEMA)
    assert dict(scratch.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'val_results'").fetchall())["unexpected_count"] == "BIGINT"


def test_consistency_rules_are_warnings_with_their_rows(scratch):
    year = "2024-25"
    scratch.execute("UPDATE raw_authority_returns__supported SET from_outside_area = 500 "
                    "WHERE financial_year = ? AND accommodation_type = 'refuge' AND file LIKE '%E08000025%'", [year])
    scratch.execute("UPDATE raw_safelives__marac_quarterly SET repeat_cases = cases_discussed + 1 "
                    "WHERE financial_year = ? AND marac_id = 'M1'", [year])
    results = validation.validate_year(scratch, year, ["raw_authority_returns__supported", "raw_safelives__marac_quarterly"])
    outside = _failed(results, "raw_authority_returns__supported", "expect_column_pair_values_a_to_be_greater_than_b",
                      "individuals, from_outside_area")
    assert outside["severity"] == "warning" and outside["unexpected_count"] == 1
    assert "E08000025" in outside["details"]
    repeat = _failed(results, "raw_safelives__marac_quarterly", "expect_column_pair_values_a_to_be_greater_than_b",
                     "cases_discussed, repeat_cases")
    assert repeat["severity"] == "warning" and repeat["unexpected_count"] == 4
    assert validation.failures(results).height == 0  # nothing blocking


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    """The warehouse of the bundled sample data's latest year alone."""
    raw = tmp_path_factory.mktemp("sample_raw")
    (raw / SAMPLE_YEAR).symlink_to(RAW_DIR / SAMPLE_YEAR, target_is_directory=True)
    return build_warehouse(raw, tmp_path_factory.mktemp("sample_db") / "dasa.duckdb", protection_width=5)


def test_sample_year_passes_every_blocking_expectation_and_warns_only_on_its_known_imperfection(sample_db):
    con = duckdb.connect(str(sample_db))
    try:
        results = validation.validate_year(con, SAMPLE_YEAR)
    finally:
        con.close()
    assert results.height > 150
    assert set(results["table_name"]) == {t.table for t in validation.targets()}
    assert validation.failures(results).height == 0, validation.failures(results)["details"].to_list()
    warnings = validation.failures(results, "warning")
    # the sample's deliberate name mismatch (Herefordshire) is the one thing a person must look at
    assert warnings.height == 1 and "Herefordshire" in warnings["details"][0], warnings["details"].to_list()


# --- As Dagster asset checks -------------------------------------------------------------

def test_every_suite_is_a_blocking_asset_check_of_the_asset_writing_its_table():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    registered = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for t in validation.targets():
        assert (t.asset, validation.check_name(t.table)) in registered
    specs = [s for c in validation.asset_checks() for s in c.check_specs]
    assert len(specs) == len(validation.targets()) and all(s.blocking for s in specs)


def test_a_blocking_error_stops_the_release_with_a_message_and_a_draft_still_builds(
        small_raw, tmp_path, audit_root, monkeypatch):
    """The suites are the second line of defence: if the reader missed a repeated referral_id
    (its own check switched off here), the suite stops the release."""
    from pipelines.ingest import extracts

    monkeypatch.setattr(extracts, "_check_rows", lambda table, year, raw, frame, *a, **k: (frame, None))
    # the polars reader, whose row checks are the ones switched off (the DuckDB reader of the
    # referrals has its own, pipelines/ingest/referrals_sql.py)
    read_extract = extracts.read_extract
    monkeypatch.setattr(extracts, "read_extract", lambda *a, **k: read_extract(*a, **{**k, "engine": "polars"}))
    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    referrals = raw / "2024-25" / "womens_aid" / "referrals.csv"
    lines = referrals.read_text(encoding="utf-8").splitlines()
    referrals.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # R00001 twice

    kwargs = dict(raw_dir=raw, year="2024-25", db_path=tmp_path / "dasa.duckdb", instance=dg.DagsterInstance.ephemeral(),
                  audit_dir=audit_root)
    with pytest.raises(BuildError) as stopped:
        build_release(out_dir=tmp_path / "final", **kwargs)
    message = str(stopped.value)
    assert "blocking validation error" in message and "raw_womens_aid__referrals" in message and "R00001" in message
    assert not (tmp_path / "final").exists()

    result = build_release(out_dir=tmp_path / "draft", draft=True, **kwargs)
    assert (result.release_dir / "index.html").exists()
    con = duckdb.connect(str(tmp_path / "dasa.duckdb"), read_only=True)
    try:
        failed = con.execute("SELECT table_name, expectation FROM val_results WHERE NOT success AND severity = 'blocking'"
                             ).fetchall()
    finally:
        con.close()
    assert ("raw_womens_aid__referrals", "expect_column_values_to_be_unique") in failed
