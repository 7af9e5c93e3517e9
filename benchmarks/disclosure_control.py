"""Benchmark: time of disclosure control (primary and secondary suppression, rounding,
change figures) on the sample data, and the suppressed cells by rule.

Reads the metric tables of the warehouse a build left in data/processed/dasa.duckdb (run
`make release` first); prints the time for each year alone and for every year together, as
a release does. Run it with `make bench`; it is not a test.
"""

from __future__ import annotations

import sys
import time

import duckdb
import polars as pl

from pipelines import metric_catalog
from pipelines.disclosure import DisclosureSettings, Publisher
from pipelines.paths import PROCESSED_DIR
from pipelines.release_assets import collect_metrics


def main() -> int:
    db = PROCESSED_DIR / "dasa.duckdb"
    if not db.exists():
        print(f"{db} does not exist: run `make release` first")
        return 1
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'metric_%' ORDER BY 1").fetchall()]
    metrics = collect_metrics(con, tables)
    con.close()
    years = sorted(metrics["financial_year"].unique().to_list())
    print("disclosure control on the sample data (best of 3 runs)")
    for label, frame in [*((y, metrics.filter(pl.col("financial_year") == y)) for y in years), ("all years", metrics)]:
        best = None
        for _ in range(3):
            pub = Publisher(metric_catalog.measures(), DisclosureSettings())
            start = time.perf_counter()
            figures = pub.publish(frame)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        log = pub.suppression_log
        authority = figures.filter((pl.col("geographic_level") == "local_authority")
                                   & ~pl.col("measure").str.contains("_change"))
        primary = log.filter(pl.col("rule").str.starts_with("primary")
                             & (pl.col("geographic_level") == "local_authority")).height
        secondary = log.filter(pl.col("rule") == "secondary").height
        changes = log.filter(pl.col("rule").str.starts_with("change")).height
        print(f"  {label:>9}: {best:5.2f} s (target: under 2 s a year) | authority figures {authority.height:,}, "
              f"primary {primary:,}, secondary {secondary:,} ({100 * secondary / max(1, authority.height):.1f} %), "
              f"changes suppressed {changes:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
