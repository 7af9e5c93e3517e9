"""Read the record-level extracts (Women's Aid, SafeLives): CSV, or Parquet for referrals.

Columns are read as text and typed by the declaration in `pipelines.schemas`, column by
column with polars (extracts can be millions of rows). Each row keeps its `line` in the
file (the header is line 1) so a figure can be traced to the rows that made it.

What the contract does not allow is reported, never fixed silently:
- a file that cannot be read as the table (not UTF-8, not comma-separated, a column
  missing or given twice) is set aside whole (structural);
- a line whose fields cannot be matched to the header (ragged), a second line with the
  same key, a referral outside the financial year and a SafeLives row whose `quarter_end`
  is not a quarter end of the year are left out of the table, each reported at its line
  (cell error);
- a bad cell is treated as not collected (cell error); a rule between cells that does not
  hold is a warning, and the values are kept as sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import starmap
from pathlib import Path

import duckdb
import polars as pl

from pipelines import schemas
from pipelines.manifest import sha256 as sha256_file
from pipelines.ingest.cells import describe, near
from pipelines.ingest import referrals_sql
from pipelines.ingest.referrals_sql import expected as _expected
from pipelines.ingest.issues import Issue

SOURCE_FOLDERS = {t.source: schemas.source(t.source).folder for t in schemas.EXTRACTS}


@dataclass
class ExtractRead:
    table: schemas.Table
    file: str | None = None
    sha256: str | None = None
    frame: pl.DataFrame | None = None
    issues: list[Issue] = field(default_factory=list)
    status: str = "ok"
    # the referrals, read by DuckDB into the warehouse connection given: their rows are in
    # `raw_womens_aid__referrals` already (frame is None) and their issues in the temporary
    # table `referrals_sql.ISSUES` (issues is empty), n_rows rows and n_issues issues
    in_db: bool = False
    n_rows: int = 0
    n_issues: int = 0

    @property
    def rows(self) -> int:
        return self.n_rows if self.in_db else (self.frame.height if self.frame is not None else 0)


def find_file(raw_dir: Path, year: str, table: schemas.Table) -> Path | None:
    folder = raw_dir / year / SOURCE_FOLDERS[table.source]
    for suffix in (".csv", ".parquet"):
        p = folder / f"{table.name}{suffix}"
        if p.exists():
            return p
    return None


def empty_frame(table: schemas.Table) -> pl.DataFrame:
    cols = {"financial_year": pl.String, "file": pl.String, "line": pl.Int64}
    for c in table.columns:
        cols[c.name] = pl.Int64 if c.type == "count" else pl.String
    return pl.DataFrame(schema=cols)


class _SetAside(Exception):
    """The file cannot be read as the table: structural problems, as (code, message, line, field)."""

    def __init__(self, code: str, message: str, line: int | None = None, fld: str | None = None,
                 more: Sequence[tuple] = ()):
        super().__init__(message)
        self.problems = [(code, message, line, fld), *more]


def _set_aside(out: ExtractRead, exc: _SetAside, year: str, rel: str) -> ExtractRead:
    """The read of a file set aside: its structural problems, no rows."""
    for code, message, line, fld in exc.problems:
        out.issues.append(Issue(year, out.table.source, rel, None, line, None, fld, "structural", code, message))
    out.status = "quarantined"
    out.frame = empty_frame(out.table)
    return out


def read_extract(raw_dir: Path, year: str, table: schemas.Table, known_services: set[str] | None = None,
                 con: duckdb.DuckDBPyConnection | None = None, engine: str = "duckdb") -> ExtractRead:
    """Read one extract. `known_services` (referrals only): the `service_id`s of the year's
    refuge services, or None when that file could not be read (then the check is skipped).

    The referrals are read by DuckDB (`pipelines.ingest.referrals_sql`): with `con`, into that
    connection's warehouse (the read says `in_db`); without, into a connection of its own whose
    rows and issues are then handed back as a frame and a list (small inputs: the tests).
    `engine="polars"` reads them as the other extracts are (the reference the tests compare with)."""
    out = ExtractRead(table)
    path = find_file(raw_dir, year, table)
    if path is None:
        out.status = "missing"
        out.frame = empty_frame(table)
        out.issues.append(Issue(year, table.source, f"{year}/{SOURCE_FOLDERS[table.source]}/{table.name}.csv", None, None, None, None,
                                "structural", "missing_file", f"no {table.name}.csv for {year}: its figures are not available"))
        return out
    rel = path.relative_to(raw_dir).as_posix()
    out.file, out.sha256 = rel, sha256_file(path)
    found: list[Issue] = []

    def issue(level: str, code: str, message: str, line: int | None = None, fld: str | None = None,
              subject: str | None = None) -> None:
        found.append(Issue(year, table.source, rel, None, line, None, fld, level, code, message, subject))

    if table is schemas.REFERRALS and engine == "duckdb":
        return _read_referrals(out, path, rel, year, known_services, con)
    try:
        if path.suffix == ".parquet":
            df, lines = _read_parquet(path, table)
        else:
            df, lines = _read_csv(path.read_bytes(), table, issue)
    except _SetAside as exc:
        return _set_aside(out, exc, year, rel)

    header_line = None if path.suffix == ".parquet" else 1
    for c in df.columns:
        if c not in table.names:
            issue("warning", "extra_column", f"has an extra column '{c}', which is ignored", line=header_line, fld=c)
    df = df.select(table.names).with_columns(lines.alias("line"))
    typed = [pl.lit(year).alias("financial_year"), pl.lit(rel).alias("file"), pl.col("line")]
    problems: list[pl.DataFrame] = []
    for col in table.columns:
        expr, bad = _type_column(col)
        typed.append(expr.alias(col.name))
        problems.append(
            df.filter(bad).select(
                pl.col("line"), pl.lit(col.name).alias("field"), pl.col(col.name).alias("raw")
            )
        )
    frame = df.select(typed)
    for line, fld, raw in pl.concat(problems).iter_rows():
        col = table.column(fld)
        issue("cell_error", f"bad_{col.type}",
              f"column '{fld}' holds {describe(raw)}, {_expected(col)}; treated as not collected", line=line, fld=fld)

    word = "record" if path.suffix == ".parquet" else "line"
    frame, left_out = _check_rows(table, year, df, frame, known_services, issue, word)
    if left_out is not None:
        frame = frame.filter(~pl.col("line").is_in(left_out.to_list()))
    if table is schemas.MARAC_QUARTERLY:
        _check_marac_quarters(year, frame, issue)
    if frame.height == 0:
        issue("warning", "no_records", f"holds no {word}s to use: every figure made from it is 0 (if that is not "
                                       "right, ask for the extract again)")
    out.frame = frame
    out.issues.extend(sorted(found, key=lambda i: (i.row is not None, i.row or 0, i.field or "", i.code)))
    return out


def _read_referrals(out: ExtractRead, path: Path, rel: str, year: str, known_services: set[str] | None,
                    con: duckdb.DuckDBPyConnection | None) -> ExtractRead:
    table = schemas.REFERRALS
    own = con is None
    db = duckdb.connect(config={"threads": 2}) if con is None else con
    found: list[Issue] = []

    def issue(level: str, code: str, message: str, line: int | None = None, fld: str | None = None,
              subject: str | None = None) -> None:
        found.append(Issue(year, table.source, rel, None, line, None, fld, level, code, message, subject))

    try:
        try:
            integer: set[str] = set()
            if path.suffix == ".parquet":
                try:
                    columns = referrals_sql.parquet_columns(db, path)
                except referrals_sql.Unreadable as exc:
                    raise _SetAside("unreadable_file",
                                    f"cannot be read as a Parquet table of text and numbers ({exc})") from None
                names = [name.strip() for name, _, _ in columns]
                _check_header(names, table, header_line=None)
                integer = referrals_sql.text_view_of_parquet(db, path, columns)
                header_line, word = None, "record"
            else:
                df, lines = _read_csv(path.read_bytes(), table, issue)
                names = list(df.columns)
                db.register("_dasa_referral_arrow", df.select(table.names).with_columns(lines.alias("line")).to_arrow())
                referrals_sql.text_view_of_frame(db, "_dasa_referral_arrow")
                header_line, word = 1, "line"
            extra = [c for c in names if c not in table.names]
            try:
                n = referrals_sql.read(db, year, rel, word, header_line, extra, known_services, integer,
                                       [(i.row, i.field, i.level, i.code, i.message) for i in found])
            except (duckdb.IOException, duckdb.InvalidInputException) as exc:  # a broken page of the file
                if referrals_sql._exists(db, referrals_sql.RAW_TABLE):
                    db.execute(f"delete from {referrals_sql.RAW_TABLE} where financial_year = ?", [year])
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise _SetAside("unreadable_file",
                                f"cannot be read as a Parquet table of text and numbers ({first})") from None
        except _SetAside as exc:
            return _set_aside(out, exc, year, rel)
        if own:
            cols = ["financial_year", "file", "line", *table.names]
            out.frame = pl.DataFrame(db.execute(
                f"select {', '.join(cols)} from {referrals_sql.RAW_TABLE} where financial_year = ? order by line",
                [year]).to_arrow_table(), schema=empty_frame(table).schema)
            names_ = ["financial_year", "source", "file", "sheet", "row", "column_letter", "field", "level", "code",
                      "message", "subject"]
            out.issues = list(starmap(Issue, db.execute(  # the rows' codes: those of referrals_sql.read
                f"select {', '.join(names_)} from {referrals_sql.ISSUES} order by rowid").fetchall()))
        else:
            out.in_db, out.n_rows = True, n
            row = db.execute(f"select count(*) from {referrals_sql.ISSUES}").fetchone()
            out.n_issues = int(row[0]) if row else 0
        return out
    finally:
        try:
            db.unregister("_dasa_referral_arrow")
        except duckdb.Error:
            pass
        if own:
            db.close()


# --- reading ---------------------------------------------------------------------------------


def _read_parquet(path: Path, table: schemas.Table) -> tuple[pl.DataFrame, pl.Series]:
    try:
        df = pl.read_parquet(path, glob=False)
        df = df.select(pl.all().cast(pl.String))
    except Exception as exc:  # noqa: BLE001 - any failure of the parser on an untrusted file means the same
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _SetAside("unreadable_file", f"cannot be read as a Parquet table of text and numbers ({first})") from None
    _check_header([c.strip() for c in df.columns], table, header_line=None)
    df = df.rename({c: c.strip() for c in df.columns})
    return df, pl.Series("line", range(1, df.height + 1), dtype=pl.Int64)


def _check_header(names: list[str], table: schemas.Table, header_line: int | None) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise _SetAside("duplicate_column", f"has the column '{name}' twice in its header", header_line, name)
        seen.add(name)
    missing = [c for c in table.names if c not in seen]
    extra = [n for n in names if n not in table.names]
    problems = [("missing_column", f"has no column '{c}' in its header{near(c, extra, 'column')}", header_line, c)
                for c in missing]
    if problems:
        raise _SetAside(*problems[0], more=problems[1:])


def _read_csv(data: bytes, table: schemas.Table, issue) -> tuple[pl.DataFrame, pl.Series]:
    """The CSV's records as text columns, and the line each starts on (the header is line 1).

    A line whose number of fields is not the header's is left out and reported: polars
    would silently fill a short line with empty cells (shifting nothing, but inventing
    "not collected" values) and refuse the whole file for a long one. Blank lines hold no
    record and are skipped.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _SetAside("not_utf8", f"is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be read; "
                                    "save the file as CSV UTF-8", line) from None
    if not text.strip():
        raise _SetAside("empty_file", "is empty: expected a header row on line 1", 1)
    if "\r" in text and "\n" not in text:  # lines ended by a carriage return alone (old Mac files)
        text = text.replace("\r", "\n")
        data = text.encode("utf-8")
    head = text.split("\n", 1)[0]
    if "," not in head and ";" in head:
        raise _SetAside("not_comma_separated", "is separated by semicolons; the contract requires commas", 1)
    if "\t" in head and "," not in head:
        raise _SetAside("not_comma_separated", "is separated by tabs; the contract requires commas", 1)
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(head.rstrip("\r"), newline="")))]
    except (csv.Error, StopIteration) as exc:
        raise _SetAside("unreadable_file", f"has a header row that cannot be read as CSV ({exc})", 1) from None
    _check_header(header, table, header_line=1)
    ncols = len(header)

    def ragged(line: int, n: int, last_line: int | None = None) -> None:
        if last_line is not None and last_line > line:
            issue("cell_error", "ragged_line",
                  f"lines {line} to {last_line} read as one record of {n} field{'s' if n != 1 else ''} (a quote that "
                  f"is not closed?) but the header has {ncols}; these lines are left out", line=line)
            return
        issue("cell_error", "ragged_line",
              f"has {n} field{'s' if n != 1 else ''} but the header has {ncols}; the line is left out, as its "
              "values cannot be matched to the columns (look for a missing or extra comma)", line=line)

    if '"' not in text and "\x1f" not in text:  # one record per line: count the commas with polars
        raw_lines = pl.read_csv(data, has_header=False, separator="\x1f", quote_char=None, new_columns=["text"],
                                infer_schema=False)["text"].slice(1).fill_null("").str.strip_suffix("\r")
        commas = raw_lines.str.count_matches(",", literal=True).alias("commas")
        blank = raw_lines.str.strip_chars() == ""
        good = ~blank & (commas == ncols - 1)
        numbers = pl.Series("line", range(2, raw_lines.len() + 2), dtype=pl.Int64)
        if not raw_lines.len():
            return pl.DataFrame(schema={h: pl.String for h in header}), numbers
        if good.all():  # the usual case: polars reads the file as it is
            return pl.read_csv(data, infer_schema=False, new_columns=header), numbers
        for line, n in pl.DataFrame([numbers, commas]).filter(~blank & ~good).iter_rows():
            ragged(line, n + 1)
        kept = raw_lines.filter(good).to_list()
        if not kept:
            return pl.DataFrame(schema={h: pl.String for h in header}), numbers.filter(good)
        body_bytes = "\n".join([head.rstrip("\r"), *kept]).encode("utf-8")
        return pl.read_csv(body_bytes, infer_schema=False, new_columns=header), numbers.filter(good)

    # quoted fields (which may hold commas or newlines): the csv module keeps each record's line
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    try:
        next(reader)
        start = reader.line_num + 1
        for record in reader:
            if len(record) == ncols:
                for values, v in zip(columns, record):
                    values.append(v)
                lines.append(start)
            elif record and not (len(record) == 1 and record[0].strip() == ""):
                ragged(start, len(record), reader.line_num)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _SetAside("unreadable_file", f"cannot be read as CSV from line {start} on ({exc}); "
                                           "look for a quote that is not closed", start) from None
    df = pl.DataFrame({h: pl.Series(h, v, dtype=pl.String) for h, v in zip(header, columns)})
    return df, pl.Series("line", lines, dtype=pl.Int64)


