"""Validation suites (Great Expectations suites, run as DuckDB SQL): keep them, generate their schema part, run them.

One suite per raw and staged table, kept in `expectations/<table>.json` (GX's own suite
layout). Each expectation carries in its `meta`:

- `severity`: `blocking` (an error that must stop the final release) or `warning` (a
  person must look);
- `origin`: `schema` when it is written by `write_suites()` from the one declaration of
  the inputs (`pipelines/schemas.py`, as the readers type it: the template versions of
  `assets/templates/` for the authority returns) and, for staged tables, from the columns the
  staging SQL gives on an empty warehouse; `rule` when a person wrote it
  (consistency rules of the contract, ranges, keys);
- `rule`: what it checks, in words.

`python -m pipelines.validation` rewrites the schema part of every suite and keeps the
rules; `stale_suites()` names the files that are out of date (a test asserts none).

A return's rows carry the template version it was read on (`template_version`). Where the
versions of the template differ about a column (one lacks it, or their codes differ), its
expectations are written once per group of versions, each with a row condition on
`template_version`; where they agree, once for every row, as with a single version.

`validate_year(con, year)` runs every suite on that year's rows of the warehouse and
(re)writes that year's rows of the `val_results` table. By default the suites run as DuckDB
SQL (`pipelines/expectations_sql.py`: the frame never leaves DuckDB, and GX is not imported);
`engine="great_expectations"` (or DASA_VALIDATION_ENGINE=great_expectations) runs them with
GX instead (an ephemeral context, pandas frames pulled from DuckDB), the reference the tests
prove the SQL equal to, row for row and details text and all (tests/test_validation_engines.py).
`asset_checks()` makes Dagster asset checks of the suites.
See docs/decisions/0007-validation-suites.md.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines import expectations_sql, schemas, warehouse
from pipelines.paths import PROJECT_DIR

SUITES_DIR = PROJECT_DIR / "expectations"
BLOCKING, WARNING = "blocking", "warning"
SEVERITIES = (BLOCKING, WARNING)
RESULTS_TABLE = "val_results"
RESULT_SCHEMA = {
    "financial_year": pl.String, "suite": pl.String, "table_name": pl.String, "expectation": pl.String,
    "column_name": pl.String, "severity": pl.String, "success": pl.Boolean,
    "unexpected_count": pl.Int64, "element_count": pl.Int64, "details": pl.String,
}
_RESULTS_DDL = (
    f'CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (financial_year VARCHAR, suite VARCHAR, table_name VARCHAR, '
    "expectation VARCHAR, column_name VARCHAR, severity VARCHAR, success BOOLEAN, unexpected_count BIGINT, "
    "element_count BIGINT, details VARCHAR)"
)
GENERATED_NOTE = ("Expectations with origin 'schema' are written from pipelines/schemas.py and "
                  "assets/templates/ (and, for staged tables, the staging SQL) by `uv run python -m pipelines.validation`; do not edit them by "
                  "hand. Expectations with origin 'rule' are written by a person and kept as they are.")

# Column types of the warehouse as pandas dtypes (the frames GX sees use pandas' nullable types)
_PANDAS_TYPE = {
    "BIGINT": "Int64", "HUGEINT": "Int64", "INTEGER": "Int32", "VARCHAR": "string", "BOOLEAN": "boolean",
    "DOUBLE": "Float64",
}
_POLARS_TO_DUCKDB = {pl.Int64: "BIGINT", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN"}
_REGEX = {
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "year": r"^[0-9]{4}-[0-9]{2}$",
}


# --- Which tables have a suite, and what they are declared from --------------------------

@dataclass(frozen=True)
class Target:
    table: str
    asset: str  # the Dagster asset that writes the table
    declared: schemas.Table | None = None  # the input table it holds (raw) or carries columns of (staged)

    @property
    def path(self) -> Path:
        return SUITES_DIR / f"{self.table}.json"

    @property
    def layer(self) -> str:
        return "raw" if self.table.startswith("raw_") else "staging"


_ABOUT = schemas.Table("authority_returns", "files", schemas.ABOUT_FIELDS)  # columns of the `about` sheet
# the declaration whose columns a staged table carries (same names, same codes)
STAGED_FROM: dict[str, schemas.Table] = {
    "stg_authority_returns__returns": _ABOUT,
    "stg_authority_returns__services": schemas.SERVICES,
    "stg_womens_aid__referrals": schemas.REFERRALS,
    "stg_womens_aid__refuge_services": schemas.REFUGE_SERVICES,
    "stg_safelives__marac_annual": schemas.MARAC_QUARTERLY,
}


def targets() -> tuple[Target, ...]:
    """Every table with a suite, raw tables first, in a fixed order."""
    out = [Target("raw_authority_returns__files", "raw_authority_returns", _ABOUT),
           Target("raw_authority_returns__cells", "raw_authority_returns")]
    out += [Target(t.raw_table, f"raw_{t.source}", t) for t in (*schemas.RETURN_SHEETS, *schemas.EXTRACTS)]
    out += [Target(sql.table, sql.table, STAGED_FROM.get(sql.table)) for sql in warehouse.sql_files("staging")]
    return tuple(out)


def target(table: str) -> Target:
    for t in targets():
        if t.table == table:
            return t
    raise KeyError(f"no validation suite for {table}")


# --- The columns of every table, derived (never typed here) ------------------------------

def raw_columns(t: Target) -> dict[str, str]:
    """Column -> DuckDB type of a raw table, from the schemas the readers write it with."""
    from pipelines import ingest
    from pipelines.ingest import extracts

    if t.table == "raw_authority_returns__files":
        schema = ingest.FILES_SCHEMA
    elif t.table == "raw_authority_returns__cells":
        schema = ingest.CELLS_SCHEMA
    elif t.declared is None:
        raise ValueError(f"{t.table}: a raw table needs the input table it is declared from")
    elif t.declared.source == "authority_returns":
        schema = ingest._sheet_schema(t.declared)
    else:
        schema = dict(extracts.empty_frame(t.declared).schema)
    return {name: _POLARS_TO_DUCKDB[dtype] for name, dtype in schema.items()}


@lru_cache(maxsize=1)
def staged_columns() -> dict[str, dict[str, str]]:
    """Column -> DuckDB type of every staged table: its SQL run on an empty warehouse."""
    from pipelines import ingest
    from pipelines.reference import load_reference

    con = duckdb.connect(":memory:")
    try:
        for t in targets():
            if t.layer == "raw":
                cols = ", ".join(f'"{c}" {ty}' for c, ty in raw_columns(t).items())
                con.execute(f'CREATE TABLE "{t.table}" ({cols})')
        for name, schema in (("raw_issues", ingest.ISSUE_SCHEMA), ("raw_input_files", ingest.INPUT_SCHEMA),
                             ("raw_ingested", ingest.INGESTED_SCHEMA)):
            cols = ", ".join(f'"{c}" {_POLARS_TO_DUCKDB[d]}' for c, d in schema.items())
            con.execute(f'CREATE TABLE "{name}" ({cols})')
        load_reference(con)
        for sql in warehouse.in_build_order(warehouse.sql_files("staging")):
            warehouse.build_table(con, sql)
        return {s.table: dict(con.execute('SELECT column_name, data_type FROM information_schema.columns '
                                          "WHERE table_name = ? ORDER BY ordinal_position", [s.table]).fetchall())
                for s in warehouse.sql_files("staging")}
    finally:
        con.close()


def columns_of(t: Target) -> dict[str, str]:
    return raw_columns(t) if t.layer == "raw" else staged_columns()[t.table]


# --- Writing the schema part of a suite --------------------------------------------------

def _exp(kind: str, severity: str, why: str, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"origin": "schema", "severity": severity, "rule": why}}


def where(column: str, operator: str, value) -> dict:
    """A GX row condition (a serialised `great_expectations.expectations.row_conditions` object)."""
    return {"type": "comparison", "column": {"name": column}, "operator": operator, "parameter": value}


def _codes_list_regex(codes: tuple[str, ...]) -> str:
    alt = "|".join(re.escape(c) for c in codes)
    return rf"^ *(?:{alt}) *(?:; *(?:{alt}) *)*$"


def schema_expectations(t: Target, extra_columns: tuple[str, ...] = ()) -> list[dict]:
    """The expectations a table's declaration implies, in a fixed order."""
    cols = columns_of(t)
    out = [_exp("expect_table_columns_to_match_set", BLOCKING, "the table has exactly its declared columns",
                column_set=sorted([*cols, *extra_columns]), exact_match=True)]
    out.append(_exp("expect_table_column_types_to_match", BLOCKING, "every column has its declared type",
                    column_types={name: _PANDAS_TYPE[duck] for name, duck in cols.items()}))
    location = [c for c in ("file", "sheet_row", "line") if c in cols]
    if t.layer == "raw" and len(location) == 2 and "column_letter" not in cols:
        # every row read once: a year read twice, or a row written twice, would double count
        out.append(_exp("expect_compound_columns_to_be_unique", BLOCKING, "every input row is read once",
                        column_list=location,
                        ignore_row_if="never"))
    if t.table == "raw_authority_returns__cells":
        out += _cells_expectations()
    decl = t.declared
    if decl is not None:
        # a sheet of the return (not the about fields): its rows carry their template version
        by_version = t.layer == "raw" and decl.source == schemas.RETURNS and decl is not _ABOUT \
            and "template_version" in cols
        for col in decl.columns:
            name = "about_financial_year" if (decl is _ABOUT and col.name == "financial_year"
                                              and t.layer == "raw") else col.name
            if name not in cols or (name == "financial_year" and decl is _ABOUT):
                continue
            if by_version:
                out += _versioned_expectations(decl, col, cols[name])
            else:
                out += _column_expectations(col, name, cols[name])
        out += _key_expectations(t, decl, cols)
    return out


