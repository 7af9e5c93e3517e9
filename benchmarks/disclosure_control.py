"""Benchmark: time of disclosure control on the sample data, what the disclosure audit adds,
and the information withheld.

Reads the metric tables of the warehouse a build left in data/processed/dasa.duckdb (read
only), or of one it builds in a temporary folder when there is none. For each year alone and for every year together (as a build does),
median of 3 runs of:

- `exact only`: disclosure control with secondary suppression against exact recovery alone
  (decision 0006, what the build did before the audit);
- `audited`: the same followed by rounds of linear-programming audit and repair (decision 0012);
- `check`: the blocking asset check's own audit of the published figures.

The audit's cost is `audited - exact only + check`. Then the authority figures withheld:
by the primary rules alone (before secondary suppression), after exact-only protection and
after the audited protection. Run it with `make bench`; it is not a test.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
import time

import duckdb
import polars as pl

import pipelines.disclosure as disclosure
from pipelines import metric_catalog
from pipelines.disclosure import DisclosureSettings, Publisher
from pipelines.paths import PROCESSED_DIR
from pipelines.release_assets import collect_metrics, information_loss
from pipelines.suppression import protect

RUNS = 3


def _timed(fn):
    times, out = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _exact_only(problem, primary, width, threshold):
    return protect(problem, primary), None


def _withheld(figures: pl.DataFrame, log: pl.DataFrame) -> tuple[int, int, int]:
    loss = information_loss(figures, log)
    return int(loss["authority_cells"].sum()), int(loss["primary"].sum()), int(loss["suppressed"].sum())


def main() -> int:
    db = PROCESSED_DIR / "dasa.duckdb"  # read only; with none, a warehouse built in a temporary folder
    state = None
    if not db.exists():
        state = Path(tempfile.mkdtemp(prefix="dasa-bench-"))
        env = {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory"}
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "release", "--all", "--out-dir",
                               str(state / "site"), "--audit-dir", str(state / "audit"), "--wait", "0"],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        db = state / "dasa.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'metric_%' ORDER BY 1").fetchall()]
    metrics = collect_metrics(con, tables)
    con.close()
    if state is not None:
        shutil.rmtree(state, ignore_errors=True)
    years = sorted(metrics["financial_year"].unique().to_list())
    measures, settings = metric_catalog.measures(), DisclosureSettings()
    print(f"disclosure control on the sample data (median of {RUNS} runs; protection width "
          f"{settings.protection_width})")
    audited_secure = disclosure.secure
    for label, frame in [*((y, metrics.filter(pl.col("financial_year") == y)) for y in years), ("all years", metrics)]:
        disclosure.secure = _exact_only
        t_exact, (f_exact, log_exact) = _timed(lambda frame=frame: (lambda p: (p.publish(frame), p.suppression_log))(
            Publisher(measures, settings)))
        disclosure.secure = audited_secure
        pub = Publisher(measures, settings)
        t_audited, figures = _timed(lambda frame=frame: (lambda p: (p.publish(frame), p))(Publisher(measures, settings)))
        figures, pub = figures
        t_check, audits = _timed(lambda pub=pub, frame=frame, figures=figures: pub.audit_published(frame, figures))
        cells, primary, after = _withheld(figures, pub.suppression_log)
        _, _, exact_after = _withheld(f_exact, log_exact)
        audited = sum(len(a.intervals) for a in audits.values())
        narrowest = min((a.narrowest for a in audits.values() if a.narrowest is not None), default=0)
        failing = sum(len(a.failing) for a in audits.values())
        print(f"  {label:>9}: exact only {t_exact:5.2f} s, audited {t_audited:5.2f} s, check {t_check:5.2f} s "
              f"-> audit adds {t_audited - t_exact + t_check:5.2f} s | {audited:,} cells audited, fewest values "
              f"{narrowest}, under-protected {failing}")
        print(f"  {'':>9}  authority figures {cells:,}: withheld by primary rules {100 * primary / cells:.1f} %, "
              f"after exact-only protection {100 * exact_after / cells:.1f} %, after audited protection "
              f"{100 * after / cells:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
