"""Part 4 annual returns: one workbook per Tier 1 authority, calibrated to the national totals.

Every national total is split over the authorities by largest remainder on noisy population
weights, so the recorded cells add up exactly. The cells that are deliberately blank or hold
a cell error (`plan.py`) are excluded before splitting, so they never take a share.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import random
import re
from dataclasses import dataclass, field, replace
from typing import cast

from . import plan
from .files import Text, write_xlsx
from .numeric import apportion, jitter, skewed, stream
from .reference import GLA, Authority, Reference
from .targets import (
    ACCOMMODATION_TYPES,
    CHARACTERISTICS,
    DESTINATIONS,
    IDENTITIES,
    REASONS,
    STAY_BANDS,
    STAY_TYPES,
    Targets,
)

YEAR_INDEX = {"2021-22": 0, "2022-23": 1, "2023-24": 2, "2024-25": 3}

# Chance an authority commissions each type (by year), before the size adjustment.
PRESENCE = {
    "refuge": (0.93, 0.94, 0.95, 0.95),
    "dispersed": (0.60, 0.66, 0.72, 0.76),
    "sanctuary": (0.85, 0.88, 0.90, 0.91),
    "second_stage": (0.22, 0.25, 0.28, 0.30),
    "specialist": (0.30, 0.34, 0.38, 0.40),
    "other": (0.38, 0.40, 0.41, 0.42),
}
# A typical service size (units) per type, for splitting an authority's units into services.
SERVICE_SIZE = {"refuge": 14, "dispersed": 12, "sanctuary": 70, "second_stage": 8, "specialist": 9, "other": 18}
# Relative chance an individual of the type came from outside the authority's area.
OUTSIDE_FACTOR = {"refuge": 2.6, "dispersed": 1.0, "sanctuary": 0.12, "second_stage": 0.8, "specialist": 1.6, "other": 0.9}
# Share of supported rows (type commissioned) marked partial, by year.
SUPPORTED_PARTIAL = (0.22, 0.14, 0.08, 0.05)
# Characteristics completeness: (partial, not_collected) authorities, by year. 2021-22: 44%.
CHARACTERISTICS_INCOMPLETE = {"2021-22": (39, 12), "2022-23": (26, 6), "2023-24": (18, 3), "2024-25": (12, 2)}
CHARACTERISTICS_OFTEN_MISSING = ("lgbtq", "ex_offender", "aged_65_plus", "nrpf")
# Authorities recording most of their turned-away households without a reason, by year.
NOT_RECORDED_AUTHORITIES = (14, 8, 6, 5)
# Where Black and minoritised survivors are a larger share (the by-and-for cities).
BY_AND_FOR_PREFERRED_TYPES = {
    "black_minoritised": ("refuge", "specialist", "dispersed"),
    "lgbtq": ("dispersed", "specialist", "refuge"),
    "disabled": ("specialist", "dispersed", "refuge"),
    "deaf": ("specialist", "dispersed", "refuge"),
    "male": ("dispersed", "other", "specialist", "refuge"),
    "other": ("specialist", "refuge", "dispersed"),
}
PROVIDERS = (
    "Haven Housing Trust", "Beacon Domestic Abuse Services", "Harbourside Support",
    "Phoenix Women's Housing", "Threshold Housing and Support", "Open Door Housing Association",
    "Bridge Housing & Support", "Lighthouse Women's Aid", "Northgate Housing Group",
    "Hearth Housing Association", "Cedar Tree Support", "Oasis Domestic Abuse Service",
    "Willow Women's Project", "Stepping Stones Housing", "Kestrel Support Services",
)  # fmt: skip
BY_AND_FOR_PROVIDERS = {
    "black_minoritised": (
        "Noor Women's Project", "Amani Sisters Refuge", "Kiran Women's Housing",
        "Zahra Refuge Collective", "Umoja Women's Housing", "Sahara Black and Minoritised Women's Service",
    ),
    "lgbtq": ("Rainbow Haven Project", "Prism LGBTQ+ Safe Housing", "Spectrum Safe Space"),
    "disabled": ("Access Ability Refuge", "Enable Women's Housing"),
    "deaf": ("Signpost Deaf Women's Service",),
    "male": ("Anchor Men's Safe House",),
    "other": ("Gypsy, Roma and Traveller Women's Safe Space",),
}  # fmt: skip

SHEET_COLUMNS = {
    "about": ("field", "value"),
    "services": ("service_ref", "accommodation_type", "provider_name", "by_and_for", "by_and_for_group", "units"),
    "supported": (
        "accommodation_type", "households", "women", "men", "trans_nonbinary", "children",
        "identity_not_recorded", "from_outside_area", "completeness",
    ),
    "characteristics": ("characteristic", "individuals", "completeness"),
    "unable_to_support": ("reason", "households"),
    "move_on": ("destination", "households"),
    "length_of_stay": ("accommodation_type", *STAY_BANDS),
}  # fmt: skip

Cell = int | str | None  # a count, a cell error (text), or empty


@dataclass
class Service:
    accommodation_type: str
    provider_name: str
    units: int
    by_and_for_group: str | None = None


@dataclass
class Return:
    financial_year: str
    authority: Authority
    authority_name: str
    submission_number: int
    submitted_on: dt.date
    partnership_board: str
    strategy_published: str
    services_in_house: str
    notes: str | None
    services: list[Service] = field(default_factory=list)
    supported: dict[str, dict[str, Cell]] = field(default_factory=dict)
    supported_completeness: dict[str, str] = field(default_factory=dict)
    characteristics: dict[str, Cell] = field(default_factory=dict)
    characteristics_completeness: dict[str, str] = field(default_factory=dict)
    unable: dict[str, Cell] = field(default_factory=dict)
    move_on: dict[str, Cell] = field(default_factory=dict)
    stays: dict[str, dict[str, Cell]] = field(default_factory=dict)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def file_name(r: Return) -> str:
    return f"{r.authority.gss_code}_{_slug(r.authority.name)}_s{r.submission_number}.xlsx"


class _Builder:
    """Builds the returns of one financial year."""

    def __init__(self, ref: Reference, year: str, targets: Targets, seed: int):
        self.year = year
        self.yi = YEAR_INDEX[year]
        self.t = targets
        self.seed = seed
        expected = ref.authorities[year]
        missing = set(plan.MISSING[year])
        self.authorities = [a for a in expected if a.gss_code not in missing]
        self.codes = [a.gss_code for a in self.authorities]
        self.by_code = {a.gss_code: a for a in self.authorities}
        self.excluded = plan.excluded_cells(year)
        self.groups = plan.by_and_for_groups(year)
        for gss in self.groups:
            if gss not in self.by_code:
                raise ValueError(f"{year}: by-and-for authority {gss} has no return")
        self._size()
        self._presence()

    # --- helpers -------------------------------------------------------------------------
    def rng(self, *parts: object) -> random.Random:
        return stream(self.seed, self.year, "returns", *parts)

    def is_excluded(self, gss: str, sheet: str, key: str, column: str) -> bool:
        return (gss, sheet, key, column) in self.excluded

    def _split(self, total: int, sheet: str, key: str, column: str, weights: dict[str, float], mins=None) -> dict[str, int]:
        """Apportion a national total over the authorities, skipping excluded cells."""
        w = [0.0 if self.is_excluded(g, sheet, key, column) else weights.get(g, 0.0) for g in self.codes]
        m = None
        if mins is not None:
            m = [0 if self.is_excluded(g, sheet, key, column) else mins.get(g, 0) for g in self.codes]
        return dict(zip(self.codes, apportion(total, w, mins=m), strict=True))

    # --- shape of each authority ---------------------------------------------------------
    def _size(self) -> None:
        """Population with a persistent factor (how active the area is) and a yearly one."""
        self.size: dict[str, float] = {}
        self.type_factor: dict[str, dict[str, float]] = {}
        for a in self.authorities:
            persistent = stream(self.seed, "authority", a.gss_code)
            yearly = self.rng("size", a.gss_code)
            activity = 0.7 + 0.65 * persistent.random()
            if a.gss_code == GLA:
                activity = 1.0  # London-sized: its population share, no more
            self.size[a.gss_code] = a.population * activity * jitter(yearly, 0.08)
            self.type_factor[a.gss_code] = {
                t: (0.55 + 1.05 * persistent.random()) * jitter(yearly, 0.08) for t in ACCOMMODATION_TYPES
            }

    def _presence(self) -> None:
        """Which types each authority commissions: persistent draws against rising chances."""
        self.present: dict[str, dict[str, bool]] = {}
        for a in self.authorities:
            g = a.gss_code
            draws = stream(self.seed, "presence", g)
            bonus = 0.3 if a.population > 1_000_000 else 0.15 if a.population > 500_000 else -0.08 if a.population < 150_000 else 0.0
            p: dict[str, bool] = {t: draws.random() < PRESENCE[t][self.yi] + bonus for t in ACCOMMODATION_TYPES}
            if g == GLA:
                p = dict.fromkeys(ACCOMMODATION_TYPES, True)
            if a.population < 10_000:  # the Isles of Scilly: sanctuary support only
                p = {t: t == "sanctuary" for t in ACCOMMODATION_TYPES}
            for group in self.groups.get(g, []):
                prefs = BY_AND_FOR_PREFERRED_TYPES[group]
                if not any(p[t] for t in prefs[:2]):
                    p[prefs[0]] = True
            for sheet_key in ACCOMMODATION_TYPES:
                if self.is_excluded(g, "supported", sheet_key, "households"):
                    p[sheet_key] = True  # a row not collected is a type they commission
            if not any(p.values()):
                p["sanctuary"] = True
            self.present[g] = p

    # --- sheets --------------------------------------------------------------------------
    def supported(self) -> tuple[dict[str, dict[str, dict[str, Cell]]], dict[str, dict[str, str]]]:
        cells: dict[str, dict[str, dict[str, Cell]]] = {g: {t: {} for t in ACCOMMODATION_TYPES} for g in self.codes}
        for t in ACCOMMODATION_TYPES:
            base = {g: self.size[g] * self.type_factor[g][t] for g in self.codes if self.present[g][t]}
            for ident in IDENTITIES:
                r = self.rng("supported", t, ident)
                weights = {g: base[g] * jitter(r, 0.2) for g in self.codes if g in base}
                mins = {g: 1 for g in base} if ident == "women" else None
                for g, v in self._split(self.t.individuals[t][ident], "supported", t, ident, weights, mins).items():
                    cells[g][t][ident] = v

        counts = cast(dict[str, dict[str, dict[str, int]]], cells)  # counts only, until the blanks are put in below
        # From outside the area: a national share of the individuals in the rows recording it.
        recorded_rows = [
            (g, t) for g in self.codes for t in ACCOMMODATION_TYPES
            if not self.is_excluded(g, "supported", t, "from_outside_area")
        ]  # fmt: skip
        row_total = {(g, t): sum(v for k, v in counts[g][t].items() if not self.is_excluded(g, "supported", t, k)) for g in self.codes for t in ACCOMMODATION_TYPES}
        denominator = sum(row_total[k] for k in recorded_rows)
        outside_total = round(denominator * self.t.from_outside_area_share / 100)
        r = self.rng("from_outside_area")
        weights = [row_total[k] * OUTSIDE_FACTOR[k[1]] * jitter(r, 0.4) for k in recorded_rows]
        caps = [row_total[k] for k in recorded_rows]
        for (g, t), v in zip(recorded_rows, apportion(outside_total, weights, caps=caps), strict=True):
            cells[g][t]["from_outside_area"] = v

        # Households: most adults are one household each.
        lo, hi = self.t.households_per_adult
        completeness: dict[str, dict[str, str]] = {}
        for g in self.codes:
            r = self.rng("households", g)
            completeness[g] = {}
            for t in ACCOMMODATION_TYPES:
                row = counts[g][t]
                adults = sum(row[k] for k in ("women", "men", "trans_nonbinary", "identity_not_recorded") if not self.is_excluded(g, "supported", t, k))
                households = round(adults * (lo + (hi - lo) * r.random()))
                if households == 0 and row_total[(g, t)] > 0:
                    households = 1
                row["households"] = households
                partial_draw = r.random()
                blanked = [c for c in SHEET_COLUMNS["supported"][1:-1] if self.is_excluded(g, "supported", t, c)]
                if len(blanked) == len(SHEET_COLUMNS["supported"]) - 2:
                    completeness[g][t] = "not_collected"
                elif any(self.excluded[(g, "supported", t, c)] is None for c in blanked):
                    completeness[g][t] = "partial"
                elif self.present[g][t] and partial_draw < SUPPORTED_PARTIAL[self.yi]:
                    completeness[g][t] = "partial"
                else:
                    completeness[g][t] = "complete"
            for t in ACCOMMODATION_TYPES:
                for c in SHEET_COLUMNS["supported"][1:-1]:
                    key = (g, "supported", t, c)
                    if key in self.excluded:
                        cells[g][t][c] = self.excluded[key]
        self.individuals_recorded = {
            g: sum(row_total[(g, t)] for t in ACCOMMODATION_TYPES) for g in self.codes
        }
        self.individuals_by_type = {g: {t: row_total[(g, t)] for t in ACCOMMODATION_TYPES} for g in self.codes}
        return cells, completeness

    def characteristics(self) -> tuple[dict[str, dict[str, Cell]], dict[str, dict[str, str]]]:
        partial_n, not_collected_n = CHARACTERISTICS_INCOMPLETE[self.year]
        r = self.rng("characteristics", "status")
        named = {k[0] for k in self.excluded}
        candidates = [g for g in self.codes if g != GLA and g not in named]
        chosen = r.sample(candidates, partial_n + not_collected_n)
        status = dict.fromkeys(self.codes, "complete")
        for g in chosen[:partial_n]:
            status[g] = "partial"
        for g in chosen[partial_n:]:
            status[g] = "not_collected"
        row_status: dict[str, dict[str, str]] = {}
        for g in self.codes:
            row_status[g] = {}
            for c in (*CHARACTERISTICS, "any"):
                if status[g] == "partial" and c in CHARACTERISTICS_OFTEN_MISSING and r.random() < 0.35:
                    row_status[g][c] = "not_collected"
                else:
                    row_status[g][c] = status[g]

        def recorded(g: str, c: str) -> bool:
            return row_status[g][c] != "not_collected" and not self.is_excluded(g, "characteristics", c, "individuals")

        rr = self.rng("characteristics", "any")
        weights, caps = [], []
        for g in self.codes:
            ok = recorded(g, "any")
            level = 1.0 if status[g] == "complete" else 0.55
            weights.append(self.individuals_recorded[g] * level * jitter(rr, 0.3) if ok else 0.0)
            caps.append(self.individuals_recorded[g] if ok else 0)
        any_ = dict(zip(self.codes, apportion(self.t.characteristics["any"], weights, caps=caps), strict=True))
        values: dict[str, dict[str, Cell]] = {g: {"any": any_[g]} for g in self.codes}
        for c in CHARACTERISTICS:
            rc = self.rng("characteristics", c)
            w = []
            for g in self.codes:
                factor = 1.0
                if c == "black_minoritised":
                    factor = 3.0 if "black_minoritised" in self.groups.get(g, []) else 0.6
                elif c == "lgbtq" and "lgbtq" in self.groups.get(g, []):
                    factor = 2.0
                w.append(any_[g] * factor * jitter(rc, 0.35) if recorded(g, c) else 0.0)
            caps = [any_[g] for g in self.codes]
            for g, v in zip(self.codes, apportion(self.t.characteristics[c], w, caps=caps), strict=True):
                values[g][c] = v
        for g in self.codes:
            for c in (*CHARACTERISTICS, "any"):
                key = (g, "characteristics", c, "individuals")
                if key in self.excluded:
                    values[g][c] = self.excluded[key]
                elif row_status[g][c] == "not_collected":
                    values[g][c] = None
        return values, row_status

    def unable(self) -> dict[str, dict[str, Cell]]:
        r = self.rng("unable", "not_recorded")
        who = set(r.sample(self.codes, NOT_RECORDED_AUTHORITIES[self.yi]))
        out: dict[str, dict[str, Cell]] = {g: {} for g in self.codes}
        for reason in REASONS:
            rr = self.rng("unable", reason)
            if reason == "not_recorded":
                weights = {g: self.size[g] * skewed(rr, 0.3, 3.0) for g in self.codes if g in who}
            else:
                weights = {g: self.size[g] * skewed(rr, 0.45, 2.2) for g in self.codes}
            for g, v in self._split(self.t.unable[reason], "unable_to_support", reason, "households", weights).items():
                out[g][reason] = self.excluded.get((g, "unable_to_support", reason, "households"), v)
        return out

    def move_on(self) -> dict[str, dict[str, Cell]]:
        leaving = {g: sum(v for t, v in self.individuals_by_type[g].items() if t != "sanctuary") for g in self.codes}
        out: dict[str, dict[str, Cell]] = {g: {} for g in self.codes}
        for dest in DESTINATIONS:
            rr = self.rng("move_on", dest)
            spread = (0.2, 3.0) if dest == "unknown" else (0.55, 1.7)
            weights = {g: leaving[g] * skewed(rr, *spread) for g in self.codes}
            for g, v in self._split(self.t.move_on[dest], "move_on", dest, "households", weights).items():
                out[g][dest] = self.excluded.get((g, "move_on", dest, "households"), v)
        return out

    def stays(self) -> dict[str, dict[str, dict[str, Cell]]]:
        out: dict[str, dict[str, dict[str, Cell]]] = {g: {t: {} for t in STAY_TYPES} for g in self.codes}
        for t in STAY_TYPES:
            for band in STAY_BANDS:
                rr = self.rng("stays", t, band)
                weights = {g: self.individuals_by_type[g][t] * jitter(rr, 0.3) for g in self.codes}
                for g, v in self._split(self.t.stays[t][band], "length_of_stay", t, band, weights).items():
                    out[g][t][band] = self.excluded.get((g, "length_of_stay", t, band), v)
        return out

    def services(self) -> dict[str, list[Service]]:
        units: dict[str, dict[str, int]] = {g: {} for g in self.codes}
        for t in ACCOMMODATION_TYPES:
            rr = self.rng("units", t)
            weights = {g: self.size[g] * self.type_factor[g][t] * jitter(rr, 0.3) for g in self.codes if self.present[g][t]}
            mins = dict.fromkeys(weights, 1)
            for g, v in self._split(self.t.units[t], "services", t, "units", weights, mins).items():
                units[g][t] = v
        out: dict[str, list[Service]] = {}
        for g in self.codes:
            rr = self.rng("services", g)
            providers = list(PROVIDERS)
            rr.shuffle(providers)
            services: list[Service] = []
            for t in ACCOMMODATION_TYPES:
                u = units[g][t]
                if u == 0:
                    continue
                k = max(1, min(u, round(u / SERVICE_SIZE[t] * jitter(rr, 0.3))))
                k = min(k, 12)
                parts = apportion(u, [0.5 + rr.random() for _ in range(k)], mins=[1] * k)
                for i, p in enumerate(parts):
                    services.append(Service(t, providers[(len(services) + i) % len(providers)], p))
            self._mark_by_and_for(g, services, rr)
            if any(s.accommodation_type == "sanctuary" for s in services) and rr.random() < 0.35:
                first = next(s for s in services if s.accommodation_type == "sanctuary")
                first.provider_name = "In-house sanctuary team"
            order = {t: i for i, t in enumerate(ACCOMMODATION_TYPES)}
            services.sort(key=lambda s: order[s.accommodation_type])
            out[g] = services
        return out

    def _mark_by_and_for(self, g: str, services: list[Service], rr: random.Random) -> None:
        """Make services by-and-for, keeping a general service of the type where possible:
        a type with one general service left has it split in two."""

        def split(source: Service) -> Service:
            half = source.units // 2
            source.units -= half
            services.append(Service(source.accommodation_type, "", half))
            return services[-1]

        for group in self.groups.get(g, []):
            prefs = BY_AND_FOR_PREFERRED_TYPES[group]
            for n in range(plan.BY_AND_FOR_SERVICES.get((g, group), 1)):
                chosen = None
                for t in prefs:
                    general = [s for s in services if s.accommodation_type == t and s.by_and_for_group is None]
                    if len(general) >= 2:
                        chosen = rr.choice(general)
                        break
                    if len(general) == 1 and general[0].units >= 2:
                        chosen = split(general[0])
                        break
                if chosen is None:
                    pool = [s for s in services if s.by_and_for_group is None and s.units >= 2]
                    chosen = split(max(pool, key=lambda s: s.units))
                chosen.by_and_for_group = group
                names = BY_AND_FOR_PROVIDERS[group]
                chosen.provider_name = names[(n + int(g[-3:])) % len(names)]

    def about(self, a: Authority, submission: int, date: dt.date) -> Return:
        r = self.rng("about", a.gss_code, submission)
        name = plan.NAME_VARIANTS.get((self.year, a.gss_code), a.name)
        yes = lambda p: "yes" if r.random() < p else "no"  # noqa: E731
        return Return(
            financial_year=self.year,
            authority=a,
            authority_name=name,
            submission_number=submission,
            submitted_on=date,
            partnership_board=yes((0.93, 0.97, 0.99, 1.0)[self.yi]),
            strategy_published=yes((0.86, 0.95, 0.98, 0.99)[self.yi]),
            services_in_house=yes(0.22),
            notes=plan.NOTES.get((self.year, a.gss_code, submission)),
        )

    def submission_dates(self, g: str, resubmitted: bool) -> list[dt.date]:
        r = self.rng("dates", g)
        may_1 = dt.date(int(self.year[:4]) + 1, 5, 1)
        if resubmitted:
            first = may_1 + dt.timedelta(days=r.randrange(0, 20))
            second = may_1 + dt.timedelta(days=r.randrange(35, 61))
            return [first, second]
        # Most arrive close to the 30 June deadline.
        return [may_1 + dt.timedelta(days=min(60, int(61 * (1 - r.random() * r.random()))))]

    def build(self) -> list[Return]:
        supported, supported_completeness = self.supported()
        characteristics, characteristics_completeness = self.characteristics()
        unable = self.unable()
        move_on = self.move_on()
        stays = self.stays()
        services = self.services()
        returns: list[Return] = []
        for a in self.authorities:
            g = a.gss_code
            resubmitted = g in plan.RESUBMISSIONS[self.year]
            dates = self.submission_dates(g, resubmitted)
            final = self.about(a, len(dates), dates[-1])
            final.services = services[g]
            final.supported = supported[g]
            final.supported_completeness = supported_completeness[g]
            final.characteristics = characteristics[g]
            final.characteristics_completeness = characteristics_completeness[g]
            final.unable = unable[g]
            final.move_on = move_on[g]
            final.stays = stays[g]
            if resubmitted:
                returns.append(self._first_submission(final, dates[0]))
            returns.append(final)
        return returns

    def _first_submission(self, final: Return, date: dt.date) -> Return:
        """Submission 1 of a resubmitting authority: the same return with different figures."""
        first = self.about(final.authority, 1, date)
        first.services = [replace(s) for s in final.services]
        first.supported = {t: dict(v) for t, v in final.supported.items()}
        first.supported_completeness = dict(final.supported_completeness)
        first.characteristics = dict(final.characteristics)
        first.characteristics_completeness = dict(final.characteristics_completeness)
        first.unable = dict(final.unable)
        first.move_on = dict(final.move_on)
        first.stays = {t: dict(v) for t, v in final.stays.items()}
        # Refuge residents double-counted, last year's move-on copied, a rough turned-away count.
        refuge = first.supported["refuge"]
        for k in ("women", "children"):
            if isinstance(v := refuge[k], int):
                refuge[k] = v + max(3, v // 6)
        if isinstance(refuge["households"], int):
            refuge["households"] += max(2, refuge["households"] // 6)
        for k in ("social_housing", "unknown", "returned_to_perpetrator"):
            if isinstance(v := first.move_on[k], int):
                first.move_on[k] = max(0, v + (7 if k == "unknown" else -3))
        if isinstance(first.unable["capacity"], int):
            first.unable["capacity"] = first.unable["capacity"] + 25
        if isinstance(first.stays["refuge"]["under_1_month"], int):
            first.stays["refuge"]["under_1_month"] += 4
        return first


def build_returns(ref: Reference, year: str, targets: Targets, seed: int) -> list[Return]:
    return _Builder(ref, year, targets, seed).build()


def _sheets(r: Return) -> list[tuple[str, list[list[object]]]]:
    notes = None if r.notes is None else Text(r.notes)
    about = [
        ["field", "value"],
        ["gss_code", r.authority.gss_code],
        ["authority_name", r.authority_name],
        ["financial_year", r.financial_year],
        ["template_version", 1],
        ["submission_number", r.submission_number],
        ["submitted_on", r.submitted_on],
        ["partnership_board", r.partnership_board],
        ["strategy_published", r.strategy_published],
        ["services_in_house", r.services_in_house],
        ["notes", notes],
    ]
    services = [list(SHEET_COLUMNS["services"])]
    for i, s in enumerate(r.services, start=1):
        services.append([
            f"S{i:02d}", s.accommodation_type, s.provider_name,
            "yes" if s.by_and_for_group else "no", s.by_and_for_group, s.units,
        ])  # fmt: skip
    supported = [list(SHEET_COLUMNS["supported"])]
    for t in ACCOMMODATION_TYPES:
        row = r.supported[t]
        supported.append([t, *(row[c] for c in SHEET_COLUMNS["supported"][1:-1]), r.supported_completeness[t]])
    characteristics = [list(SHEET_COLUMNS["characteristics"])]
    for c in (*CHARACTERISTICS, "any"):
        characteristics.append([c, r.characteristics[c], r.characteristics_completeness[c]])
    unable = [list(SHEET_COLUMNS["unable_to_support"])] + [[k, r.unable[k]] for k in REASONS]
    move_on = [list(SHEET_COLUMNS["move_on"])] + [[k, r.move_on[k]] for k in DESTINATIONS]
    stays = [list(SHEET_COLUMNS["length_of_stay"])] + [[t, *(r.stays[t][b] for b in STAY_BANDS)] for t in STAY_TYPES]
    return [
        ("about", about),
        ("services", services),
        ("supported", supported),
        ("characteristics", characteristics),
        ("unable_to_support", unable),
        ("move_on", move_on),
        ("length_of_stay", stays),
    ]


def write_returns(returns: list[Return], out_dir: pathlib.Path) -> list[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in returns:
        path = out_dir / file_name(r)
        write_xlsx(path, _sheets(r))
        written.append(path)
    return written
