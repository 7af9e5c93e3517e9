"""The `dasa` command: build a release, regenerate the sample data."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
import time
from pathlib import Path

from pipelines.paths import PROJECT_DIR, RAW_DIR

COMMANDS = ("release", "sample", "verify", "trace")


def _year(text: str) -> str:
    from pipelines.ingest.cells import parse_year

    value, problem = parse_year(text)
    if problem or value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a financial year like 2024-25")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # suggest the nearest command on a typo
        if "invalid choice" in message and len(sys.argv) > 1:
            close = difflib.get_close_matches(sys.argv[1], COMMANDS, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        super().error(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dasa", description="Domestic Abuse Safe Accommodation statistics: build the release.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=argparse.ArgumentParser)

    r = sub.add_parser("release", help="build the statistical release of a financial year",
                       description="Build the release of a financial year from a raw folder.")
    r.add_argument("--year", type=_year, help="financial year, e.g. 2024-25 (default: the latest in the raw folder)")
    r.add_argument("--raw-dir", type=Path, default=RAW_DIR,
                   help="folder laid out like data/raw/, one sub-folder per financial year (default: data/raw)")
    r.add_argument("--out-dir", type=Path,
                   help="write the release here instead of data/processed/releases/<year>/")
    r.add_argument("--all", action="store_true", dest="all_years",
                   help="build the release of every year up to --year (each in data/processed/releases/<year>/)")

    s = sub.add_parser("sample", help="regenerate the bundled sample data in data/raw",
                       description="Regenerate the deterministic sample data (data/raw/<year>/).")
    s.add_argument("--year", type=_year, action="append", help="only this financial year (repeatable)")
    s.add_argument("--out", type=Path, default=RAW_DIR, help="folder to write into (default: data/raw)")
    v = sub.add_parser("verify", help="re-hash a release's files against its manifest.json",
                       description="Check every output file of a release (and its inputs) against manifest.json.")
    v.add_argument("release_dir", type=Path, help="a release folder, e.g. data/processed/releases/2024-25")
    v.add_argument("--raw-dir", type=Path, default=RAW_DIR,
                   help="also re-hash the inputs found here (default: data/raw)")
    add_trace_parser(sub)
    return p


def add_trace_parser(sub) -> None:
    t = sub.add_parser("trace", help="print how one published figure was made",
                       description="Print the chain behind a figure: query, inputs, cells, rounding and suppression. "
                                   "Unrounded values are shown only when the restricted audit bundle is present.")
    t.add_argument("figure_id", help="e.g. turned_away_rate.all.E92000001.2024-25 (see data/figures.csv)")
    t.add_argument("--year", type=_year, help="the release to read (default: the figure's own year)")
    t.add_argument("--release", type=Path, dest="release_dir",
                   help="a release folder (default: data/processed/releases/<year>)")


def cmd_trace(args: argparse.Namespace) -> int:
    from pipelines.paths import RELEASES_DIR
    from pipelines.trace import split_id, trace

    year = args.year or split_id(args.figure_id)[3]
    release_dir = args.release_dir or (RELEASES_DIR / year if year else None)
    if release_dir is None or not release_dir.is_dir():
        print(f"dasa: no release folder for {args.figure_id!r}; give --release DIR or --year YYYY-YY",
              file=sys.stderr)
        return 2
    code, text = trace(args.figure_id, release_dir)
    (sys.stdout if code == 0 else sys.stderr).write(text)
    return code


def _quiet_dagster() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR))
    logging.getLogger("dagster").setLevel(logging.ERROR)
    os.environ.setdefault("DAGSTER_LOG_LEVEL", "ERROR")


def cmd_release(args: argparse.Namespace) -> int:
    _quiet_dagster()
    from pipelines.build import BuildError, build_release

    start = time.monotonic()
    try:
        result = build_release(raw_dir=args.raw_dir, year=args.year, out_dir=args.out_dir,
                               all_years=args.all_years, echo=lambda line: print(line, flush=True))
    except BuildError as exc:
        print(f"dasa: {exc}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - start
    try:
        where = result.release_dir.resolve().relative_to(Path.cwd())
    except ValueError:
        where = result.release_dir.resolve()
    print()
    print(f"Release {result.year} written to {where}/index.html")
    print(f"  returns received: {result.returns_received} of {result.returns_expected} expected"
          + (f" ({result.quarantined} set aside with structural errors)" if result.quarantined else ""))
    print(f"  cell errors (treated as not collected): {result.cell_errors}; warnings: {result.warnings}")
    print(f"  see 'Data quality and coverage' in the release for each one; built in {elapsed:.1f} s")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from pipelines.sample_data import generate

    written = generate(args.out, years=args.year)
    print(f"Wrote {len(written)} files under {args.out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pipelines.manifest import verify

    raw = args.raw_dir if args.raw_dir and args.raw_dir.is_dir() else None
    result = verify(args.release_dir, raw)
    for problem in result.problems:
        print(f"  {problem}")
    if result.ok:
        print(f"OK: {result.checked} files match {args.release_dir / 'manifest.json'}")
        return 0
    print(f"{len(result.problems)} difference(s) from {args.release_dir / 'manifest.json'}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handler = {"release": cmd_release, "sample": cmd_sample, "verify": cmd_verify, "trace": cmd_trace}[args.command]
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
