"""The linear-programming intruder (tests/fixtures/lp_attacker.py) against published releases.

The intruder reads only public files. It is tested here on a fixture cut from the 2024-25
release as first published (tests/fixtures/lp_attack/release: East Midlands authorities,
its region, four years, households supported and the move-on and from-outside-the-area
figures), whose suppressed cells' true values are kept beside it in a separate, restricted
file (restricted_truth_not_public.csv, from the audit bundle) that only these tests read:

* soundness: every constraint the intruder writes holds on the true values, and every
  interval it finds contains the true value;
* strength: it narrows named cells through each channel: rounded totals, rates and shares,
  and year-on-year change (see the tests);
* the sample release, as the pipeline builds it now, leaves no suppressed cell narrowed below
  the protection width.
"""

from __future__ import annotations

import ast
import csv
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.fixtures import lp_attacker as lp

FIXTURE = Path(__file__).parent / "fixtures" / "lp_attack"
RELEASE = FIXTURE / "release"
TRUTH = FIXTURE / "restricted_truth_not_public.csv"  # restricted: never part of a release

# rounded regional totals with the declared relations and the geography, nothing else
TOTALS = frozenset({"rounding", "relations", "geography"})


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def truth() -> dict[str, dict]:
    return {r["figure_id"]: r for r in _read(TRUTH)}


def _true(truth: dict, f: lp.Finding) -> float:
    return float(truth[f.figure_id]["value" if f.field == "value" else f.field])


def _attack(channels=lp.CHANNELS, **kw) -> dict[tuple[str, str], lp.Finding]:
    return {(f.figure_id, f.field): f for f in lp.attack(RELEASE, channels=channels, exact=True, workers=1, **kw)}


def _interval(findings, figure_id: str, field: str = "value") -> tuple[int, float]:
    f = findings[(figure_id, field)]
    return f.lo, f.hi


@pytest.fixture(scope="module")
def everything() -> dict[tuple[str, str], lp.Finding]:
    return _attack()


# --- soundness ---------------------------------------------------------------------------

