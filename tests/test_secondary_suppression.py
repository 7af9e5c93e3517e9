"""Secondary suppression: no suppressed figure can be worked out from the published ones.

The checker (tests/fixtures/recovery_checker.py) is independent of the pipeline's own
suppression step; it sees only what a reader sees, plus the true values to confirm a find.
"""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines import metric_catalog, provenance
from pipelines.disclosure import DisclosureSettings, Publisher
from pipelines.metric_catalog import Measure, Relation, Term
from pipelines.suppression import UnprotectableError
from pipelines.paths import REFERENCE_DIR
from pipelines.release_assets import collect_metrics
from tests.fixtures import builders as B
from tests.fixtures.recovery_checker import find_recoveries

METRIC_COLS = ("measure", "breakdown", "financial_year", "geographic_level", "geography_code", "geography_name",
               "numerator", "denominator", "value", "region_code", "region_name")


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _truth(metrics: pl.DataFrame, kinds: dict[str, str]) -> dict:
    truth = {}
    for r in metrics.iter_rows(named=True):
        cells = [("value", r["numerator"] if r["numerator"] is not None else r["value"])] \
            if kinds[r["measure"]] == "count" else [("numerator", r["numerator"]), ("denominator", r["denominator"])]
        for name, v in cells:
            if v is not None:
                truth[(r["financial_year"], (r["measure"], r["breakdown"], name, r["geography_code"]))] = v
    return truth


# --- the sample release ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(sample_build):
    release, db = sample_build
    figures = _read_csv(release / "data" / "figures.csv")
    # the log with its rules is restricted: in the audit bundle, never in the release
    log = pl.read_parquet(B.audit_bundle_of(release, "2024-25") / provenance.SUPPRESSION_LOG_FILE).to_dicts()
    con = duckdb.connect(str(db), read_only=True)
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'metric_%' ORDER BY 1").fetchall()]
    metrics = collect_metrics(con, tables)
    con.close()
    return figures, log, metrics


def test_the_years_solved_in_two_processes_give_what_one_after_another_gives(sample, monkeypatch):
    """Disclosure control and its audit solve the years in two worker processes (decision
    0012): the published figures, the suppression log and every year's audit are the same as
    when the years are solved one after another in this process."""
    from polars.testing import assert_frame_equal

    metrics = sample[2]

    def run() -> tuple[pl.DataFrame, pl.DataFrame, dict]:
        publisher = Publisher(metric_catalog.measures(), DisclosureSettings())
        figures = publisher.publish(metrics)
        audits = publisher.audit_published(metrics, figures)
        return figures, publisher.suppression_log, {y: (a.intervals, a.failing, a.components, a.solves)
                                                    for y, a in audits.items()}

    monkeypatch.delenv("DASA_SERIAL_DISCLOSURE", raising=False)
    parallel = run()
    monkeypatch.setenv("DASA_SERIAL_DISCLOSURE", "1")
    serial = run()
    assert len(parallel[2]) == len(set(metrics["financial_year"].to_list())) > 1
    assert_frame_equal(parallel[0], serial[0])
    assert_frame_equal(parallel[1], serial[1])
    assert parallel[2] == serial[2]


def test_no_suppressed_figure_in_the_sample_release_can_be_recovered(sample):
    figures, log, metrics = sample
    catalog = metric_catalog.measures()
    kinds = {m.id: m.kind for m in catalog.values()}
    people = {m.id for m in catalog.values() if m.counts_people}
    region_of = {(r["financial_year"], r["gss_code"]): r["region_code"]
                 for r in _read_csv(REFERENCE_DIR / "tier1_by_financial_year.csv")}
    # a reader is not told which suppressed figure is primary (the log with its rules is restricted)
    public_log = [{**r, "rule": "suppressed"} for r in log]
    found = find_recoveries(figures, public_log, metric_catalog.relations(), kinds, people, region_of,
                            _truth(metrics, kinds))
    assert found == []
    # the checker is not idle: without secondary suppression it recovers primary cells
    assert any(r["rule"] == "secondary" for r in log)
    unprotected = _unsuppress_secondaries(figures, log, metrics)
    assert find_recoveries(unprotected, [r for r in log if r["rule"] != "secondary"], metric_catalog.relations(),
                           kinds, people, region_of, _truth(metrics, kinds))


