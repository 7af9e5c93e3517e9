"""The one query that turns a metric family's parts into its figures.

A family's SQL (`assets/metrics/<family>.sql`) returns its parts and nothing else: one row
per unit (an authority, a police force area, or a region: the family's `parts_by`) and per
measure and breakdown, with the columns

    financial_year, gss_code | pfa_code (none when by region), region_code,
    measure, breakdown, numerator, denominator

This module wraps that query, the same way for every family: the parts are added up to
regional and England level (grouping sets); each measure's value comes from its `kind` in
the family's YAML (a count is its numerator; a percent is 100 × numerator / denominator; a
rate per 10,000 is 10,000 × numerator / denominator); each measure is kept only at the
geographic levels it declares; and each geography is named from `stg_geography`. The
result has the columns every metric table has (docs/architecture.md).

A family with a measure whose definition changes with the return template
(`template_changes` in its YAML) has one more column, `series`: for each figure, the
template steps of the returns it adds up ('0' before the first change, '1' after it; '0,1'
for a total over returns of both). Two years of a figure whose series differ are not
comparable: the disclosure step publishes their change as [b] (break in series).
"""

from __future__ import annotations

from pipelines.metric_catalog import SCALE_OF_KIND, Family

UNIT_COLUMN = {"local_authority": "gss_code", "police_force_area": "pfa_code"}  # region: none


def value_of(kind: str) -> str:
    """A figure's value from its numerator and denominator, by the measure's kind."""
    scale = SCALE_OF_KIND[kind]
    return "f.numerator" if kind == "count" else f"{scale}.0 * f.numerator / nullif(f.denominator, 0)"


ORDER = "measure, breakdown, financial_year, geographic_level, geography_code"


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def family_query(family: Family, parts_query: str) -> str:
    """The query that builds `metric_<family>` from the family's parts query."""
    unit = UNIT_COLUMN.get(family.parts_by)
    published = {m.id: set(m.geographies) for m in family.measures}
    by_unit = unit is not None and any(family.parts_by in g for g in published.values())
    keys = "financial_year, measure, breakdown"
    if by_unit:
        level = (f"case when grouping(region_code) = 1 then 'national'\n"
                 f"             when grouping({unit}) = 1 then 'regional' else '{family.parts_by}' end")
        code = (f"case when grouping(region_code) = 1 then 'E92000001'\n"
                f"             when grouping({unit}) = 1 then region_code else {unit} end")
        sets = f"({keys}),\n        ({keys}, region_code),\n        ({keys}, region_code, {unit})"
    else:
        level = "case when grouping(region_code) = 1 then 'national' else 'regional' end"
        code = "case when grouping(region_code) = 1 then 'E92000001' else region_code end"
        sets = f"({keys}),\n        ({keys}, region_code)"

    kinds: dict[str, list[str]] = {}
    for m in family.measures:
        kinds.setdefault(m.kind, []).append(m.id)
    if len(kinds) == 1:
        value = f"({value_of(next(iter(kinds)))})"
    else:
        value = ("case " + "\n             ".join(
            f"when f.measure in {_in(ids)} then {value_of(kind)}" for kind, ids in kinds.items()) + " end")

    levels = ["national", "regional"] + ([family.parts_by] if by_unit else [])
    keep = []
    for lv in levels:
        ids = sorted(m for m, geos in published.items() if lv in geos)
        if len(ids) == len(published):
            keep.append(f"f.geographic_level = '{lv}'")
        elif ids:
            keep.append(f"(f.geographic_level = '{lv}' and f.measure in {_in(ids)})")
    where = "" if len(keep) == len(levels) and all(" and " not in k for k in keep) else (
        "\n    where " + "\n       or ".join(keep or ["false"]))

    changes = {m.id: [v for v, _ in m.template_changes] for m in family.measures if m.template_changes}
    series_ctes = series_sum = series_col = ""
    if changes:
        step = ("case " + "\n             ".join(
            f"when p.measure = '{mid}' then " + " + ".join(f"(v.template_version >= {v})::int" for v in vs)
            for mid, vs in changes.items()) + " end")
        series_ctes = f"""family_parts as (
{parts_query.rstrip().rstrip(";")}
),
-- the template version of each return in use: a measure's definition changes with it
template_versions as (
    select r.financial_year, r.gss_code, f.template_version
    from stg_authority_returns__returns r
    join raw_authority_returns__files f on f.financial_year = r.financial_year and f.file = r.file
    where r.received
),
parts as (
    select p.*,
        {step} as template_step
    from family_parts p
    left join template_versions v on v.financial_year = p.financial_year and v.gss_code = p.gss_code
),"""
        series_sum = (",\n        string_agg(distinct template_step::varchar, ',' order by template_step::varchar)"
                      "\n            filter (where numerator is not null) as series")
        series_col = ",\n        f.series"
    head = series_ctes if changes else f"""parts as (
{parts_query.rstrip().rstrip(";")}
),"""
    return f"""-- metric_{family.name}: the parts of assets/metrics/{family.name}.sql added up to region and
-- England, valued by kind and kept at the levels assets/metrics/{family.name}.yaml declares
-- (pipelines/metric_sql.py)
with {head}
geography as (
    select * from stg_geography
),
rolled_up as (
    select
        financial_year, measure, breakdown,
        {level} as geographic_level,
        {code} as geography_code,
        -- in the order of the values: a sum of fractions (a shortfall of bedspaces) is then
        -- the same to the last bit in every build, whatever order DuckDB's threads add in
        sum(numerator order by numerator) as numerator,
        sum(denominator order by denominator) as denominator{series_sum}
    from parts
    group by grouping sets (
        {sets}
    )
),
final as (
    select
        f.measure, f.breakdown, f.financial_year, f.geographic_level, f.geography_code, g.geography_name,
        f.numerator::double as numerator,
        f.denominator::double as denominator,
        {value}::double as value{series_col}
    from rolled_up f
    join geography g using (financial_year, geographic_level, geography_code){where}
)
select * from final
order by {ORDER}
"""
