"""Benchmark: the disclosure step and the publish step, each timed on its own.

One build of every year from nothing (`dasa release --all --out-dir`, in a temporary folder:
the project's data/processed is never touched) makes the warehouse and gives the wall time
of the whole build. Then each round, in a fresh child process on a copy of that warehouse,
times the steps as Dagster runs them:

- `published_figures`: disclosure control (primary and secondary suppression, the repair
  rounds of the LP audit, rounding, changes) and its tables;
- `disclosure_audit`: the blocking check (the LP audit of every suppressed cell, again,
  from the published figures);
- `publish_release` of each year: the release inputs gathered, provenance collected, the
  release and its audit bundle written (into the temporary folder).

Medians over the rounds are printed (`--rounds N`, default 3; `--builds N` whole builds,
default 1). `--project DIR` times another checkout of the code (a worktree of an earlier
commit, say) with this script, for a before and after. `make bench` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

# run in the project folder (its `pipelines` first on the path): argv db, out folder
CHILD = r"""
import json, os, sys, time
from pathlib import Path

t0 = time.perf_counter()
from pipelines import warehouse
from pipelines.disclosure import DisclosureSettings
from pipelines.paths import RAW_DIR
from pipelines.release_assets import (build_published_figures, gather_release_inputs, restricted_audit_dir,
                                      run_disclosure_audit, with_provenance, write_release_atomically)

db, out = Path(sys.argv[1]), Path(sys.argv[2])
times = {"imports": time.perf_counter() - t0}
tables = [s.table for s in warehouse.sql_files("metrics")]
settings = DisclosureSettings(protection_width=5)  # dasa release's
with warehouse.connect(db) as con:
    t = time.perf_counter()
    build_published_figures(con, tables, settings=settings)
    times["published_figures"] = time.perf_counter() - t
    t = time.perf_counter()
    run_disclosure_audit(con, tables, settings)
    times["disclosure_audit"] = time.perf_counter() - t
    years = [r[0] for r in con.execute("SELECT DISTINCT time_period FROM pub_figures ORDER BY 1").fetchall()]
    for year in years:
        t = time.perf_counter()
        inputs = gather_release_inputs(con, year, raw_dir=RAW_DIR, disclosure=settings)
        inputs = with_provenance(con, inputs, restricted_audit_dir(out / "audit", year, out / "site" / year))
        write_release_atomically(out / "site" / year, inputs)
        times[f"publish_release {year}"] = time.perf_counter() - t
warehouse.close_all()
print(json.dumps(times))
"""


def _env(state: Path) -> dict:
    return {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory",
            "GX_ANALYTICS_ENABLED": "False"}


def _build(project: Path, state: Path) -> float:
    """A build of every year from nothing into `state`; its wall seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "release", "--all", "--out-dir",
                           str(state / "site"), "--audit-dir", str(state / "audit"), "--wait", "0"],
                          cwd=project, env=_env(state), capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n")
        raise SystemExit(1)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--builds", type=int, default=1)
    p.add_argument("--project", type=Path, default=PROJECT, help="the checkout whose code is timed")
    args = p.parse_args(argv)
    project = args.project.resolve()

    builds: list[float] = []
    rounds: list[dict[str, float]] = []
    base = Path(tempfile.mkdtemp(prefix="dasa-bench-"))
    try:
        for n in range(args.builds):
            state = base / f"build-{n}"
            builds.append(_build(project, state))
            print(f"build {n + 1}: every year from nothing {builds[-1]:.1f} s", flush=True)
        warehouse = base / "build-0" / "dasa.duckdb"
        for n in range(args.rounds):
            work = base / f"round-{n}"
            work.mkdir()
            shutil.copy(warehouse, work / "dasa.duckdb")
            done = subprocess.run([sys.executable, "-c", CHILD, str(work / "dasa.duckdb"), str(work)],
                                  cwd=project, env=_env(work), capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout, done.stderr, sep="\n")
                return 1
            rounds.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"round {n + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rounds[-1].items()), flush=True)
            shutil.rmtree(work)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"medians over {len(rounds)} rounds ({project}):")
    for key in rounds[0]:
        print(f"  {key:28s} {statistics.median(r[key] for r in rounds):6.2f} s")
    publish = [sum(v for k, v in r.items() if k.startswith("publish_release")) for r in rounds]
    disclosure = [r["published_figures"] + r["disclosure_audit"] for r in rounds]
    print(f"  {'disclosure (both)':28s} {statistics.median(disclosure):6.2f} s")
    print(f"  {'publish_release (every year)':28s} {statistics.median(publish):6.2f} s")
    print(f"  {'whole build (--all)':28s} {statistics.median(builds):6.2f} s (median of {len(builds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
