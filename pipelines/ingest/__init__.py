"""Readers for each source, writing the raw layer of the warehouse for one financial year.

`ingest_<source>(raw_dir, year, con)` reads the year's files, and replaces that year's
rows of the source's `raw_*` tables, of `raw_issues` and of `raw_input_files`. It returns a
small summary used as Dagster metadata.

The authority returns are untrusted workbooks: each is inspected against the limits of
`assets/input_limits.yaml` and parsed in a worker process under a time limit and a memory
cap (`pipelines.workbooks`, `pipelines.read_workers`; decision 0008, "Bounded reading").
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipelines import schemas
from pipelines.ingest import authority_returns, extracts, referrals_sql
from pipelines.ingest.issues import Issue
from pipelines.warehouse import replace_partition

ISSUE_SCHEMA = {
    "financial_year": pl.String, "source": pl.String, "file": pl.String, "sheet": pl.String,
    "row": pl.Int64, "column_letter": pl.String, "field": pl.String, "level": pl.String,
    "code": pl.String, "message": pl.String, "subject": pl.String, "location": pl.String,
    "issue_id": pl.String,
}
INPUT_SCHEMA = {"financial_year": pl.String, "source": pl.String, "path": pl.String, "sha256": pl.String, "status": pl.String}
INGESTED_SCHEMA = {"financial_year": pl.String, "source": pl.String, "n_files": pl.Int64, "n_quarantined": pl.Int64}


def _dtype(col: schemas.Column):
    return pl.Int64 if col.type in ("count", "int") else pl.String


def _sheet_schema(table: schemas.Table) -> dict:
    """A sheet's raw table: the location of each row, the template version it was read on, and
    the union of the sheet's columns over every version (NULL where a version lacks one)."""
    return {"financial_year": pl.String, "file": pl.String, "sheet_row": pl.Int64, "template_version": pl.Int64,
            **{c.name: _dtype(c) for c in table.columns}}


FILES_SCHEMA = {
    "financial_year": pl.String, "file": pl.String, "sha256": pl.String,
    **{f"about_{c.name}" if c.name == "financial_year" else c.name: _dtype(c) for c in schemas.ABOUT_FIELDS},
    "status": pl.String, "quarantine_reason": pl.String,
}
CELLS_SCHEMA = {
    "financial_year": pl.String, "file": pl.String, "sheet": pl.String, "sheet_row": pl.Int64,
    "column_letter": pl.String, "field": pl.String, "record_key": pl.String, "raw_value": pl.String,
    "value": pl.Int64, "cell_status": pl.String, "template_version": pl.Int64,
}


def _issues_frame(issues: list[Issue]) -> pl.DataFrame:
    return pl.DataFrame([i.as_row() for i in issues], schema=ISSUE_SCHEMA, orient="row") if issues \
        else pl.DataFrame(schema=ISSUE_SCHEMA)


def _write_common(con, year: str, source: str, issues: list[Issue], inputs: list[dict], n_quarantined: int) -> None:
    replace_partition(con, "raw_issues", _issues_frame(issues), year, source)
    replace_partition(con, "raw_input_files", pl.DataFrame(inputs, schema=INPUT_SCHEMA, orient="row"), year, source)
    replace_partition(con, "raw_ingested", pl.DataFrame(
        [{"financial_year": year, "source": source, "n_files": len(inputs), "n_quarantined": n_quarantined}],
        schema=INGESTED_SCHEMA, orient="row"), year, source)


def ingest_authority_returns(raw_dir: Path, year: str, con: duckdb.DuckDBPyConnection) -> dict:
    read = authority_returns.read_year(raw_dir, year)
    files = [dict(f) for f in read.files]
    for f in files:
        f["about_financial_year"] = f.pop("financial_year")
        f["financial_year"] = year
    replace_partition(con, "raw_authority_returns__files", pl.DataFrame(files, schema=FILES_SCHEMA, orient="row"), year)
    for table in schemas.RETURN_SHEETS:
        schema = _sheet_schema(table)
        rows = [{k: r.get(k) for k in schema} for r in read.rows.get(table.name, [])]
        replace_partition(con, table.raw_table, pl.DataFrame(rows, schema=schema, orient="row"), year)
    replace_partition(con, "raw_authority_returns__cells", pl.DataFrame(read.cells, schema=CELLS_SCHEMA, orient="row"), year)
    inputs = [{"financial_year": year, "source": authority_returns.SOURCE, "path": f["file"], "sha256": f["sha256"],
               "status": f["status"]} for f in read.files]
    n_q = sum(1 for f in read.files if f["status"] != "ok")
    _write_common(con, year, authority_returns.SOURCE, read.issues, inputs, n_q)
    return {"workbooks": len(read.files), "quarantined": n_q, "cells": len(read.cells),
            "issues": len(read.issues)}


def read_extracts(raw_dir: Path, year: str, source: str, con: duckdb.DuckDBPyConnection | None = None,
                  engine: str = "duckdb") -> list[extracts.ExtractRead]:
    """Every extract of a source for a year, in declaration order (refuge services before the
    referrals that name them). With `con`, the referrals are read into that warehouse
    (`ExtractRead.in_db`); see `extracts.read_extract`."""
    reads = []
    known_services: set[str] | None = None  # the year's refuge services, for the referrals' service_id
    for table in schemas.EXTRACTS:
        if table.source != source:
            continue
        read = extracts.read_extract(raw_dir, year, table, known_services=known_services, con=con, engine=engine)
        if table is schemas.REFUGE_SERVICES and read.status == "ok" and read.frame is not None:
            known_services = set(read.frame["service_id"].drop_nulls().to_list())
        reads.append(read)
    return reads


def _ingest_extracts(raw_dir: Path, year: str, con, source: str) -> dict:
    issues: list[Issue] = []
    inputs: list[dict] = []
    rows = {}
    n_q = 0
    in_db = 0
    reads = read_extracts(raw_dir, year, source, con=con)
    for read in reads:
        table = read.table
        issues.extend(read.issues)
        if read.file:
            inputs.append({"financial_year": year, "source": source, "path": read.file, "sha256": read.sha256,
                           "status": read.status})
        n_q += read.status == "quarantined"
        if read.in_db:  # its rows are in its raw table already (read by DuckDB), its issues in a temporary table
            in_db += read.n_issues
        else:
            assert read.frame is not None  # read_extract gives every other read a frame (empty when none is usable)
            replace_partition(con, table.raw_table, read.frame, year)
        rows[table.name] = read.rows
    _write_common(con, year, source, issues, inputs, n_q)
    if any(r.in_db for r in reads):  # after the issues of the other files, in the order they were reported
        cols = ", ".join(ISSUE_SCHEMA)
        con.execute(f"INSERT INTO raw_issues ({cols}) SELECT {cols} FROM {referrals_sql.ISSUES} ORDER BY rowid")
        referrals_sql.cleanup(con)
    return {**{f"rows_{k}": v for k, v in rows.items()}, "issues": len(issues) + in_db, "quarantined": n_q}


def ingest_womens_aid(raw_dir: Path, year: str, con: duckdb.DuckDBPyConnection) -> dict:
    return _ingest_extracts(raw_dir, year, con, "womens_aid")


def ingest_safelives(raw_dir: Path, year: str, con: duckdb.DuckDBPyConnection) -> dict:
    return _ingest_extracts(raw_dir, year, con, "safelives")


INGESTERS = {
    "authority_returns": ingest_authority_returns,
    "womens_aid": ingest_womens_aid,
    "safelives": ingest_safelives,
}
