"""Read the record-level extracts (Women's Aid, SafeLives): CSV, or Parquet for referrals.

Columns are read as text and typed by the declaration in `pipelines.schemas`, column by
column with polars (extracts can be millions of rows). Each row keeps its `line` in the
file (the header is line 1) so a figure can be traced to the rows that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines import schemas
from pipelines.manifest import sha256 as sha256_file
from pipelines.ingest.issues import Issue

SOURCE_FOLDERS = {"womens_aid": "womens_aid", "safelives": "safelives"}


@dataclass
class ExtractRead:
    table: schemas.Table
    file: str | None = None
    sha256: str | None = None
    frame: pl.DataFrame | None = None
    issues: list[Issue] = field(default_factory=list)
    status: str = "ok"


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


def read_extract(raw_dir: Path, year: str, table: schemas.Table) -> ExtractRead:
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

    def structural(code: str, message: str, line: int | None = None, fld: str | None = None) -> ExtractRead:
        out.issues.append(Issue(year, table.source, rel, None, line, None, fld, "structural", code, message))
        out.status = "quarantined"
        out.frame = empty_frame(table)
        return out

    first_row = 2
    try:
        if path.suffix == ".parquet":
            df = pl.read_parquet(path)
            df = df.select(pl.all().cast(pl.String))
            first_row = 1
        else:
            data = path.read_bytes()
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            head = data.split(b"\n", 1)[0]
            if b"," not in head and b";" in head:
                return structural("not_comma_separated", "is separated by semicolons; the contract requires commas", line=1)
            df = pl.read_csv(data, infer_schema=False, encoding="utf8", truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return structural("unreadable_file", f"cannot be read as a {path.suffix[1:].upper()} table ({first})")

    df = df.rename({c: c.strip() for c in df.columns})
    missing = [c for c in table.names if c not in df.columns]
    for c in missing:
        structural("missing_column", f"has no column '{c}' in its header", line=1 if first_row == 2 else None, fld=c)
    if missing:
        return out
    for c in df.columns:
        if c not in table.names:
            out.issues.append(Issue(year, table.source, rel, None, 1 if first_row == 2 else None, None, c,
                                    "warning", "extra_column", f"has an extra column '{c}', which is ignored"))

    df = df.select(table.names).with_row_index("line", offset=first_row).with_columns(pl.col("line").cast(pl.Int64))
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
    out.frame = df.select(typed)
    bad_cells = pl.concat(problems).sort("line", "field") if problems else None
    if bad_cells is not None:
        for line, fld, raw in bad_cells.iter_rows():
            col = table.column(fld)
            out.issues.append(Issue(year, table.source, rel, None, line, None, fld, "cell_error", f"bad_{col.type}",
                                    f"column '{fld}' holds {raw!r}, {_expected(col)}; treated as not collected"))
    return out


def _expected(col: schemas.Column) -> str:
    if col.type == "count":
        return "but a count must be a whole number 0 or more"
    if col.type == "date":
        return "but a date must be YYYY-MM-DD"
    if col.type in ("code", "yesno"):
        codes = col.codes or schemas.YES_NO
        return f"which is not one of: {', '.join(codes)}"
    if col.type == "codes_list":
        return f"but every ';'-separated code must be one of: {', '.join(col.codes)}"
    return "which is not allowed"


def _type_column(col: schemas.Column) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, is-bad) expressions for one text column."""
    s = pl.col(col.name).str.strip_chars()
    blank = s.is_null() | (s == "")
    if col.type == "count":
        ok = s.str.contains(r"^[0-9]+$")
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
