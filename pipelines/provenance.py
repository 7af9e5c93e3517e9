"""Provenance of every published figure, in two tiers.

Public (in the release folder): `provenance.json` (what every figure shares: code version,
lockfile hash, disclosure settings, the query of each metric family, every input file with
its SHA-256 and the checks it passed) and `provenance/<family>.json` (one entry per
figure_id: measure and method version, the rounding and suppression applied, the query,
the inputs, and for an authority figure the sheet, row and column of every contributing
cell; for a regional or England figure the authorities that contribute and the cells read
in each). No public entry holds a value: no cell value, no unrounded numerator or
denominator, no count of selected records.

Restricted (the audit bundle, `data/processed/audit/<year>/` or `<--audit-dir>/<year>/`,
never in, beside or above the release folder): the unrounded numerator,
denominator and value of every figure, what each authority (or area) contributes, the
full list of contributing cells and records with their values, the suppression log (the
rule that withholds each suppressed figure: the public files say only that it is withheld)
and the disclosure audit's interval of every suppressed cell.

How the contributing cells are found (see docs/decisions/0010-provenance-and-trace.md):
1. Every metric SQL builds its figures from a `parts` CTE, one row per authority (or
   police force area, or region for the extracts read at that level) with its numerator
   and denominator, then adds the parts up by grouping sets. Running each file's own
   `parts` CTE gives, exactly, which units contribute to a regional or England figure.
2. The cells (or extract records) of one part are declared with the measure, under `reads`
   in its family's YAML (`Measure.basis`, pipelines/metric_catalog.py): which sheet, row code
   and column (or which records of an extract) make the numerator and the denominator. Every part whose declared cells do not add up to its
   numerator or denominator is reported (`mismatches`), and the tests require none.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
import subprocess
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from pipelines import metric_catalog, metric_sql, reference, warehouse
from pipelines.metric_catalog import Sel, describe_basis
from pipelines.manifest import sha256
from pipelines.paths import AUDIT_DIR, PROJECT_DIR
from pipelines.reference import REFERENCE_TABLES
from pipelines.safe_paths import inside, one_name

INDEX_FILE = "provenance.json"
AUDIT_STAMP = "release.json"  # in the audit bundle: the SHA-256 of the provenance.json written with it
SUPPRESSION_LOG_FILE = "suppression_log.parquet"  # in the audit bundle only
FAMILY_DIR = "provenance"
TRACE_DIR = "trace"
ROLES = ("numerator", "denominator")

# --- SQL -------------------------------------------------------------------------------

# every cell of the returns in use of the years of the release (the one parameter: a list of
# years); a services row takes its accommodation type as row code
_CELLS = """
    select c.financial_year, c.gss_code as unit_code, c.file, c.sheet, c.sheet_row, c.column_letter, c.field,
           case when c.sheet = 'services' then s.accommodation_type else c.record_key end as record_key,
           c.value
    from stg_authority_returns__counts c
    left join (select financial_year, file, sheet_row, accommodation_type from stg_authority_returns__services) s
        on s.financial_year = c.financial_year and s.file = c.file and s.sheet_row = c.sheet_row
    where c.value is not null and list_contains(?, c.financial_year)
"""

# the selectors, expanded into the (sheet, row code, column) combinations the returns hold,
# so that cells are found by an equality join
_CELL_EVIDENCE = f"""
    with cells as ({_CELLS}),
    combos as (select distinct sheet, record_key, field from cells),
    sel as (
        select s.measure, s.breakdown, s.role, s.row_has, k.sheet, k.record_key, k.field
        from _prov_cell_sel s
        join combos k
            on k.sheet = s.sheet
            and (s.keys is null or list_contains(s.keys, k.record_key))
            and (s.fields is null or list_contains(s.fields, k.field))
    ),
    picked as (
        select s.measure, s.breakdown, s.role, s.row_has, c.*
        from sel s
        join cells c on c.sheet = s.sheet and c.record_key = s.record_key and c.field = s.field
    )
    select measure, breakdown, role, financial_year, unit_code, file, sheet, sheet_row as "row",
           column_letter as "column", field, record_key, value::bigint as value
    from picked where row_has is null
    union all
    select p.measure, p.breakdown, p.role, p.financial_year, p.unit_code, p.file, p.sheet, p.sheet_row,
           p.column_letter, p.field, p.record_key, p.value::bigint
    from picked p
    semi join cells h
        on h.file = p.file and h.sheet = p.sheet and h.sheet_row = p.sheet_row and h.field = p.row_has
    where p.row_has is not null
"""

# records of the services extract (value: bedspaces), one row each
_RECORD_EVIDENCE = """
    select s.measure, s.breakdown, s.role, v.financial_year, coalesce(v.gss_code, '(none)') as unit_code, v.file,
           null::varchar as sheet, v.line as "row", null::varchar as "column", 'bedspaces' as field,
           v.service_id as record_key, v.bedspaces::bigint as value
    from _prov_rec_sel s
    join stg_womens_aid__refuge_services v
        on s.tbl = 'refuge_services' and v.service_type = 'refuge' and v.bedspaces is not null
        and (not s.by_and_for or v.by_and_for)
"""

# referrals selected by each declared filter, counted per region (too many to list one by one:
# the audit bundle keeps the count; the filter and the file say which rows they are)
_REFERRAL_COUNTS = """
    with referrals as (
        select financial_year, region_code, outcome, decline_reason, support_needs,
               any_value(file) as file, count(*) as n
        from stg_womens_aid__referrals group by all
    ),
    kinds as (
        select *, list_transform(string_split(coalesce(support_needs, ''), ';'), x -> trim(x)) as needs
        from referrals
    )
    select s.measure, s.breakdown, s.role, r.financial_year, coalesce(r.region_code, '(none)') as unit_code,
           min(r.file) as file, sum(r.n)::bigint as value,
           -- which records: the predicate over stg_womens_aid__referrals that selects them
           'financial_year = ' || (chr(39) || replace(r.financial_year, chr(39), chr(39) || chr(39)) || chr(39)) || ' and region_code '
               || coalesce('= ' || (chr(39) || replace(r.region_code, chr(39), chr(39) || chr(39)) || chr(39)), 'is null')
               || ' and outcome in (' || array_to_string(list_transform(s.outcomes, o -> (chr(39) || replace(o, chr(39), chr(39) || chr(39)) || chr(39))), ', ') || ')'
               || coalesce(' and list_contains(list_transform(string_split(support_needs, '';''), x -> trim(x)), '
                           || (chr(39) || replace(s.need, chr(39), chr(39) || chr(39)) || chr(39)) || ')', '')
               || coalesce(' and decline_reason = ' || (chr(39) || replace(s.decline_reason, chr(39), chr(39) || chr(39)) || chr(39)), '') as filter
    from _prov_rec_sel s
    join kinds r
        on s.tbl = 'referrals' and list_contains(s.outcomes, r.outcome)
        and (s.need is null or list_contains(r.needs, s.need))
        and (s.decline_reason is null or r.decline_reason = s.decline_reason)
    group by all
