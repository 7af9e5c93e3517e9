"""Benchmark: `validate_year` with the DuckDB SQL engine (the default) against Great
Expectations on pandas frames (the reference), for each year of the sample warehouse.

Builds the sample warehouse of every year once in a temporary folder (`dasa release --all`,
in this process; data/processed is never touched), then times `validate_year` for each year
with each engine, alternating rounds so that a busy machine slows both alike, and prints the
median of each, the ratio, and what importing GX costs the first time (paid once per build by
the reference engine alone). Run it with `make bench`; it is not a test.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines import build, validation

ROUNDS = 5


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dasa-bench-validation-") as tmp:
        db = Path(tmp) / "dasa.duckdb"
        build.build_release(out_dir=Path(tmp) / "site", db_path=db, audit_dir=Path(tmp) / "restricted",
                            all_years=True)
        con = duckdb.connect(str(db))
        try:
            years = [y for (y,) in con.execute("SELECT DISTINCT financial_year FROM raw_authority_returns__files "
                                               "ORDER BY 1").fetchall()]
            start = time.perf_counter()
            validation._gx()  # the import and the context, once per process
            gx_import = time.perf_counter() - start
            for engine in validation.ENGINES:  # warm-up: caches of suites and staged columns
                validation.validate_year(con, years[-1], engine=engine)
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(ROUNDS):
                for year in years:
                    for engine in validation.ENGINES:
                        start = time.perf_counter()
                        validation.validate_year(con, year, engine=engine)
                        times.setdefault((year, engine), []).append(time.perf_counter() - start)
        finally:
            con.close()
    print(f"validate_year on the sample warehouse, median of {ROUNDS} rounds (after a warm-up)")
    print(f"  {'year':8} {'duckdb':>9} {'GX':>9} {'GX / duckdb':>12}")
    total = {e: 0.0 for e in validation.ENGINES}
    for year in years:
        fast, ref = (statistics.median(times[(year, e)]) for e in validation.ENGINES)
        total["duckdb"] += fast
        total["great_expectations"] += ref
        print(f"  {year:8} {fast:8.2f}s {ref:8.2f}s {ref / fast:11.1f}x")
    fast, ref = total["duckdb"], total["great_expectations"]
    print(f"  {'all':8} {fast:8.2f}s {ref:8.2f}s {ref / fast:11.1f}x")
    print(f"  importing GX and making its context (once per process, reference engine only): {gx_import:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
