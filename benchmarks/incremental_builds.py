"""Benchmark: what a build costs when little has changed since the last one.

In a temporary copy of the bundled raw folder (the project's data/processed is never
touched), the final release of the latest year is built from nothing, then again with nothing
changed, then round by round:

- a resubmission: an authority's second submission (`_s2.xlsx`, one count changed) is added,
  then taken away again (each is one changed return);
- a changed extract: one referral's outcome in the Women's Aid extract is changed, then put
  back.

Each build is `dasa release --final --out-dir ... --audit-dir ...` in its own process, timed
whole (wall seconds, peak memory of the process). The medians of each kind are printed, with
the ratio to the build from nothing. Last, the release the incremental builds left is compared
file by file with a build from nothing (`--clean`) of the same inputs: they must be the same
bytes (build.json apart, which records when it was built). `make bench` runs it;
`--rounds N` (default 3).

Beside them, the floor of any build in a process of its own (`_orchestration_floor`): Python
started, the modules of a build imported, the project's kind of Dagster instance opened and a
two-asset job run in the process, with no data at all. A build in a new process cannot be faster
than this, whatever it reuses (docs/decisions/0024-incremental-builds.md).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
AUTHORITY = "E06000001_hartlepool"


def _build(tmp: Path, env: dict, *extra: str, out: str = "site", audit: str = "restricted") -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one `dasa release` in its own process."""
    start = time.perf_counter()
    code = ("import resource, runpy, sys; sys.argv = ['dasa'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('pipelines.cli', run_name='__main__')\n"
            "finally:\n    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, "release", "--final", "--raw-dir", str(tmp / "raw"),
                           "--out-dir", str(tmp / out / "latest"), "--audit-dir", str(tmp / audit), *extra],
                          cwd=PROJECT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the build failed:\n{done.stdout}\n{done.stderr}")
    peak = max(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK "))
    return wall, peak / 1024


FLOOR = """
import dagster as dg
import pipelines.build as build
import pipelines.definitions  # noqa: F401  (what a build loads)

@dg.asset
def first() -> int:
    return 1

@dg.asset
def second(first: int) -> int:
    return first + 1

dg.materialize([first, second], instance=build.dagster_instance(), raise_on_error=True)
"""


def _orchestration_floor(tmp: Path, env: dict) -> float:
    """Wall seconds of a process that imports a build's modules and runs two empty assets on
    a Dagster instance of the project's kind (its own storage folder)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FLOOR], cwd=PROJECT, capture_output=True, text=True,
                          env={**env, "DAGSTER_HOME": str(PROJECT), "DASA_DAGSTER_STORAGE": str(tmp / "dagster-floor")})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the floor process failed:\n{done.stdout}\n{done.stderr}")
    return wall


def _latest(raw: Path) -> str:
    return sorted(p.name for p in raw.iterdir() if p.is_dir())[-1]


def _resubmit(raw: Path, year: str) -> Path:
    """An authority's second submission: the first with one count one more, a later date."""
    from openpyxl import load_workbook

    folder = raw / year / "authority_returns"
    wb = load_workbook(folder / f"{AUTHORITY}_s1.xlsx")
    about = wb["about"]
    for row in about.iter_rows(min_row=2):
        if row[0].value == "submission_number":
            row[1].value = 2
    supported = wb["supported"]
    supported["F2"].value = int(supported["F2"].value or 0) + 1  # refuge: children
    path = folder / f"{AUTHORITY}_s2.xlsx"
    wb.save(path)
    return path


def _flip_referral(raw: Path, year: str, original: bytes) -> None:
    """One referral accepted instead of withdrawn (or the reverse): the extract as sent, but one outcome."""
    rows = list(csv.reader(io.StringIO(original.decode("utf-8-sig"))))
    header = rows[0]
    outcome, reason = header.index("outcome"), header.index("decline_reason")
    for row in rows[1:]:
        if row[outcome] in ("accepted", "withdrawn") and not row[reason]:
            row[outcome] = "withdrawn" if row[outcome] == "accepted" else "accepted"
            break
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    (raw / year / "womens_aid" / "referrals.csv").write_text(text.getvalue(), encoding="utf-8")


def _same(a: Path, b: Path) -> list[str]:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    if files_a != files_b:
        return sorted({str(p) for p in set(files_a) ^ set(files_b)})
    return [str(p) for p in files_a if p.name != "build.json" and not filecmp.cmp(a / p, b / p, shallow=False)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dasa-bench-incremental-") as name:
        tmp = Path(name)
        shutil.copytree(PROJECT / "data" / "raw", tmp / "raw")
        env = {**os.environ, "DASA_STATE_DIR": str(tmp / "state"), "DASA_DAGSTER_STORAGE": str(tmp / "dagster"),
               "GX_ANALYTICS_ENABLED": "False"}
        year = _latest(tmp / "raw")
        referrals = tmp / "raw" / year / "womens_aid" / "referrals.csv"
        original = referrals.read_bytes()
        times: dict[str, list[float]] = {"from nothing": [], "nothing changed": [], "resubmission": [],
                                         "changed extract": []}
        peaks: dict[str, list[float]] = {k: [] for k in times}

        def timed(kind: str, *extra: str) -> None:
            wall, peak = _build(tmp, env, *extra)
            times[kind].append(wall)
            peaks[kind].append(peak)
            print(f"  {kind:16} {wall:6.2f} s  {peak:6.0f} MiB", flush=True)

        print(f"Final release of {year}, built in {tmp}:")
        timed("from nothing", "--clean")
        timed("nothing changed")
        for _ in range(args.rounds):
            added = _resubmit(tmp / "raw", year)
            timed("resubmission")
            added.unlink()
            timed("resubmission")
            _flip_referral(tmp / "raw", year, original)
            timed("changed extract")
            referrals.write_bytes(original)
            timed("changed extract")
        _resubmit(tmp / "raw", year)
        _flip_referral(tmp / "raw", year, original)
        timed("changed extract")
        floor = statistics.median(_orchestration_floor(tmp, env) for _ in range(args.rounds + 2))
        _build(tmp, {**env, "DASA_STATE_DIR": str(tmp / "state-clean")}, "--clean", out="clean",
               audit="restricted-clean")
        differing = _same(tmp / "site" / "latest", tmp / "clean" / "latest")
        base = statistics.median(times["from nothing"])
        print(f"\nMedians on this machine ({args.rounds} rounds; ratio to the build from nothing):")
        for kind, values in times.items():
            med = statistics.median(values)
            print(f"  {kind:16} {med:6.2f} s  x{med / base:4.2f}  peak {statistics.median(peaks[kind]):5.0f} MiB"
                  f"  ({len(values)} builds)")
        print(f"  {'floor of a build':16} {floor:6.2f} s  x{floor / base:4.2f}  (a new process: imports, the Dagster "
              f"instance, a two-asset run; median of {args.rounds + 2})")
        print(f"  resubmission over the floor: {statistics.median(times['resubmission']) - floor:.2f} s; "
              f"target for the whole resubmission: 5 s")
        print("incremental release = release from nothing, byte for byte (build.json apart): "
              + ("yes" if not differing else f"NO, differing: {', '.join(differing[:10])}"))
        return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
