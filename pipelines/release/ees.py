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
PARTS = ("numerator", "denominator")  # published beside a value, where a measure has them
ROW_KEY = ["time_period", "geographic_level", "geography_code", "item"]  # one row of an EES file


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
    """The EES data files of a release, one per metric family with figures, in family order.

    Made with polars over all the figures at once, then one frame per family: a release has
    tens of thousands of figures."""
    frame = figures_frame(ctx)
    kept = [m for m in frame.get_column("measure").unique().to_list() if not ctx.idx.is_change(m)]
    catalog_rank = {m: i for i, m in enumerate(ctx.idx.catalog)}
    families: dict[str, list[str]] = {}
    for m in sorted(kept, key=lambda m: (catalog_rank.get(m, len(catalog_rank)), m)):
        families.setdefault(_family_of(ctx, m), []).append(m)
    order = {m: i for i, m in enumerate(m for ms in families.values() for m in ms)}  # the measures as written
    frame = (frame.filter(pl.col("measure").is_in(kept))  # the changes on the previous year stay out
             .join(_regions(ctx), on="figure_id", how="left", maintain_order="left")
             .with_row_index("_row")
             .with_columns(pl.col("measure").replace_strict(order, return_dtype=pl.Int64).alias("_measure"))
             .sort("_measure", "_row"))
    _refuse_what_ees_cannot_take(frame)
    labels = {m: _labels(ctx, m, ctx.idx.breakdowns_of(m)) for m in kept}
    items = {f"{m}\x00{b}": label for m, of in labels.items() for b, label in of.items()}
    value = _ees_cell(pl.col("value"))
    frame = frame.with_columns(
        pl.concat_str("measure", "breakdown", separator="\x00").replace_strict(items, return_dtype=pl.String).alias("item"),
        *_place(), value.alias("value"),
        # a numerator or denominator not published beside the value: as withheld as it, else not available
        *(pl.when(pl.col(f) != "").then(_ees_cell(pl.col(f))).when(value.is_in(["c", "x", "z"])).then(value)
          .otherwise(pl.lit("x")).alias(f) for f in PARTS),
        *((pl.col(f) != "").any().over("measure").alias(f"_has_{f}") for f in PARTS),
    )
    year_rank = {y: i for i, y in enumerate(ctx.years)}
    periods = {y: ees_time_period(y) for y in sorted(frame.get_column("time_period").unique().to_list())}
    by_family = frame.with_columns(pl.col("measure").replace_strict(
        {m: stem for stem, ms in families.items() for m in ms}, return_dtype=pl.String).alias("_family")
    ).partition_by("_family", as_dict=True, maintain_order=True)
    return [_family_file(ctx, stem, ms, labels, by_family[(stem,)], year_rank, periods)
            for stem, ms in families.items()]


def _regions(ctx: ReleaseContext) -> pl.DataFrame:
    """The region of each figure that has one (`_region_code`, `_region_name`), by figure id."""
    if not {"region_code", "region_name"} <= set(ctx.figures.columns):
        return pl.DataFrame(schema={"figure_id": pl.String, "_region_code": pl.String, "_region_name": pl.String})
    located = ctx.figures.filter(pl.col("region_code").is_not_null() & (pl.col("region_code") != ""))
    return located.select(
        pl.col("figure_id").cast(pl.String),
        pl.col("region_code").cast(pl.String).alias("_region_code"),
        pl.col("region_name").cast(pl.String).fill_null("").alias("_region_name"),
    ).unique("figure_id", keep="last", maintain_order=True)


def _is_number(text: pl.Expr) -> pl.Expr:
    return text.str.contains(f"^(?:{_NUMBER.pattern})$")


def _ees_cell(text: pl.Expr) -> pl.Expr:
    """`ees_value` of a column of published texts: null where one is neither a number nor a symbol EES has."""
    return pl.when(_is_number(text)).then(text).otherwise(text.replace_strict(SYMBOLS, default=None))


def _refuse_what_ees_cannot_take(frame: pl.DataFrame) -> None:
    """Raise for the first row (as the files are written) whose level or text EES cannot take."""
    bad = ~pl.col("geographic_level").is_in(list(LEVELS)) | _ees_cell(pl.col("value")).is_null()
    for f in PARTS:
        bad = bad | ((pl.col(f) != "") & _ees_cell(pl.col(f)).is_null())
    for r in frame.filter(bad).head(1).iter_rows(named=True):
        if r["geographic_level"] not in LEVELS:
            raise ValueError(f"{r['figure_id']}: geographic level {r['geographic_level']!r} has no EES level")
        ees_value(r["value"], r["figure_id"])
        for f in PARTS:
            if r[f]:
                ees_value(r[f], f"{r['figure_id']} {f}")


