"""The last assets: published figures (disclosure control), the release gate and the release
of a year (its provenance, audit bundle, folder and vintage)."""


import datetime as dt
import json
import platform
import shutil
import tempfile
from collections.abc import Callable, Generator
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from pipelines import fingerprints, metric_catalog, reference, revisions, validation, warehouse
from pipelines.disclosure import DisclosureSettings, Publisher
from pipelines.manifest import write_manifest
from pipelines.preflight import years_in
from pipelines.quality import public_issues
from pipelines.release.config import load_config
from pipelines.resources import DasaSettings

METRIC_COLUMNS = ("measure", "breakdown", "financial_year", "geographic_level", "geography_code",
                  "geography_name", "numerator", "denominator", "value")


def collect_metrics(con: duckdb.DuckDBPyConnection, metric_tables: list[str]) -> pl.DataFrame:
    """Every metric row, checked against the catalog, with the region of each geography."""
    catalog = metric_catalog.measures()
    frames = []
    for table in metric_tables:
        df = con.execute(f'SELECT * FROM "{table}"').pl()
        # `series`: a family whose definitions change with the return template (pipelines/metric_sql.py)
        if tuple(df.columns) not in (METRIC_COLUMNS, (*METRIC_COLUMNS, "series")):
            raise ValueError(f"{table}: columns {df.columns} are not the metric columns {METRIC_COLUMNS}")
        family = table.removeprefix("metric_")
        declared = {m.id: m for m in catalog.values() if m.family == family}
        found = set(df["measure"].unique().to_list())
        if found - set(declared):
            raise ValueError(f"{table}: measures {sorted(found - set(declared))} are not defined in {family}.yaml")
        for mid, m in declared.items():
            sub = df.filter(pl.col("measure") == mid)
            if sub.is_empty():
                continue  # no data for this measure in these years (e.g. a source not yet received)
            extra_levels = set(sub["geographic_level"].unique().to_list()) - set(m.geographies)
            if extra_levels:
                raise ValueError(f"{table}: {mid} has levels {sorted(extra_levels)} not declared in {family}.yaml")
            extra_b = set(sub["breakdown"].unique().to_list()) - set(m.breakdowns)
            if extra_b:
                raise ValueError(f"{table}: {mid} has breakdowns {sorted(extra_b)} not declared in {family}.yaml")
        frames.append(df.with_columns(pl.col("numerator", "denominator", "value").cast(pl.Float64)))
    metrics = pl.concat(frames, how="diagonal") if frames else pl.DataFrame(schema={c: pl.String for c in METRIC_COLUMNS})
    geo = con.execute(
        "SELECT financial_year, geographic_level, geography_code, region_code, region_name FROM stg_geography"
    ).pl()
    return metrics.join(geo, on=["financial_year", "geographic_level", "geography_code"], how="left")


def published_figures(metric_tables: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        name="published_figures",
        deps=metric_tables,
        group_name="release",
        kinds={"python", "duckdb"},
        description="Every figure as published: disclosure control and rounding applied (a figure "
                    "withheld in a kept vintage stays withheld), year-on-year "
                    "change computed from unrounded values (table pub_figures), and the log of every "
                    "suppression with its rule (table pub_suppression_log: restricted, written only to "
                    "the audit bundle).",
    )
    def _asset(dasa: DasaSettings) -> dg.MaterializeResult:
        # figures [c] in a kept vintage of any year stay [c] (docs/decisions/0011)
        carried = revisions.withheld(Path(dasa.vintages_dir)) if dasa.vintages_dir else frozenset()
        with dasa.connect() as con:
            # made again only when the metrics, the settings or the carried figures changed
            upstream = fingerprints.of_assets(con, metric_tables)
            fingerprint = fingerprints.digest(fingerprints.code_version(), upstream, dasa.disclosure(), sorted(carried))
            reused = upstream is not None and fingerprints.recorded(con, "published_figures") == fingerprint \
                and all(warehouse.table_exists(con, t) for t in PUBLISHED_TABLES)
            if reused:
                figures = con.execute("SELECT * FROM pub_figures").pl()
            else:
                fingerprints.forget(con, "published_figures")
                figures = build_published_figures(con, metric_tables, settings=dasa.disclosure(), carried=carried)
                if upstream is not None:
                    fingerprints.record(con, "published_figures", fingerprint)
            rules = con.execute("SELECT split_part(rule, ':', 1) AS r, count(*) FROM pub_suppression_log "
                                "GROUP BY 1 ORDER BY 1").fetchall()
        counts = figures.group_by("value_status").len().sort("value_status")
        return dg.MaterializeResult(data_version=dg.DataVersion(fingerprint[:16]), metadata={
            "reused": reused,
            "figures": figures.height,
            "by_status": dg.MetadataValue.json(dict(counts.iter_rows())),
            "suppressed_by_rule": dg.MetadataValue.json(dict(rules)),
            "withheld_in_earlier_vintages": len(carried),
        })

    return _asset