def _unsuppress_secondaries(figures: list[dict], log: list[dict], metrics: pl.DataFrame) -> list[dict]:
    """The same figures with every secondary suppression shown: what primary suppression alone gives."""
    secondary = {r["figure_id"] for r in log if r["rule"] == "secondary"}
    true = {f"{r['measure']}.{r['breakdown']}.{r['geography_code']}.{r['financial_year']}": r
            for r in metrics.iter_rows(named=True)}
    out = []
    for f in figures:
        if f["figure_id"] in secondary:
            t = true[f["figure_id"]]
            f = {**f, "value": str(t["value"]), "value_status": "published",
                 "numerator": "" if t["numerator"] is None else str(int(t["numerator"])),
                 "denominator": "" if t["denominator"] is None else str(int(t["denominator"]))}
        out.append(f)
    return out


def test_no_authority_count_of_people_from_1_to_4_is_published(sample):
    figures, _, _ = sample
    people = {m.id for m in metric_catalog.measures().values() if m.counts_people and m.kind == "count"}
    small = [f["figure_id"] for f in figures if f["geographic_level"] == "local_authority"
             and f["measure"] in people and f["value"] in {"1", "2", "3", "4"}]
    assert small == []


def test_every_suppressed_figure_is_logged_with_its_rule(sample):
    figures, log, _ = sample
    suppressed = {f["figure_id"] for f in figures if f["value_status"] == "suppressed"}
    assert suppressed == {r["figure_id"] for r in log}
    assert all(f["value"] == "[c]" and f["numerator"] == "" and f["denominator"] == ""
               for f in figures if f["value_status"] == "suppressed")
    for r in log:
        assert r["rule"].split(":")[0] in {"primary", "secondary", "change", "carried"}, r
        if r["rule"] == "secondary":
            assert r["protects"] and r["relation"], r
            assert set(r["protects"].split(";")) <= suppressed, r
        else:
            assert r["protects"] == "", r


def test_secondary_suppressions_are_under_5_percent_of_authority_figures(sample):
    figures, log, _ = sample
    year = "2024-25"
    authority = [f for f in figures if f["geographic_level"] == "local_authority" and f["time_period"] == year
                 and "_change" not in f["measure"]]
    secondary = [r for r in log if r["rule"] == "secondary" and r["time_period"] == year]
    primary = [r for r in log if r["rule"].startswith("primary") and r["time_period"] == year]
    assert primary, "the sample has small counts to suppress"
    assert 0 < len(secondary) < 0.05 * len(authority), (len(primary), len(secondary), len(authority))


# --- generated tables --------------------------------------------------------------------

def _measure(id_: str, kind: str, breakdowns: tuple[str, ...]) -> Measure:
    return Measure(id=id_, family="generated", source="authority_returns", theme="context", title=id_,
                   unit="people" if kind == "count" else "percent", kind=kind, counts_people=True, headline=False,
                   definition="", numerator=None, denominator=None,
                   geographies=("national", "regional", "local_authority"), breakdowns=breakdowns)


