"""`make dev` builds what `dasa release --final` builds.

The Dagster UI loads one graph (pipelines/definitions.py: pipelines.assets.build_definitions)
with the default settings, and `dasa release` runs selections of the same graph with the
settings of the build. Here the graph is loaded as the UI loads it, only its folders moved to
temporary ones, and materialized as the UI's "Materialize all" does (the ingest assets over
every year in one run, then the unpartitioned assets, then the release of the latest year);
its release is compared, file for file, with `dasa release --final`'s (build_release), and so
are the audit bundle and the vintage kept.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines import build, cli, definitions, warehouse
from pipelines.assets import SOURCES, build_definitions, years_in
from pipelines.paths import PROCESSED_DIR, RAW_DIR
from pipelines.release_assets import RELEASE_ASSETS, gate_refusals
from pipelines.resources import DasaSettings

YEARS = years_in(RAW_DIR)
YEAR = YEARS[-1]
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
# what differs between two builds of the same inputs: when, where and by which run
RUN_FIELDS = ("built_at", "dagster_run_id", "disclosure_audit_seconds", "release_dir")


def ui_settings(folder: Path, raw_dir: Path = RAW_DIR) -> DasaSettings:
    """The UI's settings (every field as the UI has it) with the folders it writes moved."""
    return DasaSettings(raw_dir=str(raw_dir), db_path=str(folder / "dasa.duckdb"),
                        releases_dir=str(folder / "releases"), vintages_dir=str(folder / "vintages"),
                        audit_dir=str(folder.parent / f"{folder.name}-restricted"))


def materialize_as_the_ui(defs: dg.Definitions, years: list[str], year: str) -> None:
    job = defs.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    raw = [dg.AssetKey(f"raw_{s}") for s in SOURCES]
    release = [dg.AssetKey(k) for k in RELEASE_ASSETS]
    rest = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k not in raw + release]
    job.execute_in_process(asset_selection=raw, instance=instance, run_config=QUIET,
                           tags={"dagster/asset_partition_range_start": years[0],
                                 "dagster/asset_partition_range_end": years[-1]})
    job.execute_in_process(asset_selection=rest, instance=instance, run_config=QUIET)
    job.execute_in_process(asset_selection=release, instance=instance, run_config=QUIET, partition_key=year)


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def _same_but_the_run(a: Path, b: Path) -> None:
    one, two = json.loads(a.read_text(encoding="utf-8")), json.loads(b.read_text(encoding="utf-8"))
    assert set(one) == set(two)
    assert {k: v for k, v in one.items() if k not in RUN_FIELDS} == {k: v for k, v in two.items() if k not in RUN_FIELDS}


def test_the_ui_has_the_settings_of_dasa_release_final(monkeypatch):
    """What `make dev` loads is the graph with DasaSettings() as they are, and those are the
    choices of `dasa release --final` with no other option (the project's folders)."""
    monkeypatch.delenv("DASA_STATE_DIR", raising=False)  # the project's state folder, as `make dev` has it
    ui = definitions.defs.resources["dasa"]
    assert ui == DasaSettings()
    args = cli.parser().parse_args(["release", "--final"])
    defaults = {name: p.default for name, p in inspect.signature(build.build_release).parameters.items()}
    assert ui.final and args.final and not ui.draft and not args.draft
    assert ui.years_published() == [YEAR] and args.year is None  # the latest year of data/raw
    assert Path(ui.raw_dir) == args.raw_dir == RAW_DIR and Path(ui.audit_dir) == args.audit_dir
    assert ui.out_dir == "" and args.out_dir is None
    assert Path(ui.releases_dir) == defaults["releases_dir"]
    assert Path(ui.vintages_dir) == defaults["releases_dir"].parent / "vintages"  # build_release's, without --out-dir
    assert Path(ui.db_path) == build.work_db_for(RAW_DIR) == PROCESSED_DIR / "dasa.duckdb"
    assert ui.protection_width == defaults["protection_width"]
    assert definitions.defs.resolve_job_def("check_inputs") is not None  # `dasa check`'s job, in the same graph


