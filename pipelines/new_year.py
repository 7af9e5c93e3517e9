"""`dasa new-year YYYY-YY`: the folders and settings a new year's release needs.

It makes `<raw>/<year>/` with one folder per source and an empty decisions file, and
`reports/years/<year>.yaml` with a TODO placeholder for each setting (publication date,
status, contact, statistician, next update): a draft build accepts a placeholder, `dasa release --final` refuses it and
names it. It never overwrites a file that is already there. It then says what the reference
data lacks for the year and what the build will assume (pipelines/reference.py), and what to
do next.
"""

from __future__ import annotations

from pathlib import Path

from pipelines import preflight, reference, schemas
from pipelines.paths import RAW_DIR
from pipelines.quality import DECISIONS_FILE
from pipelines.release.config import PLACEHOLDER, YEARS_DIR

YEAR_FILE = """# The {year} release: what changes with each year. Replace each {todo} before
# `dasa release --final` (a draft accepts them); see reports/README.md.
publication_date: {todo}  # the date the release is published, YYYY-MM-DD
status: {todo}  # one of the four status labels of reports/release.yaml
contact: {todo}  # the responsible statistician's email address
statistician: {todo}  # the responsible statistician's name (and role)
next_update: {todo}  # when the next release is due, in words: "October 2027 (provisional)"
# updates: change notes after publication, newest last: - {{date: YYYY-MM-DD, note: "Revised figures for ..."}}
# commentary: the statistician's words, by main_points or section id; numbers only as
#   {{{{ figure("measure.breakdown.geography_code") }}}} (reports/README.md)
"""

DECISIONS = """# Decisions on the issues `dasa check` finds in the {year} inputs (docs/decisions/0009):
# one entry per issue id, with the decision (accept or reject), the reason, who and when.
decisions: []
"""


def scaffold(year: str, raw_dir: Path, years_dir: Path = YEARS_DIR) -> list[str]:
    """Make what is missing for `year`; return the lines to print (what was made, what was
    already there, what the reference data lacks, what to do next)."""
    lines: list[str] = []
    folder = Path(raw_dir) / year

    def made(path: Path, what: str) -> None:
        lines.append(f"  made {path}{'/' if path.is_dir() else ''}  ({what})")

    for source in schemas.SOURCES:
        sub = folder / source.folder
        if sub.is_dir():
            lines.append(f"  kept {sub}/ (already there)")
        else:
            sub.mkdir(parents=True)
            made(sub, f"{source.label}: put its files here")
    for path, text, what in (
        (folder / DECISIONS_FILE, DECISIONS.format(year=year), "the statistician's decisions on the issues found"),
        (years_dir / f"{year}.yaml", YEAR_FILE.format(year=year, todo=PLACEHOLDER),
         "the publication date, status and contact: fill in each TODO"),
    ):
        if path.exists():
            lines.append(f"  kept {path} (already there)")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            made(path, what)
    notes = reference.assumptions([year]) + preflight.reference_problems([year])
    if notes:
        lines.append("Reference data:")
        lines += [f"  {n}" for n in notes]
    lines += [
        "Next:",
        f"  1. Put each authority's return in {folder / 'authority_returns'}/ and the Women's Aid and "
        f"SafeLives extracts in their folders.",
        f"  2. dasa check --year {year}{_raw_option(raw_dir)}   (query lists for the authorities; "
        f"record decisions in {folder / DECISIONS_FILE})",
        f"  3. dasa release --year {year}{_raw_option(raw_dir)}   (a draft while anything is open)",
        f"  4. Fill in {years_dir / f'{year}.yaml'}, then dasa release --year {year}{_raw_option(raw_dir)} --final",
    ]
    return lines


def _raw_option(raw_dir: Path) -> str:
    return "" if Path(raw_dir).resolve() == RAW_DIR.resolve() else f" --raw-dir {raw_dir}"

