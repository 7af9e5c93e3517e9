"""The Women's Aid referrals extract read by DuckDB, at any size (decision 0022).

A referrals extract can be tens of millions of rows, so it is never held in Python: the
Parquet file is scanned by DuckDB's `read_parquet` (a CSV is first read as text by
`extracts._read_csv`, then handed over the same way), and its typing, cell errors and row
checks are SQL. The result is exactly what the polars reader of the small extracts gives
(`extracts.read_extract(..., engine="polars")`, kept as the reference the tests compare with):
the same raw rows in `raw_womens_aid__referrals` and the same issues, ids, messages and order.

Issues are made as rows in SQL too (their ids are the SHA-256 of where and what, as
`Issue.issue_id`), into a temporary table that the ingest step appends to `raw_issues`: a bad
file of millions of bad cells never becomes millions of Python objects. Only a value that
Python's `repr` would write with escapes (anything but printable ASCII without quotes or
backslashes) goes through Python, one value at a time, to keep the message exact.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import duckdb
from collections.abc import Sequence

from pipelines import schemas
from pipelines.ingest.cells import describe
from pipelines.ingest.issues import SOURCE_PREFIX
from pipelines.safe_paths import duckdb_file

TABLE = schemas.REFERRALS
RAW_TABLE = TABLE.raw_table
ISSUES = "_dasa_referral_issues"  # temporary: this read's issues, in the order they are reported
SOURCE = "_dasa_referral_text"  # temporary view: the file's records as text, with their line

# what polars' `str.strip_chars()` strips: Unicode White_Space (Rust's char::is_whitespace)
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) \
    + "\u2028\u2029\u202f\u205f\u3000"
# chrono's %Y-%m-%d as polars' to_date(strict=False) reads it: a signed year of at most 4
# digits; month and day of 1 or 2 digits, whitespace allowed before each
_DATE = f"^([+-]?)([0-9]{{1,4}})-[{WHITESPACE}]*([0-9]{{1,2}})-[{WHITESPACE}]*([0-9]{{1,2}})$"
# a value Python's repr() writes as '<value>': printable ASCII, no quote or backslash
_PLAIN = r"^[ !#-&(-\[\]-~]*$"


def expected(col: schemas.Column) -> str:
    """What the contract allows in a column, as said after a bad value."""
    if col.type == "count":
        return "but a count must be a whole number 0 or more, of at most 15 digits"
    if col.type == "date":
        return "but a date must be YYYY-MM-DD"
    if col.type in ("code", "yesno"):
        codes = col.codes or schemas.YES_NO
        return f"which is not one of: {', '.join(codes)}"
    if col.type == "codes_list":
        return f"but every ';'-separated code must be one of: {', '.join(col.codes)}"
    return "which is not allowed"


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]::varchar[]"


def _strip(x: str) -> str:
    return f"trim({x}, {lit(WHITESPACE)})"


def _repr(x: str) -> str:
    """SQL for Python's repr() of a text value."""
    return f"(case when regexp_matches({x}, {lit(_PLAIN)}) then '''' || {x} || '''' else _dasa_repr({x}) end)"


def _describe(x: str) -> str:
    """SQL for `cells.describe` of a text value (at most 40 characters, then repr)."""
    return (f"(case when regexp_matches({x}, {lit(_PLAIN)}) then '''' || "
            f"(case when length({x}) > 40 then left({x}, 37) || '...' else {x} end) || '''' "
            f"else _dasa_describe({x}) end)")


_WS_CODES = "(" + ", ".join(str(ord(c)) for c in WHITESPACE) + ")"


def _blank(x: str) -> str:
    """SQL: the text is missing or whitespace only (the first character tells, mostly). A CASE,
    so that the first character is looked at only when the text is not empty and the text is
    stripped only when that character is whitespace (DuckDB evaluates every side of an OR:
    at 10 million records this took 8 s of the 15 s insert)."""
    return (f"(case when {x} is null or {x} = '' then true when ord({x}) not in {_WS_CODES} then false "
            f"else {_strip(x)} = '' end)")


