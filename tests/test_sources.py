"""The input sources are declared once (`schemas.SOURCES`), and every place that names them
agrees with that declaration: the tables, the ingest assets, the readers, issue ids, the
query lists, the trace pages and the metric catalogue."""

from __future__ import annotations

from pipelines import assets, ingest, metric_catalog, quality, schemas, trace
from pipelines.ingest import authority_returns, extracts
from pipelines.ingest.issues import SOURCE_PREFIX, Issue

NAMES = set(schemas.SOURCE_NAMES)


def test_every_table_belongs_to_a_declared_source_and_every_source_has_tables():
    assert {t.source for t in (*schemas.RETURN_SHEETS, *schemas.EXTRACTS)} == NAMES
    assert all(s.tables for s in schemas.SOURCES)
    assert {t.source for t in schemas.RETURN_SHEETS} == {authority_returns.SOURCE}
    assert len(schemas.SOURCE_NAMES) == len(NAMES)
    for attr in ("folder", "issue_prefix", "label"):
        values = [getattr(s, attr) for s in schemas.SOURCES]
        assert len(set(values)) == len(values) and all(values), attr


def test_each_place_that_names_the_sources_names_the_same_ones():
    assert set(assets.SOURCES) == NAMES
    assert set(ingest.INGESTERS) == NAMES
    assert set(SOURCE_PREFIX) == NAMES
    assert set(quality.SOURCE_NAMES) == NAMES
    assert set(trace.LEVEL_OF_UNITS) == NAMES
    assert set(extracts.SOURCE_FOLDERS) == {t.source for t in schemas.EXTRACTS}
    # the catalogue also names the reference data, which no reader reads
    assert set(metric_catalog.SOURCES) == NAMES | {"reference"}


def test_the_ingest_assets_are_one_per_source():
    keys = {k.to_user_string() for a in assets.build_assets(["2024-25"]) for k in a.keys}
    assert {k for k in keys if k.startswith("raw_")} == {f"raw_{s}" for s in NAMES}


def test_issue_ids_are_what_they_always_were():
    """A decision recorded against an issue id must still find its issue: the ids of each
    source keep their prefix and digest."""
    ids = [
        Issue("2024-25", "womens_aid", "2024-25/womens_aid/referrals.csv", None, 12, None, "referral_date",
              "cell_error", "outside_year", "m").issue_id,
        Issue("2024-25", "authority_returns", "2024-25/authority_returns/E06000001.xlsx", "supported", 7, "D",
              "households", "cell_error", "bad_count", "m").issue_id,
        Issue("2024-25", "safelives", "2024-25/safelives/marac_quarterly.csv", None, None, None, "quarter_end",
              "warning", "marac_left_out", "m", subject="M01").issue_id,
    ]
    assert ids == ["WA-2024-25-b3dbcb7599", "AR-2024-25-fba4f81f78", "SL-2024-25-502328815c"]
