"""The published figures as the renderer sees them, and the words around them.

Figures arrive rounded and suppressed; here they are only indexed and labelled. The one
display change ever made to a value is inserting thousands separators (`with_commas`),
done on the text so the digits are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from pipelines.metric_catalog import Measure

FIGURE_COLUMNS = (
    "figure_id",
    "measure",
    "breakdown",
    "time_period",
    "geographic_level",
    "geography_code",
    "geography_name",
    "value",
    "value_status",
    "numerator",
    "denominator",
    "unit",
)
LEVEL_ORDER = {"national": 0, "regional": 1, "local_authority": 2, "police_force_area": 3}
LEVEL_LABELS = {
    "national": "Country",
    "regional": "Region",
    "local_authority": "Local authority",
    "police_force_area": "Police force area",
}
STATUS_WORDS = {
    "published": "published",
    "rounded": "rounded",
    "not_available": "not available",
    "not_applicable": "not applicable",
    "low": "rounds to zero but is not zero",
    "suppressed": "confidential, suppressed",
    "break_in_series": "break in series",
}
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
CHANGE_SUFFIXES = ("_change_percent", "_change")


def is_number_text(text: str | None) -> bool:
    return text is not None and bool(NUMBER_RE.match(text))


def with_commas(text: str) -> str:
    """Thousands separators for display: `36550` -> `36,550`; symbols and other text unchanged."""
    if not is_number_text(text):
        return text
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + dot + frac


def decimals_of(text: str) -> int:
    """Decimal places shown in a published number (used for spreadsheet number formats)."""
    return len(text.partition(".")[2]) if is_number_text(text) else 0


def natural_key(text: str) -> tuple:
    """Sort key that puts D9 before D10 and line 2 before line 12."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text or ""))


@dataclass(frozen=True)
class Figure:
    figure_id: str
    measure: str
    breakdown: str
    time_period: str
    geographic_level: str
    geography_code: str
    geography_name: str
    value: str
    value_status: str
    numerator: str
    denominator: str
    unit: str
    value_num: float | None
    region_code: str | None
    region_name: str | None

    @property
    def is_symbol(self) -> bool:
        return self.value_num is None


@dataclass(frozen=True)
class Geography:
    level: str
    code: str
    name: str
    region_code: str | None
    region_name: str | None


