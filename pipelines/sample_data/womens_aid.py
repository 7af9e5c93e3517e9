"""Women's Aid extract: the Routes to Support refuge snapshot (1 May) and On Track referrals.

The services form one persistent list (same `service_id` every year, a few opening and
closing), placed on 2021-22 geography and moved to the successor authority after the April
2023 reorganisation. Refuge bedspaces and referral outcomes are calibrated exactly.
"""

from __future__ import annotations

import datetime as dt
import pathlib
from dataclasses import dataclass

from .files import write_csv
from .numeric import apportion, jitter, stream
from .reference import Reference
from .targets import Targets

YEAR_INDEX = {"2021-22": 0, "2022-23": 1, "2023-24": 2, "2024-25": 3}
POOL_SIZE = 300
INITIAL = 270  # active in 2021-22; 10 more open each later year, 3 close
OPENING_PER_YEAR = 10
CLOSING_PER_YEAR = 3
COMMUNITY_SHARE = 0.13

# April 2023: county -> successor(s); a service in Cumbria goes to one of the two.
SUCCESSORS = {
    "E10000006": ("E06000063", "E06000064"),
    "E10000023": ("E06000065",),
    "E10000027": ("E06000066",),
}
# By-and-for refuges: (authority on 2021-22 geography, group, how many).
BY_AND_FOR = (
    ("E61000001", "black_minoritised", 5), ("E61000001", "lgbtq", 1), ("E61000001", "deaf", 1),
    ("E08000025", "black_minoritised", 2), ("E08000003", "black_minoritised", 1),
    ("E08000035", "black_minoritised", 1), ("E08000032", "black_minoritised", 1),
    ("E06000016", "black_minoritised", 1), ("E08000028", "black_minoritised", 1),
    ("E08000026", "black_minoritised", 1), ("E08000031", "black_minoritised", 1),
    ("E08000025", "disabled", 1),
)  # fmt: skip
SUPPORT_NEEDS = {
    "mental_health": 0.36, "drugs": 0.12, "alcohol": 0.12, "disability": 0.10,
    "nrpf": 0.07, "large_family": 0.0, "older_son": 0.05, "offending": 0.04,
}  # fmt: skip
CHILDREN = {0: 34, 1: 25, 2: 20, 3: 12, 4: 5, 5: 3, 6: 1}
DECLINE_REASONS = {
    "no_capacity": 52, "needs_not_met": 11, "nrpf": 2, "risk_or_safety": 13,
    "unable_to_contact": 14, "other": 8,
}  # fmt: skip
COMPLEX_NEEDS = ("mental_health", "drugs", "alcohol", "disability", "large_family", "older_son", "offending")

SERVICE_COLUMNS = (
    "service_id", "snapshot_date", "gss_code", "service_type", "by_and_for", "by_and_for_group",
    "bedspaces", "accepts_nrpf", "wheelchair_accessible_bedspaces",
)  # fmt: skip
REFERRAL_COLUMNS = (
    "referral_id", "service_id", "referral_date", "outcome", "decline_reason", "children", "support_needs",
)  # fmt: skip


@dataclass
class PoolService:
    service_id: str
    gss_2021: str
    service_type: str
    size: float
    accepts_nrpf: bool
    wheelchair_ratio: float
    opens: int  # first year index active
    closes: int  # first year index no longer active (4 = never)
    by_and_for_group: str | None = None
    successor: str | None = None


