"""The linear-programming intruder (tests/fixtures/lp_attacker.py) against generated releases.

Hypothesis draws random regions and authorities, each authority with a breakdown a+b+c, a
second breakdown x+y of the same total and a rate a/all, many small counts, over two or three
consecutive years (so year-on-year changes are published too). The pipeline's disclosure
control publishes them; what a reader has is written to a release folder (the figures, which
authority is in which region, the disclosure settings) and the rules to a metric definition
file, and the intruder attacks it:

* no suppressed authority count is narrowed below the protection width, or shown to be a
  small non-zero count;
* the intruder is sound: every constraint it writes holds on the true values, and every
  interval it finds contains the true value;
* it is not idle: with secondary suppression switched off, it finds an under-protected cell.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import polars as pl
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from pipelines.disclosure import DisclosureSettings, Publisher
from pipelines.suppression import UnprotectableError
from tests.fixtures import lp_attacker as lp
from tests.test_secondary_suppression import MEASURES, METRIC_COLS, RELATIONS, small_counts

PROTECTION_WIDTH, THRESHOLD = 5, 4
FIRST_YEAR = 2029
# the columns of data/figures.csv the intruder reads (as in tests/fixtures/lp_attack/release)
FIGURE_COLS = ("figure_id", "measure", "breakdown", "time_period", "geographic_level", "geography_code",
               "geography_name", "value", "value_status", "numerator", "denominator", "unit")
RETURN_COLS = ("financial_year", "gss_code", "authority_name", "region_code", "region_name")
BREAKDOWNS = ("all", "a", "b", "c", "x", "y")


def _year(start: int) -> str:
    return f"{start}-{(start + 1) % 100:02d}"


def _year_rows(draw, year: str, layout: list[tuple[str, str]]) -> list[dict]:
    """One year's metric rows for authorities (authority, region): counts drawn afresh."""
    rows = []
    sums: dict[tuple[str, str], list[int]] = {}

    def row(m, b, lvl, geo, num, den, val, reg):
        rows.append(dict(zip(METRIC_COLS, (m, b, year, lvl, geo, geo, float(num),
                                           None if den is None else float(den), val, reg, reg))))

    for la, region in layout:
        parts = {b: draw(small_counts) for b in "abc"}
        total = sum(parts.values())
        x = draw(st.integers(0, total))
        vals = {"all": total, **parts, "x": x, "y": total - x}
        for b, v in vals.items():
            row("people", b, "local_authority", la, v, None, float(v), region)
            sums.setdefault((region, b), []).append(v)
        row("share", "all", "local_authority", la, parts["a"], total,
            100 * parts["a"] / total if total else None, region)
    regions = sorted({r for _, r in layout})
    for region in regions:
        for b in BREAKDOWNS:
            t = sum(sums[(region, b)])
            row("people", b, "regional", region, t, None, float(t), None)
        n, d = sum(sums[(region, "a")]), sum(sums[(region, "all")])
        row("share", "all", "regional", region, n, d, 100 * n / d if d else None, None)
    for b in BREAKDOWNS:
        t = sum(sum(vs) for (_, bb), vs in sums.items() if bb == b)
        row("people", b, "national", "E", t, None, float(t), None)
    n = sum(sum(vs) for (_, b), vs in sums.items() if b == "a")
    d = sum(sum(vs) for (_, b), vs in sums.items() if b == "all")
    row("share", "all", "national", "E", n, d, 100 * n / d if d else None, None)
    return rows


@st.composite
def multi_year_tables(draw):
    """The layout of tests.test_secondary_suppression.tables() (2 to 4 regions of 1 to 6
    authorities), the same every year, with counts drawn independently for each of 2 or 3
    consecutive years."""
    layout = [(f"R{g}A{a}", f"R{g}") for g in range(draw(st.integers(2, 4))) for a in range(draw(st.integers(1, 6)))]
    years = [_year(FIRST_YEAR + i) for i in range(draw(st.integers(2, 3)))]
    rows = [r for y in years for r in _year_rows(draw, y, layout)]
    return pl.DataFrame(rows, schema={**{c: pl.String for c in METRIC_COLS}, "numerator": pl.Float64,
                                      "denominator": pl.Float64, "value": pl.Float64})


# --- the public release folder ------------------------------------------------------------

