"""National totals the sample data is calibrated to, one set per financial year.

Where `published_figures.csv` has an `oracle = yes` figure the target is built from it, so
that the figure recomputed from the generated files equals the published one at its
precision. Everything else is a plausible value chosen to follow the published trend (the
choices are `DEFAULTS`, read from `defaults.yaml` beside this file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .numeric import apportion, fit_matrix, shares_to_counts
from .reference import Reference

ACCOMMODATION_TYPES = ("refuge", "dispersed", "sanctuary", "second_stage", "specialist", "other")
IDENTITIES = ("women", "men", "trans_nonbinary", "children", "identity_not_recorded")
ADULT_IDENTITIES = ("women", "men", "trans_nonbinary")
CHARACTERISTICS = (
    "disabled", "lgbtq", "black_minoritised", "ex_offender", "mental_health",
    "drug", "alcohol", "aged_16_25", "aged_65_plus", "nrpf",
)  # fmt: skip
REASONS = (
    "capacity", "needs_not_met", "proximity_to_perpetrator", "nrpf",
    "declined_by_household", "supported_elsewhere", "other", "not_recorded",
)  # fmt: skip
REASONS_OTHER_COMBINED = ("declined_by_household", "supported_elsewhere", "other")
DESTINATIONS = (
    "social_housing", "private_rented", "non_da_supported", "other_safe_accommodation",
    "friends_family", "own_home", "temporary_accommodation", "returned_to_perpetrator",
    "other", "unknown",
)  # fmt: skip
DESTINATIONS_OTHER_COMBINED = (
    "other_safe_accommodation", "friends_family", "own_home", "temporary_accommodation", "other",
)  # fmt: skip
STAY_TYPES = ("refuge", "dispersed", "specialist")
STAY_BANDS = ("under_1_month", "1_to_3_months", "3_to_6_months", "over_6_months")

# Plausible values where nothing is published (percent unless said otherwise), per year.
DEFAULTS: dict[str, dict[str, Any]] = {
    year: {k: tuple(v) if k == "households_per_adult" else v for k, v in values.items()}
    for year, values in yaml.safe_load((Path(__file__).parent / "defaults.yaml").read_text(encoding="utf-8")).items()
}

# Each characteristic as % of `any`, from the 2021-22 published counts, drifting slowly after.
CHARACTERISTIC_RATIOS = {
    "mental_health": 51.9, "black_minoritised": 46.6, "aged_16_25": 24.5, "disabled": 23.8,
    "drug": 12.9, "alcohol": 12.5, "lgbtq": 3.7, "ex_offender": 6.0, "aged_65_plus": 3.9, "nrpf": 7.6,
}  # fmt: skip
CHARACTERISTIC_DRIFT = {"2022-23": 1.01, "2023-24": 1.02, "2024-25": 1.03}
MOVE_ON_OTHER_SPLIT = {
    "other_safe_accommodation": 24.0, "friends_family": 31.0, "own_home": 19.0,
    "temporary_accommodation": 19.0, "other": 7.0,
}  # fmt: skip
# Shape of identities within each accommodation type (relative weights), fitted to the totals.
IDENTITY_MIX = {
    "refuge": {"women": 1.0, "men": 0.004, "trans_nonbinary": 0.004, "children": 1.1, "identity_not_recorded": 0.02},
    "dispersed": {"women": 1.0, "men": 0.03, "trans_nonbinary": 0.006, "children": 0.95, "identity_not_recorded": 0.02},
    "sanctuary": {"women": 1.0, "men": 0.06, "trans_nonbinary": 0.003, "children": 0.45, "identity_not_recorded": 0.03},
    "second_stage": {"women": 1.0, "men": 0.02, "trans_nonbinary": 0.005, "children": 0.8, "identity_not_recorded": 0.02},
    "specialist": {"women": 1.0, "men": 0.1, "trans_nonbinary": 0.05, "children": 0.3, "identity_not_recorded": 0.03},
    "other": {"women": 1.0, "men": 0.05, "trans_nonbinary": 0.005, "children": 0.6, "identity_not_recorded": 0.03},
}  # fmt: skip
# Stays ending in each band within each type (relative weights): refuges are shorter.
STAY_MIX = {
    "refuge": {"under_1_month": 1.2, "1_to_3_months": 1.15, "3_to_6_months": 1.0, "over_6_months": 0.8},
    "dispersed": {"under_1_month": 0.6, "1_to_3_months": 0.8, "3_to_6_months": 1.0, "over_6_months": 1.5},
    "specialist": {"under_1_month": 1.0, "1_to_3_months": 1.0, "3_to_6_months": 1.0, "over_6_months": 1.0},
}  # fmt: skip
# Referral outcomes: when only the rate is published the split is 73% declined, 27% withdrawn.
DECLINED_OF_NOT_ACCEPTED = 0.73
# SafeLives: cases per 10,000 women aged 16+ and the share of repeat cases, England.
MARAC = {
    "2021-22": (42.3, 30.4), "2022-23": (43.6, 30.8), "2023-24": (45.1, 31.1), "2024-25": (46.4, 31.3),
}  # fmt: skip
MARAC_COUNT = 270


@dataclass(frozen=True)
class Targets:
    year: str
    individuals: dict[str, dict[str, int]]  # accommodation type -> identity -> count
    from_outside_area_share: float
    characteristics: dict[str, int]  # 10 codes + any
    unable: dict[str, int]  # 8 reasons
    move_on: dict[str, int]  # 10 destinations
    stays: dict[str, dict[str, int]]  # stay type -> band -> count
    units: dict[str, int]  # accommodation type -> units
    households_per_adult: tuple[float, float]
    bedspaces: int
    referrals: dict[str, int]  # accepted, declined, withdrawn, pending
    marac_rate: float
    marac_repeat_share: float

    @property
    def individuals_total(self) -> int:
        return sum(sum(r.values()) for r in self.individuals.values())


def _identities(year: str, total: int, o: dict, d: dict) -> dict[str, int]:
    published = {k: o.get(("individuals_supported", k)) for k in IDENTITIES}
    if all(published[k] is not None for k in ("women", "men", "trans_nonbinary", "children")):
        # Published rounded to 10 (2022-23 on): keep each exact if they fit under the total,
        # otherwise lower each by the same amount, staying inside its rounding interval.
        p = {k: int(published[k] or 0) for k in ("women", "men", "trans_nonbinary", "children")}  # none is None
        deficit = sum(p.values()) - total
        if deficit > 0:
            step = math.ceil(deficit / len(p))
            if step > 3:
                raise ValueError(f"{year}: published identities exceed the total by {deficit}")
            p = {k: v - step for k, v in p.items()}
        p["identity_not_recorded"] = total - sum(p.values())
        return p
    if ("children_share", "all") in o:
        children = int(apportion(total, [float(o[("children_share", "all")]), 100.0 - float(o[("children_share", "all")])])[0])
        not_recorded = round(total * d["identity_not_recorded_share"] / 100)
        adults = total - children - not_recorded
        adult_shares = {k: float(o[("adults_share", k)]) for k in ADULT_IDENTITIES}
        out = shares_to_counts(adults, adult_shares)
        out["children"] = children
        out["identity_not_recorded"] = not_recorded
        return {k: out[k] for k in IDENTITIES}
    return shares_to_counts(total, d["identity_shares"])


def _shares(o: dict, measure: str, keys: tuple[str, ...]) -> dict[str, float] | None:
    if all((measure, k) in o for k in keys):
        return {k: float(o[(measure, k)]) for k in keys}
    return None


def build(ref: Reference, year: str) -> Targets:
    o: dict[tuple[str, str], Decimal] = ref.oracle[year]
    d = DEFAULTS[year]

    # Individuals supported: by accommodation type x identity, both margins exact.
    total = int(o[("individuals_supported", "all")])
    type_shares = _shares(o, "individuals_supported_share", ACCOMMODATION_TYPES) or d["type_shares"]
    by_type = shares_to_counts(total, type_shares)
    by_identity = _identities(year, total, o, d)
    individuals = fit_matrix(
        by_type,
        by_identity,
        IDENTITY_MIX,
        col_order=("men", "trans_nonbinary", "identity_not_recorded", "children", "women"),
    )
    individuals = {t: {k: individuals[t][k] for k in IDENTITIES} for t in ACCOMMODATION_TYPES}

    fo_key = ("from_outside_area_share", "all")
    fo_share = float(o[fo_key] if fo_key in o else d["from_outside_area_share"])

    # Specialist characteristics.
    any_ = int(o[("specialist_characteristic", "any")]) if ("specialist_characteristic", "any") in o else d["characteristics_any"]
    drift = CHARACTERISTIC_DRIFT.get(year, 1.0)
    chars = {}
    for c in CHARACTERISTICS:
        if ("specialist_characteristic", c) in o:
            chars[c] = int(o[("specialist_characteristic", c)])
        else:
            chars[c] = round(any_ * CHARACTERISTIC_RATIOS[c] * drift / 100)
    chars["any"] = any_

    # Households unable to be supported, by reason.
    unable_all = int(o[("households_unable_to_support", "all")])
    if ("households_unable_to_support_reason_recorded", "all") in o:
        recorded = int(o[("households_unable_to_support_reason_recorded", "all")])
    else:
        recorded = unable_all - d["not_recorded"]
    unable: dict[str, int] = {}
    named = ("capacity", "needs_not_met", "proximity_to_perpetrator", "nrpf")
    for r in named:
        if ("households_unable_to_support", r) in o:
            unable[r] = int(o[("households_unable_to_support", r)])
        else:
            unable[r] = round(recorded * d["reason_shares"][r] / 100)
    other_combined = int(o.get(("households_unable_to_support", "other_combined"), recorded - sum(unable.values())))
    if sum(unable.values()) + other_combined != recorded:
        raise ValueError(f"{year}: reasons do not add to the recorded total")
    unable.update(shares_to_counts(other_combined, d["reasons_other_split"]))
    unable["not_recorded"] = unable_all - recorded
    unable = {r: unable[r] for r in REASONS}

    # Move-on destinations.
    mo_keys = ("social_housing", "private_rented", "non_da_supported", "unknown", "returned_to_perpetrator", "other_combined")
    mo_shares = _shares(o, "move_on_share", mo_keys) or d["move_on_shares"]
    mo = shares_to_counts(d["move_on_total"], mo_shares)
    mo.update(shares_to_counts(mo.pop("other_combined"), MOVE_ON_OTHER_SPLIT))
    move_on = {k: mo[k] for k in DESTINATIONS}

    # Length of stay: bands x types, both margins exact.
    stays_key = ("stays_recorded", "all")
    stays_total = int(o[stays_key] if stays_key in o else d.get("stays_recorded", 0))
    band_shares = _shares(o, "length_of_stay_share", STAY_BANDS) or d["stays_band_shares"]
    bands = shares_to_counts(stays_total, band_shares)
    types = shares_to_counts(stays_total, d["stays_type_shares"])
    stays = fit_matrix(types, bands, STAY_MIX, col_order=STAY_BANDS)

    # Commissioned units.
    if ("commissioned_units", "all") in o:
        units = {t: int(o[("commissioned_units", t)]) for t in ACCOMMODATION_TYPES if ("commissioned_units", t) in o}
        units.update(d["units_other_split"])
        if sum(units.values()) != int(o[("commissioned_units", "all")]):
            raise ValueError(f"{year}: units do not add to the published total")
    else:
        units = dict(d["units"])
    units = {t: units[t] for t in ACCOMMODATION_TYPES}

    # Women's Aid refuge bedspaces (1 May snapshot) and referral outcomes.
    if ("refuge_bedspaces", "all") in o:
        bedspaces = int(o[("refuge_bedspaces", "all")])
    elif ("refuge_shortfall_vs_council_of_europe", "all") in o:
        minimum = Decimal(ref.england_population(year)) / 10000
        shortfall = o[("refuge_shortfall_vs_council_of_europe", "all")]
        bedspaces = int((minimum * (1 - shortfall / 100)).to_integral_value())
    else:
        bedspaces = d["bedspaces"]
    if ("refuge_referrals", "accepted") in o:
        accepted = int(o[("refuge_referrals", "accepted")])
        not_accepted = int(o[("refuge_referrals", "not_accepted")])
        declined = round(not_accepted * DECLINED_OF_NOT_ACCEPTED)
        referrals = {"accepted": accepted, "declined": declined, "withdrawn": not_accepted - declined}
    else:
        referrals = dict(d["referrals"])
    referrals["pending"] = d["referrals_pending"]

    rate, repeat = MARAC[year]
    return Targets(
        year=year,
        individuals=individuals,
        from_outside_area_share=fo_share,
        characteristics=chars,
        unable=unable,
        move_on=move_on,
        stays=stays,
        units=units,
        households_per_adult=d["households_per_adult"],
        bedspaces=bedspaces,
        referrals=referrals,
        marac_rate=rate,
        marac_repeat_share=repeat,
    )
