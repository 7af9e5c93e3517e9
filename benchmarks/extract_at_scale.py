"""Benchmark: a release of a year whose Women's Aid referrals extract is N rows of Parquet.

Makes a contract-following `referrals.parquet` of N rows (default 50,000,000; `--rows`),
deterministically (the same bytes for the same N), in a temporary copy of data/raw in place
of the latest year's referrals, with the service ids of that year's refuge_services.csv.
Then, side by side and round by round (`--runs`, default 3):

- `dasa release --year <latest> --raw-dir TMPRAW --out-dir TMP --audit-dir TMP`, with the
  warehouse, lock and run storage in the temporary folder (DASA_STATE_DIR,
  DASA_DAGSTER_STORAGE=memory): the project's data/processed is never touched;
- the same release from the sample data as it is (the "sample build": what a release costs
  whatever the size of the extract);
- a bare DuckDB query of the same rejection-rate figures (England and every region, all
  referrals and by support need) over the same file.

Each is a child process of its own, and its peak memory is that child's maximum resident
set size (`resource.getrusage(RUSAGE_CHILDREN)` read in a one-off wrapper process, so one
run's peak never hides another's). It prints the medians, the ratio
(release - sample build) / bare DuckDB, memory per million rows and rows per second. Not a
test: a slow machine never fails the suite.
"""

from __future__ import annotations

import argparse
import csv
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
RAW = PROJECT / "data" / "raw"
REFERENCE = PROJECT / "data" / "reference"

OUTCOMES = ["accepted", "accepted", "accepted", "declined", "declined", "withdrawn", "pending"]
REASONS = ["no_capacity", "needs_not_met", "nrpf", "risk_or_safety", "unable_to_contact", "other"]
NEEDS = ["mental_health", "drugs", "alcohol", "disability", "nrpf", "large_family", "older_son", "offending"]


def latest_year(raw: Path) -> str:
    return sorted(p.name for p in raw.iterdir() if p.is_dir() and p.name[:4].isdigit())[-1]


def service_ids(raw: Path, year: str) -> list[str]:
    with (raw / year / "womens_aid" / "refuge_services.csv").open(newline="", encoding="utf-8") as f:
        return [r["service_id"] for r in csv.DictReader(f) if r["service_type"] == "refuge"]


def make_referrals(path: Path, rows: int, year: str, services: list[str]) -> None:
    """N referrals following the contract (unique ids, dates in the year, a decline reason
    exactly when declined), made by DuckDB from the row number alone: deterministic."""
    import duckdb

    start = int(year[:4])
    con = duckdb.connect(config={"threads": 2, "memory_limit": "2GB", "preserve_insertion_order": True})
    try:
        con.execute(f"""copy (
            with n as (select i, hash(i) as h from range({rows}) t(i))
            select printf('{year[2:4]}{year[5:7]}-%09d', i + 1) as referral_id,
                   (?::varchar[])[1 + (h % {len(services)})::int] as service_id,
                   strftime(date '{start}-04-01' + ((h >> 8) % 365)::int, '%Y-%m-%d') as referral_date,
                   (?::varchar[])[1 + ((h >> 20) % {len(OUTCOMES)})::int] as outcome,
                   case when (?::varchar[])[1 + ((h >> 20) % {len(OUTCOMES)})::int] = 'declined'
                        then (?::varchar[])[1 + ((h >> 28) % {len(REASONS)})::int] end as decline_reason,
                   ((h >> 36) % 4)::bigint as children,
                   case when (h >> 40) % 3 = 0 then null
                        when (h >> 40) % 3 = 1 then (?::varchar[])[1 + ((h >> 44) % 8)::int]
                        else (?::varchar[])[1 + ((h >> 44) % 8)::int] || ';'
                             || (?::varchar[])[1 + ((h >> 48) % 8)::int] end as support_needs
            from n order by i
        ) to '{path}' (format parquet, compression zstd, row_group_size 1000000)""",
                    [services, OUTCOMES, OUTCOMES, REASONS, NEEDS, NEEDS, NEEDS])
    finally:
        con.close()


