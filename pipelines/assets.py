"""The one Dagster graph: how each file under `assets/` and each source becomes an asset.

- one ingest asset per source, partitioned by financial year (`raw_<source>`);
- `reference`: the ONS reference tables;
- one asset per SQL file under `assets/staging/` and `assets/metrics/` (the tables it reads,
  found in its text, are its upstream assets; its hash is its code version);
- `published_figures`: disclosure control applied to every metric;
- the release of a financial year (partitioned): `release_provenance`, `audit_bundle`,
  `release` and `release_vintage`, made in that order by one step (pipelines/release_assets.py);
- the checks: the validation suites, the release gate and the disclosure audit (blocking).

`build_definitions` puts them together with the settings; `make dev` (pipelines/definitions.py),
`dasa release` and `dasa check` (pipelines/build.py) all run it.
"""


from pathlib import Path

import warnings

import dagster as dg

from pipelines import fingerprints, ingest, schemas, warehouse
from pipelines.preflight import years_in
from pipelines.release_assets import disclosure_check, published_figures, release_asset, release_gate_check
from pipelines.reference import REFERENCE_TABLES, load_reference, reference_dir
from pipelines.resources import DasaSettings

SOURCES = schemas.SOURCE_NAMES  # one ingest asset per source

# single-run backfills (one run reading several years) are a beta feature of Dagster 1.13
warnings.filterwarnings("ignore", category=dg.BetaWarning)
SHARED_RAW_TABLES = ("raw_issues", "raw_input_files", "raw_ingested")


def _ingest_asset(source: str, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"raw_{source}",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw",
        description=f"The {source.replace('_', ' ')} files of one financial year, read cell by cell into the "
                    f"raw_{source}__* tables with the location of every value.",
        kinds={"python", "duckdb"},
    )
    def _asset(context: dg.AssetExecutionContext, dasa: DasaSettings) -> dg.MaterializeResult:
        # one run can read several years (a partition range): each year's rows are replaced,
        # unless the year's files, the reference data and the code are those it was read from
        summaries, inputs, versions, reused = {}, {}, {}, []
        raw_dir = Path(dasa.raw_dir)
        reference_version = fingerprints.reference_version(reference_dir())
        with dasa.connect() as con:
            for year in context.partition_keys:
                fingerprint = fingerprints.digest(fingerprints.code_version(), reference_version, source, year,
                                                  fingerprints.tree(raw_dir / year / schemas.source(source).folder))
                if fingerprints.recorded(con, f"raw_{source}", year) == fingerprint:
                    summaries[year] = "unchanged: not read again"
                    reused.append(year)
                else:
                    fingerprints.forget(con, f"raw_{source}", year)
                    summaries[year] = ingest.INGESTERS[source](raw_dir, year, con)
                    fingerprints.record(con, f"raw_{source}", fingerprint, year)
                versions[year] = fingerprint
                inputs[year] = dict(con.execute(
                    "SELECT path, sha256 FROM raw_input_files WHERE financial_year = ? AND source = ? ORDER BY path",
                    [year, source],
                ).fetchall())
        return dg.MaterializeResult(data_version=dg.DataVersion(fingerprints.digest(versions)[:16]), metadata={
            "summary": dg.MetadataValue.json(summaries),
            "input_files": dg.MetadataValue.json(inputs),
            "reused": len(reused) == len(versions),  # every year unchanged
            "years_reused": reused,
        })

    return _asset


@dg.asset(group_name="reference", kinds={"duckdb"},
          description="ONS geography and population reference tables (data/reference/*.csv).")
def reference(dasa: DasaSettings) -> dg.MaterializeResult:
    years = years_in(Path(dasa.raw_dir))
    fingerprint = fingerprints.digest(fingerprints.code_version(), fingerprints.reference_version(reference_dir()),
                                      years)
    with dasa.connect() as con:
        reused = fingerprints.recorded(con, "reference") == fingerprint and all(
            warehouse.table_exists(con, t) for t in REFERENCE_TABLES)
        if not reused:
            fingerprints.forget(con, "reference")
            load_reference(con, years)
            fingerprints.record(con, "reference", fingerprint)
    return dg.MaterializeResult(data_version=dg.DataVersion(fingerprint[:16]),
                                metadata={"tables": list(REFERENCE_TABLES), "reused": reused})


