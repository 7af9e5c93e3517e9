"""Data files shaped for Explore Education Statistics (EES): `data/ees/<family>.csv`, each with
its `<family>.meta.csv`, beside `figures.csv` (docs/decisions/0020-ees-export.md).

One data file per metric family (`assets/metrics/<family>.yaml`). Its columns are EES's:

- `time_period` (`202425` for 2024-25) and `time_identifier` (`Financial year`);
- `geographic_level` (`National`, `Regional`, `Local authority`, `Police force area`) and the
  code and name columns of each level present in the file: `country_code`, `country_name` on
  every row; `region_code`, `region_name` on regional rows and on the rows inside a region;
  `new_la_code`, `la_name`, `old_la_code` on local authority rows; `pfa_code`, `pfa_name` on
  police force area rows;
- one filter, `breakdown`, whose items are the breakdown labels of the release (`Total` for
  the total);
- one indicator per measure of the family, named by the measure id, plus `<id>_numerator` and
  `<id>_denominator` where the release publishes them.

The `.meta.csv` lists the filter and the indicators (label, unit `%` or none, decimal places
as shown in the values). Values are the published ones, copied from the figures the release
writes (`csvfiles.figures_frame`): never recomputed or re-rounded. EES allows no blank cell, so
the release's symbols become EES's (`SYMBOLS`), and a cell with no figure behind it (a measure
not published for that breakdown or geography) is `z`. Changes on the previous year are not
in these files: EES compares years itself, and they stay in `figures.csv`.

DfE's three-digit local authority numbers are not in this project's reference data (nor has
the Greater London Authority one), so `old_la_code` is `x` on every local authority row.
A draft release marks its EES files in their names (`DRAFT_<family>.csv`), as EES allows no
column beyond the standard ones (`draft_name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.cell_text import csv_bytes
from pipelines.release.context import ReleaseContext
from pipelines.release.csvfiles import figures_frame
from pipelines.release.model import LEVEL_ORDER
from pipelines.safe_paths import inside

EES_FOLDER = "ees"  # under the release's data/
TIME_IDENTIFIER = "Financial year"
LEVELS = {
    "national": "National",
    "regional": "Regional",
    "local_authority": "Local authority",
    "police_force_area": "Police force area",
}
ENGLAND = ("E92000001", "England")
# The release's symbols as EES writes them. EES has no break-in-series symbol: a figure
# withheld for a break in series is not available ([b] -> x).
SYMBOLS = {"[x]": "x", "[c]": "c", "[z]": "z", "[low]": "low", "[b]": "x"}
NO_FIGURE = "z"  # a cell no figure of the release stands behind
NOT_LA_NUMBER = "x"  # old_la_code: DfE's LA number is not in the reference data
TOTAL = "Total"  # EES's default filter item: the label of breakdown `all`
FILTER = "breakdown"
META_COLUMNS = ("col_name", "col_type", "label", "indicator_grouping", "indicator_unit", "indicator_dp",
                "filter_hint", "filter_grouping_column")
# geographic columns, in file order (`_place` says which rows fill them)
GEOGRAPHY_COLUMNS = ("country_code", "country_name", "region_code", "region_name", "new_la_code", "la_name",
                     "old_la_code", "pfa_code", "pfa_name")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_YEAR = re.compile(r"([0-9]{4})-([0-9]{2})")
_PLAIN = re.compile(r"[^A-Za-z0-9_-]")


def draft_name(stem: str, draft: bool) -> str:
    """The file stem of an EES file: a draft's says DRAFT (its columns cannot)."""
    return f"DRAFT_{stem}" if draft else stem


def ees_time_period(year: str) -> str:
    """`2024-25` -> `202425`."""
    m = _YEAR.fullmatch(year)
    if m is None:
        raise ValueError(f"time period {year!r} is not a financial year YYYY-YY")
    return m.group(1) + m.group(2)


