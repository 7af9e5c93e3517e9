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

Medians over the rounds are printed, wall and CPU seconds (the step's process, its DuckDB
threads and its worker processes: CPU time moves less than wall time on a shared machine);
`--rounds N`, default 3; `--builds N` whole builds, default 1. `--project DIR` times another
checkout of the code (a worktree of an earlier commit, say); `--against DIR` times another
checkout round by round beside this one, on copies of the same warehouse, for a before and
after. `make bench` runs it.
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
import json, os, resource, sys, time
from pathlib import Path


def cpu():  # seconds of CPU of this process, its threads and its finished worker processes
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


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
    t, c = time.perf_counter(), cpu()
    build_published_figures(con, tables, settings=settings)
    times["published_figures"], times["published_figures cpu"] = time.perf_counter() - t, cpu() - c
    t, c = time.perf_counter(), cpu()
    run_disclosure_audit(con, tables, settings)
    times["disclosure_audit"], times["disclosure_audit cpu"] = time.perf_counter() - t, cpu() - c
    years = [r[0] for r in con.execute("SELECT DISTINCT time_period FROM pub_figures ORDER BY 1").fetchall()]
    for year in years:
        t, c = time.perf_counter(), cpu()
        inputs = gather_release_inputs(con, year, raw_dir=RAW_DIR, disclosure=settings)
        inputs = with_provenance(con, inputs, restricted_audit_dir(out / "audit", year, out / "site" / year))
        write_release_atomically(out / "site" / year, inputs)
        times[f"publish_release {year}"] = time.perf_counter() - t
        times[f"publish_release {year} cpu"] = cpu() - c
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
    p.add_argument("--against", type=Path, help="another checkout, timed round by round beside it (interleaved, "
                                                "on copies of the same warehouse): a before and after")
    args = p.parse_args(argv)
    project = args.project.resolve()
    codes = [project] + ([args.against.resolve()] if args.against else [])

    builds: list[float] = []
    rounds: dict[Path, list[dict[str, float]]] = {code: [] for code in codes}
    base = Path(tempfile.mkdtemp(prefix="dasa-bench-"))
    try:
        for n in range(args.builds):
            state = base / f"build-{n}"
            builds.append(_build(project, state))
            print(f"build {n + 1}: every year from nothing {builds[-1]:.1f} s", flush=True)
        warehouse = base / "build-0" / "dasa.duckdb"
        for n in range(args.rounds):
            for code in codes:
                work = base / f"round-{n}"
                work.mkdir()
                shutil.copy(warehouse, work / "dasa.duckdb")
                done = subprocess.run([sys.executable, "-c", CHILD, str(work / "dasa.duckdb"), str(work)],
                                      cwd=code, env=_env(work), capture_output=True, text=True)
                if done.returncode != 0:
                    print(done.stdout, done.stderr, sep="\n")
                    return 1
                rounds[code].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"round {n + 1} ({code.name}): " + ", ".join(
                    f"{k} {v:.2f} s" for k, v in rounds[code][-1].items() if not k.endswith(" cpu")), flush=True)
                shutil.rmtree(work)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"whole build (--all) of {project}: {statistics.median(builds):.2f} s (median of {len(builds)})")
    for code in codes:
        got = rounds[code]
        print(f"medians over {len(got)} rounds ({code}): wall s, CPU s")
        for key in (k for k in got[0] if not k.endswith(" cpu")):
            cpu = f"{statistics.median(r[key + ' cpu'] for r in got):6.2f}" if key + " cpu" in got[0] else ""
            print(f"  {key:28s} {statistics.median(r[key] for r in got):6.2f} {cpu}")
        for name, prefix in (("disclosure (both)", ("published_figures", "disclosure_audit")),
                             ("publish_release (every year)", ("publish_release",))):
            wall = statistics.median(sum(v for k, v in r.items() if k.startswith(prefix) and not k.endswith(" cpu"))
                                     for r in got)
            cpu = statistics.median(sum(v for k, v in r.items() if k.startswith(prefix) and k.endswith(" cpu"))
                                    for r in got)
            print(f"  {name:28s} {wall:6.2f} {cpu:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