def write_rules(metrics_dir: Path) -> Path:
    """The published rules: the generated measures and their relations, as a metric definition file."""
    doc = {
        "measures": [{"id": m.id, "kind": m.kind, "counts_people": m.counts_people, "unit": m.unit,
                      "geographies": list(m.geographies), "breakdowns": list(m.breakdowns)}
                     for m in MEASURES.values()],
        "relations": [str(r) for r in RELATIONS],
    }
    metrics_dir.mkdir(parents=True, exist_ok=True)
    (metrics_dir / "generated.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return metrics_dir


def write_release(release_dir: Path, figures: pl.DataFrame, metrics: pl.DataFrame,
                  disclosure: DisclosureSettings) -> Path:
    """What a reader has: the published figures, the authorities of each region, the settings.
    The suppression log (which rule hides which cell) is not written."""
    data = release_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    figures.select(FIGURE_COLS).write_csv(data / "figures.csv")
    returns = sorted({(r["financial_year"], r["geography_code"], r["geography_name"], r["region_code"],
                       r["region_name"]) for r in metrics.iter_rows(named=True)
                      if r["geographic_level"] == "local_authority"})
    with (data / "returns.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(RETURN_COLS)
        w.writerows(returns)
    (release_dir / "provenance.json").write_text(
        json.dumps({"disclosure_settings": disclosure.as_dict()}, indent=1), encoding="utf-8")
    return release_dir


def true_rows(metrics: pl.DataFrame) -> list[dict]:
    """The true (unpublished) values, in the audit bundle's columns."""
    return [{"figure_id": f"{r['measure']}.{r['breakdown']}.{r['geography_code']}.{r['financial_year']}",
             "numerator": r["numerator"], "denominator": r["denominator"],
             "value": r["numerator"] if MEASURES[r["measure"]].kind == "count" else r["value"]}
            for r in metrics.iter_rows(named=True)]


def publish(metrics: pl.DataFrame, disclosure: DisclosureSettings) -> pl.DataFrame | None:
    """The published figures, or None when the pipeline refuses (a tiny table with no safe pattern)."""
    try:
        return Publisher(MEASURES, disclosure, RELATIONS).publish(metrics)
    except UnprotectableError:
        return None


def _under(findings: list[lp.Finding]) -> list[lp.Finding]:
    return [f for f in findings if f.values < PROTECTION_WIDTH or f.inside(THRESHOLD)]


def _show(metrics: pl.DataFrame, figures: pl.DataFrame, cells: list[lp.Finding]) -> str:
    table = metrics.filter((pl.col("geographic_level") == "local_authority") & (pl.col("measure") == "people")).pivot(
        on="breakdown", index=["financial_year", "geography_code"], values="numerator",
        aggregate_function="first").sort("financial_year", "geography_code")
    hidden = figures.filter(pl.col("value_status") == "suppressed")["figure_id"].to_list()
    return (f"narrowed: {[(f.figure_id, f.field, f.lo, f.hi) for f in cells]}\n"
            f"suppressed: {hidden}\ntrue authority counts:\n{table}")


# --- the tests ----------------------------------------------------------------------------

@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(multi_year_tables())
def test_generated_multi_year_releases_withstand_the_lp_attacker(metrics):
    disclosure = DisclosureSettings()
    figures = publish(metrics, disclosure)
    if figures is None:
        return  # nothing is published
    assert figures.filter(pl.col("measure").str.ends_with("_change")).height > 0
    with tempfile.TemporaryDirectory() as tmp:
        release = write_release(Path(tmp) / "release", figures, metrics, disclosure)
        rules = write_rules(Path(tmp) / "metrics")
        model = lp.build_model(release, rules)
        truth = true_rows(metrics)
        # sound: every bound and constraint the intruder writes holds on the true values
        assert lp.truth_violations(model, lp.truth_by_key(model, truth)) == []
        findings = lp.solve(model, protection_width=PROTECTION_WIDTH, threshold=THRESHOLD, exact=True)
    true = {r["figure_id"]: r for r in truth}
    wrong = [(f, true[f.figure_id][f.field]) for f in findings if not f.lo <= true[f.figure_id][f.field] <= f.hi]
    assert wrong == []
    under = _under(findings)
    assert not under, _show(metrics, figures, under)


def test_without_secondary_suppression_the_attacker_finds_an_under_protected_cell(monkeypatch):
    import pipelines.disclosure

    monkeypatch.setattr(pipelines.disclosure, "secure", lambda problem, primary, width, threshold: ({}, None))

    def leaks(metrics: pl.DataFrame) -> bool:
        disclosure = DisclosureSettings()
        figures = publish(metrics, disclosure)
        if figures is None:
            return False
        with tempfile.TemporaryDirectory() as tmp:
            release = write_release(Path(tmp) / "release", figures, metrics, disclosure)
            rules = write_rules(Path(tmp) / "metrics")
            return bool(lp.under_protected(release, protection_width=PROTECTION_WIDTH, threshold=THRESHOLD,
                                           metrics_dir=rules, workers=1))

    # the first table found will do: shrinking it costs more than the search
    found = find(multi_year_tables(), leaks,
                 settings=settings(max_examples=200, database=None, deadline=None, phases=[Phase.generate]))
    assert found["financial_year"].n_unique() >= 2
