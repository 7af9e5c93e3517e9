-- Units of safe accommodation commissioned (bedspaces, or households that can be supported
-- at once), by type, and per 10,000 population of the authorities that made a return.
with returns as (
    select * from stg_authority_returns__returns
),
services as (
    select * from stg_authority_returns__services
),
geography as (
    select * from stg_geography
),
types as (
    select unnest(['refuge', 'dispersed', 'sanctuary', 'second_stage', 'specialist', 'other']) as accommodation_type
),
authority_type as (
    -- a return listing no service of a type commissions 0 units of it; no return is NULL
    select
        r.financial_year, r.gss_code, r.region_code, t.accommodation_type,
        case when not r.received then null
             when count(s.service_ref) = 0 then 0
             else sum(s.units) end as units
    from returns r
    cross join types t
    left join services s
        on s.financial_year = r.financial_year and s.gss_code = r.gss_code
        and s.accommodation_type = t.accommodation_type
    group by r.financial_year, r.gss_code, r.region_code, t.accommodation_type, r.received
),
authority as (
    select a.financial_year, a.gss_code, a.region_code, sum(a.units) as units,
           -- population counted only where the authority made a return and gave its units
           case when sum(a.units) is not null then any_value(g.population_all) end as population
    from authority_type a
    join geography g
        on g.financial_year = a.financial_year and g.geographic_level = 'local_authority'
        and g.geography_code = a.gss_code
    group by a.financial_year, a.gss_code, a.region_code
),
parts as (
    select financial_year, gss_code, region_code, 'commissioned_units' as measure, accommodation_type as breakdown,
           units as numerator, null::hugeint as denominator
    from authority_type
    union all
    select financial_year, gss_code, region_code, 'commissioned_units', 'all', units, null
    from authority
    union all
    select financial_year, gss_code, region_code, 'units_per_10000', 'all', units, population
    from authority
)
select * from parts