PUBLISHED_TABLES = ("pub_figures", "pub_suppression_log", "pub_information_loss")
AUDIT_TABLE = "pub_disclosure_audit"  # per year: cells audited, narrowest interval, time (public summary)
INTERVALS_TABLE = "audit_disclosure_intervals"  # per suppressed cell: its interval (restricted bundle only)


def disclosure_check(metric_tables: list[str]) -> dg.AssetChecksDefinition:
    """The disclosure audit as a blocking check on the published figures: an intruder holding
    every public file, with a linear-programming solver, must not narrow any suppressed cell
    to fewer than `protection_width` values (docs/decisions/0012-disclosure-audit.md). It
    blocks every build, draft or final: a draft is read by people too."""

    @dg.asset_check(asset="published_figures", name="disclosure_audit", blocking=True,
                    required_resource_keys={"dasa"},
                    description="Linear-programming audit of every suppressed cell against every published figure")
    def _check(context) -> dg.AssetCheckResult:
        dasa = context.resources.dasa
        with dasa.connect() as con:
            # run again only when the published figures were made again (or it last failed)
            fingerprint = fingerprints.digest(fingerprints.recorded(con, "published_figures"), dasa.disclosure())
            reused = fingerprints.recorded(con, "disclosure_audit") == fingerprint \
                and all(warehouse.table_exists(con, t) for t in (AUDIT_TABLE, INTERVALS_TABLE))
            if reused:
                summary, failing = con.execute(f"SELECT * FROM {AUDIT_TABLE}").pl(), []
            else:
                fingerprints.forget(con, "disclosure_audit")
                summary, failing = run_disclosure_audit(con, metric_tables, dasa.disclosure())
                if not failing and fingerprints.recorded(con, "published_figures") is not None:
                    fingerprints.record(con, "disclosure_audit", fingerprint)
        return dg.AssetCheckResult(
            passed=not failing, severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "reused": reused,
                "cells_audited": int(summary["cells_audited"].sum()),
                # polars types Series.min() as any Python literal; an Int64 column's is an int
                "narrowest_interval": int(summary["narrowest_values"].min()) if summary.height else 0,  # pyright: ignore[reportArgumentType]
                "seconds": round(float(summary["seconds"].sum()), 2),
                "under_protected": dg.MetadataValue.md("\n".join(f"- {f}" for f in failing[:50]) or "none"),
            })

    return _check


