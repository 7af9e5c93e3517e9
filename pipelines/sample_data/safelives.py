"""SafeLives extract: cases discussed at each Marac, by quarter.

About 270 Maracs (the same ones every year) spread over the 39 police force areas by
female population aged 16+. Cases are set so England's rate per 10,000 women 16+ is the
year's target exactly (before rounding); every Marac reports all four quarters.
"""

from __future__ import annotations

import datetime as dt
import pathlib

from .files import write_csv
from .numeric import apportion, jitter, stream
from .reference import Reference
from .targets import MARAC_COUNT, Targets

COLUMNS = (
    "marac_id", "pfa_code", "quarter_end", "cases_discussed", "repeat_cases",
    "children_in_households", "cases_black_minoritised", "cases_lgbt", "cases_disabled", "cases_male",
)  # fmt: skip
# Share of cases involving Black and minoritised victims, where it is well above the 7% elsewhere.
BLACK_MINORITISED = {
    "E23000001": 0.38, "E23000034": 0.22, "E23000014": 0.27, "E23000010": 0.20,
    "E23000005": 0.19, "E23000026": 0.22, "E23000021": 0.20, "E23000029": 0.14,
    "E23000019": 0.13,
}  # fmt: skip
OTHER_SHARES = {"cases_lgbt": 0.017, "cases_disabled": 0.065, "cases_male": 0.05}


def _quarter_ends(year: str) -> list[dt.date]:
    y = int(year[:4])
    return [dt.date(y, 6, 30), dt.date(y, 9, 30), dt.date(y, 12, 31), dt.date(y + 1, 3, 31)]


def rows(ref: Reference, year: str, targets: Targets, seed: int) -> list[dict]:
    pfas = ref.pfas[year]
    persistent = stream(seed, "safelives", "maracs")
    base = ref.pfas["2021-22"]
    counts = apportion(
        MARAC_COUNT,
        [p.female_16plus * jitter(persistent, 0.25) for p in base],
        mins=[1] * len(base),
    )
    maracs = {p.pfa_code: [0.5 + persistent.random() for _ in range(n)] for p, n in zip(base, counts, strict=True)}
    activity = {p.pfa_code: jitter(persistent, 0.2) for p in base}

    r = stream(seed, year, "safelives")
    total = round(ref.england_female_16plus(year) * targets.marac_rate / 10000)
    by_pfa = apportion(total, [p.female_16plus * activity[p.pfa_code] * jitter(r, 0.05) for p in pfas])
    quarters = _quarter_ends(year)
    out = []
    for p, pfa_total in zip(pfas, by_pfa, strict=True):
        cells = [(m, q) for m in range(len(maracs[p.pfa_code])) for q in range(4)]
        weights = [maracs[p.pfa_code][m] * jitter(r, 0.08) for m, q in cells]
        cases = dict(zip(cells, apportion(pfa_total, weights), strict=True))
        bm = BLACK_MINORITISED.get(p.pfa_code, 0.07)
        for m, q in cells:
            c = cases[(m, q)]

            def part(share: float, spread: float = 0.25, c: int = c) -> int:
                return min(c, round(c * share * jitter(r, spread)))

            out.append({
                "marac_id": f"{p.pfa_code}-M{m + 1:02d}",
                "pfa_code": p.pfa_code,
                "quarter_end": quarters[q].isoformat(),
                "cases_discussed": c,
                "repeat_cases": part(targets.marac_repeat_share / 100, 0.15),
                "children_in_households": round(c * (1.1 + 0.4 * r.random())),
                "cases_black_minoritised": part(bm),
                "cases_lgbt": part(OTHER_SHARES["cases_lgbt"], 0.5),
                "cases_disabled": part(OTHER_SHARES["cases_disabled"]),
                "cases_male": part(OTHER_SHARES["cases_male"]),
            })  # fmt: skip
    return out


def write(ref: Reference, year: str, targets: Targets, seed: int, out_dir: pathlib.Path) -> list[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "marac_quarterly.csv"
    write_csv(path, COLUMNS, ([x[c] for c in COLUMNS] for x in rows(ref, year, targets, seed)))
    return [path]
