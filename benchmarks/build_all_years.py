"""Benchmark: wall time and peak memory of a full build of every year's release.

Starts from a clean data/processed (the warehouse, Dagster storage and releases are
removed), runs `dasa release --all` in a child process, and prints the figures. Run it with
`make bench`; it is not a test, so a slow machine never fails the suite.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
PROCESSED = PROJECT / "data" / "processed"


def main() -> int:
    for name in ("dasa.duckdb", "dasa.duckdb.wal", "work", "dagster", "releases"):
        p = PROCESSED / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "release", "--all"], cwd=PROJECT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n")
        return proc.returncode
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    releases = sorted(p.name for p in (PROCESSED / "releases").iterdir() if p.is_dir())
    size = sum(f.stat().st_size for f in (PROCESSED / "releases").rglob("*") if f.is_file())
    print(f"full build of {len(releases)} releases ({', '.join(releases)}) from a clean data/processed")
    print(f"  wall time:   {wall:.1f} s (target: under 30 s)")
    print(f"  peak memory: {peak_mib:.0f} MiB (maximum resident set size of the build process)")
    print(f"  output:      {size / 1e6:.1f} MB in data/processed/releases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
