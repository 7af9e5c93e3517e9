"""The `dasa` command: check the inputs, build a release, regenerate the sample data."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
import time
from pathlib import Path

from pipelines.paths import AUDIT_DIR, PROJECT_DIR, RAW_DIR


def _financial_year(text: str) -> str | None:
    """The financial year `text` names (2024-25), or None."""
    from pipelines.ingest.cells import parse_year

    value, problem = parse_year(text)
    return None if problem else value


def _year(text: str) -> str:
    value = _financial_year(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a financial year like 2024-25")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # suggest the nearest command on a typo
        if "invalid choice" in message and len(sys.argv) > 1:
            close = difflib.get_close_matches(sys.argv[1], list(HANDLERS), n=1)
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
    add_reference_option(r)
    r.add_argument("--audit-dir", type=Path, default=AUDIT_DIR,
                   help="write the restricted audit bundle (unrounded values, suppressed cells; never publish "
                        "it) to AUDIT_DIR/<year>/, a folder neither in, beside nor above the release folder "
                        "(default: data/processed/audit, also with --out-dir)")
    r.add_argument("--all", action="store_true", dest="all_years",
                   help="build the release of every year up to --year (each in data/processed/releases/<year>/, "
                        "or OUT_DIR/<year>/ with --out-dir)")
    r.add_argument("--final", action="store_true",
                   help="build the final release, or refuse (exit 2) while an error is neither fixed by a "
                        "resubmission nor accepted in <raw>/<year>/decisions.yaml")
    r.add_argument("--draft", action="store_true",
                   help="mark the release DRAFT even when no error is open")
    r.add_argument("--clean", action="store_true",
                   help="build from nothing: read every input and make every table and file again, instead "
                        "of reusing what the last build made from the same inputs and code")
    add_wait_option(r)

    c = sub.add_parser("check", help="validate the inputs of a year and write the query lists",
                       description="Read and check one year's inputs without building the release: print a "
                                   "summary, write one query list per authority, and exit 1 while an error is "
                                   "neither fixed by a resubmission nor accepted.")
    c.add_argument("--year", type=_year, help="financial year, e.g. 2024-25 (default: the latest in the raw folder)")
    c.add_argument("--raw-dir", type=Path, default=RAW_DIR,
                   help="folder laid out like data/raw/ (default: data/raw)")
    c.add_argument("--out", type=Path,
                   help="write the query lists here (default: data/processed/queries/<year>/)")
    add_reference_option(c)
    c.add_argument("--all", action="store_true", dest="all_years",
                   help="check every year up to --year (the years a release shows); query lists in OUT/<year>/")
    add_wait_option(c)

    n = sub.add_parser("new-year", help="make the folders and settings of a new year's release",
                       description="Make <raw>/YEAR/ (one folder per source, a decisions file) and "
                                   "reports/years/YEAR.yaml (publication date, status and contact as TODO "
                                   "placeholders: a draft accepts them, --final refuses them); say what the "
                                   "reference data lacks for the year. Nothing already there is overwritten.")
    n.add_argument("year", type=_year, help="the financial year, e.g. 2025-26")
    n.add_argument("--raw-dir", type=Path, default=RAW_DIR, help="the raw folder to make it in (default: data/raw)")
    add_reference_option(n)

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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def add_reference_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reference-dir", type=Path, metavar="DIR",
                   help="read the geography and population reference data from DIR, laid out like "
                        "data/reference/ (default: data/reference)")


def add_wait_option(p: argparse.ArgumentParser) -> None:
    from pipelines.buildstate import DEFAULT_WAIT

    p.add_argument("--wait", type=_seconds, default=DEFAULT_WAIT, metavar="SECONDS",
                   help=f"one build at a time: wait up to SECONDS for a running build to finish, then refuse "
                        f"(exit 2); 0 refuses at once (default: {DEFAULT_WAIT:g})")


def _fault_sentence(exc: BaseException, doing: str) -> str | None:
    """A sentence for a disk or folder fault met outside the build (None for anything else)."""
    from pipelines.buildstate import fault_sentence, find_fault

    fault = find_fault(exc)
    return fault_sentence(fault, doing) if fault is not None else None


def add_trace_parser(sub) -> None:
    t = sub.add_parser("trace", help="print how one published figure was made",
                       description="Print the figure's name, value as published and status, then the chain behind "
                                   "it: rounding and suppression, query, contributing units and cells, input files. "
                                   "A summary of at most 40 lines; --full for every unit, cell and input file. "
                                   "Unrounded values are shown only when the restricted audit bundle is present.")
    t.add_argument("figure_id", help="e.g. turned_away_rate.all.E92000001.2024-25 (see data/figures.csv)")
    t.add_argument("--full", action="store_true",
                   help="every contributing unit, cell (with its value, from the audit bundle) and input file "
                        "with its SHA-256, not a summary")
    t.add_argument("--year", type=_year,
                   help="the release to read (default: the latest release that holds the figure)")
    t.add_argument("--release", type=Path, dest="release_dir",
                   help="a release folder (default: data/processed/releases/<year>)")
    t.add_argument("--audit-dir", type=Path, default=AUDIT_DIR,
                   help="read the restricted audit bundle from AUDIT_DIR/<year of the release>/, as "
                        "'dasa release --audit-dir' wrote it (default: data/processed/audit)")


def cmd_trace(args: argparse.Namespace) -> int:
    from pipelines import paths
    from pipelines.trace import find_release, shown_path, split_id, trace

    year = args.year or split_id(args.figure_id)[3]
    if not args.release_dir and _financial_year(year) is None:
        print(f"dasa: {args.figure_id!r} does not end in a financial year like 2024-25 "
              "(a figure id is measure.breakdown.geography_code.YYYY-YY)", file=sys.stderr)
        return 2
    searched = False
    if args.release_dir:
        release_dir = args.release_dir
    elif args.year:
        release_dir = paths.RELEASES_DIR / args.year
    else:  # every release shows every year: the latest release that holds the figure
        found, looked = find_release(args.figure_id, paths.RELEASES_DIR)
        if found is None:
            print(_not_in_any_release(args.figure_id, looked, paths.RELEASES_DIR), file=sys.stderr)
            return 2
        release_dir, searched = found, True
    if not release_dir.is_dir():
        print(f"dasa: no release folder {shown_path(release_dir)} for {args.figure_id!r}; give --release DIR, "
              "or --year YYYY-YY of a release that was built", file=sys.stderr)
        return 2
    code, text = trace(args.figure_id, release_dir, audit_root=args.audit_dir, full=args.full, searched=searched)
    (sys.stdout if code == 0 else sys.stderr).write(text)
    return code


def _not_in_any_release(figure_id: str, looked: list[Path], releases_dir: Path) -> str:
    """One sentence: the figure is in no release folder (with close ids of the latest release)."""
    from pipelines import provenance
    from pipelines.trace import shown_path, suggestions

    where = shown_path(releases_dir)
    if not looked:
        return (f"dasa: there is no release in {where} to find {figure_id!r} in; build one with dasa release, "
                f"or give --release DIR")
    close = suggestions(figure_id, provenance.load_public(looked[0])[1])
    hint = f" (did you mean {' or '.join(close[:3])}?)" if close else ""
    return (f"dasa: no release in {where} ({', '.join(p.name for p in looked)}) holds the figure {figure_id!r}; "
            f"a figure id reads measure.breakdown.geography_code.year, as in data/figures.csv of a release{hint}")


def _quiet_dagster() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR))
    logging.getLogger("dagster").setLevel(logging.ERROR)
    os.environ.setdefault("DAGSTER_LOG_LEVEL", "ERROR")


def cmd_release(args: argparse.Namespace) -> int:
    _quiet_dagster()
    from pipelines.build import BuildError, build_release
    from pipelines.preflight import PreflightError

    start = time.monotonic()
    if args.final and args.draft:
        print("dasa: --final and --draft cannot be used together", file=sys.stderr)
        return 2
    try:
        result = build_release(raw_dir=args.raw_dir, year=args.year, out_dir=args.out_dir,
                               all_years=args.all_years, echo=lambda line: print(line, flush=True),
                               draft=args.draft, final=args.final, audit_dir=args.audit_dir, wait=args.wait,
                               clean=args.clean)
    except PreflightError as exc:  # what the build needs and lacks: one sentence each
        for sentence in exc.problems:
            print(f"dasa: {sentence}", file=sys.stderr)
        return 2
    except BuildError as exc:
        print(f"dasa: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a fault build_release did not meet itself (it turns its own into BuildError)
        text = _fault_sentence(exc, "The build")
        if text is None:
            raise
        print(f"dasa: {text}", file=sys.stderr)
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
    print(f"  see quality.html in the release for each one; built in {elapsed:.1f} s")
    if result.reused:
        made = ", ".join(result.made)
        print(f"  reused from the last build (their inputs and code are unchanged): {len(result.reused)} of "
              f"{len(result.reused) + len(result.made)} parts; made again: {made or 'none'}")
    assert result.audit_dir is not None  # build_release names the audit bundle of every year it builds
    print(f"  restricted audit bundle (unrounded values; do not publish it): {_where(result.audit_dir)}/")
    if result.draft:
        from pipelines.release.config import load_config

        unfinished = load_config().unfinished(result.year)
        why = "; ".join([*([f"{result.open_errors} error(s) neither fixed by a resubmission nor accepted"]
                           if result.open_errors else []), *unfinished] or ["built with --draft"])
        print(f"  DRAFT: {why}; run 'dasa check' for the query lists")
    else:
        print("  final: every error is fixed by a resubmission or accepted")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    _quiet_dagster()
    from pipelines.paths import PROCESSED_DIR
    from pipelines.quality import DecisionsError
    from pipelines.safe_paths import one_name

    from pipelines import preflight

    start = time.monotonic()
    raw_dir: Path = args.raw_dir
    found = preflight.raw_folder_problems(raw_dir, args.year)
    if not found:
        years = preflight.years_in(raw_dir)
        year = args.year or years[-1]
        checked = [y for y in years if y <= year] if args.all_years else [year]
    else:
        checked = []

    def out_for(y: str) -> Path:
        if args.out is None:
            return PROCESSED_DIR / "queries" / y
        return args.out / one_name(y) if args.all_years else args.out

    if not found:  # before any work: every missing prerequisite, one sentence each
        found = preflight.problems(raw_dir, year, read_years=checked,
                                   outputs=[("--out" if args.out is not None else "the query lists folder",
                                             out_for(y)) for y in checked])
    if found:
        for sentence in found:
            print(f"dasa: {sentence}", file=sys.stderr)
        return 2

    from pipelines.buildstate import BuildError, build_lock, check_writable

    try:
        for y in checked:  # before any work: a folder that cannot be written costs nothing
            check_writable(out_for(y), "--out" if args.out is not None else "the query lists folder")
        with build_lock(args.wait):  # one build at a time: the query lists are written in place
            blocking = _check_years(raw_dir, checked, out_for)
    except (BuildError, DecisionsError) as exc:
        print(f"dasa: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        text = _fault_sentence(exc, "Writing the query lists")
        if text is None:
            raise
        print(f"dasa: {text}", file=sys.stderr)
        return 2
    print(f"Checked in {time.monotonic() - start:.1f} s.")
    return 1 if blocking else 0


def _check_years(raw_dir: Path, checked: list[str], out_for) -> int:
    """Read (the graph's job `check_inputs`, pipelines/build.py), assess and write the query
    lists of each year; the number of blocking problems (DecisionsError for a bad decisions file)."""
    from pipelines.build import read_for_check
    from pipelines.quality import assess, write_query_lists

    from pipelines.reference import assumptions

    con = read_for_check(raw_dir, checked)
    try:
        blocking = 0
        for y in checked:
            for sentence in assumptions([y]):
                print(f"warning (reference data): {sentence}")
            assessment = assess(con, raw_dir, [y])
            out = out_for(y)
            written = write_query_lists(assessment, out)
            print_check_summary(assessment, y, raw_dir, out, len(written) - 1)
            blocking += assessment.open_errors.height
            blocking += print_validation_summary(con, y)
    finally:
        con.close()
    return blocking


def print_validation_summary(con, year: str) -> int:
    """Print what the validation suites of the raw tables found (they ran with the reading;
    the staged ones need a build); returns the number of blocking failures."""
    import polars as pl

    from pipelines import validation, warehouse

    tables = [t.table for t in validation.targets() if t.table.startswith("raw_")
              and warehouse.table_exists(con, t.table)]
    results = con.execute(f"SELECT * FROM {validation.RESULTS_TABLE} WHERE financial_year = ? "
                          "AND table_name IN (SELECT unnest(?))", [year, tables]).pl() \
        if warehouse.table_exists(con, validation.RESULTS_TABLE) else pl.DataFrame(schema=validation.RESULT_SCHEMA)
    blocking, warnings = validation.failures(results), validation.failures(results, validation.WARNING)
    print(f"  validation suites ({len(tables)} raw tables, {results.height} expectations): "
          f"{blocking.height} blocking failure(s), {warnings.height} warning(s)")
    for r in blocking.head(10).iter_rows(named=True):
        print(f"    blocking: {r['table_name']}: {r['details']}")
    for r in warnings.head(5).iter_rows(named=True):
        print(f"    warning: {r['table_name']}: {r['details']}")
    if blocking.height:
        print(f"NOT OK: {blocking.height} blocking validation failure(s) in {year} (table val_results).")
    return blocking.height


def _where(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def print_check_summary(assessment, year: str, raw_dir: Path, out: Path, n_lists: int) -> None:
    import polars as pl

    from pipelines.quality import DECISIONS_FILE, STATUS_WORDS

    returns = assessment.returns
    received = returns.filter(pl.col("received")).height
    print(f"Inputs of {year} in {_where(raw_dir / year)}")
    print(f"  returns received: {received} of {returns.height} expected")
    missing = returns.filter(~pl.col("received"))
    if missing.height:
        print("  no usable return from: " + ", ".join(
            f"{r['authority_name']} ({r['gss_code']})" for r in missing.iter_rows(named=True)))
    if assessment.quarantined:
        print(f"  files set aside (structural errors): {len(assessment.quarantined)}")
        for q in assessment.quarantined:
            print(f"    {q['file']} [{STATUS_WORDS[q['status']]}]: {q['reason']}")
    else:
        print("  files set aside (structural errors): none")
    issues = assessment.issues
    if issues.height:
        print("  problems by authority or extract (level: status):")
        for (code, name), group in issues.group_by(["authority_code", "authority_name"], maintain_order=True):
            label = f"{name} ({code})" if name and code and name != code else (name or code or "unidentified file")
            parts = []
            for (level, status), g in group.group_by(["level", "status"], maintain_order=True):
                noun = {"structural": "structural error", "cell_error": "cell error"}.get(level, level)
                parts.append(f"{g.height} {noun}{'s' if g.height > 1 else ''}: {STATUS_WORDS[status]}")
            print(f"    {label}: " + "; ".join(parts))
    errors = issues.filter(pl.col("level").is_in(["structural", "cell_error"]))
    warnings = issues.filter(pl.col("level") == "warning")

    def by_status(df) -> str:
        return ", ".join(f"{df.filter(pl.col('status') == s).height} {STATUS_WORDS[s].split(' (')[0]}"
                         for s in ("open", "rejected", "accepted", "fixed_by_resubmission"))

    print(f"  errors: {errors.height} ({by_status(errors)})")
    print(f"  warnings: {warnings.height} ({by_status(warnings)})")
    print(f"  query lists: {_where(out)}/ ({n_lists} authority or extract file(s) and all_queries.csv)")
    lines = assessment.open_lines(limit=20)
    if lines:
        print(f"OPEN: {assessment.open_errors.height} error(s) of {year} neither fixed by a resubmission nor "
              f"accepted; the release would be a DRAFT. Ask for a corrected return, or record a decision in "
              f"{_where(raw_dir / year / DECISIONS_FILE)}:")
        for line in lines:
            print(f"  {line}")
    else:
        print(f"OK: no open error in {year}.")


def cmd_sample(args: argparse.Namespace) -> int:
    from pipelines.sample_data import generate

    written = generate(args.out, years=args.year)
    print(f"Wrote {len(written)} files under {args.out}")
    return 0


def cmd_new_year(args: argparse.Namespace) -> int:
    from pipelines.new_year import scaffold

    if args.raw_dir.exists() and not args.raw_dir.is_dir():
        print(f"dasa: the raw folder {args.raw_dir} is a file, not a folder; give --raw-dir a folder", file=sys.stderr)
        return 2
    try:
        lines = scaffold(args.year, args.raw_dir)
    except OSError as exc:
        text = _fault_sentence(exc, "Making the new year's folders")
        print(f"dasa: {text or exc}", file=sys.stderr)
        return 2
    print(f"New year {args.year}:")
    for line in lines:
        print(line)
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


HANDLERS = {"check": cmd_check, "release": cmd_release, "new-year": cmd_new_year, "sample": cmd_sample,
            "trace": cmd_trace, "verify": cmd_verify}  # the commands (a typo is matched against these)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    given = getattr(args, "reference_dir", None)
    if given is not None:  # every reader asks pipelines.reference.reference_dir()
        from pipelines.reference import REFERENCE_ENV

        os.environ[REFERENCE_ENV] = str(Path(given).resolve())
    from pipelines.buildstate import BuildError, memory_limit_setting

    try:
        memory_limit_setting()  # a setting DuckDB would refuse, told before any work
    except BuildError as exc:
        print(f"dasa: {exc}", file=sys.stderr)
        return 2
    try:
        return HANDLERS[args.command](args)
    except Exception as exc:  # a template file is read when the first command needs the schemas
        from pipelines.config_models import TemplateError

        if not isinstance(exc, TemplateError):
            raise
        print(f"dasa: {exc}. Nothing was read; correct the template file and run again.", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