def _version_groups(sheet: str, column: str) -> tuple[list[tuple[schemas.Column, list[int]]], list[int]]:
    """The versions of the template that have a sheet, grouped by how they declare one of its
    columns (same type and codes), oldest first; and the versions that lack the column."""
    groups: list[tuple[schemas.Column, list[int]]] = []
    lacking: list[int] = []
    for v in schemas.versions_with(sheet):
        table = schemas.TEMPLATES[v].sheet(sheet)
        assert table is not None
        if not table.has(column):
            lacking.append(v)
            continue
        col = table.column(column)
        same = next((g for g in groups if (g[0].type, g[0].codes) == (col.type, col.codes)), None)
        if same is None:
            groups.append((col, [v]))
        else:
            same[1].append(v)
    return groups, lacking


def _on_versions(e: dict, versions: list[int]) -> dict:
    e["kwargs"]["row_condition"] = where("template_version", "IN", versions)
    e["meta"]["rule"] += f" (template version{'s' if len(versions) > 1 else ''} {', '.join(map(str, versions))})"
    return e


def _versioned_expectations(decl: schemas.Table, col: schemas.Column, duck: str) -> list[dict]:
    """A return sheet's column: written once when every version declares it alike, else once per
    group of versions (a row condition on template_version), and NULL in the rows of a version
    that lacks it (not collected)."""
    groups, lacking = _version_groups(decl.name, col.name)
    if len(groups) == 1 and not lacking:
        return _column_expectations(col, col.name, duck)
    out: list[dict] = []
    for declared, versions in groups:
        out += [_on_versions(e, versions) for e in _column_expectations(declared, col.name, duck)]
    if lacking:
        out.append(_on_versions(_exp("expect_column_values_to_be_null", BLOCKING,
                                     f"{col.name} is not collected where the template has no such column",
                                     column=col.name), lacking))
    return out


