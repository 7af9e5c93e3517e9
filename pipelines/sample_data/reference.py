"""The reference facts the generator needs, read from `data/reference/` (never from elsewhere)."""

from __future__ import annotations

import csv
import pathlib
from dataclasses import dataclass
from decimal import Decimal

REFERENCE_DIR = pathlib.Path(__file__).resolve().parents[2] / "data" / "reference"

YEARS = ("2021-22", "2022-23", "2023-24", "2024-25")

# Financial year -> ONS mid-year estimate used for it (mid-2022 is the latest held).
POPULATION_YEAR = {"2021-22": "2021", "2022-23": "2022", "2023-24": "2022", "2024-25": "2022"}

ENGLAND = "E92000001"
GLA = "E61000001"


@dataclass(frozen=True)
class Authority:
    gss_code: str
    name: str
    la_type: str
    region_code: str
    population: int
    female_16plus: int


@dataclass(frozen=True)
class PoliceForceArea:
    pfa_code: str
    name: str
    region_code: str
    female_16plus: int


@dataclass(frozen=True)
class Reference:
    authorities: dict[str, list[Authority]]  # financial year -> expected Tier 1 authorities, by code
    population: dict[tuple[str, str], tuple[int, int]]  # (gss, mid-year) -> (all, female 16+)
    pfas: dict[str, list[PoliceForceArea]]  # financial year -> the 39 PFAs with populations
    oracle: dict[str, dict[tuple[str, str], Decimal]]  # year -> (measure, breakdown) -> value

    def england_population(self, year: str) -> int:
        return self.population[(ENGLAND, POPULATION_YEAR[year])][0]

    def england_female_16plus(self, year: str) -> int:
        return self.population[(ENGLAND, POPULATION_YEAR[year])][1]


def _read(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def load(reference_dir: pathlib.Path = REFERENCE_DIR) -> Reference:
    population: dict[tuple[str, str], tuple[int, int]] = {}
    for r in _read(reference_dir / "population.csv"):
        population[(r["gss_code"], r["year"])] = (
            int(r["population_all"]),
            int(r["population_female_16plus"]),
        )

    authorities: dict[str, list[Authority]] = {y: [] for y in YEARS}
    for r in _read(reference_dir / "tier1_by_financial_year.csv"):
        year = r["financial_year"]
        if year not in authorities:
            continue
        pop_all, pop_f16 = population[(r["gss_code"], POPULATION_YEAR[year])]
        authorities[year].append(
            Authority(r["gss_code"], r["name"], r["la_type"], r["region_code"], pop_all, pop_f16)
        )
    for year in YEARS:
        authorities[year].sort(key=lambda a: a.gss_code)

    pfas: dict[str, list[PoliceForceArea]] = {y: [] for y in YEARS}
    for r in _read(reference_dir / "police_force_areas.csv"):
        for year in YEARS:
            _, f16 = population[(r["pfa_code"], POPULATION_YEAR[year])]
            pfas[year].append(PoliceForceArea(r["pfa_code"], r["pfa_name"], r["region_code"], f16))
    for year in YEARS:
        pfas[year].sort(key=lambda p: p.pfa_code)

    oracle: dict[str, dict[tuple[str, str], Decimal]] = {y: {} for y in YEARS}
    for r in _read(reference_dir / "published_figures.csv"):
        if r["oracle"] == "yes" and r["geography"] == "England" and r["financial_year"] in oracle:
            oracle[r["financial_year"]][(r["measure"], r["breakdown"])] = Decimal(r["value"])

    return Reference(authorities=authorities, population=population, pfas=pfas, oracle=oracle)