"""

# --- the whole collection ----------------------------------------------------------------


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else "unknown"


def lockfile_sha256() -> str:
    lock = PROJECT_DIR / "uv.lock"
    return sha256(lock) if lock.is_file() else "unknown"


@dataclass
class Provenance:
    year: str
    index: dict  # provenance.json
    families: dict[str, dict]  # family -> {"measures", "bases"}
    entries: pl.DataFrame  # family, figure_id, entry: the JSON text of each figure's public entry
    # figure_id, value_status, unrounded numerator, denominator, value; change_of: for a change
    # figure (whose value is the change before its own rounding), what it is the change of
    audit_figures: pl.DataFrame
    audit_parts: pl.DataFrame  # what each unit contributes: measure, breakdown, financial_year, unit_code, region_code, role, part_value
    mismatches: pl.DataFrame  # parts whose declared cells do not add up to the part
    audit_dir: Path | None = None  # where write_audit puts the bundle
    # further restricted tables of the bundle, by file name without .parquet (the disclosure
    # audit's intervals): never written to the release folder
    audit_tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    # every suppressed figure with its rule, and what a secondary suppression protects: restricted
    suppression_log: pl.DataFrame | None = None


DISCLOSURE_RULES = {
    "exact": "published as computed (no rounding, no suppression)",
    "decimals": "rounded to {decimals} decimal place, half up",
    "base": "a count of people at England or regional level: rounded to the nearest {rounding_base}, half up",
    "rate": "computed from the unrounded numerator and denominator, then rounded to {decimals} decimal place, half up",
    "rate_base": "computed from the unrounded numerator and denominator, then rounded to {decimals} decimal place, "
                 "half up; the numerator and denominator shown are rounded to the nearest {rounding_base}",
    # the same words for every [c]: which rule withholds a figure is in the audit bundle only
    "suppressed": "suppressed [c] by disclosure control",
    "low": "rounds to zero but is not zero: shown as [low]",
    "not_available": "not available [x]: not collected, or no return",
    "not_applicable": "not applicable [z]",
    "break_in_series": "break in series [b]: no figure for the same geography the year before",
}
# said of [b] too when a measure's definition changes with the return template (its notes say how)
TEMPLATE_BREAK = ", or the measure's definition changed with the return template between the two years"


def _disclosure_rules(settings: dict) -> dict[str, str]:
    rules = {k: v.format(**settings) for k, v in DISCLOSURE_RULES.items()}
    if any(m.template_changes for m in metric_catalog.measures().values()):
        rules["break_in_series"] += TEMPLATE_BREAK
    return rules


def _selectors(catalog) -> tuple[pl.DataFrame, pl.DataFrame]:
    cell_rows, rec_rows = [], []
    for m in catalog.values():
        for b in m.breakdowns:
            for role, items in m.basis(b).items():
                if isinstance(items, str):
                    continue
                for x in items:
                    if isinstance(x, Sel):
                        cell_rows.append((m.id, b, role, x.sheet, list(x.keys) if x.keys else None,
                                          list(x.fields) if x.fields else None, x.row_has))
                    else:
                        rec_rows.append((m.id, b, role, x.table, list(x.outcomes) if x.outcomes else None,
                                         x.need, x.decline_reason, x.by_and_for))
    cell_sel = pl.DataFrame(cell_rows, orient="row", schema={
        "measure": pl.String, "breakdown": pl.String, "role": pl.String, "sheet": pl.String,
        "keys": pl.List(pl.String), "fields": pl.List(pl.String), "row_has": pl.String})
    rec_sel = pl.DataFrame(rec_rows, orient="row", schema={
        "measure": pl.String, "breakdown": pl.String, "role": pl.String, "tbl": pl.String,
        "outcomes": pl.List(pl.String), "need": pl.String, "decline_reason": pl.String, "by_and_for": pl.Boolean})
    return cell_sel, rec_sel


_PART = "measure, breakdown, financial_year, unit_code, role"
_LOCAL_LEVELS = ["local_authority", "police_force_area"]  # figures with cells of their own
_SAME_PART = ("a.measure = b.measure and a.breakdown = b.breakdown and a.financial_year = b.financial_year "
              "and a.unit_code = b.unit_code and a.role = b.role")

# the cells and lines of the parts of authority and police force area figures
_LOCAL_EVIDENCE = f"""
    select {_PART}, coalesce(sheet, '(lines)') as sheet, coalesce("column", '') as "column", "row"
    from _prov_ev semi join _prov_local using (measure, breakdown, financial_year, unit_code)
    order by {_PART}, sheet, length("column"), "column", "row"
"""


def _refs(ev: pl.DataFrame) -> pl.DataFrame:
    """A1 references of each part's cells by sheet, a run of rows in one column written as a
    range ('B2:B7 C3'); for extract lines, the line numbers."""
    key = ["measure", "breakdown", "financial_year", "unit_code", "role", "sheet"]
    per_col = ev.group_by(key + ["column"], maintain_order=True).agg(
        pl.col("row").min().alias("r0"), pl.col("row").max().alias("r1"), pl.len().alias("n"),
        (pl.col("column") + pl.col("row").cast(pl.String)).str.join(" ").alias("each"))
    txt = (pl.when((pl.col("n") > 1) & (pl.col("n") == pl.col("r1") - pl.col("r0") + 1)
                   & (pl.col("sheet") != "(lines)"))
           .then(pl.col("column") + pl.col("r0").cast(pl.String) + ":" + pl.col("column") + pl.col("r1").cast(pl.String))
           .otherwise(pl.col("each")))
    return per_col.with_columns(txt.alias("txt")).group_by(key, maintain_order=True).agg(
        pl.col("txt").str.join(" ").alias("refs"))


_CONTRIBUTORS = """
    select measure, breakdown, financial_year, 'regional' as geographic_level, region_code as geography_code,
           role, string_agg(unit_code, ' ' order by unit_code) as units
    from _prov_long where region_code is not null group by all
    union all
    select measure, breakdown, financial_year, 'national', 'E92000001', role,
           string_agg(coalesce(unit_code, '(no region)'), ' ' order by unit_code) as units
    from _prov_long group by all