def typed(col: schemas.Column, x: str, integer: bool = False) -> tuple[str, str]:
    """(typed value, is-bad) SQL for one text column `x`, as `extracts._type_column` in polars.
    `integer`: `x` is a Parquet integer column (its text is its digits).

    Each has a fast path for a value already as the contract writes it (a code, a date
    YYYY-MM-DD, a list of codes without spaces), which needs no stripping; anything else
    takes the exact path: stripped of Unicode whitespace as polars strips, then typed."""
    s = _strip(x)
    if col.type == "count":
        if integer:  # the text of an integer is a whole number of at most 15 digits when 0 <= n < 10^15
            ok = f"({x} >= 0 and {x} <= 999999999999999)"
            return f"(case when {ok} then {x}::bigint end)", f"({x} is not null and not {ok})"
        fast = f"regexp_full_match({x}, '[0-9]{{1,15}}')"
        ok = f"regexp_full_match({s}, '[0-9]{{1,15}}')"
        return (f"(case when {x} is null then null when {fast} then {x}::bigint when {ok} then {s}::bigint end)",
                f"(case when {x} is null or {fast} then false else {s} <> '' and not {ok} end)")
    if col.type in ("code", "yesno"):
        codes = col.codes or schemas.YES_NO
        fast = f"{x} in ({', '.join(lit(c) for c in codes)})"
        ok = f"list_contains({_list(codes)}, {s})"
        return (f"(case when {x} is null then null when {fast} then {x} when {ok} then {s} end)",
                f"(case when {x} is null or {fast} then false else {s} <> '' and not {ok} end)")
    if col.type == "date":
        fast = f"(length({x}) = 10 and try_cast({x} as date)::varchar = {x})"
        slow = f"_dasa_date(regexp_extract({s}, {lit(_DATE)}, ['sign', 'y', 'm', 'd']))"
        return (f"(case when {x} is null then null when {fast} then {x} else {slow} end)",
                f"(case when {x} is null or {fast} then false else {s} <> '' and {slow} is null end)")
    if col.type == "codes_list":
        one = "(" + "|".join(col.codes) + ")"
        fast = f"regexp_full_match({x}, {lit(one + '(;' + one + ')*')})"
        parts = f"list_transform(string_split({s}, ';'), p -> {_strip('p')})"
        ok = f"list_bool_and(list_transform({parts}, p -> list_contains({_list(col.codes)}, p)))"
        return (f"(case when {x} is null then null when {fast} then {x} when {s} <> '' then {s} end)",
                f"(case when {x} is null or {fast} then false else {s} <> '' and not coalesce({ok}, false) end)")
    return f"(case when not {_blank(x)} then {x} end)", "false"


_MACROS = """
create or replace temp macro _dasa_ymd(sg, y, mo, d) as (
    case when y is not null and mo between 1 and 12 and d >= 1 and d <= case
             when mo = 2 then case when y % 4 = 0 and (y % 100 <> 0 or y % 400 = 0) then 29 else 28 end
             when mo in (4, 6, 9, 11) then 30 else 31 end
         then (case when sg = '-' and y <> 0 then '-' else '' end) || lpad(y::varchar, 4, '0') || '-'
              || lpad(mo::varchar, 2, '0') || '-' || lpad(d::varchar, 2, '0') end);
create or replace temp macro _dasa_date(m) as (
    _dasa_ymd(m.sign, try_cast(m.y as integer), try_cast(m.m as integer), try_cast(m.d as integer)));
"""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """The Python functions (for values repr() escapes) and macros the SQL uses."""
    for name, fn in (("_dasa_repr", repr), ("_dasa_describe", describe)):
        try:
            con.create_function(name, fn, ["VARCHAR"], "VARCHAR", side_effects=False)
        except (duckdb.CatalogException, duckdb.NotImplementedException, RuntimeError) as exc:
            if "already" not in str(exc):
                raise
    con.execute(_MACROS)


class Unreadable(Exception):
    """The Parquet file cannot be read as a table of text and numbers (message: the reason)."""


_NESTED = re.compile(r"^(STRUCT|MAP|UNION)|\[\]$|\[\d+\]$")


def parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str, str]]:
    """The file's top-level columns as (name as written, name as DuckDB reads it, DuckDB type),
    in order (a name given twice stays twice in the first). Raises Unreadable."""
    try:
        rows = con.execute("select name, num_children, duckdb_type from parquet_schema(?)",
                           [duckdb_file(path)]).fetchall()
        # the columns as DuckDB reads them (types of nested columns, a name given twice renamed)
        described = con.execute(f"describe select * from read_parquet({lit(duckdb_file(path))})").fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unreadable(first) from None
    # walk the flattened schema: the root's children are the top-level columns
    top: list[str] = []
    i, n_root = 1, rows[0][1] or 0
    for _ in range(n_root):
        name, kids = rows[i][0], rows[i][1] or 0
        top.append(name)
        i += 1
        pending = kids
        while pending:
            pending += (rows[i][1] or 0) - 1
            i += 1
    if len(described) != len(top):
        raise Unreadable("its schema cannot be read")
    for name, (_, t, *_) in zip(top, described):
        if _NESTED.search(t):
            raise Unreadable(f"column {name!r} is of the nested type {t}, not text or a number")
    return [(name, duck, t) for name, (duck, t, *_) in zip(top, described)]


_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT"}


