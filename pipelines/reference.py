"""The project's reference data (ONS geography and population), read from data/reference/."""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path

import duckdb

from pipelines.paths import REFERENCE_DIR
from pipelines.safe_paths import duckdb_file

REFERENCE_TABLES = {
    "ref_tier1_by_financial_year": "tier1_by_financial_year.csv",
    "ref_tier1_authorities": "tier1_authorities.csv",
    "ref_population": "population.csv",
    "ref_police_force_areas": "police_force_areas.csv",
    "ref_la_to_pfa": "la_to_pfa.csv",
    "ref_reorganisations": "reorganisations.csv",
    "ref_published_figures": "published_figures.csv",
}


REFERENCE_ENV = "DASA_REFERENCE_DIR"  # set by `--reference-dir`: a researcher's own reference folder


def reference_dir() -> Path:
    """The reference folder in use: `$DASA_REFERENCE_DIR` (`dasa ... --reference-dir DIR`), else
    the project's data/reference/."""
    given = os.environ.get(REFERENCE_ENV)
    return Path(given) if given else REFERENCE_DIR


def missing_files(folder: Path | None = None) -> list[str]:
    """The reference files a folder lacks (each table of REFERENCE_TABLES is one CSV)."""
    folder = folder or reference_dir()
    return [f for f in sorted(set(REFERENCE_TABLES.values())) if not (folder / f).is_file()]


def _rows(name: str) -> tuple[dict, ...]:
    return _rows_in(reference_dir(), name)


@cache
def _rows_in(folder: Path, name: str) -> tuple[dict, ...]:
    with (folder / name).open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


def reorganisations() -> tuple[dict, ...]:
    return _rows("reorganisations.csv")


def tier1_years() -> list[str]:
    """The financial years the Tier 1 list holds, oldest first."""
    return sorted({r["financial_year"] for r in _rows("tier1_by_financial_year.csv")})


def carried_from(year: str) -> str | None:
    """The year whose Tier 1 list `year` carries forward: None when the reference data holds
    `year` itself, or holds no earlier year either."""
    held = tier1_years()
    if year in held:
        return None
    earlier = [y for y in held if y < year]
    return earlier[-1] if earlier else None


def tier1_rows(year: str) -> tuple[dict, ...]:
    """The Tier 1 authorities of a financial year (rows of tier1_by_financial_year.csv). A year
    the file does not hold carries forward the last year it does, changed by every
    reorganisation that takes effect after that year began and by the start of this one
    (reorganisations.csv): the predecessors leave, the successors join (their name, type and
    region from tier1_authorities.csv). Empty when no earlier year is held."""
    rows = tuple(r for r in _rows("tier1_by_financial_year.csv") if r["financial_year"] == year)
    base = carried_from(year)
    if rows or base is None:
        return rows
    after, until = f"{base[:4]}-04-01", f"{year[:4]}-04-01"
    changes = [r for r in reorganisations() if after < r["effective_date"] <= until]
    gone = {r["predecessor_code"] for r in changes}
    known = {r["gss_code"]: r for r in _rows("tier1_authorities.csv")}
    by_code = {r["gss_code"]: {**r, "financial_year": year}
               for r in _rows("tier1_by_financial_year.csv") if r["financial_year"] == base and r["gss_code"] not in gone}
    for r in changes:
        k = known.get(r["successor_code"], {})
        region = next((x for x in _rows("tier1_by_financial_year.csv")
                       if x["financial_year"] == base and x["gss_code"] == r["predecessor_code"]), {})
        by_code[r["successor_code"]] = {
            "financial_year": year, "gss_code": r["successor_code"], "name": k.get("name", r["successor_name"]),
            "la_type": k.get("la_type", ""), "region_code": k.get("region_code", region.get("region_code", "")),
            "region_name": k.get("region_name", region.get("region_name", ""))}
    return tuple(by_code[c] for c in sorted(by_code))


def expected_authorities(year: str) -> dict[str, dict]:
    """The Tier 1 authorities expected to make a return in a financial year, by GSS code
    (carried forward when the reference data has no list for the year: tier1_rows)."""
    return {r["gss_code"]: r for r in tier1_rows(year)}


def latest_population_year() -> int | None:
    held = [int(r["year"]) for r in _rows("population.csv") if r["gss_code"] == "E92000001" and r["population_all"]]
    return max(held) if held else None


def tier1_assumption(year: str) -> str | None:
    """The sentence saying a year's Tier 1 list is carried forward (None when it is held)."""
    base = carried_from(year)
    if base is None:
        return None
    before = {r["gss_code"] for r in _rows("tier1_by_financial_year.csv") if r["financial_year"] == base}
    now = {r["gss_code"] for r in tier1_rows(year)}
    change = ""
    if before != now:
        change = (f", changed by the reorganisations since: {', '.join(sorted(before - now))} replaced by "
                  f"{', '.join(sorted(now - before))}")
    return (f"The reference data has no Tier 1 authority list for {year}: the {base} list is carried "
            f"forward ({len(now)} authorities{change}).")


def assumptions(years) -> list[str]:
    """What the build assumes for each year the reference data does not cover, one sentence
    each: a Tier 1 list carried forward, a population estimate older than the year."""
    out = []
    latest = latest_population_year()
    for y in years:
        tier1 = tier1_assumption(y)
        if tier1:
            out.append(tier1)
        if latest is not None and latest < int(y[:4]):
            out.append(f"No ONS population estimate for mid-{y[:4]} is held: {y} uses mid-{latest}, the latest.")
    return out


def population(code: str, year: str) -> tuple[int, int] | None:
    """(all residents, mid-year of the estimate) of a geography for a financial year YYYY-YY:
    the ONS mid-YYYY estimate, or the latest before it when mid-YYYY is not held; None when
    the geography has none."""
    return _population_in(reference_dir(), code, year)


@cache
def _population_in(folder: Path, code: str, year: str) -> tuple[int, int] | None:
    mid = int(year[:4])
    held = sorted((int(r["year"]), int(r["population_all"])) for r in _rows_in(folder, "population.csv")
                  if r["gss_code"] == code and int(r["year"]) <= mid and r["population_all"])
    return (held[-1][1], held[-1][0]) if held else None


def load_reference(con: duckdb.DuckDBPyConnection, years=()) -> None:
    """The reference tables in the warehouse (`ref_*`), from the reference folder in use; the
    Tier 1 list also holds each of `years` it does not cover, carried forward (tier1_rows)."""
    folder = reference_dir()
    for table, file in REFERENCE_TABLES.items():
        con.execute(
            f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM read_csv(?, header = true, all_varchar = false)',
            [duckdb_file(folder / file)],
        )
    con.execute("ALTER TABLE ref_population ALTER year TYPE INTEGER")
    carried = [r for y in sorted(set(years)) if carried_from(y) for r in tier1_rows(y)]
    if carried:
        columns = [d[0] for d in con.execute("SELECT * FROM ref_tier1_by_financial_year LIMIT 0").description]
        con.executemany(f"INSERT INTO ref_tier1_by_financial_year ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' for _ in columns)})", [[r.get(c) for c in columns] for r in carried])