def test_the_attacker_shares_no_code_with_the_pipeline():
    tree = ast.parse((Path(lp.__file__)).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not [m for m in imported if m == "pipelines" or m.startswith("pipelines.")]


def test_every_constraint_of_the_intruder_holds_on_the_true_values(truth):
    model = lp.build_model(RELEASE)
    assert model.targets and model.constraints
    values = lp.truth_by_key(model, list(truth.values()))
    # every unknown has its true value in the restricted file, or is an [x] cell (nothing)
    missing = [k for k in model.keys if values.get(k) is None]
    assert not missing, missing[:5]
    assert lp.truth_violations(model, values) == []


def test_every_interval_found_contains_the_true_value(everything, truth):
    assert len(everything) == 39
    wrong = [(f, _true(truth, f)) for f in everything.values() if not f.lo <= _true(truth, f) <= f.hi]
    assert wrong == []


def test_the_shortcut_finds_the_same_under_protected_cells_as_the_exact_search(everything):
    quick = {(f.figure_id, f.field): f for f in lp.attack(RELEASE, workers=1)}
    assert quick.keys() == everything.keys()
    for key, f in quick.items():
        e = everything[key]
        if f.exact:
            assert (f.lo, f.hi) == (e.lo, e.hi)
        else:  # values seen in feasible points: inside the true extremes, and enough of them
            assert e.lo <= f.lo and f.hi <= e.hi and f.values >= 5
    narrow = {k for k, f in everything.items() if f.values < 5 or f.inside(4)}
    assert {k for k, f in quick.items() if f.values < 5 or f.inside(4)} == narrow


def test_changes_computed_from_the_published_figures_are_not_taken_for_true_changes(tmp_path, truth):
    """A release may publish its regional changes as the differences of the published (rounded)
    figures: the intruder must see that and not read them as changes of the true values."""
    release = tmp_path / "release"
    shutil.copytree(RELEASE, release)
    rows = _read(release / "data" / "figures.csv")
    shown = {(r["measure"], r["breakdown"], r["geography_code"], r["time_period"]): r["value"] for r in rows}
    changed = 0
    for r in rows:
        if r["geographic_level"] not in ("regional", "national") or not r["measure"].endswith(
                ("_change", "_change_percent")) or r["value_status"] not in ("rounded", "published", "low"):
            continue
        pct = r["measure"].endswith("_change_percent")
        base = r["measure"].removesuffix("_change_percent" if pct else "_change")
        if base not in ("households_supported", "households_moved_on"):
            continue
        v1 = shown.get((base, r["breakdown"], r["geography_code"], r["time_period"]))
        v0 = shown.get((base, r["breakdown"], r["geography_code"], lp.previous_year(r["time_period"])))
        try:
            v1, v0 = int(v1), int(v0)
        except (TypeError, ValueError):
            continue
        if pct and v0:
            r["value"] = str(Decimal(100 * (v1 - v0) / v0).quantize(Decimal("0.1"), ROUND_HALF_UP))
        elif not pct:
            r["value"], r["value_status"] = str(v1 - v0), "rounded"
        changed += 1
    assert changed > 20
    with (release / "data" / "figures.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    model = lp.build_model(release)
    assert lp.truth_violations(model, lp.truth_by_key(model, list(truth.values()))) == []
    assert not [c for c in model.constraints if c.channel == "changes" and "E12000004" in c.label]


# --- strength: each channel narrows named cells --------------------------------------------

def test_rounded_regional_totals_narrow_cells(truth):
    """Derby's other and second-stage households of 2022-23 are both [c]: households_supported.all
    gives their sum, and the East Midlands totals (rounded to 10) with the region's other
    authorities leave 2 values each."""
    found = _attack(TOTALS)
    assert _interval(found, "households_supported.other.E06000015.2022-23") == (17, 18)
    assert _interval(found, "households_supported.second_stage.E06000015.2022-23") == (2, 3)
    assert _interval(found, "households_supported.second_stage.E06000015.2021-22") == (0, 2)
    assert _interval(found, "households_supported.other.E06000015.2021-22") == (18, 20)


def test_rates_and_shares_narrow_cells():
    """Rutland's settled-housing share of 2023-24 is [c]; its numerator is 0 to 5 from the
    totals alone, and the region's share, published to 1 decimal place from unrounded counts,
    leaves 4 or 5. The same for its from-outside-the-area numerator of 2022-23 (0 to 7, then 0
    to 2)."""
    totals, rates = _attack(TOTALS), _attack(TOTALS | {"rates"})
    cell = "settled_housing_share.all.E06000017.2023-24"
    assert _interval(totals, cell, "numerator") == (0, 5)
    assert _interval(rates, cell, "numerator") == (4, 5)
    cell = "from_outside_area_share.all.E06000017.2022-23"
    assert _interval(totals, cell, "numerator") == (0, 7)
    assert _interval(rates, cell, "numerator") == (0, 2)


def test_year_on_year_change_pins_cells():
    """The regional percent change, published to 1 decimal place from unrounded counts, pins
    the region's true count, and so a hidden authority count: Rutland's dispersed households of
    2023-24 (8 to 13 from the totals: 9), its households moved on in 2022-23 (0 to 8: 3), and
    West Northamptonshire's specialist households of 2021-22 (5 to 14: 13)."""
    totals, changes = _attack(TOTALS), _attack(TOTALS | {"changes"})
    for cell, before, after in [
        ("households_supported.dispersed.E06000017.2023-24", (8, 13), (9, 9)),
        ("households_moved_on.all.E06000017.2022-23", (0, 8), (3, 3)),
        ("households_supported.specialist.E06000062.2021-22", (5, 14), (13, 13)),
    ]:
        assert _interval(totals, cell) == before
        assert _interval(changes, cell) == after


def test_under_protected_cells_of_the_fixture(truth):
    under = {(f.figure_id, f.field): f for f in lp.under_protected(RELEASE, workers=1)}
    pinned = {k for k, f in under.items() if f.values == 1}
    assert len(under) >= 19 and len(pinned) >= 15
    assert {("households_supported.other.E06000015.2022-23", "value"),
            ("settled_housing_share.all.E06000017.2023-24", "numerator"),
            ("households_supported.dispersed.E06000017.2023-24", "value")} <= under.keys()
    # a pinned cell is pinned at its true value
    assert all(under[k].lo == _true(truth, under[k]) for k in pinned)


def test_the_public_suppression_log_tells_the_intruder_which_cells_are_primary(everything, truth):
    """data/suppression_log.csv says which [c] is primary (a count from 1 to 4): with it the
    intruder pins more cells."""
    known = _attack(know_primary=True)
    assert sum(f.values == 1 for f in known.values()) > sum(f.values == 1 for f in everything.values())
    assert all(f.lo <= _true(truth, f) <= f.hi for f in known.values())


# --- the sample release as the pipeline builds it now ------------------------------------

def test_sample_release_withstands_the_lp_attacker(sample_build):
    release, _ = sample_build
    under = lp.under_protected(release)
    shown = "\n".join(f"{f.figure_id} {f.field}: {f.lo} to {f.hi}" for f in under[:25])
    assert not under, f"{len(under)} suppressed cells narrowed below the protection width:\n{shown}"