def test_make_dev_materializes_the_release_dasa_release_final_builds(tmp_path):
    ui, cli_build = tmp_path / "ui", tmp_path / "cli"
    settings = ui_settings(ui)
    materialize_as_the_ui(build_definitions(YEARS, settings), YEARS, YEAR)
    result = build.build_release(raw_dir=RAW_DIR, final=True, releases_dir=cli_build / "releases",
                                 db_path=cli_build / "dasa.duckdb", audit_dir=tmp_path / "cli-restricted",
                                 instance=dg.DagsterInstance.ephemeral())
    assert not result.draft and result.release_dir == cli_build / "releases" / YEAR

    # the release: byte for byte, but for build.json's time, run and the disclosure audit's seconds
    ui_files, cli_files = _files(ui / "releases" / YEAR), _files(result.release_dir)
    assert set(ui_files) == set(cli_files) and "index.html" in ui_files
    different = [n for n in ui_files if ui_files[n].read_bytes() != cli_files[n].read_bytes()]
    assert different == ["build.json"], different
    _same_but_the_run(ui_files["build.json"], cli_files["build.json"])

    # the audit bundle: the same files, stamped with the same provenance.json; the unrounded values
    # are DuckDB's sums, whose last bit may differ between two runs of the same query
    ui_audit, cli_audit = _files(Path(settings.audit_dir) / YEAR), _files(tmp_path / "cli-restricted" / YEAR)
    assert set(ui_audit) == set(cli_audit) and "release.json" in ui_audit
    for name in ui_audit:
        if name.endswith(".parquet"):
            assert_frame_equal(pl.read_parquet(ui_audit[name]), pl.read_parquet(cli_audit[name]), check_exact=False)
        else:
            assert ui_audit[name].read_bytes() == cli_audit[name].read_bytes(), name

    # the vintage kept: the same figures and inputs
    ui_vintage, cli_vintage = _files(ui / "vintages" / YEAR), _files(cli_build / "vintages" / YEAR)
    assert set(ui_vintage) == set(cli_vintage) and "1/figures.csv" in ui_vintage
    for name in ui_vintage:
        if name.endswith("vintage.json"):
            _same_but_the_run(ui_vintage[name], cli_vintage[name])
        else:
            assert ui_vintage[name].read_bytes() == cli_vintage[name].read_bytes(), name

    # the UI builds no release its settings did not gate and validate
    job = build_definitions(YEARS, settings).resolve_implicit_global_asset_job_def()
    with pytest.raises(dg.Failure, match=f"set release_years to \\[\"{YEARS[0]}\"\\]"):
        job.execute_in_process(asset_selection=[dg.AssetKey(k) for k in RELEASE_ASSETS], partition_key=YEARS[0],
                               instance=dg.DagsterInstance.ephemeral(), run_config=QUIET)
    assert not (ui / "releases" / YEARS[0]).exists()


def test_the_ui_refuses_a_final_release_with_an_open_error_at_the_gate(small_raw, tmp_path):
    """The release gate is a blocking check of the graph: with the UI's settings (final) it
    stops the run before the metrics, naming what `dasa release --final` names."""
    settings = ui_settings(tmp_path / "ui", raw_dir=small_raw)
    job = build_definitions(years_in(small_raw), settings).resolve_implicit_global_asset_job_def()
    years = years_in(small_raw)
    instance = dg.DagsterInstance.ephemeral()
    job.execute_in_process(asset_selection=[dg.AssetKey(f"raw_{s}") for s in SOURCES], instance=instance,
                           run_config=QUIET, tags={"dagster/asset_partition_range_start": years[0],
                                                   "dagster/asset_partition_range_end": years[-1]})
    with pytest.raises(dg.DagsterError):
        job.execute_in_process(asset_selection=[dg.AssetKey("reference"), dg.AssetKey("stg_authority_returns__returns"),
                                                dg.AssetKey("metric_turned_away")],
                               instance=instance, run_config=QUIET)
    warehouse.close_all()
    with duckdb.connect(settings.db_path, read_only=True) as con:
        refused = gate_refusals(con)
        built = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "metric_turned_away" not in built  # downstream of the failed gate: not run
    [(n, lines)] = refused.values()
    assert n == 2 and len(lines) == 2 and any("sheet supported, F2" in line for line in lines)