def _pool(ref: Reference, seed: int) -> list[PoolService]:
    r = stream(seed, "womens_aid", "pool")
    authorities = ref.authorities["2021-22"]
    weights = [a.population * (0.6 + 0.8 * r.random()) if a.population > 10_000 else 0.0 for a in authorities]
    counts = apportion(POOL_SIZE, weights)
    services: list[PoolService] = []
    for a, n in zip(authorities, counts, strict=True):
        for _ in range(n):
            community = r.random() < COMMUNITY_SHARE
            successor = None
            if a.gss_code in SUCCESSORS:
                options = SUCCESSORS[a.gss_code]
                successor = options[0] if len(options) == 1 or r.random() < 0.55 else options[1]
            services.append(
                PoolService(
                    service_id="",
                    gss_2021=a.gss_code,
                    service_type="community" if community else "refuge",
                    size=0.45 + 1.1 * r.random(),
                    accepts_nrpf=r.random() < 0.25,
                    wheelchair_ratio=0.0 if r.random() < 0.4 else 0.15 * r.random(),
                    opens=0,
                    closes=4,
                    successor=successor,
                )
            )
    for gss, group, n in BY_AND_FOR:
        here = [s for s in services if s.gss_2021 == gss and s.by_and_for_group is None]
        # Keep a general refuge beside the by-and-for ones: turn community services into
        # refuges if need be.
        for s in here:
            if sum(1 for x in here if x.service_type == "refuge") >= n + 1:
                break
            s.service_type = "refuge"
        refuges = [s for s in here if s.service_type == "refuge"]
        while len(refuges) < n + 1:  # or add one
            refuges.append(PoolService("", gss, "refuge", 0.45 + 1.1 * r.random(), False, 0.0, 0, 4))
            services.append(refuges[-1])
        for s in refuges[:n]:
            s.by_and_for_group = group
            s.accepts_nrpf = group == "black_minoritised" or s.accepts_nrpf
    services.sort(key=lambda s: s.gss_2021)  # stable: keeps the order within an authority
    # Which services open late and which close (never a by-and-for one).
    order = list(range(len(services)))
    r.shuffle(order)
    late = [i for i in order if services[i].by_and_for_group is None][: POOL_SIZE - INITIAL]
    for k, i in enumerate(late):
        services[i].opens = 1 + k // OPENING_PER_YEAR
    closing = [i for i in order if services[i].opens == 0 and services[i].by_and_for_group is None][-3 * CLOSING_PER_YEAR :]
    for k, i in enumerate(closing):
        services[i].closes = 1 + k // CLOSING_PER_YEAR
    for n, s in enumerate(services, start=1):
        s.service_id = f"RTS{n:04d}"
    return services


def _gss(s: PoolService, year: str) -> str:
    if YEAR_INDEX[year] >= 2 and s.successor is not None:
        return s.successor
    return s.gss_2021


def refuge_services(ref: Reference, year: str, targets: Targets, seed: int) -> list[dict]:
    yi = YEAR_INDEX[year]
    active = [s for s in _pool(ref, seed) if s.opens <= yi < s.closes]
    r = stream(seed, year, "womens_aid", "bedspaces")
    refuges = [s for s in active if s.service_type == "refuge"]
    beds = dict(
        zip(
            (s.service_id for s in refuges),
            apportion(targets.bedspaces, [s.size * jitter(r, 0.06) for s in refuges], mins=[3] * len(refuges)),
            strict=True,
        )
    )
    expected = {a.gss_code for a in ref.authorities[year]}
    rows = []
    for s in active:
        gss = _gss(s, year)
        if gss not in expected:
            raise ValueError(f"{year}: service {s.service_id} placed in {gss}, not a Tier 1 authority that year")
        bedspaces = beds.get(s.service_id, 0)
        rows.append({
            "service_id": s.service_id,
            "snapshot_date": dt.date(int(year[:4]), 5, 1).isoformat(),
            "gss_code": gss,
            "service_type": s.service_type,
            "by_and_for": "yes" if s.by_and_for_group else "no",
            "by_and_for_group": s.by_and_for_group,
            "bedspaces": bedspaces,
            "accepts_nrpf": "yes" if s.accepts_nrpf else "no",
            "wheelchair_accessible_bedspaces": int(bedspaces * s.wheelchair_ratio),
        })  # fmt: skip
    return rows