class FigureIndex:
    """Every published figure, keyed by (measure, breakdown, geography_code, time_period)."""

    def __init__(self, figures: pl.DataFrame, years: tuple[str, ...], catalog: dict[str, Measure]):
        missing = [c for c in (*FIGURE_COLUMNS, "value_num") if c not in figures.columns]
        if missing:
            raise ValueError(f"figures frame lacks columns: {', '.join(missing)}")
        self.years = years
        self.catalog = catalog
        extra = [pl.col(c).cast(pl.String) if c in figures.columns else pl.lit(None, pl.String).alias(c)
                 for c in ("region_code", "region_name")]
        frame = figures.select(
            *(pl.col(c).cast(pl.String).fill_null("") for c in FIGURE_COLUMNS),
            pl.col("value_num").cast(pl.Float64),
            *extra,
        )
        # The look-up table holds row numbers; a Figure is made from its row only when it is
        # asked for (the tables and sentences use a few thousand of the ~80,000 figures).
        self._frame = frame
        key_columns = [frame.get_column(c).to_list()
                       for c in ("measure", "breakdown", "geography_code", "time_period")]
        self._rows: dict[tuple[str, str, str, str], int] = dict(zip(zip(*key_columns), range(frame.height)))
        if len(self._rows) != frame.height:
            seen: set[tuple[str, str, str, str]] = set()
            for key in zip(*key_columns):
                if key in seen:
                    raise ValueError(f"two figures for {key}")
                seen.add(key)
        self._made: dict[tuple[str, str, str, str], Figure] = {}
        self.geographies: dict[str, dict[str, Geography]] = {lvl: {} for lvl in LEVEL_ORDER}
        self.breakdowns_seen: dict[str, set[str]] = {}
        self.units_seen: dict[str, set[str]] = {}
        year_rank = {y: i for i, y in enumerate(years)}
        ranks: dict[tuple[str, str], tuple[int, str]] = {}  # the latest year's name wins, whatever the row order
        # One row per distinct (level, code, year, name, region), first occurrence first: the
        # same winners, in the same order, as a pass over every figure.
        geo_rows = frame.select("geographic_level", "geography_code", "time_period", "geography_name",
                                "region_code", "region_name").unique(maintain_order=True)
        for level, code, period, name, region_code, region_name in geo_rows.iter_rows():
            geo = self.geographies.setdefault(level, {})
            rank = (year_rank.get(period, -1), name)
            rkey = (level, code)
            if rkey not in ranks or rank > ranks[rkey]:
                ranks[rkey] = rank
                geo[code] = Geography(level, code, name, region_code, region_name)
        for measure, breakdown in frame.select("measure", "breakdown").unique(maintain_order=True).iter_rows():
            self.breakdowns_seen.setdefault(measure, set()).add(breakdown)
        for measure, unit in frame.select("measure", "unit").unique(maintain_order=True).iter_rows():
            self.units_seen.setdefault(measure, set()).add(unit)

    @property
    def by_key(self) -> dict[tuple[str, str, str, str], Figure]:
        """Every figure by key (makes all of them: for inspection, not for the writers)."""
        return {key: self._figure(key, i) for key, i in self._rows.items()}

    def _figure(self, key: tuple[str, str, str, str], i: int) -> Figure:
        fig = self._made.get(key)
        if fig is None:
            fig = self._made[key] = Figure(*self._frame.row(i))
        return fig

    # --- look-ups -------------------------------------------------------------------
    def get(self, measure: str, breakdown: str, code: str, year: str) -> Figure | None:
        key = (measure, breakdown, code, year)
        fig = self._made.get(key)
        if fig is not None:
            return fig
        i = self._rows.get(key)
        return None if i is None else self._figure(key, i)

    def has_measure(self, measure: str) -> bool:
        return measure in self.breakdowns_seen

    @cached_property
    def england(self) -> Geography | None:
        nat = self.geographies.get("national") or {}
        if not nat:
            return None
        return nat["E92000001"] if "E92000001" in nat else nat[sorted(nat)[0]]

    def geographies_of(self, level: str) -> list[Geography]:
        geos = list((self.geographies.get(level) or {}).values())
        if level == "regional":
            return sorted(geos, key=lambda g: g.code)
        if level == "local_authority":
            return sorted(geos, key=lambda g: (g.name.casefold(), g.code))
        return sorted(geos, key=lambda g: (g.name.casefold(), g.code))

    # --- measures and labels ---------------------------------------------------------
    def base_of(self, measure: str) -> tuple[str, str]:
        """(base measure, change suffix or '')."""
        for suffix in CHANGE_SUFFIXES:
            if measure.endswith(suffix):
                base = measure[: -len(suffix)]
                if base in self.catalog or base in self.breakdowns_seen:
                    return base, suffix
        return measure, ""

    def is_change(self, measure: str) -> bool:
        return self.base_of(measure)[1] != ""

    def definition(self, measure: str) -> Measure | None:
        return self.catalog.get(self.base_of(measure)[0])

    def title(self, measure: str) -> str:
        base, suffix = self.base_of(measure)
        m = self.catalog.get(base)
        title = m.title if m else base.replace("_", " ").capitalize()
        if suffix == "_change":
            return f"{title}: change on previous year"
        if suffix == "_change_percent":
            return f"{title}: percentage change on previous year"
        return title

    def kind(self, measure: str) -> str:
        """count | percent | rate_per_10000 | percentage_points."""
        base, suffix = self.base_of(measure)
        m = self.catalog.get(base)
        base_kind = m.kind if m else self._guess_kind(base)
        if suffix == "_change_percent":
            return "percent"
        if suffix == "_change":
            return "count" if base_kind == "count" else ("percentage_points" if base_kind == "percent" else base_kind)
        return base_kind

    def _guess_kind(self, measure: str) -> str:
        units = self.units_seen.get(measure) or set()
        if units == {"percent"}:
            return "percent"
        if any("10,000" in u or "10000" in u for u in units):
            return "rate_per_10000"
        return "count"

    def unit(self, measure: str) -> str:
        """The unit as published: from the figures, else from the definition."""
        seen = sorted(self.units_seen.get(measure) or ())
        if len(seen) == 1 and seen[0]:
            return seen[0]
        base, suffix = self.base_of(measure)
        m = self.catalog.get(base)
        if suffix == "_change_percent":
            return "percent"
        if suffix == "_change" and m and m.kind == "percent":
            return "percentage points"
        return m.unit if m else (seen[0] if seen else "")

    def unit_suffix(self, measure: str) -> str:
        """What a column heading says about the unit: `%`, `number`, `percentage points`..."""
        unit = self.unit(measure)
        if unit in ("percent", "%"):
            return "%"
        kind = self.kind(measure)
        if kind == "count":
            return "number"
        if kind == "rate_per_10000" and "per 10,000" in self.title(measure):
            return "rate"
        return unit.replace("_", " ")

    def breakdown_label(self, measure: str, breakdown: str) -> str:
        m = self.definition(measure)
        if m:
            return m.breakdown_label(breakdown)
        return "All" if breakdown == "all" else breakdown.replace("_", " ").capitalize()

    def breakdowns_of(self, measure: str) -> list[str]:
        """Breakdowns of a measure found in the figures, in the definition's order."""
        seen = self.breakdowns_seen.get(measure) or set()
        m = self.definition(measure)
        ordered = [b for b in (m.breakdowns if m else ()) if b in seen]
        return ordered + sorted(seen - set(ordered))

    def with_unit(self, fig: Figure) -> str:
        """A figure for a sentence: `24.1%`, `76,850 individuals`, `[x] (not available)`."""
        if fig.is_symbol:
            return f"{fig.value} ({STATUS_WORDS.get(fig.value_status, fig.value_status)})"
        text = with_commas(fig.value)
        unit = fig.unit or self.unit(fig.measure)
        if unit in ("percent", "%"):
            return f"{text}%"
        return f"{text} {unit.replace('_', ' ')}".strip()

    def measures_present(self) -> list[str]:
        return sorted(self.breakdowns_seen)
