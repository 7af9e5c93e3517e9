"""Disclosure control and rounding: the one step every published figure passes through.

Input: metric rows (unrounded numerator, denominator, value) for all years. Output: the
published figures, with the value as published (a number as text, or a symbol), its
status, and the numerator and denominator after disclosure control. Year-on-year changes
are computed here from the unrounded values, then published by the same rules.

Arithmetic is exact: a percentage or rate is recomputed as a fraction of its integer
numerator and denominator before rounding half up, so 45.45 never becomes 45.4 because of
binary floating point.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import polars as pl

from pipelines.metric_catalog import Measure

SYMBOLS = {
    "not_available": "[x]",
    "not_applicable": "[z]",
    "suppressed": "[c]",
    "low": "[low]",
    "break_in_series": "[b]",
}
FIGURE_COLUMNS = (
    "figure_id", "measure", "breakdown", "time_period", "geographic_level", "geography_code",
    "geography_name", "value", "value_status", "numerator", "denominator", "unit",
)


@dataclass(frozen=True)
class DisclosureSettings:
    """Recorded in every release (`settings` in the release, and in the methodology)."""

    rounding_base: int = 10
    rounding: str = "half up"
    rounded_levels: tuple[str, ...] = ("national", "regional")
    decimals: int = 1
    # primary suppression: counts of people from 1 to this threshold become [c] at these levels
    suppression_threshold: int = 4
    suppressed_levels: tuple[str, ...] = ("local_authority",)
    # a rate or share of people is suppressed when its denominator is below this
    minimum_denominator: int = 10
    rules: tuple[str, ...] = field(default=(
        "England and regional counts of people are rounded to the nearest 10, half up; "
        "counts of authorities, services, units and bedspaces are not rounded.",
        "Percentages and rates are computed from unrounded counts, then rounded to 1 decimal place, half up.",
        "A figure that rounds to zero but is not zero is shown as [low].",
        "Authority counts of people from 1 to 4 are suppressed ([c]); a rate or share of people is "
        "suppressed when its numerator is suppressed or its denominator is below 10, and a change "
        "when either year's figure is suppressed.",
    ))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rounded_levels"] = list(self.rounded_levels)
        d["suppressed_levels"] = list(self.suppressed_levels)
        d["rules"] = list(self.rules)
        return d


def round_half_up(x: Fraction | Decimal | int, places: int = 0) -> Decimal:
    q = Decimal(1).scaleb(-places)
    if isinstance(x, Fraction):
        x = Decimal(x.numerator) / Decimal(x.denominator)
    return Decimal(x).quantize(q, rounding=ROUND_HALF_UP)


def round_to_base(x: Fraction | int, base: int) -> int:
    return int(round_half_up(Fraction(x) / base, 0)) * base


def figure_id(measure: str, breakdown: str, geography_code: str, year: str) -> str:
    return f"{measure}.{breakdown}.{geography_code}.{year}"


def _as_int(x: float | None) -> int | None:
    if x is None:
        return None
    if float(x).is_integer():
        return int(x)
    return None


# An exact value is a pair of integers (numerator, denominator > 0), kept unreduced: far
# cheaper than Fraction for the tens of thousands of figures of a release, and as exact.
Exact = tuple[int, int]


def _from_float(x: float) -> Exact:
    """A float from SQL taken at its shortest decimal form (5653.6419, not its binary expansion)."""
    return Decimal(repr(x)).as_integer_ratio()


def _div_half_up(a: int, b: int) -> int:
    """a / b rounded half away from zero (b > 0), in integers."""
    q = (2 * abs(a) + b) // (2 * b)
    return q if a >= 0 else -q


def _fixed(x: Exact, places: int) -> tuple[str, float, bool]:
    """x rounded half up to `places` decimals: (text, float, rounds-to-zero-but-is-not-zero)."""
    n, d = x
    units = _div_half_up(n * 10**places, d)
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**places)
    text = f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"
    return text, units / 10**places, units == 0 and n != 0


def exact_value(m: Measure, num: float | None, den: float | None, value: float | None) -> Exact | None:
    """The exact value of a figure, from its integer numerator and denominator when it has them."""
    if value is None:
        return None
    n, d = _as_int(num), _as_int(den)
    if m.kind == "count":
        return (n, 1) if n is not None else _from_float(value)
    scale = 100 if m.kind == "percent" else 10000
    if n is not None and d:
        if abs(scale * n / d - value) > 1e-6 * max(1.0, abs(value)):
            raise ValueError(f"{m.id}: value {value} does not equal {scale} x {n} / {d}")
        return (scale * n, d) if d > 0 else (-scale * n, -d)
    return _from_float(value)


class Publisher:
    def __init__(self, measures: dict[str, Measure], settings: DisclosureSettings):
        self.measures = measures
        self.settings = settings

    def _count(self, x: Exact, level: str, people: bool) -> tuple[str, str, float | None]:
        s = self.settings
        n, d = x
        if people and level in s.rounded_levels:
            r = _div_half_up(n, d * s.rounding_base) * s.rounding_base
            if r == 0 and n != 0:
                return SYMBOLS["low"], "low", None
            return str(r), "rounded", float(r)
        if n % d:
            text, num, _ = _fixed(x, s.decimals)
            return text, "rounded", num
        return str(n // d), "published", float(n // d)

    def _rate(self, x: Exact) -> tuple[str, str, float | None]:
        text, num, low = _fixed(x, self.settings.decimals)
        if low:
            return SYMBOLS["low"], "low", None
        return text, "published", num

    def _num_den(self, x: float | None, level: str, people: bool) -> str:
        if x is None:
            return ""
        n = _as_int(x)
        if n is None:
            return _fixed(_from_float(x), self.settings.decimals)[0]
        if people and level in self.settings.rounded_levels:
            base = self.settings.rounding_base
            return str(_div_half_up(n, base) * base)
        return str(n)

    def _primary(self, m: Measure, level: str, num: float | None, den: float | None) -> bool:
        """Primary suppression of one figure, from its unrounded numerator and denominator."""
        s = self.settings
        if not m.counts_people:
            return False
        n = _as_int(num)
        small = n is not None and 1 <= n <= s.suppression_threshold and level in s.suppressed_levels
        if m.kind == "count":
            return small
        return small or (den is not None and 0 < den < s.minimum_denominator)

    def publish(self, metrics: pl.DataFrame) -> pl.DataFrame:
        """Published figures (levels and year-on-year changes) for every metric row."""
        rows = []
        suppressed: set[tuple] = set()
        exact: dict[tuple, Exact | None] = {}
        years_of: dict[str, set[str]] = {}
        records = list(metrics.iter_rows(named=True))
        for r in records:
            m = self.measures[r["measure"]]
            key = (r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"], r["financial_year"])
            x = exact_value(m, r["numerator"], r["denominator"], r["value"])
            exact[key] = x
            years_of.setdefault(r["measure"], set()).add(r["financial_year"])
            level = r["geographic_level"]
            if x is None:
                status = "not_applicable" if r["denominator"] == 0 else "not_available"
                value, value_num = SYMBOLS[status], None
            elif self._primary(m, level, r["numerator"], r["denominator"]):
                suppressed.add(key)
                rows.append(self._row(r, r["measure"], m.unit, SYMBOLS["suppressed"], "suppressed", None, "", ""))
                continue
            elif m.kind == "count":
                value, status, value_num = self._count(x, level, m.counts_people)
            else:
                value, status, value_num = self._rate(x)
            rows.append(self._row(r, r["measure"], m.unit, value, status, value_num,
                                  self._num_den(r["numerator"], level, m.counts_people) if m.kind != "count" else "",
                                  self._num_den(r["denominator"], level, m.counts_people)))
        # year-on-year change, from unrounded values
        places = self.settings.decimals
        for r in records:
            m = self.measures[r["measure"]]
            year = r["financial_year"]
            prev = previous_year(year)
            if prev not in years_of.get(r["measure"], ()):
                continue
            key = (r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"])
            now, before_present = exact[(*key, year)], (*key, prev) in exact
            before = exact.get((*key, prev))
            level = r["geographic_level"]
            if not before_present:
                sym = ("break_in_series", SYMBOLS["break_in_series"], None)
                outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
            elif (*key, year) in suppressed or (*key, prev) in suppressed:
                sym = ("suppressed", SYMBOLS["suppressed"], None)
                outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
            elif now is None or before is None:
                sym = ("not_available", SYMBOLS["not_available"], None)
                outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
            else:
                (n1, d1), (n0, d0) = now, before
                diff = (n1 * d0 - n0 * d1, d1 * d0)
                if m.kind == "count":
                    v, st, vn = self._count(diff, level, m.counts_people)
                    if n0 == 0:
                        pct = ("not_applicable", SYMBOLS["not_applicable"], None)
                    else:
                        # 100 x (now - before) / before
                        ratio = (100 * diff[0] * d0, diff[1] * n0) if n0 > 0 else (-100 * diff[0] * d0, -diff[1] * n0)
                        text, num, _ = _fixed(ratio, places)
                        pct = ("published", text, num)
                    outs = [(f"{m.id}_change", (st, v, vn)), (f"{m.id}_change_percent", pct)]
                else:
                    text, num, _ = _fixed(diff, places)
                    outs = [(f"{m.id}_change", ("published", text, num))]
            for measure_id, (st, v, vn) in outs:
                unit = "percent" if measure_id.endswith("_change_percent") else (
                    m.unit if m.kind == "count" else ("percentage points" if m.kind == "percent" else m.unit))
                rows.append(self._row(r, measure_id, unit, v, st, vn, "", ""))
        out = pl.DataFrame(rows, schema={**{c: pl.String for c in FIGURE_COLUMNS}, "value_num": pl.Float64,
                                         "region_code": pl.String, "region_name": pl.String}, orient="row")
        return out.sort("measure", "breakdown", "time_period", "geographic_level", "geography_code")

    @staticmethod
    def _row(r: dict, measure: str, unit: str, value: str, status: str, value_num, numerator: str, denominator: str) -> dict:
        return {
            "figure_id": figure_id(measure, r["breakdown"], r["geography_code"], r["financial_year"]),
            "measure": measure,
            "breakdown": r["breakdown"],
            "time_period": r["financial_year"],
            "geographic_level": r["geographic_level"],
            "geography_code": r["geography_code"],
            "geography_name": r["geography_name"],
            "value": value,
            "value_status": status,
            "numerator": numerator,
            "denominator": denominator,
            "unit": unit,
            "value_num": value_num,
            "region_code": r.get("region_code"),
            "region_name": r.get("region_name"),
        }


def previous_year(year: str) -> str:
    start = int(year[:4]) - 1
    return f"{start}-{(start + 1) % 100:02d}"