def referrals(year: str, targets: Targets, services: list[dict], seed: int) -> list[dict]:
    r = stream(seed, year, "womens_aid", "referrals")
    counts = targets.referrals
    n = sum(counts.values())
    refuges = [s for s in services if s["service_type"] == "refuge"]
    cum, acc = [], 0.0
    for s in refuges:
        acc += s["bedspaces"]
        cum.append(acc)
    start = dt.date(int(year[:4]), 4, 1)
    days = (dt.date(int(year[:4]) + 1, 4, 1) - start).days
    kids, kid_weights = list(CHILDREN), list(CHILDREN.values())
    rows = []
    for service in r.choices(refuges, cum_weights=cum, k=n):
        children = r.choices(kids, weights=kid_weights)[0]
        needs = [k for k, p in SUPPORT_NEEDS.items() if r.random() < p]
        if children >= 4 or (children == 3 and r.random() < 0.25):
            needs.append("large_family")
        needs.sort(key=list(SUPPORT_NEEDS).index)
        rows.append({
            "service_id": service["service_id"],
            "referral_date": start + dt.timedelta(days=r.randrange(days)),
            "children": children,
            "needs": needs,
            "tiebreak": r.random(),
        })  # fmt: skip
    rows.sort(key=lambda x: (x["referral_date"], x["service_id"], x["tiebreak"]))

    # Pending: referrals from the last eight weeks still without an outcome.
    last_weeks = start + dt.timedelta(days=days - 56)
    recent = [i for i, x in enumerate(rows) if x["referral_date"] >= last_weeks]
    pending = set(r.sample(recent, counts["pending"]))
    rest = [i for i in range(n) if i not in pending]
    # Declined: more likely with complex needs or no recourse to public funds.
    def decline_score(x: dict) -> float:
        w = 1.0
        w += 1.5 if "nrpf" in x["needs"] else 0.0
        w += 0.6 * sum(1 for k in COMPLEX_NEEDS if k in x["needs"])
        return r.random() * w

    scored = sorted(rest, key=lambda i: (-decline_score(rows[i]), i))
    declined = set(scored[: counts["declined"]])
    remaining = scored[counts["declined"] :]
    withdrawn = set(r.sample(remaining, counts["withdrawn"]))
    reasons, reason_weights = list(DECLINE_REASONS), list(DECLINE_REASONS.values())
    out = []
    prefix = year[2:4] + year[5:7]
    for i, x in enumerate(rows):
        decline_reason = None
        if i in pending:
            outcome = "pending"
        elif i in declined:
            outcome = "declined"
            u = r.random()
            if "nrpf" in x["needs"] and u < 0.4:
                decline_reason = "nrpf"
            elif any(k in x["needs"] for k in COMPLEX_NEEDS) and u < 0.2:
                decline_reason = "needs_not_met"
            else:
                decline_reason = r.choices(reasons, weights=reason_weights)[0]
        elif i in withdrawn:
            outcome = "withdrawn"
        else:
            outcome = "accepted"
        out.append({
            "referral_id": f"{prefix}-{i + 1:06d}",
            "service_id": x["service_id"],
            "referral_date": x["referral_date"].isoformat(),
            "outcome": outcome,
            "decline_reason": decline_reason,
            "children": x["children"],
            "support_needs": ";".join(x["needs"]),
        })  # fmt: skip
    return out


def write(ref: Reference, year: str, targets: Targets, seed: int, out_dir: pathlib.Path) -> list[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    services = refuge_services(ref, year, targets, seed)
    refs = referrals(year, targets, services, seed)
    services_path = out_dir / "refuge_services.csv"
    referrals_path = out_dir / "referrals.csv"
    write_csv(services_path, SERVICE_COLUMNS, ([s[c] for c in SERVICE_COLUMNS] for s in services))
    write_csv(referrals_path, REFERRAL_COLUMNS, ([x[c] for c in REFERRAL_COLUMNS] for x in refs))
    return [services_path, referrals_path]
