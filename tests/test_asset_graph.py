"""The asset graph: every SQL file is one asset, and every table it reads is produced by an asset."""

from __future__ import annotations

import dagster as dg

from pipelines import metric_catalog, warehouse
from pipelines.assets import build_assets
from pipelines.definitions import defs


def _graph():
    assets = build_assets(["2023-24", "2024-25"])
    keys = {k.to_user_string() for a in assets for k in a.keys}
    deps = {k.to_user_string(): {d.to_user_string() for d in up} for a in assets for k, up in a.asset_deps.items()}
    return keys, deps


def test_each_sql_file_is_one_asset_reading_only_produced_tables():
    keys, deps = _graph()
    for layer in ("staging", "metrics"):
        for sql in warehouse.sql_files(layer):
            assert sql.table in keys
            missing = deps[sql.table] - keys
            assert not missing, f"{sql.rel_path} reads tables no asset produces: {missing}"


def test_graph_shape():
    keys, deps = _graph()
    assert {"raw_authority_returns", "raw_womens_aid", "raw_safelives", "reference",
            "published_figures", "release"} <= keys
    assert deps["published_figures"] == {f"metric_{f.name}" for f in metric_catalog.families()}
    assert "stg_authority_returns__counts" in deps["metric_turned_away"]
    assert "raw_safelives" in deps["stg_safelives__marac_annual"]
    # no asset reads a raw table of another source directly past staging
    for key, upstream in deps.items():
        if key.startswith("metric_"):
            assert not {u for u in upstream if u.startswith("raw_authority")}, key


def test_every_metric_family_has_sql_and_each_measure_is_declared_once():
    fams = metric_catalog.families()
    assert {f.sql_file.stem for f in fams} == {s.path.stem for s in warehouse.sql_files("metrics")}
    assert len(metric_catalog.measures()) == sum(len(f.measures) for f in fams)


def test_definitions_load_with_the_in_process_executor():
    assert isinstance(defs, dg.Definitions)
    repo = defs.get_repository_def()
    assert repo.get_job("__ASSET_JOB").executor_def.name == "in_process"


def test_each_asset_description_is_whole_sentences():
    """A SQL asset's description is the comment its file opens with, whole (not cut at a
    word inside a sentence); every asset has one."""
    assets = {k.to_user_string(): a for a in build_assets(["2024-25"]) for k in a.keys}
    for layer in ("staging", "metrics"):
        for sql in warehouse.sql_files(layer):
            opening = []
            for line in sql.text.splitlines():
                if not line.startswith("--"):
                    break
                opening.append(line[2:].strip())
            text = assets[sql.table].descriptions_by_key[dg.AssetKey(sql.table)]
            assert text == " ".join(opening), sql.rel_path
    for key, asset in assets.items():
        for text in asset.descriptions_by_key.values():
            assert text and text[0].isupper() and text.rstrip().endswith("."), f"{key}: {text!r}"


def test_a_staging_query_marked_as_a_view_is_kept_as_one_and_can_become_a_table_again(tmp_path):
    import duckdb

    from pipelines import fingerprints

    con = duckdb.connect()
    con.execute("CREATE TABLE raw_x AS SELECT range AS n FROM range(5)")
    path = tmp_path / "stg_x.sql"
    path.write_text("-- The numbers.\n-- dasa: view\nselect n from raw_x -- a trailing comment\n", encoding="utf-8")
    view = warehouse.SqlFile(path, "stg_x", "staging")
    assert view.is_view and warehouse.build_table(con, view) == 5 and warehouse.is_view(con, "stg_x")
    first = fingerprints.tables_content(con, "2024-25")
    path.write_text("-- The numbers.\n-- dasa: view\nselect n + 1 as n from raw_x\n", encoding="utf-8")
    warehouse.build_table(con, view)
    assert fingerprints.tables_content(con, "2024-25") != first  # a view's query is part of the content
    path.write_text("-- The numbers.\nselect n from raw_x where n < 3\n", encoding="utf-8")
    table = warehouse.SqlFile(path, "stg_x", "staging")
    assert not table.is_view and warehouse.build_table(con, table) == 3 and not warehouse.is_view(con, "stg_x")
    path.write_text("-- The numbers.\n-- dasa: view\nselect n from raw_x\n", encoding="utf-8")
    assert warehouse.build_table(con, view) == 5 and warehouse.is_view(con, "stg_x")


def test_the_staged_referrals_are_a_view_and_their_description_is_their_opening_comment():


    sql = next(s for s in warehouse.sql_files("staging") if s.table == "stg_womens_aid__referrals")
    assert sql.is_view
    assert [s.table for s in warehouse.sql_files("staging") if s.is_view] == ["stg_womens_aid__referrals"]
    asset = next(a for a in build_assets(["2024-25"]) if getattr(a, "key", None) == dg.AssetKey(sql.table))
    assert asset.descriptions_by_key[asset.key] == "Women's Aid On Track referrals to refuges, with the region of the refuge."
