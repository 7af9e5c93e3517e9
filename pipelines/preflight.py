"""Before any work: every prerequisite of a command, one sentence each.

`dasa check`, `dasa release` (through `build_release`) and the Dagster definitions ask here
first, so a missing prerequisite ends in a sentence that says what is missing, where, and what
to do (exit 2), never in a traceback half-way through a build. What is checked:

- the raw folder: it exists, holds financial-year folders, holds the year asked for, and that
  year's folder holds some input;
- the reference data (`data/reference/`, or `--reference-dir`): every file is there, and each
  year read has a Tier 1 authority list (its own, or one carried forward from an earlier year:
  pipelines/reference.py) and a population estimate at or before it;
- the configuration: the metric definitions and `reports/release.yaml` match their models, and
  a final release's `reports/years/<year>.yaml` is finished (no TODO placeholder left);
- the output folders: none is in, equal to or above the raw folder, which stays as the
  authorities sent it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipelines import reference, schemas
from pipelines.ingest.cells import parse_year

def new_year_hint(year: str, raw_dir: Path) -> str:
    """The command that makes a year's folder, as it can be copied (quoted whole)."""
    return f"make it with 'dasa new-year {year} --raw-dir {raw_dir}'"


class PreflightError(ValueError):
    """What a command needs and does not have: one sentence per missing prerequisite."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def years_in(raw_dir: Path) -> list[str]:
    """Financial-year folders (`YYYY-YY`) of a raw folder, oldest first."""
    if not raw_dir.is_dir():
        return []
    return sorted(p.name for p in raw_dir.iterdir() if p.is_dir() and parse_year(p.name)[1] is None
                  and parse_year(p.name)[0] is not None)


def raw_folder_problems(raw_dir: Path, year: str | None) -> list[str]:
    """The raw folder and the year's folder in it."""
    if not raw_dir.is_dir():
        what = "is a file, not a folder" if raw_dir.exists() else "does not exist"
        return [f"The raw folder {raw_dir} {what}: give --raw-dir a folder laid out like data/raw/ "
                f"(one sub-folder per financial year), or {new_year_hint(year or 'YYYY-YY', raw_dir)}."]
    years = years_in(raw_dir)
    if not years:
        return [f"The raw folder {raw_dir} holds no financial-year folder (named like 2024-25): "
                f"{new_year_hint(year or 'YYYY-YY', raw_dir)}."]
    if year is not None and year not in years:
        return [f"The raw folder {raw_dir} has no folder for {year} (it has {', '.join(years)}): "
                f"{new_year_hint(year, raw_dir)}."]
    year = year or years[-1]
    folder = raw_dir / year
    if not any(p.is_file() and not p.name.startswith(".") and p.name != "README.txt"
               for s in schemas.SOURCES if (folder / s.folder).is_dir() for p in (folder / s.folder).iterdir()):
        return [f"The {year} folder {folder} holds no input yet: put the authority returns in "
                f"{folder / 'authority_returns'}/ and the extracts in {folder / 'womens_aid'}/ and "
                f"{folder / 'safelives'}/, then run again."]
    return []


def reference_problems(years: Iterable[str]) -> list[str]:
    """The reference folder in use, for the years a command reads."""
    folder = reference.reference_dir()
    if not folder.is_dir():
        return [f"The reference folder {folder} does not exist: give --reference-dir a folder laid out "
                f"like data/reference/."]
    missing = reference.missing_files(folder)
    if missing:
        return [f"The reference folder {folder} lacks {', '.join(missing)}: every command needs them "
                f"(see data/reference/README.md for what each holds)."]
    out = []
    for y in years:
        if not reference.tier1_rows(y):
            out.append(f"The reference data has no Tier 1 authority list for {y}, nor for any year before it "
                       f"to carry forward: add the {y} rows to {folder / 'tier1_by_financial_year.csv'}.")
        if reference.population("E92000001", y) is None:
            out.append(f"The reference data has no population estimate for mid-{y[:4]} or any earlier year: "
                       f"add England's and every authority's to {folder / 'population.csv'}.")
    return out


def configuration_problems(final_years: Iterable[str] = ()) -> list[str]:
    """The metric definitions and the release configuration; for a final release, its year's
    settings finished."""
    from pipelines import metric_catalog
    from pipelines.release.config import ConfigError, load_config

    try:
        metric_catalog.relations(metric_catalog.METRICS_DIR)
        config = load_config()
    except (ConfigError, metric_catalog.MetricDefinitionError) as exc:
        return [f"{exc}. Nothing was built; correct the file and build again."]
    out = []
    for y in final_years:
        unfinished = config.unfinished(y)
        if unfinished:
            out.append(f"A final release of {y} needs its settings: {'; '.join(unfinished)}. Fill them in, "
                       f"or build a draft (without --final).")
    return out


def output_problems(raw_dir: Path, outputs: Iterable[tuple[str, Path]]) -> list[str]:
    """Output folders (option, path) that would write into the raw folder."""
    raw = raw_dir.absolute().resolve()
    out = []
    for option, path in outputs:
        p = path.absolute().resolve()
        if p == raw or raw in p.parents:
            out.append(f"{option} {path} is inside the raw folder {raw_dir}, which must stay as the authorities "
                       f"and extracts sent it: choose a folder outside it.")
        elif p in raw.parents:
            out.append(f"{option} {path} holds the raw folder {raw_dir}; writing there could overwrite inputs: "
                       f"choose a folder outside it.")
    return out


def problems(raw_dir: Path, year: str | None = None, *, read_years: Iterable[str] | None = None,
             final_years: Iterable[str] = (), outputs: Iterable[tuple[str, Path]] = ()) -> list[str]:
    """Every missing or inconsistent prerequisite of a command, one sentence each (empty: go).
    `read_years`: the years it reads (default: `year`, or the latest, and every year before it)."""
    raw_dir = Path(raw_dir)
    found = raw_folder_problems(raw_dir, year)
    if found:
        return found + configuration_problems()
    years = years_in(raw_dir)
    year = year or years[-1]
    read = list(read_years) if read_years is not None else [y for y in years if y <= year]
    return (reference_problems(read) + configuration_problems(final_years)
            + output_problems(raw_dir, outputs))


def check(raw_dir: Path, year: str | None = None, **kwargs) -> None:
    """Raise PreflightError with every problem (nothing when all is there)."""
    found = problems(raw_dir, year, **kwargs)
    if found:
        raise PreflightError(found)