def run_disclosure_audit(con: duckdb.DuckDBPyConnection, metric_tables: list[str],
                         settings: DisclosureSettings | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Audit pub_figures against the unrounded metrics; write the public summary and the
    restricted intervals. Returns the summary and the ids of under-protected figures."""
    from pipelines.disclosure import figure_id

    settings = settings or DisclosureSettings()
    metrics = collect_metrics(con, metric_tables)
    figures = con.execute("SELECT * FROM pub_figures").pl()
    solved = fingerprints.Solved(con, "audit")
    results = Publisher(metric_catalog.measures(), settings, solved=solved).audit_published(metrics, figures)
    solved.save()
    summary = pl.DataFrame([{
        "time_period": year, "cells_audited": len(a.intervals), "components": a.components, "solves": a.solves,
        "narrowest_values": a.narrowest or 0, "under_protected": len(a.failing),
        "protection_width": settings.protection_width, "seconds": round(a.seconds, 3),
    } for year, a in results.items()], schema={
        "time_period": pl.String, "cells_audited": pl.Int64, "components": pl.Int64, "solves": pl.Int64,
        "narrowest_values": pl.Int64, "under_protected": pl.Int64, "protection_width": pl.Int64,
        "seconds": pl.Float64})
    intervals = pl.DataFrame([{
        "figure_id": figure_id(c[0], c[1], c[3], year), "time_period": year, "field": c[2],
        "lower": iv.lo, "upper": iv.hi,
        "feasible_values": iv.values, "exact": iv.exact,
    } for year, a in results.items() for c, iv in sorted(a.intervals.items())], schema={
        "figure_id": pl.String, "time_period": pl.String, "field": pl.String, "lower": pl.Float64, "upper": pl.Float64,
        "feasible_values": pl.Int64, "exact": pl.Boolean})
    for table, frame in ((AUDIT_TABLE, summary), (INTERVALS_TABLE, intervals)):
        warehouse.replace_table(con, table, frame)
    failing = sorted({figure_id(c[0], c[1], c[3], year) for year, a in results.items() for c in a.failing})
    return summary, failing


LOSS_TABLE = "pub_information_loss"  # per measure and year: authority cells, withheld by primary rules, in all


def information_loss(figures: pl.DataFrame, log: pl.DataFrame) -> pl.DataFrame:
    """What disclosure control withholds at authority level, per measure and year: the figures
    that have a value, those a primary rule hides (before secondary suppression) and all those
    hidden (after). Year-on-year changes are left out: they follow their two years."""
    # carried figures (withheld in an earlier vintage) are not counted before: a rebuild
    # carries every earlier [c], and the same release must give the same figures
    primary = log.filter(pl.col("rule").str.starts_with("primary"))
    levels = figures.filter((pl.col("geographic_level") == "local_authority")
                            & pl.col("value_status").is_in(["published", "rounded", "low", "suppressed"])
                            & ~pl.col("measure").str.contains("_change"))
    levels = levels.join(primary.select("figure_id", pl.lit(True).alias("primary")), on="figure_id", how="left")
    return levels.group_by("time_period", "measure").agg(
        authority_cells=pl.len(),
        primary=pl.col("primary").fill_null(False).sum(),
        suppressed=(pl.col("value_status") == "suppressed").sum(),
    ).with_columns(pl.col("authority_cells", "primary", "suppressed").cast(pl.Int64)).sort("time_period", "measure")


def build_published_figures(con: duckdb.DuckDBPyConnection, metric_tables: list[str],
                            settings: DisclosureSettings | None = None,
                            carried: frozenset[str] = frozenset()) -> pl.DataFrame:
    """Disclosure control on every metric row (tables pub_figures and pub_suppression_log);
    `carried`: the figure ids withheld in an earlier vintage, which stay suppressed."""
    metrics = collect_metrics(con, metric_tables)
    # the years whose metrics are unchanged are not solved, nor published, again
    solved, published = fingerprints.Solved(con, "secure"), fingerprints.Solved(con, "publish")
    publisher = Publisher(metric_catalog.measures(), settings or DisclosureSettings(), solved=solved,
                          published=published)
    figures = publisher.publish(metrics, carried=carried)
    solved.save()
    published.save()
    loss = information_loss(figures, publisher.suppression_log)
    for table, frame in (("pub_figures", figures), ("pub_suppression_log", publisher.suppression_log),
                         (LOSS_TABLE, loss)):
        warehouse.replace_table(con, table, frame)
    return figures


GATE_TABLE = "gate_open_errors"  # per release year: its open errors, written by the release gate


def release_gate_check() -> dg.AssetChecksDefinition:
    """The release gate as a blocking check on the returns in use: the issues of the years
    each release shows, assessed against their decisions files (pipelines/quality.py). With
    `final`, an open error fails it (ERROR: nothing downstream runs, so neither the metrics
    nor a release are built); otherwise it warns, and the release is marked DRAFT. A bad
    decisions file fails it either way (DecisionsError). What it found, per release year, is
    in table gate_open_errors (pipelines/build.py reads it for the refusal)."""

    @dg.asset_check(asset="stg_authority_returns__returns", name="release_gate", blocking=True,
                    required_resource_keys={"dasa"},
                    description="Every error of the years a release shows is fixed by a resubmission or accepted "
                                "in the decisions file of its year (refuses a final release otherwise)")
    def _check(context) -> dg.AssetCheckResult:
        from pipelines.assets import years_in
        from pipelines.quality import assess

        dasa: DasaSettings = context.resources.dasa
        raw_dir = Path(dasa.raw_dir)
        years = years_in(raw_dir)
        rows = []
        with dasa.connect() as con:
            for year in dasa.years_published():
                assessment = assess(con, raw_dir, [y for y in years if y <= year])
                rows.append({"release_year": year, "final": dasa.final, "open_errors": assessment.open_errors.height,
                             "lines": assessment.open_lines(GATE_LINES)})
            warehouse.replace_table(con, GATE_TABLE, pl.DataFrame(rows, schema={
                "release_year": pl.String, "final": pl.Boolean, "open_errors": pl.Int64, "lines": pl.List(pl.String)}))
        blocked = {r["release_year"]: r["open_errors"] for r in rows if r["open_errors"]}
        return dg.AssetCheckResult(
            passed=not blocked, severity=dg.AssetCheckSeverity.ERROR if dasa.final else dg.AssetCheckSeverity.WARN,
            metadata={"final": dasa.final, "open_errors": dg.MetadataValue.json({r["release_year"]: r["open_errors"]
                                                                                for r in rows}),
                      "open": dg.MetadataValue.md("\n".join(f"- {line}" for r in rows for line in r["lines"]) or "none")})

    return _check


GATE_LINES = 25  # open errors named per year in the gate's table (and so in a refusal), then "... and N more"


def gate_refusals(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, list[str]]]:
    """The final releases the release gate refused, by year: (how many open errors, one line
    each, at most GATE_LINES and then how many more)."""
    if not warehouse.table_exists(con, GATE_TABLE):
        return {}
    return {y: (n, list(lines)) for y, n, lines in con.execute(
        f"SELECT release_year, open_errors, lines FROM {GATE_TABLE} WHERE final AND open_errors > 0 "
        "ORDER BY release_year").fetchall()}


def gate_open_errors(con: duckdb.DuckDBPyConnection, year: str) -> int:
    """How many errors of the years the `year` release shows the release gate found open."""
    row = con.execute(f"SELECT open_errors FROM {GATE_TABLE} WHERE release_year = ?", [year]).fetchone()
    return row[0] if row else 0


# the release of a year: four assets, made by one step (publish_release) in this order
RELEASE_ASSETS = ("release_provenance", "audit_bundle", "release", "release_vintage")


def release_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The release of a financial year, as four assets made by one step, in the order that
    keeps a published release whole (decision 0013):

    1. `release_provenance`: the release inputs gathered, revised against the kept vintages,
       and the provenance of every figure worked out (the audit bundle's evidence begins in
       its staging folder);
    2. the release written complete beside its folder, then `audit_bundle`: the restricted
       bundle completed in its staging folder and moved into place;
    3. `release`: the release folder swapped in;
    4. `release_vintage`: a final release kept as the next vintage of its year (none for a
       draft, nor when the release is identical to a kept one).

    They are one step, not four, because they share the release inputs (every figure of the
    years shown, with its provenance) and because the audit bundle goes into place between
    the release's writing and its swap: a failure anywhere until the swap removes both
    staging folders, which only the process that made them can do safely."""
    description = {
        "release_provenance": "The provenance of every figure of the year's release: the query, the inputs and "
                              "the contributing cells of each (public: provenance.json and provenance/ in the "
                              "release folder; restricted: the audit bundle), worked out with the release inputs, "
                              "revised against the kept vintages.",
        "audit_bundle": "The restricted audit bundle of the year's release (audit_dir/<year>/, never published): "
                        "unrounded values, contributing cells, the suppression log and the disclosure audit's "
                        "intervals; moved into place just before the release.",
        "release": "The statistical release of a financial year: HTML, tidy CSV, spreadsheets.",
        "release_vintage": "A final release kept as the next vintage of its year (vintages_dir/<year>/<n>/), "
                           "which the revisions of the next release are worked out from.",
    }
    deps = {"release_provenance": ["published_figures", "stg_authority_returns__returns",
                                   "stg_authority_returns__completeness"],
            "audit_bundle": ["release_provenance"], "release": ["release_provenance", "audit_bundle"],
            "release_vintage": ["release"]}
    kinds = {"release_provenance": {"python", "json"}, "audit_bundle": {"parquet"}, "release": {"html", "csv"},
             "release_vintage": {"csv"}}

    @dg.multi_asset(
        name="publish_release",
        specs=[dg.AssetSpec(key, deps=deps[key], description=description[key], group_name="release",
                            kinds=kinds[key], skippable=key == "release_vintage")
               for key in RELEASE_ASSETS],
        partitions_def=partitions,
        can_subset=False,
    )
    def _asset(context: dg.AssetExecutionContext, dasa: DasaSettings):
        year = context.partition_key
        from pipelines.buildstate import hold_for_warehouse

        if year not in dasa.years_published():  # the gate and the suites covered those years only
            raise dg.Failure(f"the settings build the release of {', '.join(dasa.years_published())}, not of {year}: "
                             f"set release_years to [\"{year}\"] in the dasa resource's config to build it")
        hold_for_warehouse(Path(dasa.db_path))  # a UI run writes releases under the build lock too
        target = Path(dasa.out_dir) if dasa.out_dir else Path(dasa.releases_dir) / year
        audit_dir = restricted_audit_dir(Path(dasa.audit_dir), year, target)
        with dasa.connect() as con:
            fingerprint = release_fingerprint(con, dasa, year)
            if fingerprints.recorded(con, "publish_release", year) == _as_written(fingerprint, target, audit_dir):
                # what it is written from is what the release and audit bundle in place were
                # written from, and they are as written: not written again
                version = dg.DataVersion(fingerprint[:16])
                for key in ("release_provenance", "audit_bundle", "release"):
                    yield dg.MaterializeResult(asset_key=key, data_version=version, metadata={
                        "reused": True, "path": dg.MetadataValue.path(str(audit_dir if key == "audit_bundle" else target))})
                return
            fingerprints.forget(con, "publish_release", year)
        steps = None
        try:
            with dasa.connect(read_only=True) as con:
                inputs = gather_release_inputs(con, year, draft=dasa.draft, raw_dir=Path(dasa.raw_dir),
                                               disclosure=dasa.disclosure())
                if dasa.final and inputs.quality is not None and inputs.quality.blocking:
                    # an error opened since the gate last ran (a UI run of these assets alone)
                    raise dg.Failure(f"refusing to build the final {year} release: {inputs.quality.open_errors.height} "
                                     "error(s) are open; materialize stg_authority_returns__returns for the release "
                                     "gate's list, or set final to false to build a DRAFT")
                if dasa.vintages_dir:
                    inputs = revisions.revise(con, inputs, Path(dasa.vintages_dir))
                # the warehouse is not read again until the release is written: its connection is
                # closed then, which gives back what DuckDB held (decision 0024)
                inputs = with_provenance(con, inputs, audit_dir, done_reading=warehouse.close_all,
                                         kept_years=warehouse.kept_evidence_dir(Path(dasa.db_path)))
            metadata = {"figures": inputs.figures.height}
            if inputs.provenance is not None:
                # parts whose declared cells do not add up (0 expected; the tests require it)
                metadata["provenance_mismatches"] = inputs.provenance.mismatches.height
            yield dg.MaterializeResult(asset_key="release_provenance", metadata=metadata)
            written: list[Path] = []
            steps = publish_steps(target, inputs, run_id=context.run.run_id)
            for step, done in steps:
                if step == "audit_bundle":  # restricted: not published
                    yield dg.MaterializeResult(asset_key="audit_bundle", metadata={
                        "path": dg.MetadataValue.path(str(audit_dir)) if inputs.provenance is not None else "none"})
                else:
                    written = done
        except BaseException:
            from pipelines.provenance import discard_audit_staging

            if steps is not None:
                steps.close()  # a failure between its steps: it removes the release it began
            discard_audit_staging(audit_dir)  # collect() began it: nothing restricted left half-written
            raise
        yield dg.MaterializeResult(asset_key="release", metadata={
            "path": dg.MetadataValue.path(str(target)),
            "audit_bundle": dg.MetadataValue.path(str(audit_dir)),  # restricted: not published
            "files": len(written),
            "figures": inputs.figures.height,
            "draft": bool(inputs.settings.get("draft")),
            "open_errors": 0 if inputs.quality is None else inputs.quality.open_errors.height,
            "revised_figures": inputs.revisions.table.height if inputs.revisions is not None else 0,
        })
        vintage = revisions.keep_vintage(Path(dasa.vintages_dir), target, inputs) if dasa.vintages_dir else None
        with dasa.connect() as con:
            fingerprints.record(con, "publish_release", _as_written(fingerprint, target, audit_dir), year)
        rev = inputs.revisions
        if vintage is not None and rev is not None:  # a vintage is kept only of a compared release
            yield dg.MaterializeResult(asset_key="release_vintage", metadata={
                "path": dg.MetadataValue.path(str(vintage)),
                "compared_with": rev.previous.number if rev.previous else "none",
                "revised_figures": rev.table.height})

    return _asset


def release_fingerprint(con: duckdb.DuckDBPyConnection, dasa: DasaSettings, year: str) -> str:
    """What the release of `year` is written from (pipelines/fingerprints.py): the code, the
    declarations and reports, the build's settings, the decisions files and kept vintages
    of the years it shows, the fingerprints of their inputs, and the content of every derived
    table up to `year`."""
    from pipelines.release.config import default_config_path

    raw_dir = Path(dasa.raw_dir)
    shown = [y for y in years_in(raw_dir) if y <= year]
    inputs = con.execute(f"SELECT asset, partition, fingerprint FROM {fingerprints.TABLE} "
                         "WHERE (starts_with(asset, 'raw_') AND partition <= ?) OR asset = 'reference' ORDER BY ALL",
                         [year]).fetchall()
    decisions = [(y, fingerprints.file_sha256(raw_dir / y / "decisions.yaml"))
                 for y in shown if (raw_dir / y / "decisions.yaml").is_file()]
    vintages = fingerprints.tree(Path(dasa.vintages_dir) / year) if dasa.vintages_dir else []
    from pipelines.provenance import git_commit

    # the provenance names the commit it was built from: a new commit writes the release again
    return fingerprints.digest(fingerprints.code_version(), git_commit(),
                               fingerprints.declarations_version(default_config_path()),
                               dasa.model_dump(), year, shown, [list(r) for r in inputs], decisions, vintages,
                               fingerprints.tables_content(con, year))


def _as_written(fingerprint: str, target: Path, audit_dir: Path) -> str:
    """The fingerprint of a release with the files of its folder and of its audit bundle as they are."""
    return fingerprints.digest(fingerprint, fingerprints.tree(target), fingerprints.tree(audit_dir))


def gather_release_inputs(con: duckdb.DuckDBPyConnection, year: str, draft: bool = False,
                          raw_dir: Path | None = None, disclosure: DisclosureSettings | None = None):
    """Everything the writer needs. Given the raw folder, the issues of the years shown are
    assessed against their decisions files (pipelines/quality.py): the release is a draft
    when `draft` is set or an error is still open."""
    from pipelines.release import ReleaseInputs

    years = tuple(r[0] for r in con.execute(
        "SELECT DISTINCT time_period FROM pub_figures WHERE time_period <= ? ORDER BY 1", [year]).fetchall())
    if year not in years:
        raise ValueError(f"no figures for {year}: is data/raw/{year} there?")
    figures = con.execute(
        "SELECT * FROM pub_figures WHERE time_period <= ? ORDER BY measure, breakdown, time_period, "
        "geographic_level, geography_code", [year]).pl()
    returns = con.execute("""
        SELECT r.financial_year, r.gss_code, r.authority_name, r.region_code, r.region_name, r.received,
               r.file, r.submission_number, r.superseded_files,
               s.completeness AS supported_completeness, c.completeness AS characteristics_completeness
        FROM stg_authority_returns__returns r
        LEFT JOIN stg_authority_returns__completeness s
            ON s.financial_year = r.financial_year AND s.gss_code = r.gss_code AND s.section = 'supported'
        LEFT JOIN stg_authority_returns__completeness c
            ON c.financial_year = r.financial_year AND c.gss_code = r.gss_code AND c.section = 'characteristics'
        WHERE r.financial_year <= ?
        ORDER BY r.financial_year, r.gss_code""", [year]).pl()
    issues = con.execute("""
        SELECT financial_year, source, file, sheet, location, level, code, message
        FROM raw_issues WHERE financial_year <= ?
        ORDER BY financial_year, source, file, sheet NULLS FIRST, row NULLS FIRST, column_letter NULLS FIRST, code""",
        [year]).pl()
    issues = public_issues(issues)
    inputs = con.execute("""
        SELECT financial_year, source, path, sha256 FROM raw_input_files
        WHERE financial_year <= ? ORDER BY financial_year, source, path""", [year]).pl()
    notes = release_notes(con, years)
    quality = None
    if raw_dir is not None:
        from pipelines.quality import assess, validation_results

        quality = assess(con, raw_dir, years)
        quality.issues = public_issues(quality.issues)  # the release is public: no cell values in messages
        quality.validation = validation_results(con, year)
        if quality.validation is not None:
            quality.validation = quality.validation.with_columns(
                pl.col("details").map_elements(validation.public_details, return_dtype=pl.String))
        draft = draft or quality.blocking
        if quality.decision_files:  # the decisions are inputs of the release too
            inputs = pl.concat([inputs, pl.DataFrame(quality.decision_files, schema=inputs.schema)]).sort(
                "financial_year", "source", "path")
    # a year whose settings are still TODO (reports/years/<year>.yaml) is a draft; --final refuses it
    draft = draft or bool(load_config().unfinished(year))
    settings = {**(disclosure or DisclosureSettings()).as_dict(), "draft": draft}
    audit_tables = {name: con.execute(f"SELECT * FROM {name} WHERE time_period <= ? ORDER BY ALL", [year]).pl()
                    for name in (AUDIT_TABLE, LOSS_TABLE) if warehouse.table_exists(con, name)}
    return ReleaseInputs(year=year, years=years, figures=figures, returns=returns, issues=issues,
                         inputs=inputs, settings=settings, notes=notes, quality=quality, disclosure=audit_tables)


def suppression_log(con: duckdb.DuckDBPyConnection, year: str) -> pl.DataFrame:
    """Every suppressed figure of the years up to `year` with its rule: restricted, for the
    audit bundle only (the rule of a [c] would say whether it hides a small count)."""
    return con.execute(
        "SELECT * FROM pub_suppression_log WHERE time_period <= ? ORDER BY measure, breakdown, time_period, "
        "geographic_level, geography_code", [year]).pl()


def restricted_audit_dir(audit_root: Path, year: str, release_dir: Path) -> Path:
    """The audit bundle folder of a year's release, or ValueError when it would be in, beside
    or above the release folder (pipelines/provenance.py; `dasa release` checks it first)."""
    from pipelines import provenance

    problem = provenance.audit_location_problem(audit_root, year, release_dir)
    if problem:
        raise ValueError(problem)
    return provenance.audit_dir_for(year, audit_root)


def with_provenance(con: duckdb.DuckDBPyConnection, inputs, audit_dir: Path | None,
                    done_reading: Callable[[], None] | None = None, kept_years: Path | None = None):
    """The release inputs with the provenance of every figure; its restricted audit bundle,
    with the suppression log and the disclosure audit's intervals, is prepared for `audit_dir`
    (see pipelines/provenance.py; None prepares none). `done_reading` is called once the
    warehouse is no longer read; the evidence of a year is kept in `kept_years` between
    collections (provenance.collect)."""
    import dataclasses

    from pipelines import provenance

    settings = {k: v for k, v in inputs.settings.items() if k != "draft"}
    intervals = con.execute(f"SELECT * FROM {INTERVALS_TABLE} WHERE time_period <= ? ORDER BY ALL",
                            [inputs.year]).pl() if warehouse.table_exists(con, INTERVALS_TABLE) else None
    prov = provenance.collect(con, inputs.year, inputs.figures, settings, audit_dir=audit_dir,
                              suppression_log=suppression_log(con, inputs.year), done_reading=done_reading,
                              kept_years=kept_years)
    if intervals is not None:
        prov = dataclasses.replace(prov, audit_tables={**prov.audit_tables, "disclosure_intervals": intervals})
    return dataclasses.replace(inputs, provenance=prov)


def release_notes(con: duckdb.DuckDBPyConnection, years: tuple[str, ...]) -> dict[str, str]:
    """Notes computed from the data that the release must carry (never from the clock)."""
    notes: dict[str, str] = {}
    for fy in years:
        carried = reference.tier1_assumption(fy)
        if carried:
            notes[f"reference_{fy}"] = f"{fy}: {carried}"
        row = con.execute(
            "SELECT count(*) FILTER (WHERE outcome = 'pending') FROM stg_womens_aid__referrals WHERE financial_year = ?",
            [fy]).fetchone()
        if row and row[0]:
            notes[f"referrals_pending_{fy}"] = (
                f"{fy}: {row[0]:,} referrals still pending at the time of the extract are left out of the "
                "referral figures.")
        rows = con.execute(
            "SELECT marac_id, quarters_filled FROM stg_safelives__marac_annual "
            "WHERE financial_year = ? AND quarters_filled > 0 ORDER BY marac_id", [fy]).fetchall()
        filled = [m for m, q in rows if q == 1]
        left_out = [m for m, q in rows if q > 1]
        if filled or left_out:
            parts = []
            if filled:
                parts.append(f"{len(filled)} Marac(s) missed one quarter, filled from the previous quarter "
                             f"({', '.join(filled)})")
            if left_out:
                parts.append(f"{len(left_out)} Marac(s) missed two or more quarters and are left out of the "
                             f"rates ({', '.join(left_out)})")
            notes[f"marac_coverage_{fy}"] = f"{fy}: " + "; ".join(parts) + "."
    return notes


def write_release_atomically(target: Path, inputs, run_id: str = "") -> list[Path]:
    """Write the release and publish it with its audit bundle, audit first (publish_steps);
    the files written."""
    written: list[Path] = []
    for step, done in publish_steps(target, inputs, run_id):
        if step == "release":
            written = done
    return written


def publish_steps(target: Path, inputs, run_id: str = "") -> Generator[tuple[str, list[Path]], None, None]:
    """Write the release into a new folder beside the target, then publish it with its audit
    bundle, audit first (decision 0013), saying when each is in place (`("audit_bundle",
    [])`, then `("release", <the files written>)`):

    1. the release, complete, in `.<name>.building-*` beside the target, then given the
       ordinary mode of a public folder (0o755 under the usual umask; files as the umask
       gives), so whoever copies it to a web server can read it;
    2. the restricted audit bundle, complete, in `<audit>/<year>.writing` (owner only, 0o700);
    3. the audit bundle moved into place, then the release swapped in (the folder there
       before moved aside to `.<name>.old-<pid>` and removed).

    A failure removes the temporary release folder and the audit staging folder; a kill
    leaves them to the next build, which removes them (pipelines/buildstate.py). A kill
    after step 3's first move leaves the new audit bundle beside the earlier release:
    `dasa trace` sees from the bundle's stamp that it is of another build."""
    from pipelines import buildstate, provenance
    from pipelines.release import write_release

    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    prov = inputs.provenance
    try:
        written = write_release(tmp, inputs)
        draft = bool(inputs.settings.get("draft"))
        written.append(write_manifest(tmp, inputs.inputs.select("source", "path", "sha256").to_dicts(),
                                      release_status="DRAFT" if draft else "final"))
        build = {
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "dagster_run_id": run_id,
            "host": platform.node(),
            "python": platform.python_version(),
            "release_status": "DRAFT" if draft else "final",
            "release_year": inputs.year,
        }
        audit = inputs.disclosure.get(AUDIT_TABLE)
        if audit is not None:  # a time: here, not in quality.html, so rebuilds stay byte-identical
            build["disclosure_audit_seconds"] = {r["time_period"]: r["seconds"] for r in audit.iter_rows(named=True)}
        (tmp / "build.json").write_text(json.dumps(build, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.chmod(buildstate.public_mode())  # mkdtemp made it 0o700
        if prov is not None:
            # restricted: never in, beside or above the release folder
            provenance.stage_audit(prov)
            buildstate.fault_point("audit-staged")
            provenance.move_audit_into_place(prov)
            buildstate.fault_point("audit-moved")
        yield "audit_bundle", []  # in place (none without provenance)
        buildstate.swap_in(tmp, target, between="release-renamed-old")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if prov is not None:
            provenance.discard_audit_staging(prov.audit_dir)
        raise
    yield "release", [target / p.relative_to(tmp) for p in written] + [target / "build.json"]