def _rows_expected(decl: schemas.Table) -> tuple[str, str]:
    """The rows a keyed return sheet holds, as a suite parameter expression (one row per key code
    of each return's template version), and the words for it."""
    counts = {v: len(s.key_codes) for v in schemas.versions_with(decl.name)
              if (s := schemas.TEMPLATES[v].sheet(decl.name)) is not None}
    if set(counts) == set(schemas.VERSIONS) and len(set(counts.values())) == 1:
        n = len(decl.key_codes)
        return f"returns_read * {n}", f"every return read has a row for each of the {n} {decl.key} codes"
    expression = " + ".join(f"returns_read_v{v} * {n}" for v, n in counts.items())
    return expression, (f"every return read has a row for each {decl.key} code of its template version "
                        f"({', '.join(f'{n} in version {v}' for v, n in counts.items())})")


def _column_expectations(col: schemas.Column, name: str, duck: str) -> list[dict]:
    if col.type == "count":
        return [_exp("expect_column_values_to_be_between", BLOCKING, f"{name} is a count: 0 or more",
                     column=name, min_value=0)]
    if col.type in ("code", "yesno") and duck == "VARCHAR":
        return [_exp("expect_column_values_to_be_in_set", BLOCKING, f"{name} is one of its codes", column=name,
                     value_set=list(col.codes or schemas.YES_NO))]
    if col.type in _REGEX and duck == "VARCHAR":
        return [_exp("expect_column_values_to_match_regex", BLOCKING, f"{name} is written as a {col.type}",
                     column=name, regex=_REGEX[col.type])]
    if col.type == "codes_list":
        return [_exp("expect_column_values_to_match_regex", BLOCKING, f"{name} lists known codes separated by ';'",
                     column=name, regex=_codes_list_regex(col.codes))]
    return []


def _key_expectations(t: Target, decl: schemas.Table, cols: dict[str, str]) -> list[dict]:
    out: list[dict] = []
    in_return = ("file",) if t.layer == "raw" and decl.source == "authority_returns" else ()
    if t.layer == "raw" and decl.key:
        # one row per code per return: a second row is a structural error (the return is set aside)
        out.append(_exp("expect_compound_columns_to_be_unique", BLOCKING, f"one row per {decl.key} in a return",
                        column_list=[*in_return, decl.key], ignore_row_if="any_value_is_missing"))
        # a key cell holding a cell error leaves the row without its code
        out.append(_exp("expect_column_values_to_not_be_null", WARNING, f"every row gives its {decl.key}",
                        column=decl.key))
        # every code has a row in every return read (a missing row is a warning); with the
        # key unique per return and in its codes, this also says no code is missing anywhere
        expression, words = _rows_expected(decl) if decl.source == schemas.RETURNS else (
            f"returns_read * {len(decl.key_codes)}",
            f"every return read has a row for each of the {len(decl.key_codes)} {decl.key} codes")
        out.append(_exp("expect_table_row_count_to_equal", WARNING, words, value={"$PARAMETER": expression}))
    if t.layer == "raw" and decl.unique:
        if len(decl.unique) == 1 and not in_return:
            out.append(_exp("expect_column_values_to_be_unique", BLOCKING, f"{decl.unique[0]} is unique",
                            column=decl.unique[0]))
        else:
            out.append(_exp("expect_compound_columns_to_be_unique", BLOCKING,
                            f"{', '.join(decl.unique)} is unique" + (" within a return" if in_return else ""),
                            column_list=[*in_return, *decl.unique], ignore_row_if="any_value_is_missing"))
        for c in decl.unique:
            # a blank identifier is not a duplicate, but its row cannot be told apart
            out.append(_exp("expect_column_values_to_not_be_null", WARNING, f"every row gives its {c}", column=c))
    if t.layer == "raw" and decl.source != "authority_returns":
        # a missing or quarantined extract leaves the table empty for the year
        out.append(_exp("expect_table_row_count_to_be_between", WARNING, "the extract was read and has rows",
                        min_value=1))
    return out