def text_view_of_parquet(con: duckdb.DuckDBPyConnection, path: Path, columns: list[tuple[str, str, str]]) -> set[str]:
    """The view SOURCE over the file: `line` (record number, from 1) and each column of the
    table as text. Returns the table's columns whose Parquet type is an integer."""
    by_name = {name.strip(): (duck, t) for name, duck, t in columns}
    sel = ["(file_row_number + 1)::bigint as line"]
    integer = set()
    for col in TABLE.columns:
        duck, t = by_name[col.name]
        src = ident(duck)
        if t in _INTEGER and col.type == "count":
            integer.add(col.name)
            sel.append(f"{src}::hugeint as {ident(col.name + '__int')}")
        sel.append(f"{src}::varchar as {ident(col.name)}")
    con.execute(f"create or replace temp view {SOURCE} as select {', '.join(sel)} "
                f"from read_parquet({lit(duckdb_file(path))}, file_row_number = true)")
    return integer


def text_view_of_frame(con: duckdb.DuckDBPyConnection, arrow_name: str) -> None:
    cols = ", ".join(f"{ident(c.name)}::varchar as {ident(c.name)}" for c in TABLE.columns)
    con.execute(f"create or replace temp view {SOURCE} as select line::bigint as line, {cols} from {arrow_name}")


