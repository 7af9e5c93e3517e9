"""The two engines of the validation suites give the same result rows: DuckDB SQL (the default)
and Great Expectations on pandas frames (the reference), on the sample warehouse, on one where
every expectation type fails, and on row conditions and ignore_row_if forms the committed
suites do not use yet. Nothing here knows how either engine works: it compares what they
return, details text and all."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import validation
from pipelines.paths import PROJECT_DIR
from tests.fixtures import broken_warehouse

BROKEN_YEAR = "2024-25"


def _years(con) -> list[str]:
    return [y for (y,) in con.execute(
        "SELECT DISTINCT financial_year FROM raw_authority_returns__files ORDER BY 1").fetchall()]


def _compare(con, year: str, tables: list[str] | None = None, suites: dict | None = None) -> list[dict]:
    """Both engines on every suite of a year; fails on the first difference, naming it. Returns
    the reference rows."""
    params = validation.parameters(con, year)
    rows: list[dict] = []
    for table in tables or [t.table for t in validation.targets()]:
        suite = (suites or {}).get(table)
        fast = validation.run_suite(con, table, year, params, engine="duckdb", suite=suite)
        reference = validation.run_suite(con, table, year, params, engine="great_expectations", suite=suite)
        assert len(fast) == len(reference), (year, table)
        for a, b in zip(fast, reference):
            differ = {k: (a[k], b[k]) for k in b if a[k] != b[k]}
            assert not differ, f"{year} {table} {b['expectation']} {b['column_name']}: duckdb vs GX {differ}"
        assert fast == reference
        rows += reference
    return rows


def test_both_engines_give_the_same_rows_on_the_sample_warehouse(sample_build):
    _, db = sample_build
    con = duckdb.connect(str(db), read_only=True)
    try:
        years = _years(con)
        assert len(years) >= 2
        for year in years:
            rows = _compare(con, year)
            assert len(rows) > 150
    finally:
        con.close()


@pytest.fixture(scope="module")
def broken_db(sample_build, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("broken_warehouse") / "dasa.duckdb"
    shutil.copy(sample_build[1], path)
    con = duckdb.connect(str(path))
    try:
        broken_warehouse.break_year(con, BROKEN_YEAR)
    finally:
        con.close()
    return path


def test_both_engines_give_the_same_rows_where_every_expectation_type_fails(broken_db):
    con = duckdb.connect(str(broken_db), read_only=True)
    try:
        rows = _compare(con, BROKEN_YEAR)
    finally:
        con.close()
    failed = [r for r in rows if not r["success"]]
    # the broken warehouse keeps its promise: every type fails, with and without a row
    # condition, with ignore_row_if, on a missing column, with values and rows in the details
    assert {r["expectation"] for r in failed} >= set(broken_warehouse.KINDS)
    suites = {t.table: validation.load_suite(t) for t in validation.targets()}
    by_kind: dict[str, list[dict]] = {}
    for table, suite in suites.items():
        results = [r for r in rows if r["suite"] == table]
        for e, r in zip(suite["expectations"], results):
            by_kind.setdefault(e["type"], []).append({**r, "kwargs": e["kwargs"]})
    failed_with = [r for rs in by_kind.values() for r in rs if not r["success"]]
    assert any("row_condition" in r["kwargs"] for r in failed_with)
    assert any(r["kwargs"].get("ignore_row_if") == "either_value_is_missing" for r in failed_with)
    assert any(r["kwargs"].get("ignore_row_if") == "any_value_is_missing" for r in failed_with)
    assert any(r["kwargs"].get("ignore_row_if") == "never" for r in failed_with)
    assert any("<NA>" in (r["details"] or "") for r in failed)  # a NULL among the values or rows
    assert any("observed None" in (r["details"] or "") for r in failed)  # a column the frame lacks
    assert any("is missing, expected" in (r["details"] or "") for r in failed)
    assert any("unexpected is ['notes']" in (r["details"] or "") for r in failed)
    assert any("rows: " in (r["details"] or "") and "values: " in (r["details"] or "") for r in failed)


def _extra_suites() -> dict:
    """Suites of two tables with expectations the committed suites do not have: and/or row
    conditions, NOT_IN and nullity conditions, other ignore_row_if forms, upper bounds, a
    strict pair, a value set with a number, a set match that is not exact, a row count with a
    parameter expression and a row condition."""
    services = copy.deepcopy(validation.load_suite(validation.target("raw_authority_returns__services")))
    where = validation.where
    services["expectations"] += [
        {"type": "expect_column_values_to_be_in_set", "meta": {"severity": "warning", "rule": "and"},
         "kwargs": {"column": "accommodation_type", "value_set": ["refuge"],
                    "row_condition": {"type": "and", "conditions": [where("by_and_for", "==", "yes"),
                                                                    where("units", ">", 3)]}}},
        {"type": "expect_column_values_to_be_in_set", "meta": {"severity": "warning", "rule": "or"},
         "kwargs": {"column": "accommodation_type", "value_set": ["refuge", 1],
                    "row_condition": {"type": "or", "conditions": [where("by_and_for", "==", "yes"),
                                                                   where("sheet_row", "<=", 3)]}}},
        {"type": "expect_column_values_to_be_null", "meta": {"severity": "warning", "rule": "not in"},
         "kwargs": {"column": "by_and_for_group", "row_condition": where("by_and_for", "NOT_IN", ["yes"])}},
        {"type": "expect_column_values_to_be_between", "meta": {"severity": "warning", "rule": "nullity"},
         "kwargs": {"column": "units", "min_value": 1, "max_value": 4,
                    "row_condition": {"type": "nullity", "column": {"name": "service_ref"}, "is_null": False}}},
        {"type": "expect_column_values_to_be_between", "meta": {"severity": "warning", "rule": "null rows"},
         "kwargs": {"column": "sheet_row", "max_value": 2,
                    "row_condition": {"type": "nullity", "column": {"name": "service_ref"}, "is_null": True}}},
        {"type": "expect_compound_columns_to_be_unique", "meta": {"severity": "warning", "rule": "all missing"},
         "kwargs": {"column_list": ["by_and_for_group", "service_ref"]}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b", "meta": {"severity": "warning", "rule": "strict"},
         "kwargs": {"column_A": "units", "column_B": "sheet_row", "ignore_row_if": "either_value_is_missing"}},
        {"type": "expect_column_pair_values_to_be_equal", "meta": {"severity": "warning", "rule": "equal"},
         "kwargs": {"column_A": "by_and_for", "column_B": "accommodation_type",
                    "ignore_row_if": "either_value_is_missing", "row_condition": where("sheet_row", "IN", [2, 3])}},
        {"type": "expect_table_columns_to_match_set", "meta": {"severity": "warning", "rule": "subset"},
         "kwargs": {"column_set": ["file", "units"], "exact_match": False}},
        {"type": "expect_table_columns_to_match_set", "meta": {"severity": "warning", "rule": "superset"},
         "kwargs": {"column_set": ["file", "units", "beds"], "exact_match": False}},
        {"type": "expect_table_row_count_to_equal", "meta": {"severity": "warning", "rule": "expression"},
         "kwargs": {"value": {"$PARAMETER": "returns_read * 7 - 2 / 4"}}},
        {"type": "expect_table_row_count_to_be_between", "meta": {"severity": "warning", "rule": "at most"},
         "kwargs": {"min_value": 0, "max_value": 10}},
    ]
    return {"raw_authority_returns__services": services}


def test_both_engines_agree_on_forms_the_suites_do_not_use_yet(broken_db, sample_build):
    for db, year in ((broken_db, BROKEN_YEAR), (sample_build[1], BROKEN_YEAR)):
        con = duckdb.connect(str(db), read_only=True)
        try:
            rows = _compare(con, year, ["raw_authority_returns__services"], _extra_suites())
        finally:
            con.close()
        assert len(rows) == len(_extra_suites()["raw_authority_returns__services"]["expectations"])
    assert any(not r["success"] for r in rows)


def test_the_sql_engine_refuses_what_it_cannot_run():
    from pipelines import expectations_sql as sql

    assert sql.evaluate("returns_read * 11", {"returns_read": 3}) == 33
    assert sql.evaluate("(a + b) / 2 - -1", {"a": 3, "b": 5}) == 5
    for bad in ("__import__('os')", "a.real", "a ** 2", "[a]", "b"):
        with pytest.raises(ValueError):
            sql.evaluate(bad, {"a": 3})
    with pytest.raises(ValueError, match="no SQL for this expectation type"):
        sql.check_supported({"type": "expect_column_values_to_be_increasing", "kwargs": {"column": "x"}})
    with pytest.raises(ValueError, match="mostly"):
        sql.check_supported({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x", "mostly": 0.9}})
    for t in validation.targets():  # every expectation of every committed suite has its SQL
        for e in validation.load_suite(t)["expectations"]:
            sql.check_supported(e)


_RUN = """
import sys, duckdb
from pipelines import validation
con = duckdb.connect(sys.argv[1])
validation.validate_year(con, "2024-25")
print("great_expectations" in sys.modules)
"""


@pytest.mark.parametrize("engine, imported", [(None, "False"), ("great_expectations", "True")])
def test_the_default_engine_does_not_import_great_expectations(sample_build, tmp_path, engine, imported):
    db = tmp_path / "dasa.duckdb"
    shutil.copy(sample_build[1], db)
    env = {k: v for k, v in os.environ.items() if k != validation.ENGINE_ENV}
    if engine:
        env[validation.ENGINE_ENV] = engine
    out = subprocess.run([sys.executable, "-c", _RUN, str(db)], cwd=PROJECT_DIR, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == imported
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute("SELECT count(*) FROM val_results WHERE financial_year = '2024-25'").fetchone()
    finally:
        con.close()
    assert stored is not None and stored[0] > 150


def test_an_unknown_engine_is_refused(monkeypatch):
    monkeypatch.setenv(validation.ENGINE_ENV, "pandas")
    with pytest.raises(ValueError, match="DASA_VALIDATION_ENGINE"):
        validation.default_engine()
    assert json.dumps(validation.ENGINES)


def test_counts_are_taken_without_the_order_a_frame_ends_in_but_never_without_one_a_limit_needs():
    from pipelines.expectations_sql import unordered

    assert unordered('SELECT * FROM "t" WHERE financial_year = $financial_year ORDER BY ALL') \
        == 'SELECT * FROM "t" WHERE financial_year = $financial_year'
    assert unordered("select r.* from t r\norder by r.file, r.line") == "select r.* from t r"
    assert unordered('select * from t order by "a b" desc, 2') == "select * from t"
    for kept in ("select * from t order by a limit 5", "select * from t order by a offset 2",
                 "select * from (select * from t order by a)", "select * from t order by a -- the order"):
        assert unordered(kept) == kept