def _place() -> list[pl.Expr]:
    """The geography columns of a figure's row, '' where the row has none."""
    level, code, name = pl.col("geographic_level"), pl.col("geography_code"), pl.col("geography_name")
    national, regional = level == "national", level == "regional"
    la, pfa, located = level == "local_authority", level == "police_force_area", pl.col("_region_code").is_not_null()
    none = pl.lit("")
    return [
        pl.when(national).then(code).otherwise(pl.lit(ENGLAND[0])).alias("country_code"),
        pl.when(national).then(name).otherwise(pl.lit(ENGLAND[1])).alias("country_name"),
        pl.when(regional).then(code).when(located).then(pl.col("_region_code")).otherwise(none).alias("region_code"),
        pl.when(regional).then(name).when(located).then(pl.col("_region_name")).otherwise(none).alias("region_name"),
        pl.when(la).then(code).otherwise(none).alias("new_la_code"),
        pl.when(la).then(name).otherwise(none).alias("la_name"),
        pl.when(la).then(pl.lit(NOT_LA_NUMBER)).otherwise(none).alias("old_la_code"),
        pl.when(pfa).then(code).otherwise(none).alias("pfa_code"),
        pl.when(pfa).then(name).otherwise(none).alias("pfa_name"),
    ]


def _decimals(text: pl.Expr) -> pl.Expr:
    """Decimal places a number shows (0 for a symbol)."""
    return pl.when(_is_number(text)).then(text.str.split(".").list.get(1, null_on_oob=True).str.len_chars()).otherwise(0)


def _family_file(ctx: ReleaseContext, stem: str, measures: list[str], labels: dict[str, dict[str, str]],
                 rows: pl.DataFrame, year_rank: dict[str, int], periods: dict[str, str]) -> EesFile:
    """One family's file from its figures (in the order they are written, cells made EES's);
    `labels`: each measure's filter item of each breakdown, in the breakdowns' order."""
    item_rank: dict[str, int] = {}
    for m in measures:
        for label in labels[m].values():
            item_rank.setdefault(label, len(item_rank))
    shown = {f: set(rows.filter(pl.col(f"_has_{f}")).get_column("measure").to_list()) for f in PARTS}
    columns = [c for m in measures for c in [(m, m, "value"), *((f"{m}_{f}", m, f) for f in PARTS if m in shown[f])]]
    long = pl.concat([rows.select(*ROW_KEY, pl.col("measure").alias("column"), "value"),
                      *(rows.filter(pl.col(f"_has_{f}")).select(*ROW_KEY, (pl.col("measure") + f"_{f}").alias("column"),
                                                               pl.col(f).alias("value")) for f in PARTS)])
    cells = long.pivot(on="column", index=ROW_KEY, values="value", aggregate_function="last")
    names = [c for c, _, _ in columns]
    table = (rows.select(*ROW_KEY, *GEOGRAPHY_COLUMNS).unique(ROW_KEY, keep="first", maintain_order=True)
             .join(cells, on=ROW_KEY, how="left"))
    dp = dict(zip(names, table.select(_decimals(pl.col(c)).max().fill_null(0) for c in names).row(0)))
    filled = table.select(pl.col(c).ne("").any() for c in GEOGRAPHY_COLUMNS).row(0)
    geo_columns = [c for c, f in zip(GEOGRAPHY_COLUMNS, filled) if f]  # EES takes no column empty throughout
    header = ["time_period", "time_identifier", "geographic_level", *geo_columns, FILTER, *names]
    out = table.sort(
        pl.col("time_period").replace_strict(year_rank, default=len(year_rank), return_dtype=pl.Int64), "time_period",
        pl.col("geographic_level").replace_strict(LEVEL_ORDER, return_dtype=pl.Int64), "region_code", "geography_code",
        pl.col("item").replace_strict(item_rank, return_dtype=pl.Int64), "item",
    ).select(pl.col("time_period").replace_strict(periods, return_dtype=pl.String),
             pl.lit(TIME_IDENTIFIER).alias("time_identifier"),
             pl.col("geographic_level").replace_strict(LEVELS, return_dtype=pl.String),
             *geo_columns, "item", *(pl.col(c).fill_null(NO_FIGURE) for c in names))
    meta = [[FILTER, "Filter", "Breakdown", "", "", "", "", ""]]
    for column, m, f in columns:
        title = ctx.idx.title(m)
        label = title if f == "value" else f"{title}: {f}"
        unit = "%" if f == "value" and ctx.idx.unit(m) in ("percent", "%") else ""
        meta.append([column, "Indicator", label, "", unit, str(dp.get(column, 0)), "", ""])
    return EesFile(stem, header, [list(r) for r in out.rows()], meta)


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
