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

import os
import pickle
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import partial

import polars as pl

from pipelines.metric_catalog import Measure, Relation
from pipelines.suppression import AUTHORITY, NATIONAL, REGION, Cell, Figure, Instance, Problem, secure

SYMBOLS = {
    "not_available": "[x]",
    "not_applicable": "[z]",
    "suppressed": "[c]",
    "low": "[low]",
    "break_in_series": "[b]",
}
PRIMARY_COUNT = "primary: a non-zero count of people at or below the threshold"
PRIMARY_NUMERATOR = "primary: a rate on a non-zero count of people at or below the threshold"
PRIMARY_DENOMINATOR = "primary: a rate on a denominator below the minimum"
SECONDARY = "secondary"
CHANGE = "change: a change from or to a suppressed figure"
CARRIED = "carried: suppressed in an earlier vintage of the release"
LOG_COLUMNS = ("figure_id", "measure", "breakdown", "time_period", "geographic_level", "geography_code",
               "rule", "protects", "relation")
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
    # every suppressed count must keep at least this many feasible values for an intruder
    # holding every public file (the disclosure audit, docs/decisions/0012-disclosure-audit.md)
    protection_width: int = 5
    # an authority's percent change is not published ([z]) when either year's count is below this
    minimum_change_base: int = 10
    rules: tuple[str, ...] = field(default=(
        "England and regional counts of people are rounded to the nearest 10, half up; "
        "counts of authorities, services, units and bedspaces are not rounded.",
        "Percentages and rates are computed from unrounded counts, then rounded to 1 decimal place, half up.",
        "A figure that rounds to zero but is not zero is shown as [low].",
        "Authority counts of people from 1 to 4 are suppressed ([c]); a rate or share of people is "
        "suppressed when its numerator is suppressed or its denominator is below 10, and a change "
        "when either year's figure is suppressed.",
        "Secondary suppression: further figures are suppressed so that no suppressed figure can be "
        "worked out, or narrowed to fewer than 5 possible values, from everything published in this and "
        "earlier releases (breakdowns and their totals, authorities and their region, counts and the rates "
        "built on them, rounded totals). The build proves this with a linear-programming audit and does not "
        "publish otherwise.",
        "A figure suppressed in an earlier edition of a release stays suppressed in every later one. The "
        "release does not say which rule withholds a figure.",
        "Changes at England and regional level are the differences between the published (rounded) figures "
        "of the two years; an authority's percentage change is not shown ([z]) when either year's count is "
        "below 10.",
    ))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rounded_levels"] = list(self.rounded_levels)
        d["suppressed_levels"] = list(self.suppressed_levels)
        d["rules"] = list(self.rules)
        return d


def figure_id(measure: str, breakdown: str, geography_code: str, year: str) -> str:
    return f"{measure}.{breakdown}.{geography_code}.{year}"


def figure_id_expr(measure: pl.Expr, breakdown: pl.Expr, geography_code: pl.Expr, year: pl.Expr) -> pl.Expr:
    """figure_id as a polars expression, for a whole column of figures at once."""
    return pl.concat_str([measure, breakdown, geography_code, year], separator=".")


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
    scale = m.scale
    if n is not None and d:
        if abs(scale * n / d - value) > 1e-6 * max(1.0, abs(value)):
            raise ValueError(f"{m.id}: value {value} does not equal {scale} x {n} / {d}")
        return (scale * n, d) if d > 0 else (-scale * n, -d)
    return _from_float(value)


@dataclass(frozen=True)
class YearPublished:
    """One year's published figures as `Publisher.publish` made them: its figure rows (levels
    and changes), its suppression log rows, the keys of its suppressed level figures, and the
    disclosure audit of its final pattern (None when nothing was suppressed)."""

    figures: pl.DataFrame
    log: pl.DataFrame
    suppressed: frozenset[tuple]
    audit: object


