"""Adding a measure to a family touches its SQL and its YAML only (assets/README.md).

In a copy of the project, one `union all` branch goes into `assets/metrics/move_on.sql` and one
measure into `move_on.yaml`; nothing under `pipelines/` changes. The copy's release must then
publish the measure in `figures.csv` (England's value agreeing with the published share of
unknown destinations: known + unknown = 100%), describe it in the methodology, and trace it to
the cells its `reads` declare in provenance.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.paths import PROJECT_DIR
from tests.fixtures.project_copy import copy_project, dasa, environment

YEAR = "2024-25"
MEASURE = "known_destination_share"
DEFINITION = "Households that left safe accommodation to a known destination, as a percentage of all households leaving."
KNOWN = ["social_housing", "private_rented", "non_da_supported", "other_safe_accommodation", "friends_family",
         "own_home", "temporary_accommodation", "returned_to_perpetrator", "other"]

SQL_BRANCH = f"""    union all
    select financial_year, gss_code, region_code, '{MEASURE}', 'all',
           sum(households) filter (where destination <> 'unknown'), sum(households)
    from authority_destination group by all
)
select * from parts
"""

YAML_MEASURE = f"""  - id: {MEASURE}
    title: Households that moved on to a known destination
    unit: percent
    kind: percent
    counts_people: true
    definition: >-
      {DEFINITION}
    numerator: households leaving to a known destination
    denominator: all households leaving safe accommodation
    geographies: [national, regional]
    breakdowns: [all]
    reads:
      numerator: [{{sheet: move_on, rows: [{", ".join(KNOWN)}], columns: [households]}}]
      denominator: [{{sheet: move_on, columns: [households]}}]
"""


def _add_measure(proj: Path) -> None:
    sql = proj / "assets" / "metrics" / "move_on.sql"
    text = sql.read_text(encoding="utf-8")
    tail = ")\nselect * from parts\n"
    assert text.endswith(tail), "move_on.sql no longer ends with its parts"
    sql.write_text(text[: -len(tail)] + SQL_BRANCH, encoding="utf-8")
    yaml_file = proj / "assets" / "metrics" / "move_on.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    marker = "\n# Exact additive relations"
    assert marker in text
    text = text.replace(marker, "\n" + YAML_MEASURE.rstrip("\n") + marker, 1)
    text += f"  - {MEASURE}.all.denominator = households_moved_on.all\n"
    yaml_file.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("new-measure")
    proj = copy_project(root)
    _add_measure(proj)
    env = environment(proj, root / "state")
    out = root / "site" / YEAR  # the audit folder stays apart from the release's parent
    done = dasa(proj, env, "release", "--year", YEAR, "--out-dir", str(out),
                "--audit-dir", str(root / "restricted" / "audit"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (PROJECT_DIR / "data" / "raw" / YEAR / "figures.csv").exists()
    return out


def _figures(release: Path) -> dict[str, dict]:
    with (release / "data" / "figures.csv").open(newline="", encoding="utf-8") as f:
        return {r["figure_id"]: r for r in csv.DictReader(f)}


def test_the_new_measure_is_published_with_the_value_its_parts_give(release):
    figures = _figures(release)
    ours = {k: r for k, r in figures.items() if r["measure"] == MEASURE and r["time_period"] == YEAR}
    levels = {r["geographic_level"] for r in ours.values()}
    assert levels == {"national", "regional"}  # the levels its YAML declares, no authority rows
    assert len([r for r in ours.values() if r["geographic_level"] == "regional"]) == 9
    england = figures[f"{MEASURE}.all.E92000001.{YEAR}"]
    unknown = figures[f"move_on_share.unknown.E92000001.{YEAR}"]
    assert england["value_status"] == unknown["value_status"] == "published"
    # known + unknown destinations make every household leaving (each share rounded to 0.1)
    assert abs(float(england["value"]) + float(unknown["value"]) - 100) <= 0.1 + 1e-9
    assert england["denominator"] == figures[f"households_moved_on.all.E92000001.{YEAR}"]["value"]


def test_the_new_measure_is_in_the_methodology(release):
    page = (release / "methodology.html").read_text(encoding="utf-8")
    assert "Households that moved on to a known destination" in page
    assert DEFINITION in page


def test_the_new_measure_is_traced_to_the_cells_it_declares(release):
    doc = json.loads((release / "provenance" / "move_on.json").read_text(encoding="utf-8"))
    basis = doc["bases"][f"{MEASURE}.all"]
    assert basis["numerator"] == f"sheet move_on: column households; rows {', '.join(KNOWN)}"
    assert basis["denominator"] == "sheet move_on: column households; every row"
    entry = doc["figures"][f"{MEASURE}.all.E12000001.{YEAR}"]
    assert entry["status"] == "published"
    assert doc["measures"][MEASURE]["kind"] == "percent"


def test_the_cells_it_declares_add_up_to_what_each_authority_contributes(release):
    """The restricted bundle's evidence (the declared cells, with values) sums, authority by
    authority, to the parts the new SQL branch computes: a `reads` that does not follow the SQL
    fails here."""

    audit = release.parent.parent / "restricted" / "audit" / YEAR
    key = ["measure", "breakdown", "financial_year", "unit_code", "role"]
    parts = pl.read_parquet(audit / "parts.parquet").filter(pl.col("measure") == MEASURE)
    cells = (pl.read_parquet(audit / "evidence.parquet").filter(pl.col("measure") == MEASURE)
             .group_by(key).agg(pl.col("value").sum().alias("cells")))
    assert parts.height > 100 and set(parts["role"]) == {"numerator", "denominator"}
    got = parts.join(cells, on=key, how="left").with_columns(pl.col("cells").fill_null(0))
    assert got.filter(pl.col("cells").cast(pl.Float64) != pl.col("part_value")).is_empty()