def _cells_expectations() -> list[dict]:
    """The lineage table of the returns holds count cells of the declared sheets only."""
    sheets = [t for t in schemas.RETURN_SHEETS]
    out = [
        _exp("expect_column_values_to_be_in_set", BLOCKING, "cells come from the declared sheets", column="sheet", value_set=[t.name for t in sheets]),
        _exp("expect_column_values_to_be_in_set", BLOCKING, "cells are the declared count columns", column="field",
             value_set=sorted({c.name for t in sheets for c in t.columns if c.type == "count"})),
        _exp("expect_column_values_to_be_between", BLOCKING, "a count is 0 or more", column="value", min_value=0),
        _exp("expect_compound_columns_to_be_unique", BLOCKING, "every cell is read once",
             column_list=["file", "sheet", "sheet_row", "column_letter"]),
    ]
    for t in sheets:
        if not t.key_codes:
            continue
        groups: dict[tuple[str, ...], list[int]] = {}
        for v in schemas.versions_with(t.name):
            sheet = schemas.TEMPLATES[v].sheet(t.name)
            assert sheet is not None
            groups.setdefault(sheet.key_codes, []).append(v)
        if len(groups) == 1:
            out.append(_exp("expect_column_values_to_be_in_set", BLOCKING,
                            f"the cells of sheet {t.name} are in rows of its codes",
                            column="record_key", value_set=list(t.key_codes),
                            row_condition=where("sheet", "==", t.name)))
            continue
        for codes, versions in groups.items():
            # a row condition on the sheet and the template version the return was read on
            on = {"type": "and", "conditions": [where("sheet", "==", t.name),
                                                where("template_version", "IN", versions)]}
            out.append(_exp("expect_column_values_to_be_in_set", BLOCKING,
                            f"the cells of sheet {t.name} are in rows of its codes (template version"
                            f"{'s' if len(versions) > 1 else ''} {', '.join(map(str, versions))})",
                            column="record_key", value_set=list(codes), row_condition=on))
    return out


