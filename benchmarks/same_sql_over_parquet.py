"""Benchmark: the staging and metric SQL run unchanged over a raw layer kept as Parquet files.

The way past one machine of decision 0025 keeps the raw layer as Parquet in object storage,
partitioned by financial year, and runs the same SQL files over views of it. Object storage
cannot be reached here, so a local folder stands in for the bucket (DuckDB reads `s3://` paths
with the same `read_parquet` once `httpfs` is loaded):

1. every `raw_*` and `ref_*` table of a built warehouse (the project's, read only; with none,
   one built in a temporary folder) is written as Parquet, hive-partitioned by
   `financial_year` where the table has one (`<lake>/<table>/financial_year=<year>/*.parquet`);
2. a new in-memory DuckDB gets one view per table over those files, with the table's columns
   in their order;
3. every SQL file under `assets/staging` and `assets/metrics` is built there by the pipeline's
   own `warehouse.build_table`, in the order of what each reads, and each `stg_*` and `metric_*`
   result is compared row for row (EXCEPT ALL both ways) with the warehouse's.

It prints the time of each part (medians of `--rounds`, default 3) beside the same SQL built
over the warehouse's own tables copied into memory, the size of the Parquet lake, and whether
every table is equal. Not a test: a slow machine never fails the suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines import warehouse  # noqa: E402
from pipelines.expectations_sql import literal, q  # noqa: E402
from pipelines.paths import PROCESSED_DIR  # noqa: E402


def _warehouse() -> tuple[Path, Path | None]:
    """A built warehouse (the project's, else one built in a temporary folder) and that folder."""
    db = PROCESSED_DIR / "dasa.duckdb"
    if db.exists():
        return db, None
    state = Path(tempfile.mkdtemp(prefix="dasa-bench-lake-"))
    env = {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory"}
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "release", "--all", "--out-dir", str(state / "site"),
                           "--audit-dir", str(state / "audit"), "--wait", "0"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the build failed:\n{done.stdout}\n{done.stderr}")
    return state / "dasa.duckdb", state


def _in_order() -> list[warehouse.SqlFile]:
    return warehouse.in_build_order((*warehouse.sql_files("staging"), *warehouse.sql_files("metrics")))


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                      "AND database_name = 'w' ORDER BY column_index", [table]).fetchall()]


def export(db: Path, lake: Path) -> list[str]:
    """Every raw and reference table of the warehouse as Parquet under `lake`; their names."""
    con = duckdb.connect(config={"threads": 2})
    con.execute(f"ATTACH {literal(str(db))} AS w (READ_ONLY)")
    tables = [t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'w' AND schema_name = 'main' "
        "AND (starts_with(table_name, 'raw_') OR starts_with(table_name, 'ref_')) ORDER BY 1").fetchall()]
    for table in tables:
        folder = lake / table
        folder.mkdir(parents=True)
        by_year = "financial_year" in _columns(con, table)
        target = folder if by_year else folder / "data.parquet"
        con.execute(f"COPY (SELECT * FROM w.{q(table)}) TO {literal(str(target))} "
                    f"(FORMAT parquet{', PARTITION_BY (financial_year)' if by_year else ''})")
    con.close()
    return tables


def build(con: duckdb.DuckDBPyConnection) -> None:
    for sql in _in_order():
        warehouse.build_table(con, sql)


def over_lake(db: Path, lake: Path, tables: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose raw and reference tables are views over the lake's files."""
    con = duckdb.connect(config={"threads": 2})
    con.execute(f"ATTACH {literal(str(db))} AS w (READ_ONLY)")
    for table in tables:
        cols = ", ".join(q(c) for c in _columns(con, table))
        one = lake / table / "data.parquet"
        files = one if one.exists() else lake / table / "**" / "*.parquet"
        con.execute(f"CREATE VIEW main.{q(table)} AS SELECT {cols} FROM read_parquet({literal(str(files))}, "
                    "hive_partitioning = true, hive_types_autocast = false)")
    con.execute("USE memory")
    return con


def copied(db: Path, tables: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding copies of the warehouse's raw and reference tables."""
    con = duckdb.connect(config={"threads": 2})
    con.execute(f"ATTACH {literal(str(db))} AS w (READ_ONLY)")
    for table in tables:
        con.execute(f"CREATE TABLE memory.main.{q(table)} AS SELECT * FROM w.{q(table)}")
    con.execute("USE memory")
    return con


def differing(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The stg_* and metric_* tables whose rows differ from the warehouse's."""
    out = []
    for sql in _in_order():
        t = q(sql.table)
        for a, b in ((f"memory.main.{t}", f"w.main.{t}"), (f"w.main.{t}", f"memory.main.{t}")):
            row = con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchone()
            if row is None or row[0]:
                out.append(sql.table)
                break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    db, state = _warehouse()
    tmp = Path(tempfile.mkdtemp(prefix="dasa-bench-lake-"))
    times: dict[str, list[float]] = {"write the lake": [], "SQL over the lake": [], "SQL over copied tables": []}
    wrong: set[str] = set()
    try:
        for _ in range(args.rounds):
            shutil.rmtree(tmp / "lake", ignore_errors=True)
            start = time.perf_counter()
            tables = export(db, tmp / "lake")
            times["write the lake"].append(time.perf_counter() - start)
            for kind in ("SQL over the lake", "SQL over copied tables"):
                con = over_lake(db, tmp / "lake", tables) if kind == "SQL over the lake" else copied(db, tables)
                start = time.perf_counter()
                build(con)
                times[kind].append(time.perf_counter() - start)
                wrong |= {f"{t} ({kind})" for t in differing(con)}
                con.close()
        size = sum(p.stat().st_size for p in (tmp / "lake").rglob("*") if p.is_file())
        files = sum(1 for p in (tmp / "lake").rglob("*.parquet"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if state is not None:
            shutil.rmtree(state, ignore_errors=True)
    print(f"The staging and metric SQL ({len(_in_order())} files) over {len(tables)} raw and reference tables, "
          f"medians of {args.rounds} rounds:")
    for kind, values in times.items():
        print(f"  {kind:24} {statistics.median(values):6.2f} s")
    ratio = statistics.median(times["SQL over the lake"]) / statistics.median(times["SQL over copied tables"])
    print(f"  the lake: {files} Parquet files, {size / 1e6:.1f} MB; SQL over the lake / over tables: {ratio:.2f}")
    print("  every stg_* and metric_* table equal to the warehouse's" if not wrong
          else f"  DIFFERENT from the warehouse: {', '.join(sorted(wrong))}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