# --- typing ----------------------------------------------------------------------------------


def _type_column(col: schemas.Column) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, is-bad) expressions for one text column."""
    s = pl.col(col.name).str.strip_chars()
    blank = s.is_null() | (s == "")
    if col.type == "count":
        ok = s.str.contains(r"^[0-9]{1,15}$")  # more digits would not fit (or be a count): an error, not a null
        return pl.when(ok).then(s.cast(pl.Int64, strict=False)).otherwise(None), ~blank & ~ok.fill_null(False)
    if col.type in ("code", "yesno"):
        codes = list(col.codes or schemas.YES_NO)
        ok = s.is_in(codes)
        return pl.when(ok).then(s).otherwise(None), ~blank & ~ok.fill_null(False)
    if col.type == "date":
        parsed = s.str.to_date("%Y-%m-%d", strict=False)
        return parsed.cast(pl.String), ~blank & parsed.is_null()
    if col.type == "codes_list":
        parts = s.str.split(";").list.eval(pl.element().str.strip_chars())
        ok = parts.list.eval(pl.element().is_in(list(col.codes))).list.all()
        return pl.when(blank).then(None).otherwise(s), ~blank & ~ok.fill_null(False)
    return pl.when(blank).then(None).otherwise(pl.col(col.name)), pl.lit(False)


# --- rules between cells and rows ------------------------------------------------------------


def year_bounds(year: str) -> tuple[str, str]:
    start = int(year[:4])
    return f"{start}-04-01", f"{start + 1}-03-31"


def quarter_ends(year: str) -> list[str]:
    start = int(year[:4])
    return [f"{start}-06-30", f"{start}-09-30", f"{start}-12-31", f"{start + 1}-03-31"]


def _check_rows(table: schemas.Table, year: str, raw: pl.DataFrame, frame: pl.DataFrame,
                known_services: set[str] | None, issue, word: str = "line") -> tuple[pl.DataFrame, pl.Series | None]:
    """Rules on each row; returns the frame (a group given without by-and-for removed) and
    the lines (`word`: line, or record for Parquet) to leave out of the table (or None)."""
    left_out: list[int] = []

    if table.unique:  # a second line with the same key: left out, so the record counts once
        keys = list(table.unique)
        has_key = pl.all_horizontal(pl.col(k).is_not_null() for k in keys)
        keyed = frame.filter(has_key).select("line", *keys)
        repeated = keyed.filter(~pl.struct(keys).is_first_distinct())
        dups = keyed.head(0).with_columns(pl.lit(None, pl.Int64).alias("first_line"))
        if repeated.height:
            first = keyed.group_by(keys).agg(pl.col("line").min().alias("first_line"))
            dups = repeated.join(first, on=keys).sort("line")
        for row in dups.iter_rows(named=True):
            what = ", ".join(f"{k} {row[k]!r}" for k in keys)
            issue("cell_error", "duplicate_key",
                  f"repeats {what} of {word} {row['first_line']}; this {word} is left out, so the record counts once",
                  line=row["line"], fld=keys[0])
            left_out.append(row["line"])

    if table is schemas.REFERRALS:
        first_day, last_day = year_bounds(year)
        outside = frame.filter(pl.col("referral_date").is_not_null()
                               & ((pl.col("referral_date") < first_day) | (pl.col("referral_date") > last_day)))
        for line, date in outside.select("line", "referral_date").iter_rows():
            issue("cell_error", "outside_year",
                  f"referral_date {date} is outside {year} ({first_day} to {last_day}); the referral is left out "
                  "of this year's figures", line=line, fld="referral_date")
            left_out.append(line)
        reason_blank = raw.select(pl.col("decline_reason").str.strip_chars().fill_null("").eq("").alias("blank"))
        no_reason = frame.with_columns(reason_blank["blank"]).filter(
            (pl.col("outcome") == "declined") & pl.col("blank"))
        for (line,) in no_reason.select("line").iter_rows():
            issue("cell_error", "missing_decline_reason",
                  "outcome is 'declined' but decline_reason is empty; the referral counts as declined with its "
                  f"reason not recorded (enter one of: {', '.join(schemas.DECLINE_REASONS)})",
                  line=line, fld="decline_reason")
        if known_services is not None:
            unknown = frame.filter(pl.col("service_id").is_not_null()
                                   & ~pl.col("service_id").is_in(sorted(known_services)))
            for line, sid in unknown.select("line", "service_id").iter_rows():
                issue("cell_error", "unknown_service",
                      f"service_id {sid!r} is not in refuge_services.csv; the referral counts in England's figures "
                      "but in no region or authority", line=line, fld="service_id")

    if table is schemas.REFUGE_SERVICES:  # the by-and-for rule, as for the authority returns
        no_group = frame.filter((pl.col("by_and_for") == "yes") & pl.col("by_and_for_group").is_null())
        for line, sid in no_group.select("line", "service_id").iter_rows():
            issue("cell_error", "by_and_for_without_group",
                  f"service {sid!r} is by-and-for but gives no by_and_for_group; it counts as by-and-for in no group",
                  line=line, fld="by_and_for_group")
        stray = frame.filter((pl.col("by_and_for") == "no") & pl.col("by_and_for_group").is_not_null())
        for line, sid, group in stray.select("line", "service_id", "by_and_for_group").iter_rows():
            issue("cell_error", "group_without_by_and_for",
                  f"service {sid!r} is not by-and-for but gives by_and_for_group {group!r}; the group is not used",
                  line=line, fld="by_and_for_group")
        if stray.height:
            frame = frame.with_columns(pl.when(pl.col("by_and_for") == "no").then(None)
                                       .otherwise(pl.col("by_and_for_group")).alias("by_and_for_group"))
        over = frame.filter(pl.col("wheelchair_accessible_bedspaces") > pl.col("bedspaces"))
        for line, sid, wheel, beds in over.select("line", "service_id", "wheelchair_accessible_bedspaces",
                                                  "bedspaces").iter_rows():
            issue("warning", "wheelchair_above_bedspaces",
                  f"service {sid!r} gives {wheel} wheelchair accessible bedspaces but {beds} bedspaces; "
                  "both are used as sent", line=line, fld="wheelchair_accessible_bedspaces")

    if table is schemas.MARAC_QUARTERLY:
        ends = quarter_ends(year)
        odd = frame.filter(pl.col("quarter_end").is_not_null() & ~pl.col("quarter_end").is_in(ends))
        for line, q in odd.select("line", "quarter_end").iter_rows():
            issue("cell_error", "not_a_quarter_end",
                  f"quarter_end {q} is not the last day of a quarter of {year} ({', '.join(ends)}); "
                  f"the {word} is left out", line=line, fld="quarter_end")
            left_out.append(line)
        parts = [c for c in table.names if c.startswith("cases_") and c != "cases_discussed"] + ["repeat_cases"]
        for part in parts:
            over = frame.filter(pl.col(part) > pl.col("cases_discussed"))
            for line, mid, n, total in over.select("line", "marac_id", part, "cases_discussed").iter_rows():
                issue("warning", "above_cases_discussed",
                      f"Marac {mid!r}: {part} {n} is more than cases_discussed {total}; both are used as sent",
                      line=line, fld=part)

    return frame, (pl.Series("line", sorted(set(left_out)), dtype=pl.Int64) if left_out else None)


def _check_marac_quarters(year: str, frame: pl.DataFrame, issue) -> None:
    """A Marac without figures for a quarter (no row, or no cases_discussed): one missing is
    filled from its previous quarter by the staging step; two or more leave it out."""
    ends = quarter_ends(year)
    have = frame.filter(pl.col("cases_discussed").is_not_null()).group_by("marac_id").agg(
        pl.col("quarter_end").unique())
    have_by = {m: set(q) for m, q in have.iter_rows()}
    for marac in sorted(set(frame["marac_id"].drop_nulls().to_list())):
        missing = [q for q in ends if q not in have_by.get(marac, set())]
        if not missing:
            continue
        if len(missing) == 1:
            source = "next" if missing[0] == ends[0] else "previous"
            issue("warning", "marac_quarter_filled",
                  f"Marac {marac!r} has no figures for the quarter ending {missing[0]}; it is filled from the "
                  f"{source} quarter", fld="quarter_end", subject=marac)
        else:
            issue("warning", "marac_left_out",
                  f"Marac {marac!r} has no figures for {len(missing)} quarters (ending {', '.join(missing)}); "
                  f"it is left out of the {year} rates", fld="quarter_end", subject=marac)