def ees_value(value: str, where: str) -> str:
    """A published value as an EES indicator cell: the number as published, or EES's symbol."""
    if _NUMBER.fullmatch(value):
        return value
    if value in SYMBOLS:
        return SYMBOLS[value]
    raise ValueError(f"{where}: value {value!r} is neither a number nor a symbol EES has")


def _decimals(text: str) -> int:
    return len(text.partition(".")[2]) if _NUMBER.fullmatch(text) else 0


@dataclass(frozen=True)
class EesFile:
    stem: str
    header: list[str]
    rows: list[list[str]]
    meta: list[list[str]]  # the .meta.csv rows, in META_COLUMNS order

    @property
    def indicator_positions(self) -> set[int]:
        first = self.header.index(FILTER) + 1
        return set(range(first, len(self.header)))


def _family_of(ctx: ReleaseContext, measure: str) -> str:
    m = ctx.idx.catalog.get(measure)
    return _PLAIN.sub("_", m.family if m else measure)


def _labels(ctx: ReleaseContext, measure: str, breakdowns: list[str]) -> dict[str, str]:
    """Filter item of each breakdown of a measure: its label, `Total` for `all` labelled All;
    two breakdowns of one measure never share an item."""
    out = {}
    for b in breakdowns:
        label = ctx.idx.breakdown_label(measure, b)
        out[b] = TOTAL if b == "all" and label == "All" else label
    shared = {lab for lab in out.values() if list(out.values()).count(lab) > 1}
    return {b: f"{lab} ({b})" if lab in shared else lab for b, lab in out.items()}


def ees_files(ctx: ReleaseContext) -> list[EesFile]:
    """The EES data files of a release, one per metric family with figures, in family order."""
    frame = figures_frame(ctx)
    kept = [m for m in frame.get_column("measure").unique().to_list() if not ctx.idx.is_change(m)]
    frame = frame.filter(pl.col("measure").is_in(kept))  # the changes on the previous year stay out
    regions: dict[str, tuple[str, str]] = {}
    if {"region_code", "region_name"} <= set(ctx.figures.columns):
        located = ctx.figures.filter(pl.col("region_code").is_not_null() & (pl.col("region_code") != ""))
        for fid, code, name in located.select("figure_id", "region_code", "region_name").iter_rows():
            regions[fid] = (code, name or "")
    by_measure: dict[str, list[dict[str, str]]] = {}
    for row in frame.iter_rows(named=True):
        by_measure.setdefault(row["measure"], []).append(row)
    catalog_rank = {m: i for i, m in enumerate(ctx.idx.catalog)}
    measures = sorted(by_measure, key=lambda m: (catalog_rank.get(m, len(catalog_rank)), m))
    families: dict[str, list[str]] = {}
    for m in measures:
        families.setdefault(_family_of(ctx, m), []).append(m)
    year_rank = {y: i for i, y in enumerate(ctx.years)}
    return [_family_file(ctx, stem, ms, by_measure, regions, year_rank) for stem, ms in families.items()]