def bare_query(path: Path, services_csv: Path, reference: Path) -> str:
    """The rejection rate (England and every region; all referrals and by support need) of
    the file, by DuckDB alone: the floor under the release's own work on the extract."""
    return f"""
        with s as (
            select s.service_id, a.region_code
            from read_csv('{services_csv}', all_varchar = true) s
            left join (select distinct gss_code, region_code
                       from read_csv('{reference / "tier1_by_financial_year.csv"}', all_varchar = true)) a
                using (gss_code)
        ),
        r as (
            select s.region_code, r.outcome, r.support_needs
            from read_parquet('{path}') r left join s using (service_id)
        ),
        needs as (
            select region_code, outcome, trim(need) as need
            from r, unnest(string_split(coalesce(support_needs, ''), ';')) t(need) where trim(need) <> ''
        ),
        parts as (
            select region_code, 'all' as breakdown, outcome from r
            union all select region_code, need, outcome from needs
        )
        select region_code, breakdown,
               count(*) filter (where outcome in ('declined', 'withdrawn')) as numerator,
               count(*) filter (where outcome in ('accepted', 'declined', 'withdrawn')) as denominator
        from parts group by grouping sets ((region_code, breakdown), (breakdown)) order by all
    """


def measured(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one child, measured by a one-off wrapper."""
    wrapper = ("import resource,subprocess,sys,time,json\n"
               "t=time.perf_counter(); p=subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "w=time.perf_counter()-t\n"
               "print(json.dumps({'wall': w, 'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,"
               "'rc': p.returncode, 'out': p.stdout[-4000:], 'err': p.stderr[-4000:]}))\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], env=env, cwd=cwd, capture_output=True, text=True,
                          check=True)
    res = json.loads(proc.stdout)
    if res["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res['rc']}):\n{res['out']}\n{res['err']}")
    return res["wall"], res["rss"], res["out"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = ap.parse_args(argv)
    year = latest_year(RAW)
    tmp = Path(tempfile.mkdtemp(prefix="dasa-extract-bench-"))
    try:
        raw = tmp / "raw"
        shutil.copytree(RAW, raw)
        wa = raw / year / "womens_aid"
        (wa / "referrals.csv").unlink(missing_ok=True)
        parquet = wa / "referrals.parquet"
        t0 = time.perf_counter()
        make_referrals(parquet, args.rows, year, service_ids(raw, year))
        print(f"made {args.rows:,} referrals of {year} in {time.perf_counter() - t0:.1f} s: "
              f"{parquet.stat().st_size / 1e6:.0f} MB of Parquet (in {tmp})", flush=True)

        def release(raw_dir: Path, name: str) -> list[str]:
            return [sys.executable, "-m", "pipelines.cli", "release", "--year", year, "--raw-dir", str(raw_dir),
                    "--out-dir", str(tmp / name / "site" / year), "--audit-dir", str(tmp / name / "audit"), "--wait", "0"]

        def env_of(name: str) -> dict:
            state = tmp / name / "state"
            state.mkdir(parents=True, exist_ok=True)
            return {**os.environ, "DASA_STATE_DIR": str(state), "DASA_DAGSTER_STORAGE": "memory"}

        query = bare_query(parquet, wa / "refuge_services.csv", REFERENCE)
        bare = [sys.executable, "-c",
                "import duckdb,sys; c=duckdb.connect(config={'threads': 2}); print(len(c.execute(sys.argv[1]).fetchall()))",
                query]
        results: dict[str, list[tuple[float, float]]] = {"release": [], "sample": [], "bare": []}
        for run in range(args.runs):
            for name, cmd in (("bare", bare), ("sample", release(RAW, "sample")), ("release", release(raw, "big"))):
                shutil.rmtree(tmp / name, ignore_errors=True)
                wall, rss, _ = measured(cmd, env_of(name), PROJECT)
                results[name].append((wall, rss))
                print(f"  run {run + 1}: {name:8} {wall:7.1f} s {rss:7.0f} MiB", flush=True)
        med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in results.items()}
        over = med["release"][0] - med["sample"][0]
        millions = args.rows / 1e6
        print(f"\n{args.rows:,} referrals ({year}), medians of {args.runs} runs")
        print(f"  dasa release:        {med['release'][0]:7.1f} s  {med['release'][1]:7.0f} MiB peak")
        print(f"  sample build:        {med['sample'][0]:7.1f} s  {med['sample'][1]:7.0f} MiB peak")
        print(f"  bare DuckDB query:   {med['bare'][0]:7.1f} s  {med['bare'][1]:7.0f} MiB peak")
        print(f"  ratio (release - sample) / bare: {over / med['bare'][0]:.2f} (target: at most 3)")
        print(f"  release peak memory: {med['release'][1] / 1024:.2f} GiB (target: at most 4), "
              f"{med['release'][1] / millions:.1f} MiB per million rows")
        print(f"  rows per second: release {args.rows / med['release'][0]:,.0f} "
              f"(over the sample build {args.rows / max(over, 1e-9):,.0f}), bare {args.rows / med['bare'][0]:,.0f}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