MEASURES = {
    "people": _measure("people", "count", ("all", "a", "b", "c", "x", "y")),
    "share": _measure("share", "percent", ("all",)),
}
RELATIONS = (
    Relation(Term("people", "all"), (Term("people", "a"), Term("people", "b"), Term("people", "c")), "generated"),
    Relation(Term("people", "all"), (Term("people", "x"), Term("people", "y")), "generated"),  # a second table
    Relation(Term("share", "all", "numerator"), (Term("people", "a"),), "generated"),  # a rate on a count
    Relation(Term("share", "all", "denominator"), (Term("people", "all"),), "generated"),
)
YEAR = "2030-31"
small_counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@st.composite
def tables(draw):
    """Random regions and authorities, each with a breakdown a+b+c, a second breakdown x+y of
    the same total, and a rate a/all, with many small counts."""
    n_regions = draw(st.integers(2, 4))
    rows = []
    sums: dict[tuple[str, str], list[int]] = {}
    for g in range(n_regions):
        region = f"R{g}"
        for a in range(draw(st.integers(1, 6))):
            la = f"{region}A{a}"
            parts = {b: draw(small_counts) for b in "abc"}
            total = sum(parts.values())
            x = draw(st.integers(0, total))
            vals = {"all": total, **parts, "x": x, "y": total - x}
            for b, v in vals.items():
                rows.append(("people", b, "local_authority", la, v, None, v, region))
                sums.setdefault((region, b), []).append(v)
            rows.append(("share", "all", "local_authority", la, parts["a"], total,
                         100 * parts["a"] / total if total else None, region))
    for (region, b), vs in list(sums.items()):
        rows.append(("people", b, "regional", region, sum(vs), None, sum(vs), None))
    for b in ("all", "a", "b", "c", "x", "y"):
        t = sum(sum(vs) for (_, bb), vs in sums.items() if bb == b)
        rows.append(("people", b, "national", "E", t, None, t, None))
    for region in {r for r, _ in sums}:
        n, d = sum(sums[(region, "a")]), sum(sums[(region, "all")])
        rows.append(("share", "all", "regional", region, n, d, 100 * n / d if d else None, None))
    n, d = sum(sum(v) for (_, b), v in sums.items() if b == "a"), sum(sum(v) for (_, b), v in sums.items() if b == "all")
    rows.append(("share", "all", "national", "E", n, d, 100 * n / d if d else None, None))
    return pl.DataFrame(
        [dict(zip(METRIC_COLS, (m, b, YEAR, lvl, geo, geo, float(num), None if den is None else float(den),
                                val, reg, reg))) for m, b, lvl, geo, num, den, val, reg in rows],
        schema={**{c: pl.String for c in METRIC_COLS}, "numerator": pl.Float64, "denominator": pl.Float64,
                "value": pl.Float64})


def _check_generated(metrics: pl.DataFrame, disclosure: DisclosureSettings) -> None:
    """Either every suppressed cell is protected, or the publisher refuses, naming a figure: a
    tiny table (a region of one authority with a handful of people, beside an England total
    that may not be suppressed) can have no safe pattern, and then nothing is published."""
    pub = Publisher(MEASURES, disclosure, RELATIONS)
    try:
        figures = pub.publish(metrics).to_dicts()
    except UnprotectableError as exc:
        assert "can be narrowed" in str(exc) or "recoverable" in str(exc) or "determined" in str(exc)
        return
    log = [{**r, "rule": "suppressed"} for r in pub.suppression_log.to_dicts()]  # a reader is not told the rules
    kinds = {k: m.kind for k, m in MEASURES.items()}
    region_of = {(YEAR, r["geography_code"]): r["region_code"] for r in metrics.iter_rows(named=True)
                 if r["geographic_level"] == "local_authority"}
    found = find_recoveries(figures, log, RELATIONS, kinds, set(MEASURES), region_of, _truth(metrics, kinds),
                            rounded_levels=disclosure.rounded_levels)
    # a regional or England figure is hidden only to protect authorities: it is their cells that
    # must not be recovered (an authority cell a hidden region gives away is found as itself)
    assert [f for f in found if (YEAR, f.cell[3]) in region_of] == []
    assert not [f for f in figures if f["geographic_level"] == "local_authority" and f["measure"] == "people"
                and f["value"] in {"1", "2", "3", "4"}]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_generated_tables_with_rounded_regions_leave_nothing_recoverable(metrics):
    _check_generated(metrics, DisclosureSettings())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_generated_tables_with_exact_regional_totals_leave_nothing_recoverable(metrics):
    """With rounding switched off, regional and England figures are exact sums of authorities.
    (An England figure that is itself a small count cannot be protected by suppressing
    authorities: such tables are left out.)"""
    national = metrics.filter((pl.col("geographic_level") == "national") & (pl.col("measure") == "people"))
    assume(national["value"].min() >= 10)
    _check_generated(metrics, DisclosureSettings(rounded_levels=()))