def read(con: duckdb.DuckDBPyConnection, year: str, rel: str, word: str, header_line: int | None,
         extra_columns: list[str], known_services: set[str] | None, integer: set[str] | frozenset[str] = frozenset(),
         found_before: Sequence[tuple] = ()) -> int:
    """Type and check the records of SOURCE into `raw_womens_aid__referrals` (this year's rows
    replaced) and their issues into the temporary table ISSUES. Returns the rows written.
    The caller has checked the header (every column of the contract, once)."""
    prepare(con)
    first_day, last_day = year_bounds(year)
    exprs = {c.name: typed(c, ident(c.name) if c.name not in integer else ident(c.name + "__int"),
                           integer=c.name in integer) for c in TABLE.columns}
    if not _exists(con, RAW_TABLE):
        cols = ", ".join(f"{ident(c.name)} {'bigint' if c.type == 'count' else 'varchar'}" for c in TABLE.columns)
        _run(con, f"create table {RAW_TABLE} (financial_year varchar, file varchar, line bigint, {cols})")
    _run(con, f"delete from {RAW_TABLE} where financial_year = ?", [year])
    values = ", ".join(f"{v} as {ident(name)}" for name, (v, _) in exprs.items())
    # in the order of the file (DuckDB keeps the order of a scan it inserts)
    _run(con, f"insert into {RAW_TABLE} by name select {lit(year)} as financial_year, {lit(rel)} as file, line, "
                f"{values} from {SOURCE}")
    # one more scan: the records with a bad cell or a declined referral without a reason, as sent
    flags = {c.name: bad for c in TABLE.columns if (bad := exprs[c.name][1]) != "false"}
    outcome, _ = exprs["outcome"]
    no_reason = f"({outcome} = 'declined' and {_blank(ident('decline_reason'))})"
    _run(con, f"""create or replace temp table _dasa_referral_flagged as
        select line, {', '.join(ident(c) for c in flags)},
               {', '.join(f"{b} as {ident('bad__' + c)}" for c, b in flags.items())}, {no_reason} as no_reason
        from {SOURCE} where {' or '.join(flags.values())} or {no_reason}""")
    flagged = "_dasa_referral_flagged"

    issue_sql: list[str] = []

    def add(level: str, code: str, message: str, line: str, fld: str | None, frm: str) -> None:
        issue_sql.append(f"select {line}::bigint as row, {lit(fld) if fld else 'null'}::varchar as field, "
                         f"{lit(level)} as level, {lit(code)} as code, {message} as message from {frm}")

    for c in extra_columns:
        add("warning", "extra_column", lit(f"has an extra column '{c}', which is ignored"),
            str(header_line) if header_line is not None else "null", c, "(select 1)")
    for col in TABLE.columns:
        if col.name not in flags:
            continue
        msg = (f"'column ''{col.name}'' holds ' || {_describe(ident(col.name))} || "
               f"{lit(', ' + expected(col) + '; treated as not collected')}")
        add("cell_error", f"bad_{col.type}", msg, "line", col.name, f"{flagged} where {ident('bad__' + col.name)}")
    key = TABLE.unique[0]
    mine = f"(select * from {RAW_TABLE} where financial_year = {lit(year)})"
    dups = (f"(select r.line, r.{key} as k, f.first_line from {mine} r join "
            f"(select {key}, min(line) as first_line from {mine} where {key} is not null "
            f"group by {key} having count(*) > 1) f using ({key}) where r.line > f.first_line)")
    add("cell_error", "duplicate_key",
        f"'repeats {key} ' || {_repr('k')} || ' of {word} ' || first_line || '; this {word} is left out, so the record counts once'",
        "line", key, dups)
    outside = (f"{mine} where referral_date is not null and "
               f"(referral_date < {lit(first_day)} or referral_date > {lit(last_day)})")
    add("cell_error", "outside_year",
        f"'referral_date ' || referral_date || {lit(f' is outside {year} ({first_day} to {last_day}); the referral is left out of this year' + chr(39) + 's figures')}",
        "line", "referral_date", outside)
    add("cell_error", "missing_decline_reason",
        lit("outcome is 'declined' but decline_reason is empty; the referral counts as declined with its reason not "
            f"recorded (enter one of: {', '.join(schemas.DECLINE_REASONS)})"),
        "line", "decline_reason", f"{flagged} where no_reason")
    if known_services is not None:
        _run(con, "create or replace temp table _dasa_known_services (service_id varchar)")
        if known_services:
            con.executemany("insert into _dasa_known_services values (?)", [[s] for s in sorted(known_services)])
        unknown = (f"(select line, service_id from {mine} where service_id is not null) r "
                   "anti join _dasa_known_services k using (service_id)")
        add("cell_error", "unknown_service",
            f"'service_id ' || {_repr('service_id')} || {lit(' is not in refuge_services.csv; the referral counts in England' + chr(39) + 's figures but in no region or authority')}",
            "line", "service_id", unknown)

    _run(con, f"create or replace temp table _dasa_referral_found as {' union all '.join(issue_sql)}")
    if found_before:  # (line, field, level, code, message) found while reading the file (ragged CSV lines)
        con.executemany("insert into _dasa_referral_found values (?, ?, ?, ?, ?)", [list(f) for f in found_before])
    # left out: a second record of a referral, a referral outside the year
    left_out = _run(con, "select count(*) from _dasa_referral_found where code in ('duplicate_key', 'outside_year')"
                           ).fetchone()
    if left_out and left_out[0]:
        _run(con, f"""delete from {RAW_TABLE} where financial_year = ? and line in (
            select row from _dasa_referral_found where code in ('duplicate_key', 'outside_year'))""", [year])
    n = _run(con, f"select count(*) from {RAW_TABLE} where financial_year = ?", [year]).fetchone()
    n_rows = int(n[0]) if n else 0
    if n_rows == 0:
        _run(con, f"""insert into _dasa_referral_found values (null, null, 'warning', 'no_records',
            {lit(f'holds no {word}s to use: every figure made from it is 0 (if that is not right, ask for the extract again)')})""")
    where = f"'{'line' if word == 'line' else 'record'} ' || row"
    prefix = SOURCE_PREFIX.get(TABLE.source, "XX")
    _run(con, f"""create or replace temp table {ISSUES} as
        select {lit(year)} as financial_year, {lit(TABLE.source)} as source, {lit(rel)} as file,
               null::varchar as sheet, row, null::varchar as column_letter, field, level, code, message,
               null::varchar as subject,
               case when row is not null and row <> 0 then {where} || coalesce(', column ' || field, '')
                    else coalesce('column ' || field, '') end as location,
               {lit(f'{prefix}-{year}-')} || left(sha256(concat_ws('|', {lit(year)}, {lit(TABLE.source)}, {lit(rel)},
                   'None', coalesce(row::varchar, 'None'), 'None', coalesce(field, 'None'), code)), 10) as issue_id
        from _dasa_referral_found
        order by row is not null, coalesce(row, 0), coalesce(field, ''), code""")
    _run(con, "drop table _dasa_referral_found")
    return n_rows


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
    """One statement; its time on stderr when $DASA_SQL_TIMING is set (profiling a big extract)."""
    if not os.environ.get("DASA_SQL_TIMING"):
        return con.execute(sql, params)
    start = time.perf_counter()
    out = con.execute(sql, params)
    print(f"[referrals_sql] {time.perf_counter() - start:6.2f} s  {' '.join(sql.split())[:90]}", file=sys.stderr)
    return out


def year_bounds(year: str) -> tuple[str, str]:
    start = int(year[:4])
    return f"{start}-04-01", f"{start + 1}-03-31"


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = con.execute("select count(*) from information_schema.tables where table_name = ?", [table]).fetchone()
    return bool(row and row[0])


def cleanup(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in (f"drop view if exists {SOURCE}", f"drop table if exists {ISSUES}",
                 "drop table if exists _dasa_known_services", "drop table if exists _dasa_referral_found",
                 "drop table if exists _dasa_referral_flagged"):
        con.execute(stmt)
