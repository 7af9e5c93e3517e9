"""Benchmark: the floor under a clean build, beside the build itself, run by run.

The floor is what no build of the four sample years can avoid on this machine: starting
Python and importing the libraries the pipeline uses (polars, duckdb, dagster,
great-expectations, jinja2; not plotly, which no step imports), then reading and hashing
every input file and every cell of every authority return (SHA-256 of the file; calamine, the pipeline's reader, for the
cells). The build is `dasa release --all --out-dir` from nothing, in a temporary folder:
it never touches the project's warehouse, releases or vintages.

Each round runs the floor and the build one after the other, so a busy machine slows both;
the medians and the median of the per-round ratios are printed. `make bench` runs it;
`--rounds N` (default 3).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

FLOOR = r"""
import hashlib, sys
from pathlib import Path
import polars, duckdb, dagster, great_expectations, jinja2  # noqa: F401
from python_calamine import CalamineWorkbook

raw = Path(sys.argv[1])
h, cells = hashlib.sha256(), 0
for path in sorted(p for p in raw.rglob("*") if p.is_file()):
    data = path.read_bytes()
    h.update(hashlib.sha256(data).digest())
    if path.suffix == ".xlsx":
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python():
                for value in row:
                    h.update(repr(value).encode())
                    cells += 1
print(cells, h.hexdigest())
"""


def _run(args: list[str], env: dict | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, peak resident MiB (of this child alone) and the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(after, before) / 1024, done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)

    floors, builds, ratios, peaks = [], [], [], []
    for n in range(1, args.rounds + 1):
        state = Path(tempfile.mkdtemp(prefix="dasa-bench-"))
        try:
            env = {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": str(state / "dagster"),
                   "GX_ANALYTICS_ENABLED": "False"}
            f_wall, _, f = _run([sys.executable, "-c", FLOOR, str(PROJECT / "data" / "raw")], env)
            if f.returncode != 0:
                print(f.stdout, f.stderr)
                return 1
            out = state / "site"
            years = sorted(x.name for x in (PROJECT / "data" / "raw").iterdir() if x.is_dir())
            b_wall, peak, b = _run([sys.executable, "-m", "pipelines.cli", "release", "--all", "--out-dir", str(out),
                                    "--audit-dir", str(state / "audit"), "--wait", "0"], env)
            if b.returncode != 0:
                print(b.stdout, b.stderr)
                return 1
        finally:
            shutil.rmtree(state, ignore_errors=True)
        floors.append(f_wall)
        builds.append(b_wall)
        ratios.append(b_wall / f_wall)
        peaks.append(peak)
        print(f"round {n}: floor {f_wall:.1f} s ({f.stdout.split()[0]} cells), build of {len(years)} years "
              f"{b_wall:.1f} s, ratio {b_wall / f_wall:.1f}x", flush=True)
    print(f"floor (imports, read and hash every input and cell): median {statistics.median(floors):.1f} s")
    print(f"build of every year from nothing:                    median {statistics.median(builds):.1f} s, "
          f"peak memory {max(peaks):.0f} MiB")
    print(f"ratio build / floor, paired by round:                median {statistics.median(ratios):.1f}x "
          f"(target: 2.5x or less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