def render_suite(t: Target, existing: dict | None) -> str:
    """The text of a suite file: the schema part written afresh, a person's rules kept."""
    existing = existing or {}
    meta = dict(existing.get("meta", {}))
    meta.update({"table": t.table, "asset": t.asset, "generated": GENERATED_NOTE})
    derived = tuple(meta.get("frame", {}).get("derived_columns", ()))
    rules = [e for e in existing.get("expectations", []) if e.get("meta", {}).get("origin") != "schema"]
    suite = {"name": t.table, "meta": meta, "expectations": schema_expectations(t, derived) + rules}
    return json.dumps(suite, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _read_suite_file(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_suites() -> list[Path]:
    """Rewrite the schema part of every suite file; return the files that changed."""
    changed = []
    for t in targets():
        text = render_suite(t, _read_suite_file(t.path))
        if not t.path.exists() or t.path.read_text(encoding="utf-8") != text:
            t.path.write_text(text, encoding="utf-8")
            changed.append(t.path)
    return changed


def stale_suites() -> list[str]:
    """Suite files missing or out of date with schemas.py and the staging SQL."""
    return [t.path.name for t in targets()
            if not t.path.exists() or t.path.read_text(encoding="utf-8") != render_suite(t, _read_suite_file(t.path))]


def load_suite(t: Target) -> dict:
    suite = _read_suite_file(t.path)
    if suite is None:
        raise FileNotFoundError(f"{t.path} is missing: run `uv run python -m pipelines.validation`")
    for e in suite["expectations"]:
        if e.get("meta", {}).get("severity") not in SEVERITIES:
            raise ValueError(f"{t.path.name}: {e['type']} has no severity (blocking or warning) in its meta")
    return suite


# --- Running suites ----------------------------------------------------------------------

ENGINES = ("duckdb", "great_expectations")
ENGINE_ENV = "DASA_VALIDATION_ENGINE"
_INDEX_COLUMNS = ("file", "sheet", "sheet_row", "line", "gss_code", "service_id", "referral_id",
                  "marac_id", "geography_code")


def default_engine() -> str:
    """The engine that runs the suites: DuckDB SQL (`pipelines/expectations_sql.py`), unless
    DASA_VALIDATION_ENGINE=great_expectations asks for the reference engine."""
    engine = os.environ.get(ENGINE_ENV, "").strip() or "duckdb"
    if engine not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={engine!r}: one of {', '.join(ENGINES)}")
    return engine


_GX: dict = {}


def _gx():
    """The GX context and batch definition, made once per process (importing GX takes seconds)."""
    if not _GX:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        custom = _register_expectations()
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch_def = (context.data_sources.add_pandas("dasa_warehouse")
                     .add_dataframe_asset("table").add_batch_definition_whole_dataframe("whole_table"))
        _GX.update(gx=gx, context=context, batch_definition=batch_def, custom=custom)
    return _GX


def _register_expectations() -> tuple:
    """Expectations of our own, registered with GX by defining them (once per process)."""
    from typing import ClassVar

    from great_expectations.expectations.expectation import BatchExpectation

    class ExpectTableColumnTypesToMatch(BatchExpectation):
        """Every column has the given pandas dtype (`Int64`, `string`, `boolean`, ...): one
        expectation per table instead of one per column (GX spends about 20 ms on each)."""

        column_types: dict
        metric_dependencies: ClassVar[tuple] = ("table.column_types",)
        success_keys: ClassVar[tuple] = ("column_types",)
        args_keys: ClassVar[tuple] = ("column_types",)

        def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
            observed = {c["name"]: str(c["type"]) for c in metrics["table.column_types"]}
            expected = self.column_types
            wrong = {name: observed.get(name, "missing") for name, dtype in sorted(expected.items())
                     if observed.get(name) != dtype}
            return {"success": not wrong,
                    "result": {"observed_value": {name: observed.get(name, "missing") for name in expected},
                               "details": {"mismatched": wrong}}}

    return (ExpectTableColumnTypesToMatch,)


@cache
def _suite_object(name: str, text: str):
    """The GX suite object of a suite (its JSON text: a changed file, or a suite a test makes,
    is a new object)."""
    gx = _gx()["gx"]
    suite = json.loads(text)
    # ids (the position in the file) tie each result to its expectation; GX returns them in its own order
    expectations = [{**e, "id": str(uuid.UUID(int=i + 1))} for i, e in enumerate(suite["expectations"])]
    return gx.ExpectationSuite(name=name, expectations=expectations)


def frame_sql(t: Target, suite: dict) -> str:
    """The query whose rows a suite sees: the year's rows of the table, or a reviewed `.sql`
    file beside the suite that adds the derived columns a consistency rule needs."""
    frame = suite.get("meta", {}).get("frame")
    if frame:
        return (SUITES_DIR / frame["sql"]).read_text(encoding="utf-8")
    return f'SELECT * FROM "{t.table}" WHERE financial_year = $financial_year ORDER BY ALL'


def parameters(con: duckdb.DuckDBPyConnection, year: str) -> dict:
    """Values some expectations compare with, worked out for the year."""
    start = int(year[:4])
    returns_read = warehouse.one_row(con.execute(
        "SELECT count(*) FROM raw_authority_returns__files WHERE financial_year = ? AND status = 'ok'", [year]
    ))[0] if warehouse.table_exists(con, "raw_authority_returns__files") else 0
    by_version = dict(con.execute(
        "SELECT template_version, count(*) FROM raw_authority_returns__files "
        "WHERE financial_year = ? AND status = 'ok' GROUP BY ALL", [year]).fetchall()) \
        if warehouse.table_exists(con, "raw_authority_returns__files") else {}
    return {
        "financial_year": year,
        "returns_read": returns_read,
        # returns read on each version of the template (rows expected of a sheet whose versions differ)
        **{f"returns_read_v{v}": by_version.get(v, 0) for v in schemas.VERSIONS},
        "first_day": f"{start}-04-01",
        "last_day": f"{start + 1}-03-31",
        "snapshot_dates": [f"{start}-05-01"],
        "quarter_ends": [f"{start}-06-30", f"{start}-09-30", f"{start}-12-31", f"{start + 1}-03-31"],
    }



def _fmt(v, limit: int | None = 40) -> str:
    if isinstance(v, str):
        return repr(v if limit is None or len(v) <= limit else v[:limit - 3] + "...")
    try:
        return str(int(v)) if float(v).is_integer() else str(v)
    except (TypeError, ValueError):
        return str(v)


_ROW_EXPECTATIONS = ("expect_column_values_", "expect_compound_columns_", "expect_column_pair_values_",
                     "expect_multicolumn_", "expect_select_column_values_")


_VALUE_PARTS = ("values: ", "observed ")


def public_details(details: str | None) -> str | None:
    """What `_details` wrote, without the values it quotes (the failing values and the observed
    value may be true counts that no figure publishes): the rule, how many rows fail and which,
    as the public release shows it. The full text stays in the warehouse's val_results."""
    if not details:
        return details
    parts = details.split("; ")
    kept = [p for p in parts if not p.startswith(_VALUE_PARTS)]
    return "; ".join(kept) + ("; values withheld in the published report" if len(kept) < len(parts) else "")


def _details(cfg: dict, outcome: dict, success: bool, index_cols: list[str], elements: int | None = None) -> str:
    """The details text of one result, from plain dicts (either engine's): `cfg` the
    expectation (`type`, `kwargs` as the engine holds them, `meta`), `outcome` its `result`
    (GX's SUMMARY keys) and `exception` (the message of an error, or None)."""
    meta = cfg.get("meta") or {}
    lead = meta.get("rule") or cfg["type"].removeprefix("expect_").replace("_", " ")
    res = outcome.get("result") or {}
    if outcome.get("exception") is not None:
        msg = (outcome["exception"] or "").strip().splitlines()
        return f"{lead}: could not be run ({msg[0] if msg else 'error'})"
    if success and not res:
        return f"{lead}: all {elements} rows pass" if elements is not None else f"{lead}: passes"
    if "unexpected_count" in res:
        n, of = res.get("unexpected_count") or 0, res.get("element_count") or 0
        if success:
            return f"{lead}: all {of} rows pass" if not n else f"{lead}: {n} of {of} rows fail, within the threshold"
        values = ", ".join(_fmt(v) for v in (res.get("partial_unexpected_list") or [])[:5])
        rows = []
        for row in (res.get("partial_unexpected_index_list") or [])[:3]:
            rows.append(" ".join(f"{k}={_fmt(row[k], None)}" for k in index_cols if k in row and row[k] is not None))
        text = f"{lead}: {n} of {of} rows fail"
        if values:
            text += f"; values: {values}"
        if rows:
            text += f"; rows: {'; '.join(rows)}"
        return text
    mismatched = (res.get("details") or {}).get("mismatched") if isinstance(res.get("details"), dict) else None
    kwargs = cfg.get("kwargs") or {}
    if mismatched:
        expected = kwargs.get("column_types", {})
        return f"{lead}: fails; " + "; ".join(
            f"{name} is {got}, expected {expected.get(name)}" for name, got in sorted(mismatched.items()))
    observed = res.get("observed_value")
    if isinstance(observed, dict):
        observed = ", ".join(f"{k} {v}" for k, v in observed.items())
    if isinstance(observed, (list, tuple)):
        observed = ", ".join(_fmt(v) for v in list(observed)[:12]) + (" ..." if len(observed) > 12 else "")
    expected = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id", "result_format")}
    return f"{lead}: {'passes' if success else 'fails'}; observed {observed}" + (
        "" if success else f"; expected {json.dumps(expected, sort_keys=True, default=str)}")


def _column_name(kwargs: dict) -> str | None:
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if kwargs.get("column_list"):
        return ", ".join(kwargs["column_list"])
    return None


def _frame(con: duckdb.DuckDBPyConnection, t: Target, suite: dict, params: dict) -> tuple[str, dict]:
    """The suite's frame query and the values of the `$name` parameters it uses."""
    sql = frame_sql(t, suite)
    return sql, {k: params[k] for k in set(re.findall(r"\$([a-z_]+)", sql))}


def _run_duckdb(con: duckdb.DuckDBPyConnection, t: Target, suite: dict, params: dict) -> tuple[int, list[str], list]:
    """The suite as DuckDB SQL (pipelines/expectations_sql.py): the frame never leaves DuckDB."""
    sql, bound = _frame(con, t, suite, params)
    run = expectations_sql.run(con, sql, bound, suite["expectations"], _INDEX_COLUMNS, suite_params=params)
    return run["row_count"], run["index_cols"], [
        ({"type": e["type"], "kwargs": outcome["kwargs"], "meta": e.get("meta") or {}}, outcome)
        for e, outcome in zip(suite["expectations"], run["results"])]


def _run_great_expectations(con: duckdb.DuckDBPyConnection, t: Target, suite: dict,
                            params: dict) -> tuple[int, list[str], list]:
    """The suite with GX (the reference engine) on the frame pulled into pandas."""
    sql, bound = _frame(con, t, suite, params)
    frame = expectations_sql.to_pandas(con.execute(sql, bound).to_arrow_table())
    index_cols = [c for c in _INDEX_COLUMNS if c in frame.columns][:3]
    g = _gx()
    gx_suite = _suite_object(suite["name"], json.dumps(suite, sort_keys=True))
    batch = g["batch_definition"].get_batch(batch_parameters={"dataframe": frame})
    # Most expectations pass: the first run asks only pass or fail (a quarter cheaper than
    # counts); the failures are run again for their counts, values and rows.
    result = batch.validate(gx_suite, result_format={"result_format": "BOOLEAN_ONLY"}, expectation_parameters=params)
    order = {e.id: i for i, e in enumerate(gx_suite.expectations)}
    results = {r.expectation_config.id: r for r in result.results}
    failed = [e for e in gx_suite.expectations if not results[e.id].success]
    if failed:
        fmt = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
        if index_cols:
            fmt["unexpected_index_column_names"] = index_cols
        again = g["gx"].ExpectationSuite(name=f"{t.table}_failed", expectations=[e.configuration for e in failed])
        for r in batch.validate(again, expectation_parameters=params, result_format=fmt).results:
            results[r.expectation_config.id] = r
    out = []
    for r in sorted(results.values(), key=lambda r: order.get(r.expectation_config.id, 0)):
        cfg = r.expectation_config
        raised = bool(r.exception_info and r.exception_info.get("raised_exception"))
        out.append(({"type": cfg.type, "kwargs": dict(cfg.kwargs), "meta": cfg.meta or {}},
                    {"success": bool(r.success) and not raised, "result": r.result or {},
                     "exception": (r.exception_info.get("exception_message") or "") if raised else None}))
    return len(frame), index_cols, out


def run_suite(con: duckdb.DuckDBPyConnection, table: str, year: str, params: dict | None = None,
              engine: str | None = None, suite: dict | None = None) -> list[dict]:
    """Run one table's suite on one year's rows; one result row per expectation. `engine`:
    "duckdb" (the default: the suite as SQL) or "great_expectations" (the reference);
    `suite`: a suite of the table other than its file's (the tests')."""
    engine = engine or default_engine()
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
    t = target(table)
    suite = suite or load_suite(t)
    if not warehouse.table_exists(con, t.table):
        return [dict(financial_year=year, suite=t.table, table_name=t.table, expectation="table_exists",
                     column_name=None, severity=BLOCKING, success=False, unexpected_count=None,
                     element_count=None, details=f"the table {t.table} does not exist in the warehouse")]
    params = params or parameters(con, year)
    runner = _run_duckdb if engine == "duckdb" else _run_great_expectations
    frame_rows, index_cols, results = runner(con, t, suite, params)
    rows = []
    for cfg, outcome in results:
        success = bool(outcome["success"])
        res = outcome.get("result") or {}
        unexpected, elements = res.get("unexpected_count"), res.get("element_count")
        if success and not res and cfg["type"].startswith(_ROW_EXPECTATIONS):
            # a row-by-row expectation that passed (no `mostly` is used): no row failed, and
            # without a row condition it looked at every row
            unexpected = 0
            elements = None if cfg["kwargs"].get("row_condition") else frame_rows
        rows.append(dict(
            financial_year=year, suite=t.table, table_name=t.table, expectation=cfg["type"],
            column_name=_column_name(cfg["kwargs"]), severity=cfg["meta"]["severity"], success=success,
            unexpected_count=unexpected, element_count=elements,
            details=_details(cfg, outcome, success, index_cols, elements),
        ))
    return rows


def store_results(con: duckdb.DuckDBPyConnection, year: str, suites: list[str], rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")
    con.execute(_RESULTS_DDL)
    con.execute(f"DELETE FROM {RESULTS_TABLE} WHERE financial_year = ? AND suite IN (SELECT unnest(?))",
                [year, suites])
    con.register("_val_incoming", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {RESULTS_TABLE} BY NAME SELECT * FROM _val_incoming")
    finally:
        con.unregister("_val_incoming")
    return frame


def validate_year(con: duckdb.DuckDBPyConnection, year: str, tables: list[str] | None = None,
                  engine: str | None = None) -> pl.DataFrame:
    """Run the suites (all, or those of `tables`) on one year; (re)write those rows of
    `val_results` and return them. `engine` as for `run_suite` (default: DuckDB SQL, or
    DASA_VALIDATION_ENGINE)."""
    tables = list(tables) if tables else [t.table for t in targets()]
    params = parameters(con, year)
    rows: list[dict] = []
    for table in tables:
        rows += run_suite(con, table, year, params, engine)
    return store_results(con, year, tables, rows)


def failures(results: pl.DataFrame, severity: str = BLOCKING) -> pl.DataFrame:
    return results.filter(~pl.col("success") & (pl.col("severity") == severity))


# --- Dagster asset checks ----------------------------------------------------------------

def _years_to_validate(context, con: duckdb.DuckDBPyConnection, tables: list[str]) -> list[str]:
    """The years whose releases the build publishes (the settings' `release_years`, or the
    latest year of the raw folder), among the partitions of the run, or among the years the
    tables hold when the run has none."""
    wanted = set(context.resources.dasa.years_published())
    try:
        keys = list(context.op_execution_context.partition_keys)
    except Exception:  # a run without partitions (staging assets, or checks run on their own)
        keys = []
    if not keys:
        present = [t for t in tables if warehouse.table_exists(con, t)]
        keys = sorted({y for t in present for (y,) in con.execute(f'SELECT DISTINCT financial_year FROM "{t}"').fetchall()})
    return [y for y in keys if y in wanted]


def check_name(table: str) -> str:
    return table


def asset_checks() -> list:
    """The suites as asset checks, one per table on the asset that writes it (blocking).

    They run in two steps, one for the raw tables and one for the staged tables (a step
    per asset cost Dagster a dozen more steps and their events in every build); each step
    runs only the checks selected. A check fails with ERROR severity (blocking: downstream
    assets do not run) when a blocking expectation fails, unless the build is a draft; it
    fails with WARN when only warnings fail. Every result is in `val_results`."""
    import dagster as dg

    raw = [t for t in targets() if t.layer == "raw"]
    staged = [t for t in targets() if t.layer != "raw"]
    return [_asset_check(dg, "validate_raw_tables", raw), _asset_check(dg, "validate_staged_tables", staged)]


def _validate_or_reuse(con: duckdb.DuckDBPyConnection, year: str, tables: list[str], assets: list[str]) -> pl.DataFrame:
    """validate_year, unless the suites, the code and the data versions of the tables (and of
    every raw table, which the frames and parameters read) are those of the results in
    val_results (pipelines/fingerprints.py): then those results."""
    from pipelines import fingerprints

    key = "validation:" + ",".join(sorted(tables))
    upstream = fingerprints.of_assets(con, {*assets, *(f"raw_{s}" for s in schemas.SOURCE_NAMES)})
    suites = []
    for table in sorted(tables):
        t = target(table)
        frame = (load_suite(t).get("meta", {}).get("frame") or {}).get("sql")
        suites.append([fingerprints.file_sha256(t.path), fingerprints.file_sha256(SUITES_DIR / frame) if frame else None])
    fingerprint = fingerprints.digest(fingerprints.code_version(), os.environ.get(ENGINE_ENV), suites, upstream, year)
    if upstream is not None and fingerprints.recorded(con, key, year) == fingerprint and warehouse.table_exists(con, RESULTS_TABLE):
        kept = con.execute(f"SELECT * FROM {RESULTS_TABLE} WHERE financial_year = ? AND suite IN (SELECT unnest(?))",
                           [year, tables]).pl()
        if kept.height:
            return kept.select(list(RESULT_SCHEMA)).cast(RESULT_SCHEMA)  # pyright: ignore[reportArgumentType]
    fingerprints.forget(con, key, year)
    results = validate_year(con, year, tables)
    if upstream is not None:
        fingerprints.record(con, key, fingerprint, year)
    return results


def _asset_check(dg, name: str, ts: list[Target]):
    asset_of = {t.table: t.asset for t in ts}
    specs = [dg.AssetCheckSpec(check_name(t.table), asset=t.asset, blocking=True,
                               description=f"The validation suite expectations/{t.path.name} on {t.table}, "
                                           "for each financial year")
             for t in ts]

    @dg.multi_asset_check(specs=specs, name=name, can_subset=True, required_resource_keys={"dasa"},
                          description="Great Expectations suites (expectations/*.json) on the tables the assets write")
    def _check(context):
        dasa = context.resources.dasa
        selected = {k.name for k in context.selected_asset_check_keys}
        tables = [t.table for t in ts if check_name(t.table) in selected]
        with dasa.connect() as con:
            years = _years_to_validate(context, con, tables)
            frames = [_validate_or_reuse(con, y, tables, sorted({asset_of[t] for t in tables})) for y in years]
        results = pl.concat(frames) if frames else pl.DataFrame(schema=RESULT_SCHEMA)
        for table in tables:
            mine = results.filter(pl.col("table_name") == table)
            blocking, warnings = failures(mine, BLOCKING), failures(mine, WARNING)
            severity = dg.AssetCheckSeverity.ERROR if blocking.height and not dasa.draft else dg.AssetCheckSeverity.WARN
            failed = pl.concat([blocking, warnings])
            yield dg.AssetCheckResult(
                check_name=check_name(table), asset_key=asset_of[table],
                passed=failed.height == 0, severity=severity,
                metadata={
                    "years": dg.MetadataValue.text(", ".join(years) or "none"),
                    "expectations_run": mine.height,
                    "blocking_failed": blocking.height,
                    "warnings_failed": warnings.height,
                    "failures": dg.MetadataValue.md("\n".join(
                        f"- {r['financial_year']} **{r['severity']}** `{r['expectation']}`: {r['details']}"
                        for r in failed.head(20).iter_rows(named=True)) or "none"),
                },
            )

    return _check


def blocking_summary(con: duckdb.DuckDBPyConnection, years: list[str], limit: int = 10) -> str | None:
    """A few lines a person can act on: the blocking expectations that failed (None when
    none did)."""
    if not warehouse.table_exists(con, RESULTS_TABLE):
        return None
    rows = con.execute(
        f"SELECT financial_year, table_name, details FROM {RESULTS_TABLE} "
        "WHERE NOT success AND severity = 'blocking' AND financial_year IN (SELECT unnest(?)) "
        "ORDER BY financial_year, suite, expectation, column_name", [years]).fetchall()
    if not rows:
        return None
    lines = [f"  {y} {table}: {details}" for y, table, details in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more (table val_results)")
    return f"{len(rows)} blocking validation error(s) stop the release:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.validation`: rewrite the schema part of the suites.
    `--check`: only say which are out of date. `--year Y --db PATH`: run the suites."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m pipelines.validation", description=main.__doc__)
    p.add_argument("--check", action="store_true")
    p.add_argument("--year")
    p.add_argument("--db", type=Path, default=PROJECT_DIR / "data" / "processed" / "dasa.duckdb")
    args = p.parse_args(argv)
    if args.year:
        with warehouse.connect(args.db) as con:
            start = time.monotonic()
            res = validate_year(con, args.year)
            took = time.monotonic() - start
        bad = res.filter(~pl.col("success"))
        for row in bad.iter_rows(named=True):
            print(f"{row['severity']:8} {row['table_name']}: {row['details']}")
        print(f"{res.height} expectations on {args.year}, {bad.height} failed, in {took:.1f} s")
        return 1 if failures(res).height else 0
    if args.check:
        stale = stale_suites()
        for name in stale:
            print(f"out of date: expectations/{name}")
        return 1 if stale else 0
    for path in write_suites():
        print(f"wrote {path.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
