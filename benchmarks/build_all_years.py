"""Benchmark: wall time and peak memory of a full build of every year's release.

Builds `dasa release --all` from nothing in a child process, with its warehouse, lock and
releases in a temporary folder (DASA_STATE_DIR, --out-dir, --audit-dir): the project's
data/processed (its releases, vintages and warehouse) is never touched. Run it with
`make bench`; it is not a test, so a slow machine never fails the suite.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def main() -> int:
    state = Path(tempfile.mkdtemp(prefix="dasa-bench-"))
    try:
        env = {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory"}
        out = state / "site"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "release", "--all", "--out-dir", str(out),
                               "--audit-dir", str(state / "audit"), "--wait", "0"],
                              cwd=PROJECT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, sep="\n")
            return proc.returncode
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        releases = sorted(p.name for p in out.iterdir() if p.is_dir())
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(state, ignore_errors=True)
    print(f"full build of {len(releases)} releases ({', '.join(releases)}) from nothing, in a temporary folder")
    print(f"  wall time:   {wall:.1f} s (target: under 30 s)")
    print(f"  peak memory: {peak_mib:.0f} MiB (maximum resident set size of the build process)")
    print(f"  output:      {size / 1e6:.1f} MB of releases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