"""


# the parts of one year (the parameter) whose declared cells or records do not add up to them
_MISMATCHES = f"""
    with declared as (
        select distinct measure, breakdown, role from _prov_cell_sel
        union select distinct measure, breakdown, role from _prov_rec_sel
    ),
    sums as (
        select {_PART}, sum(value) as cells_sum from _prov_ev group by all
        union all
        select {_PART}, value from _prov_counts
    )
    select a.*, coalesce(b.cells_sum, 0)::double as cells_sum
    from _prov_long a
    join declared d using (measure, breakdown, role)
    left join sums b on {_SAME_PART}
    where a.financial_year = ? and coalesce(b.cells_sum, 0) <> a.part_value
"""

# a year's evidence as the audit bundle keeps it (evidence.parquet), by part
_EVIDENCE_ROWS = f"""
    select {_PART}, file, sheet, "row", "column", field, record_key, value from _prov_ev
    order by {_PART}, file, sheet nulls first, "row", "column"
"""

ALL_RETURNS = "every authority with a return"


def _units_text(units: str, universe) -> str:
    """A list of contributing units, written relative to every authority with a return when
    that is shorter (England figures): "every authority with a return [except A B]"."""
    got, every = set(units.split()), set(universe)
    if not every or not got <= every:
        return units
    missing = sorted(every - got)
    if not missing:
        return ALL_RETURNS
    return f"{ALL_RETURNS} except {' '.join(missing)}" if len(missing) < len(got) else units


def expand_units(text: str, universe) -> list[str]:
    """The inverse of _units_text."""
    if text.startswith(ALL_RETURNS):
        missing = set(text.removeprefix(ALL_RETURNS).removeprefix(" except ").split())
        return sorted(u for u in universe if u not in missing)
    return [u for u in text.split() if u]


def collect(con: duckdb.DuckDBPyConnection, year: str, figures: pl.DataFrame, settings: dict,
            audit_dir: Path | None = None, suppression_log: pl.DataFrame | None = None,
            done_reading: Callable[[], None] | None = None, kept_years: Path | None = None) -> Provenance:
    """The provenance of every figure of the release of `year` (figures: its pub_figures rows).

    With `audit_dir`, the restricted audit bundle is prepared beside it (`<audit_dir>.writing`);
    `write_audit` completes it, with the `suppression_log` (pub_suppression_log rows) given,
    and moves it into place. `done_reading` is called once the warehouse has been read, before
    the public entries are built in Python (the build closes its connection there: DuckDB then
    gives back the memory its queries took, some 250 MB for a four-year release).

    With `kept_years` (a folder of the build's own, beside its warehouse), the evidence of a
    year whose inputs to it are those of an earlier collection is taken from there rather
    than made again (`YearEvidence`): the release of a year shows every earlier year, and
    those are as the last build, or the last release of this build, left them."""

    catalog = metric_catalog.measures()
    family_sql = {s.table.removeprefix("metric_"): s for s in warehouse.sql_files("metrics")}
    years = sorted(set(figures["time_period"].to_list()))
    cell_sel, rec_sel = _selectors(catalog)
    evidence = None
    con.register("_prov_cell_sel_in", cell_sel.to_arrow())
    con.register("_prov_rec_sel_in", rec_sel.to_arrow())
    try:
        con.execute("create or replace temp table _prov_cell_sel as select * from _prov_cell_sel_in")
        con.execute("create or replace temp table _prov_rec_sel as select * from _prov_rec_sel_in")
        # 1. parts: what each unit contributes: each metric family's parts, as its asset kept
        # them (warehouse.build_table), else from the family's SQL itself
        kept = {t for (t,) in con.execute("select table_name from information_schema.tables "
                                          "where starts_with(table_name, ?)", [warehouse.PARTS_PREFIX]).fetchall()}
        selects = []
        for fam, sql in sorted(family_sql.items()):
            q = f'select * from "{sql.parts_table}"' if sql.parts_table in kept else sql.text.rstrip().rstrip(";")
            unit = metric_sql.UNIT_COLUMN.get(metric_catalog.family(fam).parts_by, "region_code")
            selects.append(f"select '{fam}' as family, financial_year, coalesce({unit}, '(none)') as unit_code, "
                           f"region_code, measure, "
                           f"breakdown, numerator::double as numerator, denominator::double as denominator from ({q}\n)")  # a query may end in a comment
        con.execute("create or replace temp table _prov_parts as select * from (" + " union all ".join(selects)
                    + ") where list_contains(?, financial_year)", [years])
        con.execute("""create or replace temp table _prov_long as
            select family, measure, breakdown, financial_year, unit_code, region_code, 'numerator' as role,
                   numerator as part_value from _prov_parts where numerator is not null
            union all
            select family, measure, breakdown, financial_year, unit_code, region_code, 'denominator',
                   denominator from _prov_parts where denominator is not null""")
        con.execute(f"""create or replace temp table _prov_counts as
            select a.* from ({_REFERRAL_COUNTS}) a
            semi join _prov_long b using (measure, breakdown, financial_year, unit_code, role)""")
        local = figures.filter(pl.col("geographic_level").is_in(_LOCAL_LEVELS)).select(
            "measure", "breakdown", pl.col("time_period").alias("financial_year"), pl.col("geography_code").alias("unit_code"))
        con.register("_prov_local", local.to_arrow())
        # 2. the declared cells and records of every part that has a value, one year at a
        # time: each year's evidence is checked against its parts, its A1 references taken and
        # its rows added to the audit bundle's evidence, then dropped before the next year's
        # (all the years of a release at once took some 600 MB more: decision 0024)
        staging = _audit_staging(audit_dir) if audit_dir is not None else None
        evidence = _EvidenceFile(staging / "evidence.parquet") if staging is not None else None
        kept = YearEvidence(kept_years, cell_sel, rec_sel) if kept_years is not None else None
        year_refs, year_mismatches = [], []
        for y in years:
            made = kept.of(con, y) if kept is not None else _year_evidence(con, y, rows=evidence is not None)
            if evidence is not None:
                evidence.add(made.rows)
            year_refs.append(made.refs)
            year_mismatches.append(made.mismatches)
        con.register("_prov_mismatches_in", pa.concat_tables(year_mismatches))
        mismatches = con.execute("select * from _prov_mismatches_in order by all").pl()
        refs = pl.concat(year_refs)
        contributors = con.execute(_CONTRIBUTORS).pl()
        audit_parts = con.execute(
            "select family, measure, breakdown, financial_year, unit_code, region_code, role, part_value "
            "from _prov_long order by all").pl()
        metric_rows = con.execute(" union all ".join(
            f'select measure, breakdown, financial_year, geographic_level, geography_code, numerator::double as n, '
            f'denominator::double as d, value::double as v from "metric_{f}"' for f in sorted(family_sql))).pl()
        workbooks = con.execute("select financial_year, gss_code, file from stg_authority_returns__returns "
                                "where received order by all").fetchall()
        inputs = _inputs(con, years)
        if staging is not None:
            _write_record_counts(con, staging)
    finally:
        if evidence is not None:
            evidence.close()
        _drop_temporary(con)
    if done_reading is not None:
        done_reading()
    return _entries(year, years, figures, settings, catalog, family_sql, refs, contributors, audit_parts,
                    metric_rows, workbooks, inputs, mismatches, audit_dir, suppression_log)


_SAFE_ID = r"^[A-Za-z0-9_.()\-]+$"
_CONTROL = r"[\x00-\x1f]"


def _as_json_strings(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    """String columns written as JSON string literals, escaped exactly as json.dumps does
    (quotes and backslashes here; a column holding a control character goes through
    json.dumps itself)."""
    out = []
    for c in cols:
        col = pl.col(c)
        if df.select(col.str.contains(_CONTROL).any()).item():
            out.append(col.map_elements(lambda x: json.dumps(x, ensure_ascii=False), return_dtype=pl.String).alias(c))
        else:
            out.append(('"' + col.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
                        + '"').alias(c))
    return df.with_columns(out)


def _entry_lines(fig: pl.DataFrame, catalog, settings: dict, refs: pl.DataFrame, contributors: pl.DataFrame,
                 audit_parts: pl.DataFrame, received: dict[str, list[str]]) -> pl.DataFrame:
    """The public entry of every figure as JSON text (keys sorted, no spaces), built with
    column expressions rather than a dictionary per figure:

        {"denominator": item, "derived_from": [id, id], "disclosure": code, "numerator": item,
         "status": status}

    A suppressed figure says only that it is suppressed (status and disclosure `suppressed`),
    never by which rule: that would tell which [c] hide a small count.

    An item is {"cells": {sheet: A1 references}} for an authority (or police force area)
    figure whose declared cells hold values, {"contributes": true|false} for one without
    declared cells (whether its part has a value), and {"from": units} for a regional or
    England figure; a key with nothing to say is left out. Returns family, figure_id, entry."""
    from pipelines.disclosure import figure_id_expr, previous_year

    bad = fig.filter(~pl.col("figure_id").str.contains(_SAFE_ID))
    if bad.height:  # ids are written into the JSON unescaped
        raise ValueError(f"figure ids with characters outside [A-Za-z0-9_.()-]: {bad['figure_id'].head(5).to_list()}")
    kinds = pl.DataFrame(
        [(mid, m.family, m.kind, m.counts_people, m.source) for mid, m in catalog.items()], orient="row",
        schema={"base_measure": pl.String, "family": pl.String, "kind": pl.String, "people": pl.Boolean,
                "source": pl.String})
    part = ["base_measure", "breakdown", "time_period", "geography_code"]
    # each local part's cells as {"sheet":"refs",...}
    cells = (_as_json_strings(refs.sort("measure", "breakdown", "financial_year", "unit_code", "role", "sheet"),
                              "sheet", "refs")
             .group_by(["measure", "breakdown", "financial_year", "unit_code", "role"], maintain_order=True)
             .agg(("{" + (pl.col("sheet") + ":" + pl.col("refs")).str.join(",") + "}").alias("cells"))
             .rename({"measure": "base_measure", "financial_year": "time_period", "unit_code": "geography_code"}))
    has_part = (audit_parts.select(pl.col("measure").alias("base_measure"), "breakdown",
                                   pl.col("financial_year").alias("time_period"),
                                   pl.col("unit_code").alias("geography_code"), "role")
                .unique().with_columns(pl.lit(True).alias("has_part")))
    # the units of each regional and England part; an England figure from the returns is
    # written relative to every authority with a return when that is shorter
    units = contributors.rename({"measure": "base_measure", "financial_year": "time_period"}).join(
        kinds.select("base_measure", "source"), on="base_measure", how="left")
    units = _as_json_strings(units.with_columns(pl.struct("time_period", "geographic_level", "source", "units")
                                                .map_elements(lambda r: _units_text(r["units"] or "", received.get(
                                                    r["time_period"], ()) if r["geographic_level"] == "national"
                                                    and r["source"] == "authority_returns" else ()),
                                                    return_dtype=pl.String).alias("units")), "units")

    f = fig.join(kinds, on="base_measure", how="left")
    unknown = f.filter(pl.col("family").is_null())
    if unknown.height:
        raise ValueError(f"figures of measures not in the catalogue: {unknown['base_measure'].unique().to_list()}")
    for role in ROLES:
        f = (f.join(cells.filter(pl.col("role") == role).select(*part, pl.col("cells").alias(f"cells_{role}")),
                    on=part, how="left")
             .join(has_part.filter(pl.col("role") == role).select(*part, pl.col("has_part").alias(f"part_{role}")),
                   on=part, how="left")
             .join(units.filter(pl.col("role") == role).select(*part, "geographic_level",
                                                               pl.col("units").alias(f"units_{role}")),
                   on=[*part, "geographic_level"], how="left"))

    level, status = pl.col("geographic_level"), pl.col("value_status")
    count = (pl.col("kind") == "count") & ~pl.col("measure").str.ends_with("_change_percent")
    rounded_level = pl.col("people") & level.is_in(list(settings["rounded_levels"]))
    shown_with_decimals = (status == "rounded") | ((status == "revised") & pl.col("value").str.contains(".", literal=True))
    disclosure = (
        pl.when(status.is_in(["suppressed", "low", "not_available", "not_applicable", "break_in_series"])).then(status)
        # a change of a rate, and a percentage change, is rounded to its decimals: no numerator or
        # denominator is shown beside it (what it is the difference of is under derived_from)
        .when(pl.col("is_change") & ~count).then(pl.lit("decimals"))
        .when(count & rounded_level).then(pl.lit("base"))
        .when(count & shown_with_decimals).then(pl.lit("decimals"))  # a revised figure: as it is shown
        .when(count).then(pl.lit("exact"))
        .when(rounded_level).then(pl.lit("rate_base"))
        .otherwise(pl.lit("rate")))

    def item(role: str) -> pl.Expr:
        wanted = ~pl.col("is_change") & ((pl.col("kind") != "count") if role == "denominator" else pl.lit(True))
        local = (pl.when(pl.col(f"cells_{role}").is_not_null()).then('{"cells":' + pl.col(f"cells_{role}") + "}")
                 .when(pl.col(f"part_{role}").fill_null(False)).then(pl.lit('{"contributes":true}'))
                 .otherwise(pl.lit('{"contributes":false}')))
        wider = '{"from":' + pl.col(f"units_{role}").fill_null('""') + "}"
        return pl.when(wanted).then(pl.when(level.is_in(_LOCAL_LEVELS)).then(local).otherwise(wider))

    previous = pl.col("time_period").replace_strict(
        {fy: previous_year(fy) for fy in f["time_period"].unique().to_list()}, return_dtype=pl.String)
    base_id = partial(figure_id_expr, pl.col("base_measure"), pl.col("breakdown"), pl.col("geography_code"))
    keys = [
        '"denominator":' + item("denominator"),
        pl.when(pl.col("is_change")).then('"derived_from":["' + base_id(pl.col("time_period")) + '","'
                                          + base_id(previous) + '"]'),
        '"disclosure":"' + disclosure + '"',
        '"numerator":' + item("numerator"),
        '"status":"' + status + '"',
    ]
    entry = "{" + pl.concat_str(keys, separator=",", ignore_nulls=True) + "}"
    return f.select("family", "figure_id", entry.alias("entry")).sort("family", "figure_id")


CHANGE_OF_UNROUNDED = "the unrounded values of both years"
CHANGE_OF_PUBLISHED = "the published values of both years (rounded at this level)"


def _change_values(fig: pl.DataFrame, metric_rows: pl.DataFrame, catalog, settings: dict) -> pl.DataFrame:
    """The value of every change figure before its own rounding, and what it is the change of
    (figure_id, change_value, change_of), by the rule of disclosure.Publisher.publish: the
    difference of the two years' values (for a percentage change, 100 x the difference over
    the earlier value), exact, of the unrounded values, or at a level where counts of people
    are rounded of the published values (decision 0012: the change tells nothing the two
    published figures do not). None where either value is missing, a published value is
    [low], or a percentage change is of an earlier value of 0. Restricted: the audit bundle
    only."""
    from pipelines.disclosure import DisclosureSettings, Publisher, exact_value, previous_year

    ch = fig.filter(pl.col("is_change")).select(
        "figure_id", "measure", "base_measure", "breakdown", "time_period", "geographic_level", "geography_code")
    if not ch.height:
        return pl.DataFrame(schema={"figure_id": pl.String, "change_value": pl.Float64, "change_of": pl.String})
    ch = ch.with_columns(pl.col("time_period").replace_strict(
        {fy: previous_year(fy) for fy in ch["time_period"].unique().to_list()}, return_dtype=pl.String)
        .alias("previous"))
    rows = metric_rows.rename({"measure": "base_measure", "financial_year": "time_period"})
    key = ["base_measure", "breakdown", "geographic_level", "geography_code"]
    ch = ch.join(rows, on=[*key, "time_period"], how="left").join(
        rows.rename({"time_period": "previous", "n": "n0", "d": "d0", "v": "v0"}), on=[*key, "previous"], how="left")
    rounded_levels = tuple(settings["rounded_levels"])
    publisher = Publisher(catalog, DisclosureSettings(rounding_base=int(settings["rounding_base"]),
                                                      rounded_levels=rounded_levels,
                                                      decimals=int(settings["decimals"])))
    values: list[float | None] = []
    of: list[str] = []
    for measure, base, level, n1, d1, v1, n0, d0, v0 in ch.select(
            "measure", "base_measure", "geographic_level", "n", "d", "v", "n0", "d0", "v0").iter_rows():
        m = catalog[base]
        published = m.counts_people and level in rounded_levels
        of.append(CHANGE_OF_PUBLISHED if published else CHANGE_OF_UNROUNDED)
        now, before = exact_value(m, n1, d1, v1), exact_value(m, n0, d0, v0)
        if now is not None and before is not None:
            now, before = publisher._as_published(m, level, now), publisher._as_published(m, level, before)
        if now is None or before is None:
            values.append(None)
            continue
        (a1, b1), (a0, b0) = now, before
        diff, den = a1 * b0 - a0 * b1, b1 * b0  # now - before, exactly
        if measure.endswith("_change_percent"):
            values.append(100 * diff * b0 / (den * a0) if a0 else None)
        else:
            values.append(diff / den)
    return pl.DataFrame({"figure_id": ch["figure_id"], "change_value": pl.Series(values, dtype=pl.Float64),
                         "change_of": pl.Series(of, dtype=pl.String)})


@dataclass(frozen=True)
class _Made:
    """The evidence of one year: its rows as the audit bundle keeps them (`_EVIDENCE_ROWS`),
    the parts whose cells do not add up to them (`_MISMATCHES`) and the A1 references of the
    parts of its authority and police force area figures (`_refs`)."""
    rows: pa.Table
    mismatches: pa.Table
    refs: pl.DataFrame


def _year_evidence(con: duckdb.DuckDBPyConnection, y: str, rows: bool) -> _Made:
    """Make the evidence of year `y` (in _prov_ev) from the temporary tables of collect();
    its rows are read out only when `rows` (for the audit bundle, or to be kept)."""
    con.execute(f"""create or replace temp table _prov_ev as
        select a.* from (select * from ({_CELL_EVIDENCE}) union all by name
                         select * from ({_RECORD_EVIDENCE}) where financial_year = ?) a
        semi join _prov_long b using (measure, breakdown, financial_year, unit_code, role)""", [[y], y])
    mismatches = con.execute(_MISMATCHES, [y]).to_arrow_table()
    refs = _refs(con.execute(_LOCAL_EVIDENCE).pl())
    return _Made(con.execute(_EVIDENCE_ROWS).to_arrow_table() if rows else pa.table({}), mismatches, refs)


# what a year's evidence is made from, besides the selectors: its rows of each (one
# parameter, the year); every one is read by _year_evidence's queries for that year only
_YEAR_INPUTS = (
    "select * from stg_authority_returns__counts where financial_year = ?",
    "select * from stg_authority_returns__services where financial_year = ?",
    "select * from stg_womens_aid__refuge_services where financial_year = ?",
    "select * from _prov_long where financial_year = ?",
    "select * from _prov_counts where financial_year = ?",
    "select * from _prov_local where financial_year = ?",
)


class YearEvidence:
    """The evidence of each year as the last collection made it, kept in `folder` (the build's
    own, beside its warehouse: `buildstate.reset_warehouse` removes it with the warehouse) under
    a hash of what it is made from: the code (`fingerprints.code_version`, which covers the
    queries here), the selectors of every measure's declared cells and records, and the
    content (DuckDB's `hash()` of every row, summed, with the count) of the year's rows of
    every table its queries read. A year whose hash is the one kept is read back; one made is
    written (Arrow IPC, which gives back the same tables, record batches and all, so the audit
    bundle is the same bytes whether the year was made now or earlier; each file moved into
    place once written). One entry per year is kept."""

    def __init__(self, folder: Path, cell_sel: pl.DataFrame, rec_sel: pl.DataFrame) -> None:
        from pipelines import fingerprints

        self.folder = Path(folder)
        self._base = fingerprints.digest(fingerprints.code_version(), cell_sel.rows(), rec_sel.rows())

    def of(self, con: duckdb.DuckDBPyConnection, y: str) -> _Made:
        """The evidence of year `y`: as kept, else made (from collect()'s temporary tables) and kept."""
        key = self.key(con, y)
        kept = self.get(y, key)
        if kept is not None:
            return kept
        made = _year_evidence(con, y, rows=True)
        self.put(y, key, made)
        return made

    def key(self, con: duckdb.DuckDBPyConnection, y: str) -> str:
        from pipelines import fingerprints

        content = [con.execute(f"select count(*), sum(hash(t))::varchar from ({q}) t", [y]).fetchone()
                   for q in _YEAR_INPUTS]
        return fingerprints.digest(self._base, y, content)

    def _paths(self, y: str, key: str) -> dict[str, Path]:
        return {part: inside(self.folder, f"{y}.{key[:32]}.{part}.arrow") for part in ("rows", "mismatches", "refs")}

    def get(self, y: str, key: str) -> _Made | None:
        paths = self._paths(y, key)
        if not all(p.is_file() for p in paths.values()):
            return None
        import pyarrow.ipc as ipc

        with pa.OSFile(str(paths["rows"]), "rb") as rows, pa.OSFile(str(paths["mismatches"]), "rb") as mism:
            return _Made(ipc.open_file(rows).read_all(), ipc.open_file(mism).read_all(),
                         pl.read_ipc(paths["refs"].read_bytes()))

    def put(self, y: str, key: str, made: _Made) -> None:
        import pyarrow.ipc as ipc

        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob(f"{y}.*"):  # one entry per year
            old.unlink(missing_ok=True)
        paths = self._paths(y, key)
        for part, path in paths.items():
            tmp = path.with_name(path.name + ".writing")
            if part == "refs":
                made.refs.write_ipc(tmp, compression="uncompressed")
            else:
                table = made.rows if part == "rows" else made.mismatches
                with ipc.new_file(str(tmp), table.schema) as out:
                    out.write_table(table)
            tmp.replace(path)


class _EvidenceFile:
    """The audit bundle's evidence.parquet, written a year at a time (one row group or more
    each) as collect() makes each year's evidence, so no more than a year's is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = None

    def add(self, rows: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, rows.schema, compression="snappy")
        self._writer.write_table(rows)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _write_record_counts(con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    con.execute(f"""copy (select {_PART}, file, value as records, filter from _prov_counts order by all)
                    to '{_sql_path(staging / "record_counts.parquet")}' (format parquet)""")


def _drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    for name in ("_prov_cell_sel_in", "_prov_rec_sel_in", "_prov_local", "_prov_mismatches_in"):
        try:
            con.unregister(name)
        except duckdb.Error:  # pragma: no cover - not registered when an earlier step failed
            pass
    for t in ("_prov_parts", "_prov_long", "_prov_ev", "_prov_counts", "_prov_cell_sel",
              "_prov_rec_sel"):
        con.execute(f"drop table if exists {t}")


def _entries(year, years, figures, settings, catalog, family_sql, refs, contributors, audit_parts, metric_rows,
             workbooks, inputs, mismatches, audit_dir, suppression_log) -> Provenance:
    """Steps 3 and 4 of collect: the audit figures and the public entries (Python only)."""
    # 3. unrounded figures, for the audit bundle
    fig = figures.select("figure_id", "measure", "breakdown", "time_period", "geographic_level", "geography_code",
                         "value", "value_status").with_columns(
        pl.col("measure").str.replace(r"_change(_percent)?$", "").alias("base_measure"),
        pl.col("measure").str.contains(r"_change(_percent)?$").alias("is_change"))
    fig = fig.join(metric_rows.rename({"measure": "base_measure", "financial_year": "time_period"}),
                   on=["base_measure", "breakdown", "time_period", "geographic_level", "geography_code"], how="left")
    changes = _change_values(fig, metric_rows, catalog, settings)
    audit_figures = fig.join(changes, on="figure_id", how="left").select(
        "figure_id", "value_status",
        *[pl.when(pl.col("is_change")).then(None).otherwise(pl.col(c)).alias(name)
          for c, name in (("n", "numerator"), ("d", "denominator"))],
        pl.when(pl.col("is_change")).then(pl.col("change_value")).otherwise(pl.col("v")).alias("value"),
        "change_of").sort("figure_id")

    # 4. public entries, one JSON line per figure, built column-wise (80,000 figures and more)
    source_files: dict[str, dict[str, list[str]]] = {}
    for path, info in inputs.items():
        if info["source"] in ("womens_aid", "safelives"):
            source_files.setdefault(info["source"], {}).setdefault(info["financial_year"], []).append(path)

    received: dict[str, list[str]] = {}
    for fy, g, _ in workbooks:
        received.setdefault(fy, []).append(g)
    families: dict[str, dict] = {}
    for fam in (f for f in metric_catalog.families() if f.name in family_sql):
        ms = sorted(fam.measures, key=lambda m: m.id)
        families[fam.name] = {
            "measures": {m.id: {"method_version": m.method_version, "unit": m.unit, "kind": m.kind,
                                "counts_people": m.counts_people} for m in ms},
            "bases": {}}
        for m in ms:
            for b in m.breakdowns:
                got = m.basis(b)
                desc = {role: describe_basis(got[role]) for role in ROLES if role in got}
                if not desc and fam.rests_on:
                    desc = {"rests_on": fam.rests_on}
                if desc:
                    families[fam.name]["bases"][f"{m.id}.{b}"] = desc
    entries = _entry_lines(fig, catalog, settings, refs, contributors, audit_parts, received)
    source_of = {f.name: f.source for f in metric_catalog.families()}

    index = {
        "about": ("Provenance of every figure of this release, by metric family (provenance/<family>.json): for each "
                  "figure_id its status, the rounding and suppression applied (disclosure_rules), and what it was "
                  "made from. An authority figure lists the A1 references of its contributing cells, by sheet, in "
                  "that authority's workbook (workbooks); a regional or England figure lists the contributing "
                  "authorities (or areas), each read the same way (bases). The query, its hash and the tables it "
                  "read are under families; every input file with its SHA-256 and checks under inputs. Values that "
                  "disclosure control withholds (cell values, unrounded numerators and denominators, counts of "
                  "records) are not published: they are kept in a restricted audit bundle."),
        "release_year": year,
        "code_version": {"git_commit": git_commit(), "lockfile_sha256": lockfile_sha256()},
        "disclosure_settings": settings,
        "disclosure_rules": _disclosure_rules(settings),
        "families": {fam: {"file": f"{FAMILY_DIR}/{fam}.json", "sql_file": s.rel_path, "sql_sha256": s.sha256,
                           "definition_file": s.definition_path, "definition_sha256": s.definition_sha256,
                           "reads": list(s.reads()),
                           "source": source_of.get(fam, "")}
                     for fam, s in sorted(family_sql.items())},
        "staging": {s.table: {"sql_file": s.rel_path, "sql_sha256": s.sha256, "reads": list(s.reads())}
                    for s in warehouse.sql_files("staging")},
        "inputs": inputs,
        "workbooks": {fy: {g: f for y, g, f in workbooks if y == fy} for fy in years},
        "extract_files": source_files,
    }
    return Provenance(year=year, index=index, families=families, entries=entries, audit_figures=audit_figures,
                      audit_parts=audit_parts, mismatches=mismatches, audit_dir=audit_dir,
                      suppression_log=suppression_log)


def _inputs(con: duckdb.DuckDBPyConnection, years: list[str]) -> dict[str, dict]:
    """Every input file of the years, with its SHA-256 and the checks it passed."""
    out: dict[str, dict] = {}
    files = con.execute("""
        select i.financial_year, i.source, i.path, i.sha256, f.status, f.quarantine_reason, f.submission_number,
               f.gss_code
        from raw_input_files i
        left join raw_authority_returns__files f on f.file = i.path
        order by i.path""").pl()
    issues = con.execute("""select file, issue_id, level, code, location from raw_issues
                            order by file, issue_id""").pl()
    by_file: dict[str, list[str]] = {}
    for r in issues.iter_rows(named=True):
        by_file.setdefault(r["file"], []).append(f"{r['issue_id']} {r['level']} {r['code']} at {r['location']}")
    for r in files.iter_rows(named=True):
        if r["financial_year"] not in years:
            continue
        info = {"source": r["source"], "financial_year": r["financial_year"], "sha256": r["sha256"]}
        if r["source"] == "authority_returns":
            info["submission_number"] = r["submission_number"]
            info["authority"] = r["gss_code"]
            if r["status"] == "ok":
                info["checks"] = ("passed the structural checks (authority code, year, template, required sheets "
                                  "and columns); every count cell typed")
            else:
                info["checks"] = f"set aside: {r['quarantine_reason']}"
        else:
            info["checks"] = "passed the structural checks (required columns, codes); every value typed"
        info["issues"] = by_file.get(r["path"], [])
        out[r["path"]] = info
    for table, file in sorted(REFERENCE_TABLES.items()):
        p = reference.reference_dir() / file
        if p.is_file():
            out[f"reference/{file}"] = {"source": "reference", "sha256": sha256(p), "table": table,
                                        "checks": "loaded as published by ONS", "issues": []}
    return out


# --- writing ---------------------------------------------------------------------------


def _dump(doc) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _index_text(index: dict) -> str:
    """provenance.json, as written into the release."""
    return json.dumps(index, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def write_public(out_dir: Path, prov: Provenance) -> list[Path]:
    """provenance.json and provenance/<family>.json (one figure per line, sorted keys)."""
    written = []
    (out_dir / FAMILY_DIR).mkdir(parents=True, exist_ok=True)
    lines = {fam: g for (fam,), g in prov.entries.group_by(["family"])}
    for fam, doc in sorted(prov.families.items()):
        g = lines.get(fam)
        body = ",\n".join(f'"{fid}":{entry}' for fid, entry in g.select("figure_id", "entry").iter_rows()) \
            if g is not None else ""
        p = inside(out_dir / FAMILY_DIR, f"{fam}.json")  # a family is a file name of assets/metrics
        header = _dump({"family": fam, **prov.index["families"].get(fam, {}),
                        "measures": doc["measures"], "bases": doc["bases"]})[:-1]
        p.write_text(header + ',"figures":{\n' + body + "\n}}\n", encoding="utf-8", newline="\n")
        written.append(p)
    idx = out_dir / INDEX_FILE
    idx.write_text(_index_text(prov.index), encoding="utf-8", newline="\n")
    written.append(idx)
    return written


def audit_dir_for(year: str, audit_root: Path = AUDIT_DIR) -> Path:
    """The restricted audit bundle of a year's release: <audit_root>/<year>/ (by default
    data/processed/audit/<year>/, wherever the release folder is). `year` must be one plain
    file name (safe_paths.one_name)."""
    return Path(audit_root) / one_name(year)


def audit_location_problem(audit_root: Path, year: str, release_dir: Path) -> str | None:
    """Why the audit bundle of `year` may not be written under `audit_root` for a release
    written to `release_dir` (None when it may). Whoever publishes the release folder, or the
    folder it is in, must not publish the bundle too: the bundle, its staging folder and
    `audit_root` are neither inside nor equal to the release folder or its parent, nor
    above the release folder. Symlinks and `..` are resolved first."""
    release = Path(release_dir).resolve()
    bundle = audit_dir_for(year, audit_root)
    for folder in (Path(audit_root).resolve(), bundle.resolve(), _staging_of(bundle).resolve()):
        where = _relation(folder, release)
        if where:
            return (f"the restricted audit folder {folder} is {where} the release folder "
                    f"{release}, so publishing the release could publish it too; give --audit-dir a restricted "
                    f"folder outside {release.parent} that does not contain it")
    return None


def _relation(folder: Path, release: Path) -> str:
    """How a resolved folder stands to a resolved release folder, when it is too near it."""
    if folder == release:
        return "the same folder as"
    if release in folder.parents:
        return "inside"
    if folder == release.parent:
        return "the folder that holds"
    if release.parent in folder.parents:
        return "beside"
    if folder in release.parents:
        return "a folder above"
    return ""


AUDIT_README = """RESTRICTED: do not publish.

This audit bundle holds what disclosure control withholds from the release: the unrounded
numerator, denominator and value of every figure (figures.parquet; for a change figure
its value before its own rounding, and in change_of whether it is the change of the
unrounded values of both years or, at a level where counts of people are rounded, of the
published ones), what each authority, police force area or region contributes to each
figure (parts.parquet), and every
contributing cell of the returns and record of the services extract with its value
(evidence.parquet, by year, then by part: measure, breakdown, unit_code, role); referrals
are counted per region and filter (record_counts.parquet). suppression_log.parquet lists
every suppressed figure with its rule (primary, secondary, change or carried from an earlier
vintage) and, for a secondary suppression, the figures it protects and the relation: the
release itself says only that a figure is suppressed. disclosure_intervals.parquet holds,
for every suppressed cell, the interval an intruder with every public file could prove it lies
in (the disclosure audit; exact = false where the audit stopped once it had shown enough
room, so the true interval is wider). release.json gives the SHA-256 of
the provenance.json of the release it was written with.
Read it with `dasa trace <figure_id>` (`--full` for every cell; `--audit-dir` when it is
not in data/processed/audit).
"""


def _staging_of(audit_dir: Path) -> Path:
    return Path(audit_dir).with_name(Path(audit_dir).name + ".writing")


def _audit_staging(audit_dir: Path) -> Path:
    """An empty staging folder for the audit bundle (collect writes the evidence into it),
    readable by its owner only (0o700), as the bundle it becomes."""
    staging = _staging_of(audit_dir)
    if staging.exists():
        shutil.rmtree(staging)
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir(mode=0o700)
    staging.chmod(0o700)  # whatever the umask
    return staging


def discard_audit_staging(audit_dir: Path | None) -> None:
    """Remove the staging folder of an audit bundle not written to the end (a failed build)."""
    if audit_dir is not None:
        shutil.rmtree(_staging_of(audit_dir), ignore_errors=True)


def _sql_path(path: Path) -> str:
    text = path.resolve().as_posix()
    if "'" in text:
        raise ValueError(f"{text}: a path with a quote cannot be written by COPY")
    return text


def write_audit(prov: Provenance) -> Path | None:
    """Complete the audit bundle collect() began and move it into place."""
    if stage_audit(prov) is None:
        return None
    return move_audit_into_place(prov)


def stage_audit(prov: Provenance) -> Path | None:
    """Complete, in its staging folder `<audit_dir>.writing` (owner only, 0o700), the audit
    bundle collect() began; the release writer then moves it into place just before the
    release (pipelines/release_assets.py, decision 0013)."""
    if prov.audit_dir is None:
        return None
    audit_dir = Path(prov.audit_dir)
    staging = _staging_of(audit_dir)
    if not staging.is_dir():
        staging = _audit_staging(audit_dir)
    prov.audit_figures.write_parquet(staging / "figures.parquet")
    prov.audit_parts.write_parquet(staging / "parts.parquet")
    for name, frame in sorted(prov.audit_tables.items()):
        frame.write_parquet(inside(staging, f"{name}.parquet"))
    if prov.suppression_log is not None:
        prov.suppression_log.write_parquet(staging / SUPPRESSION_LOG_FILE)
    (staging / "README.txt").write_text(AUDIT_README, encoding="utf-8")
    stamp = {"release_year": prov.year,
             "provenance_sha256": hashlib.sha256(_index_text(prov.index).encode("utf-8")).hexdigest()}
    (staging / AUDIT_STAMP).write_text(json.dumps(stamp, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return staging


def move_audit_into_place(prov: Provenance) -> Path:
    """Swap the staged audit bundle in for the bundle of an earlier build (moved aside to
    `<year>.old-<pid>` and then removed; a build killed in between has it restored by the
    next, pipelines/buildstate.py). The bundle stays 0o700: owner only."""
    from pipelines.buildstate import swap_in

    if prov.audit_dir is None:
        raise ValueError("no audit bundle to move into place: the provenance was collected without an audit folder")
    audit_dir = Path(prov.audit_dir)
    staging = _staging_of(audit_dir)
    staging.chmod(0o700)
    swap_in(staging, audit_dir)
    return audit_dir


def audit_is_of(audit_dir: Path, release_dir: Path) -> bool:
    """Whether an audit bundle was written with this release folder's provenance.json (a
    bundle of another build of the same year, written to the same audit folder since, is
    not); a bundle without a stamp is taken as it is."""
    stamp = Path(audit_dir) / AUDIT_STAMP
    if not stamp.is_file():
        return True
    recorded = json.loads(stamp.read_text(encoding="utf-8")).get("provenance_sha256")
    return recorded == sha256(Path(release_dir) / INDEX_FILE)


def entries_of(prov: Provenance, figure_ids) -> dict[str, dict[str, dict]]:
    """The public entries of some figures, by family, as load_public gives them."""
    wanted = prov.entries.filter(pl.col("figure_id").is_in(list(figure_ids)))
    out: dict[str, dict[str, dict]] = {fam: {**doc, "figures": {}} for fam, doc in prov.families.items()}
    for fam, fid, entry in wanted.iter_rows():
        out[fam]["figures"][fid] = json.loads(entry)
    return out


def load_public(release_dir: Path) -> tuple[dict, dict[str, dict[str, dict]]]:
    """provenance.json and every family file of a release folder."""
    release_dir = Path(release_dir)
    index = json.loads((release_dir / INDEX_FILE).read_text(encoding="utf-8"))
    fams = {}
    for fam, info in index["families"].items():
        p = release_dir / info["file"]
        if p.is_file():
            fams[fam] = json.loads(p.read_text(encoding="utf-8"))
    return index, fams