def _family_file(ctx: ReleaseContext, stem: str, measures: list[str], by_measure: dict[str, list[dict[str, str]]],
                 regions: dict[str, tuple[str, str]], year_rank: dict[str, int]) -> EesFile:
    item_rank: dict[str, int] = {}
    columns: list[tuple[str, str, str]] = []  # (column, measure, field)
    cells: dict[tuple[str, str, str, str], dict[str, str]] = {}  # (year, level, code, item) -> column -> cell
    places: dict[tuple[str, str, str, str], dict[str, str]] = {}  # the geography columns of each row
    dp: dict[str, int] = {}  # decimal places shown in each indicator
    shown: dict[str, str] = {}  # ees_value of each published text met (most repeat: symbols, small counts)
    for m in measures:
        rows = by_measure[m]
        labels = _labels(ctx, m, ctx.idx.breakdowns_of(m))
        for b in ctx.idx.breakdowns_of(m):
            item_rank.setdefault(labels[b], len(item_rank))
        fields = ["value"] + [f for f in ("numerator", "denominator") if any(r[f] for r in rows)]
        columns += [(m if f == "value" else f"{m}_{f}", m, f) for f in fields]
        for r in rows:
            level = r["geographic_level"]
            if level not in LEVELS:
                raise ValueError(f"{r['figure_id']}: geographic level {level!r} has no EES level")
            key = (r["time_period"], level, r["geography_code"], labels[r["breakdown"]])
            if key not in places:
                places[key] = _place(r, regions.get(r["figure_id"]))
            value = shown.get(r["value"]) or shown.setdefault(r["value"], ees_value(r["value"], r["figure_id"]))
            row_cells = cells.setdefault(key, {})
            for f in fields:
                column = m if f == "value" else f"{m}_{f}"
                if f == "value":
                    cell = value
                elif r[f]:
                    cell = shown.get(r[f]) or shown.setdefault(r[f], ees_value(r[f], f"{r['figure_id']} {f}"))
                else:  # not published beside this value: as withheld as the value, else not available
                    cell = value if value in ("c", "x", "z") else "x"
                row_cells[column] = cell
                if "." in cell:
                    dp[column] = max(dp.get(column, 0), _decimals(cell))
    filled = {c for place in places.values() for c, v in place.items() if v}
    geo_columns = [c for c in GEOGRAPHY_COLUMNS if c in filled]  # EES takes no column empty throughout
    header = ["time_period", "time_identifier", "geographic_level", *geo_columns, FILTER, *(c for c, _, _ in columns)]
    order = sorted(cells, key=lambda k: (year_rank.get(k[0], len(year_rank)), k[0], LEVEL_ORDER[k[1]],
                                         places[k].get("region_code", ""), k[2], item_rank[k[3]], k[3]))
    out_rows = []
    for key in order:
        year, level, _, item = key
        place = places[key]
        out_rows.append([ees_time_period(year), TIME_IDENTIFIER, LEVELS[level], *(place.get(c, "") for c in geo_columns),
                         item, *(cells[key].get(c, NO_FIGURE) for c, _, _ in columns)])
    meta = [[FILTER, "Filter", "Breakdown", "", "", "", "", ""]]
    for column, m, f in columns:
        title = ctx.idx.title(m)
        label = title if f == "value" else f"{title}: {f}"
        unit = "%" if f == "value" and ctx.idx.unit(m) in ("percent", "%") else ""
        meta.append([column, "Indicator", label, "", unit, str(dp.get(column, 0)), "", ""])
    return EesFile(stem, header, out_rows, meta)


def _place(r: dict[str, str], region: tuple[str, str] | None) -> dict[str, str]:
    """The geography columns of a figure's row."""
    level, code, name = r["geographic_level"], r["geography_code"], r["geography_name"]
    place = {"country_code": code, "country_name": name} if level == "national" else \
        {"country_code": ENGLAND[0], "country_name": ENGLAND[1]}
    if level == "regional":
        place |= {"region_code": code, "region_name": name}
    elif region is not None:
        place |= {"region_code": region[0], "region_name": region[1]}
    if level == "local_authority":
        place |= {"new_la_code": code, "la_name": name, "old_la_code": NOT_LA_NUMBER}
    elif level == "police_force_area":
        place |= {"pfa_code": code, "pfa_name": name}
    return place


def write_ees(out_dir: Path, ctx: ReleaseContext) -> list[Path]:
    """Write `data/ees/<family>.csv` and `<family>.meta.csv` of every family; return the paths."""
    folder = out_dir / "data" / EES_FOLDER
    written: list[Path] = []
    for f in ees_files(ctx):
        folder.mkdir(parents=True, exist_ok=True)
        stem = draft_name(f.stem, ctx.draft)
        data, meta = inside(folder, f"{stem}.csv"), inside(folder, f"{stem}.meta.csv")
        if data in written or meta in written:
            raise ValueError(f"{stem} would be written twice in {folder}")
        data.write_bytes(csv_bytes(f.header, f.rows, f.indicator_positions))
        meta.write_bytes(csv_bytes(list(META_COLUMNS), f.meta, {5}))
        written += [data, meta]
    return written