class Publisher:
    """Publishes metric rows: primary suppression, secondary suppression, rounding, change.

    After `publish`, `suppression_log` holds one row per suppressed figure with its rule and,
    for a secondary suppression, the figures it protects and the relation it protects them in.
    """

    def __init__(self, measures: dict[str, Measure], settings: DisclosureSettings,
                 relations: tuple[Relation, ...] | None = None, solved: MutableMapping[str, object] | None = None,
                 published: MutableMapping[str, object] | None = None):
        self.measures = measures
        self.settings = settings
        # what a year's secondary suppression and audit gave, by a hash of everything they are
        # worked out from (`_solve_key`): the years are independent (decision 0012), so a
        # change to one year leaves the others' solutions as they are (pipelines/fingerprints.py)
        self.solved = solved
        # what a year's published figures were, by a hash of what they are worked out from
        # (`_published_keys`): the same reasoning, a year's rows and those of the year before
        self.published = published
        if relations is None:
            from pipelines.metric_catalog import relations as declared
            relations = declared()
        self.relations = relations
        self.suppression_log = pl.DataFrame(schema={c: pl.String for c in LOG_COLUMNS})
        self.audits: dict = {}  # year -> the disclosure audit of its final suppression pattern

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

    def _as_published(self, m: Measure, level: str, x: Exact) -> Exact | None:
        """A figure's value as published at its level, exactly: a count of people rounded to
        the base, a rate or share to its decimal places, None for [low]; else x itself."""
        s = self.settings
        if not (m.counts_people and level in s.rounded_levels):
            return x
        n, d = x
        if m.kind == "count":
            r = _div_half_up(n, d * s.rounding_base) * s.rounding_base
            return None if r == 0 and n != 0 else (r, 1)
        units = _div_half_up(n * 10**s.decimals, d)
        return None if units == 0 and n != 0 else (units, 10**s.decimals)

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

    def _primary(self, m: Measure, level: str, num: float | None, den: float | None) -> str | None:
        """The primary-suppression rule that hides a figure, from its unrounded numerator and
        denominator, or None."""
        s = self.settings
        if not m.counts_people:
            return None
        n = _as_int(num)
        if n is not None and 1 <= n <= s.suppression_threshold and level in s.suppressed_levels:
            return PRIMARY_COUNT if m.kind == "count" else PRIMARY_NUMERATOR
        if m.kind != "count" and den is not None and 0 < den < s.minimum_denominator:
            return PRIMARY_DENOMINATOR
        return None

    def _problem(self, records: list[dict], primary: dict[tuple, str]) -> Problem:
        """One year's secondary-suppression problem: cells, relation instances, what may be hidden."""
        s = self.settings
        values: dict[Cell, int] = {}
        tier: dict[Figure, int] = {}
        bounds: dict[Cell, tuple[int, float]] = {}  # a reader does not know which [c] is primary: only >= 0
        ratios: list[tuple[Cell, Cell, int, int, int]] = []
        rounded: dict[Cell, tuple[int, int]] = {}
        secret_rates: set[Figure] = set()
        half = s.rounding_base // 2
        places: dict[str, set[str]] = {"local_authority": set(), "regional": set(), "national": set()}
        authorities_in: dict[str, set[str]] = defaultdict(set)
        regions: set[str] = set()
        people_terms: set[tuple[str, str, str]] = set()
        for r in records:
            level = r["geographic_level"]
            if level not in places:
                continue
            m = self.measures[r["measure"]]
            geo = r["geography_code"]
            places[level].add(geo)
            if level == "local_authority" and r.get("region_code"):
                authorities_in[r["region_code"]].add(geo)
            elif level == "regional":
                regions.add(geo)
            fields = (("value", r["numerator"] if r["numerator"] is not None else r["value"]),) if m.kind == "count" \
                else (("numerator", r["numerator"]), ("denominator", r["denominator"]))
            for name, x in fields:
                n = _as_int(x)
                if n is not None:
                    values[(r["measure"], r["breakdown"], name, geo)] = n
                    if m.counts_people and level in s.rounded_levels and s.rounding_base > 1:
                        shown = _div_half_up(n, s.rounding_base) * s.rounding_base
                        rounded[(r["measure"], r["breakdown"], name, geo)] = (
                            (0, 0) if n == 0 else (max(1, shown - half), shown + s.rounding_base - half - 1))
                    if m.counts_people and level == "local_authority":
                        people_terms.add((r["measure"], r["breakdown"], name))
            fig = (r["measure"], r["breakdown"], geo)
            has_cells = r["value"] is not None or r["numerator"] is not None or r["denominator"] is not None
            if m.counts_people and has_cells:
                tier[fig] = AUTHORITY if level in s.suppressed_levels else REGION if level == "regional" else NATIONAL
            rule = primary.get((r["measure"], r["breakdown"], level, geo))
            if rule == PRIMARY_NUMERATOR:
                secret_rates.add(fig)
            n, d = _as_int(r["numerator"]), _as_int(r["denominator"])
            if (m.kind != "count" and m.counts_people and level in s.rounded_levels and rule is None
                    and n is not None and d and d > 0 and s.rounding_base > 1):
                # the rate to `decimals` places over its rounded numerator and denominator
                scale = m.scale * 10**s.decimals
                u = _div_half_up(scale * n, d)
                ratios.append(((r["measure"], r["breakdown"], "numerator", geo),
                               (r["measure"], r["breakdown"], "denominator", geo), 2 * scale, 2 * u - 1, 2 * u + 1))
        instances: list[Instance] = []

        def add(label: str, cells: list[Cell], coefs: list[int], complete: bool = False) -> None:
            present = [c in values for c in cells]
            if complete and not all(present):
                return  # a term not published as a number ([x]) is not a zero to a reader
            if any(present) and sum(k * values.get(c, 0) for c, k in zip(cells, coefs)) == 0:
                instances.append(Instance(label, tuple(cells), tuple(coefs)))

        for rel in self.relations:
            terms = (rel.total, *rel.parts)
            for level in ("local_authority", "regional", "national"):
                if any(level not in self.measures[t.measure].geographies for t in terms):
                    continue  # a term not published at this level is not a zero
                if rel.levels and level not in rel.levels:
                    continue  # equal there by coincidence at most
                for geo in sorted(places[level]):
                    add(f"{rel} ({geo})", [(t.measure, t.breakdown, t.field, geo) for t in terms],
                        [1] + [-1] * len(rel.parts), complete=True)
        for region, las in sorted(authorities_in.items()):
            members = sorted(las)
            for term in sorted(people_terms):
                if (*term, region) not in values:
                    continue
                shown = ".".join(term[:2]) + ("" if term[2] == "value" else f".{term[2]}")
                add(f"{shown}: {region} = sum of its authorities", [(*term, region)] + [(*term, la) for la in members],
                    [1] + [-1] * len(members))
        for country in sorted(places["national"]):
            for term in sorted(people_terms):
                if (*term, country) in values:
                    shown = ".".join(term[:2]) + ("" if term[2] == "value" else f".{term[2]}")
                    add(f"{shown}: {country} = sum of the regions", [(*term, country)] + [(*term, g) for g in sorted(regions)],
                        [1] + [-1] * len(regions))
        return Problem(values=values, instances=instances, tier=tier, bounds=bounds, rounded=rounded,
                       secret_rates=secret_rates, ratios=ratios)

    def publish(self, metrics: pl.DataFrame, carried: frozenset[str] = frozenset()) -> pl.DataFrame:
        """Published figures (levels and year-on-year changes) for every metric row.

        `carried` holds the figure ids that were `[c]` in an earlier vintage: they stay
        suppressed, so no public file ever carries a value of a figure once withheld.

        A year's figures are worked out from its own rows and those of the year before (for
        the changes) alone, so with `self.published` the figures of a year whose rows, and whose
        year before's rows, are those of the last build are taken as that build published them.
        """
        records = list(metrics.iter_rows(named=True))
        by_year: dict[str, list[dict]] = defaultdict(list)
        years_of: dict[str, set[str]] = {}
        for r in records:
            by_year[r["financial_year"]].append(r)
            years_of.setdefault(r["measure"], set()).add(r["financial_year"])
        # each year's rows hashed once, for the keys of both caches
        digests = {} if self.published is None and self.solved is None else _year_digests(by_year)
        keys = self._published_keys(digests, carried)
        cache = self.published if self.published is not None else {}
        found = {y: pickle.loads(cache[k]) for y, k in keys.items() if k in cache}  # type: ignore[arg-type]
        todo = [y for y in sorted(by_year) if y not in found]
        made = self._publish_years(todo, by_year, years_of, carried, found, digests)
        if self.published is not None:
            for y in todo:
                self.published[keys[y]] = pickle.dumps(made[y])
        done = {**found, **made}
        for y in sorted(done):
            if done[y].audit is not None:
                self.audits[y] = done[y].audit
        out = pl.concat([done[y].figures for y in sorted(done)]) if done else self._figures_frame([])
        self.suppression_log = (pl.concat([done[y].log for y in sorted(done)]) if done else self._log_frame([])).sort(
            "measure", "breakdown", "time_period", "geographic_level", "geography_code")
        return out.sort("measure", "breakdown", "time_period", "geographic_level", "geography_code")

    def _published_keys(self, digests: dict[str, str], carried: frozenset[str]) -> dict[str, str]:
        """The hash of everything a year's published figures are worked out from: the code, the
        settings, the year's rows, the year before's rows and the carried figures."""
        if self.published is None:
            return {}
        from pipelines.fingerprints import code_version, digest

        return {y: digest("publish", code_version(), self.settings, rows, digests.get(previous_year(y)),
                          sorted(carried)) for y, rows in digests.items()}

    @staticmethod
    def _figures_frame(rows: list[dict]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema={**{c: pl.String for c in FIGURE_COLUMNS}, "value_num": pl.Float64,
                                          "region_code": pl.String, "region_name": pl.String}, orient="row")

    @staticmethod
    def _log_frame(rows: list[dict]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema={c: pl.String for c in LOG_COLUMNS}, orient="row")

    def _publish_years(self, todo: list[str], by_year: dict[str, list[dict]], years_of: dict[str, set[str]],
                       carried: frozenset[str], found: dict[str, YearPublished],
                       digests: dict[str, str]) -> dict[str, YearPublished]:
        """The published figures of the years `todo`; `found` holds those of other years (the
        changes of a year read which figures of the year before are suppressed); `digests`, the
        hash of each year's rows (`_year_digests`) when a cache is kept."""
        exact: dict[tuple, Exact | None] = {}
        # 1. primary suppression, per figure, of the years made; the exact values of the years
        # before them too (a change is worked out from both years)
        primary: dict[str, dict[tuple, str]] = defaultdict(dict)
        read = sorted(set(todo) | {previous_year(y) for y in todo})  # the years whose rows are read
        for year in read:
            for r in by_year.get(year, ()):
                m = self.measures[r["measure"]]
                key = (r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"], year)
                exact[key] = exact_value(m, r["numerator"], r["denominator"], r["value"])
                if year not in todo or exact[key] is None:
                    continue
                rule = self._primary(m, r["geographic_level"], r["numerator"], r["denominator"])
                if rule is None and figure_id(r["measure"], r["breakdown"], r["geography_code"], year) in carried:
                    rule = CARRIED
                if rule:
                    primary[year][key[:4]] = rule
        # 2. secondary suppression, per year
        rule_of: dict[tuple, tuple[str, str, str]] = {}
        jobs = {}
        for year in todo:
            for key, rule in primary[year].items():
                rule_of[(*key, year)] = (rule, "", "")
            if primary[year]:
                jobs[year] = partial(self._secure_job, by_year[year], primary[year])
        audits = {}
        for year, (added, year_audit) in self._solve("secure", jobs, by_year, primary, _secure_years,
                                                     digests).items():
            audits[year] = year_audit
            level_of = {r["geography_code"]: r["geographic_level"] for r in by_year[year]}
            for fig, p in added.items():
                protects = ";".join(figure_id(f[0], f[1], f[2], year) for f in p.protects)
                rule_of[(fig[0], fig[1], level_of[fig[2]], fig[2], year)] = (SECONDARY, protects, p.relation)
        suppressed = set(rule_of)
        for y in found:
            suppressed |= found[y].suppressed
        rows: dict[str, list[dict]] = {y: [] for y in todo}
        log: dict[str, list[dict]] = {y: [] for y in todo}
        for year in todo:
            for r in by_year[year]:
                m = self.measures[r["measure"]]
                key = (r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"], year)
                x = exact[key]
                level = r["geographic_level"]
                if key in suppressed:
                    rows[year].append(self._row(r, r["measure"], m.unit, SYMBOLS["suppressed"], "suppressed", None,
                                                "", ""))
                    log[year].append(self._log_row(r, r["measure"], *rule_of[key]))
                    continue
                if x is None:
                    status = "not_applicable" if r["denominator"] == 0 else "not_available"
                    value, value_num = SYMBOLS[status], None
                elif m.kind == "count":
                    value, status, value_num = self._count(x, level, m.counts_people)
                else:
                    value, status, value_num = self._rate(x)
                rows[year].append(self._row(
                    r, r["measure"], m.unit, value, status, value_num,
                    self._num_den(r["numerator"], level, m.counts_people) if m.kind != "count" else "",
                    self._num_den(r["denominator"], level, m.counts_people)))
        # year-on-year change: from unrounded values where figures are published unrounded
        places = self.settings.decimals
        series = {(r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"], r["financial_year"]):
                  r["series"] for y in read for r in by_year.get(y, ()) if r.get("series") is not None}
        for year in todo:
            prev = previous_year(year)
            for r in by_year[year]:
                m = self.measures[r["measure"]]
                if prev not in years_of.get(r["measure"], ()):
                    continue
                key = (r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"])
                now, before_present = exact[(*key, year)], (*key, prev) in exact
                before = exact.get((*key, prev))
                level = r["geographic_level"]
                # the template steps of the returns each year's figure adds up (a definition that
                # changes with the template: pipelines/metric_sql.py); None where it does not apply
                steps = (series.get((*key, year)), series.get((*key, prev)))
                if not before_present or (None not in steps and steps[0] != steps[1]):
                    sym = ("break_in_series", SYMBOLS["break_in_series"], None)
                    outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
                elif (*key, year) in suppressed or (*key, prev) in suppressed:
                    sym = ("suppressed", SYMBOLS["suppressed"], None)
                    outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
                elif now is None or before is None:
                    sym = ("not_available", SYMBOLS["not_available"], None)
                    outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
                elif (pub_now := self._as_published(m, level, now)) is None or (
                        pub_before := self._as_published(m, level, before)) is None:
                    sym = ("not_applicable", SYMBOLS["not_applicable"], None)  # from or to [low]
                    outs = [(f"{m.id}_change", sym)] + ([(f"{m.id}_change_percent", sym)] if m.kind == "count" else [])
                else:
                    # at a rounded level, the change is that of the published figures, so it tells a
                    # reader nothing the two figures do not (decision 0012)
                    (n1, d1), (n0, d0) = pub_now, pub_before
                    diff = (n1 * d0 - n0 * d1, d1 * d0)
                    if m.kind == "count":
                        v, st, vn = self._count(diff, level, m.counts_people)
                        small = level in self.settings.suppressed_levels and min(n1 // d1, n0 // d0) < \
                            self.settings.minimum_change_base
                        if n0 == 0 or small:
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
                    rows[year].append(self._row(r, measure_id, unit, v, st, vn, "", ""))
                    if st == "suppressed":
                        log[year].append(self._log_row(r, measure_id, CHANGE, "", ""))
        return {y: YearPublished(self._figures_frame(rows[y]), self._log_frame(log[y]),
                                 frozenset(k for k in suppressed if k[4] == y), audits.get(y)) for y in todo}

    def audit_published(self, metrics: pl.DataFrame, figures: pl.DataFrame) -> dict:
        """The disclosure audit of what was published: for each year, how far an intruder
        holding every public file can narrow each `[c]` cell (pipelines/disclosure_audit.py).

        The suppression pattern is read from the published figures themselves, not from the
        publisher's own state, so this checks what a reader actually has."""

        hidden = {(r["measure"], r["breakdown"], r["geographic_level"], r["geography_code"], r["time_period"])
                  for r in figures.filter(pl.col("value_status") == "suppressed").select(
                      "measure", "breakdown", "geographic_level", "geography_code", "time_period").iter_rows(named=True)
                  if r["measure"] in self.measures}
        out, by_year, marked = {}, {}, {}
        for year, frame in metrics.group_by("financial_year", maintain_order=True):
            year = year[0]
            mine = {k[:4]: "suppressed" for k in hidden if k[4] == year}
            if not mine:
                continue
            by_year[year], marked[year] = list(frame.iter_rows(named=True)), mine
            out[year] = partial(self._audit_job, by_year[year], mine)
        return dict(sorted(self._solve("audit", out, by_year, marked, _audit_years).items()))

    def _secure_job(self, records: list[dict], primary: dict[tuple, str]) -> tuple:
        s = self.settings
        return (self._problem(records, primary), {(k[0], k[1], k[3]) for k in primary}, s.protection_width,
                s.suppression_threshold)

    def _audit_job(self, records: list[dict], marked: dict[tuple, str]) -> tuple:
        problem = self._problem(records, marked)
        figs = {(k[0], k[1], k[3]) for k in marked}
        cells = {c for c in problem.values if (c[0], c[1], c[3]) in figs}
        return problem, cells, self.settings.protection_width, self.settings.suppression_threshold

    def _solve(self, what: str, jobs: dict[str, Callable[[], tuple]], by_year: dict, marked: dict, solve,
               digests: dict[str, str] | None = None) -> dict:
        """`solve` of the jobs (each made by calling it) of the years whose solution is not in
        `self.solved` under the hash of everything it is worked out from (`digests`: the hash of
        each year's rows, when the caller has it); those found are taken as they are, and their
        problems are not made."""
        if self.solved is None:
            return solve({y: make() for y, make in jobs.items()})
        from pipelines.fingerprints import code_version, digest

        rows = digests or _year_digests({y: by_year[y] for y in jobs})
        keys = {y: digest(what, code_version(), self.settings, rows[y], sorted(marked[y].items())) for y in jobs}
        found = {y: pickle.loads(self.solved[k]) for y, k in keys.items() if k in self.solved}  # type: ignore[arg-type]
        made = solve({y: make() for y, make in jobs.items() if y not in found})
        for y, result in made.items():
            self.solved[keys[y]] = pickle.dumps(result)
        return {y: found[y] if y in found else made[y] for y in jobs}

    @staticmethod
    def _log_row(r: dict, measure: str, rule: str, protects: str, relation: str) -> dict:
        return {
            "figure_id": figure_id(measure, r["breakdown"], r["geography_code"], r["financial_year"]),
            "measure": measure, "breakdown": r["breakdown"], "time_period": r["financial_year"],
            "geographic_level": r["geographic_level"], "geography_code": r["geography_code"],
            "rule": rule, "protects": protects, "relation": relation,
        }

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


def _year_digests(by_year: dict[str, list[dict]]) -> dict[str, str]:
    """The hash of each year's metric rows (what the disclosure caches are keyed by)."""
    from pipelines.fingerprints import digest

    return {y: digest(records) for y, records in by_year.items()}


def _secure_one(job):
    # looks `secure` up in the worker (forked): the function itself need not be picklable
    return secure(*job)


def _audit_one(job):
    from pipelines.disclosure_audit import audit

    return audit(*job)


def _per_year(one, jobs: dict) -> dict:
    """`one(job)` for each year's job. The years are independent (decision 0012), so with more
    than one they run in two worker processes; the result is the same as one after another."""
    if len(jobs) < 2 or os.environ.get("DASA_SERIAL_DISCLOSURE"):
        return {year: one(job) for year, job in jobs.items()}
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    with ProcessPoolExecutor(max_workers=min(2, len(jobs)), mp_context=multiprocessing.get_context("fork")) as pool:
        return dict(zip(jobs, pool.map(one, jobs.values())))


def _secure_years(jobs: dict) -> dict:
    """`secure` for each year (`_per_year`)."""
    return _per_year(_secure_one, jobs)


def _audit_years(jobs: dict) -> dict:
    """The disclosure audit of each year (`_per_year`)."""
    return _per_year(_audit_one, jobs)


def previous_year(year: str) -> str:
    start = int(year[:4]) - 1
    return f"{start}-{(start + 1) % 100:02d}"