def test_a_lone_small_part_gets_a_complement_and_the_checker_would_have_found_it():
    """One authority, a=2 among parts 2, 9, 7: without a second suppression a = all - b - c."""
    rows = []
    for la, region, (a, b, c) in (("R0A0", "R0", (2, 9, 7)), ("R0A1", "R0", (8, 3, 30)), ("R1A0", "R1", (6, 6, 6)),
                                  ("R1A1", "R1", (7, 5, 9))):
        total = a + b + c
        for br, v in {"all": total, "a": a, "b": b, "c": c, "x": total, "y": 0}.items():
            rows.append({"measure": "people", "breakdown": br, "financial_year": YEAR, "geographic_level": "local_authority",
                         "geography_code": la, "geography_name": la, "numerator": float(v), "denominator": None,
                         "value": float(v), "region_code": region, "region_name": region})
    metrics = pl.DataFrame(rows, schema={**{c: pl.String for c in METRIC_COLS}, "numerator": pl.Float64,
                                         "denominator": pl.Float64, "value": pl.Float64})
    pub = Publisher(MEASURES, DisclosureSettings(), RELATIONS)
    figures = {f["figure_id"]: f for f in pub.publish(metrics).to_dicts()}
    log = {r["figure_id"]: r for r in pub.suppression_log.to_dicts()}
    assert log[f"people.a.R0A0.{YEAR}"]["rule"].startswith("primary")
    secondary = {k: r for k, r in log.items() if r["rule"] == "secondary"}
    # the smallest other cell of its breakdown (c=7, not b=9 or all=18) protects it
    assert f"people.c.R0A0.{YEAR}" in secondary
    assert secondary[f"people.c.R0A0.{YEAR}"]["protects"] == f"people.a.R0A0.{YEAR}"
    assert figures[f"people.b.R0A0.{YEAR}"]["value"] == "9"


def test_the_checker_finds_recoveries_when_secondary_suppression_is_switched_off(monkeypatch):
    from hypothesis import find

    import pipelines.disclosure

    monkeypatch.setattr(pipelines.disclosure, "secure", lambda problem, primary, width, threshold: ({}, None))

    def leaks(metrics: pl.DataFrame) -> bool:
        try:
            _check_generated(metrics, DisclosureSettings(rounded_levels=()))
        except AssertionError:
            return True
        return False

    find(tables(), leaks, settings=settings(max_examples=200, database=None))


def test_regional_and_england_counts_are_rounded_from_unrounded_sums(sample):
    """A region's count of people is the exact sum of its authorities, rounded once (half up)
    at the end: never a sum of rounded or suppressed figures."""
    figures, _, metrics = sample
    people = {m.id for m in metric_catalog.measures().values()
              if m.counts_people and m.kind == "count" and "local_authority" in m.geographies}
    la = metrics.filter((pl.col("geographic_level") == "local_authority") & pl.col("measure").is_in(people))
    sums = {(r["measure"], r["breakdown"], r["financial_year"], r["region_code"]): r["value"]
            for r in la.group_by("measure", "breakdown", "financial_year", "region_code")
                      .agg(pl.col("value").sum()).iter_rows(named=True)}
    checked = 0
    for f in figures:
        if f["geographic_level"] != "regional" or f["measure"] not in people or f["value_status"] != "rounded":
            continue
        exact = sums[(f["measure"], f["breakdown"], f["time_period"], f["geography_code"])]
        assert int(f["value"]) == (Decimal(int(exact)) / 10).quantize(Decimal(1), ROUND_HALF_UP) * 10, f["figure_id"]
        checked += 1
    assert checked > 500
    # and a region whose authorities sum to ...5 is rounded up, not to even
    assert any(int(v) % 10 == 5 for v in sums.values())