def _upstream(table: str) -> set[str]:
    """The asset(s) that write a table a query reads."""
    if table in SHARED_RAW_TABLES:
        return {f"raw_{s}" for s in SOURCES}  # every ingest asset writes its own rows of these
    if table.startswith("raw_"):
        return {table.split("__")[0]}
    if table.startswith("ref_"):
        return {"reference"}
    return {table}


def _header_comment(text: str) -> str:
    """The comment block a query file opens with, as one paragraph: the asset's description."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.removeprefix("--").strip())
    return " ".join(x for x in lines if x)


def _sql_asset(sql: warehouse.SqlFile) -> dg.AssetsDefinition:
    deps: set[str] = set().union(*(_upstream(t) for t in sql.reads()))
    first_comment = _header_comment(sql.text)

    @dg.asset(
        name=sql.table,
        deps=sorted(deps),
        group_name=sql.layer,
        code_version=sql.code_version[:16],
        description=first_comment or None,
        kinds={"sql", "duckdb"},
    )
    def _asset(dasa: DasaSettings) -> dg.MaterializeResult:
        with dasa.connect() as con:
            # rebuilt when its query or what it reads changed since it was last built here
            upstream = fingerprints.of_assets(con, deps)
            fingerprint = fingerprints.digest(sql.code_version, upstream)
            reused = upstream is not None and fingerprints.recorded(con, sql.table) == fingerprint \
                and warehouse.table_exists(con, sql.table)
            if reused:
                rows = warehouse.one_row(con.execute(f'SELECT count(*) FROM "{sql.table}"'))[0]
                version = fingerprints.data_version(con, sql.table) or fingerprint
            else:
                fingerprints.forget(con, sql.table)
                rows = warehouse.build_table(con, sql)
                # its data version is its content: a table made again with the same rows
                # leaves what reads it as it is (a view's content is its query over what it
                # reads, so its fingerprint says it without a scan)
                version = fingerprint if sql.is_view else fingerprints.digest(
                    fingerprints.table_content(con, sql.table))
                if upstream is not None:
                    fingerprints.record(con, sql.table, fingerprint, data_version=version)
        return dg.MaterializeResult(data_version=dg.DataVersion(version[:16]), metadata={
            "rows": rows,
            "reused": reused,
            "sql_file": sql.rel_path,
            "sql_sha256": sql.sha256,
            "reads": list(sql.reads()),
            # a metric family's whole query: its parts, added up by pipelines/metric_sql.py
            "query": dg.MetadataValue.md(f"```sql\n{sql.query.strip()}\n```"),
        })

    return _asset


def build_assets(years: list[str]) -> list:
    partitions = dg.StaticPartitionsDefinition(years or ["2024-25"])
    assets = [_ingest_asset(s, partitions) for s in SOURCES]
    assets.append(reference)
    assets += [_sql_asset(s) for s in warehouse.sql_files("staging")]
    metric_sql = warehouse.sql_files("metrics")
    assets += [_sql_asset(s) for s in metric_sql]
    assets.append(published_figures([s.table for s in metric_sql]))
    assets.append(release_asset(partitions))
    return assets


def release_checks() -> list:
    """The release gate on the returns in use and the disclosure audit on the published figures
    (both blocking)."""
    return [release_gate_check(), disclosure_check([s.table for s in warehouse.sql_files("metrics")])]


CHECK_JOB = "check_inputs"  # `dasa check`: the inputs read, the returns in use, the raw tables' suites


def build_definitions(years: list[str], settings: DasaSettings) -> dg.Definitions:
    """The graph with its settings: every asset and check, the in-process executor, and the
    job `dasa check` runs (the ingest assets, the reference tables and the returns in use, with
    the suites of the raw tables and no other check)."""
    from pipelines import validation

    assets = build_assets(years)
    raw = [f"raw_{s}" for s in SOURCES]
    check_inputs = dg.define_asset_job(
        CHECK_JOB, description="What `dasa check` reads: the inputs of the years, the returns in use and the "
                               "validation suites of the raw tables",
        selection=dg.AssetSelection.assets(*raw, "reference", "stg_authority_returns__returns").without_checks()
        | dg.AssetSelection.checks_for_assets(*raw))
    return dg.Definitions(assets=assets, asset_checks=[*validation.asset_checks(), *release_checks()],
                          jobs=[check_inputs], resources={"dasa": settings}, executor=dg.in_process_executor)
