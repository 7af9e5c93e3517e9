"""The project's reference data (ONS geography and population), read from data/reference/."""

from __future__ import annotations

import csv
from functools import cache

from pipelines.paths import REFERENCE_DIR

REFERENCE_TABLES = {
    "ref_tier1_by_financial_year": "tier1_by_financial_year.csv",
    "ref_tier1_authorities": "tier1_authorities.csv",
    "ref_population": "population.csv",
    "ref_police_force_areas": "police_force_areas.csv",
    "ref_la_to_pfa": "la_to_pfa.csv",
    "ref_reorganisations": "reorganisations.csv",
    "ref_published_figures": "published_figures.csv",
}


@cache
def _rows(name: str) -> tuple[dict, ...]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as f:
        return tuple(csv.DictReader(f))


@cache
def expected_authorities(year: str) -> dict[str, dict]:
    """The Tier 1 authorities expected to make a return in a financial year, by GSS code."""
    return {r["gss_code"]: r for r in _rows("tier1_by_financial_year.csv") if r["financial_year"] == year}


@cache
def population(code: str, year: str) -> tuple[int, int] | None:
    """(all residents, mid-year of the estimate) of a geography for a financial year YYYY-YY:
    the ONS mid-YYYY estimate, or the latest before it when mid-YYYY is not held; None when
    the geography has none."""
    mid = int(year[:4])
    held = sorted((int(r["year"]), int(r["population_all"])) for r in _rows("population.csv")
                  if r["gss_code"] == code and int(r["year"]) <= mid and r["population_all"])
    return (held[-1][1], held[-1][0]) if held else None
