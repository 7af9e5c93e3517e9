-- By-and-for services: how many authorities commission one, the population they cover, and
-- the share of commissioned units they provide.
with returns as (
    select * from stg_authority_returns__returns
),
services as (
    select * from stg_authority_returns__services
),
geography as (
    select * from stg_geography
),
groups as (
    select unnest(['any', 'black_minoritised', 'disabled', 'deaf', 'lgbtq', 'male', 'other']) as grp
),
types as (
    select unnest(['all', 'refuge', 'dispersed', 'sanctuary', 'second_stage', 'specialist', 'other']) as accommodation_type
),
authority_group as (
    -- 1 when the authority's return lists a by-and-for service for the group, 0 when it does
    -- not, NULL when there is no return
    select
        r.financial_year, r.gss_code, r.region_code, x.grp,
        case when not r.received then null
             when count(s.service_ref) > 0 then 1 else 0 end as has_service,
        case when r.received then 1 else 0 end as returned,
        any_value(g.population_all) as population
    from returns r
    cross join groups x
    left join services s
        on s.financial_year = r.financial_year and s.gss_code = r.gss_code and s.by_and_for
        and (x.grp = 'any' or s.by_and_for_group = x.grp)
    join geography g
        on g.financial_year = r.financial_year and g.geographic_level = 'local_authority' and g.geography_code = r.gss_code
    group by r.financial_year, r.gss_code, r.region_code, x.grp, r.received
),
authority_units as (
    select
        r.financial_year, r.gss_code, r.region_code, t.accommodation_type,
        sum(s.units) filter (where s.by_and_for) as by_and_for_units,
        sum(s.units) as units
    from returns r
    cross join types t
    left join services s
        on s.financial_year = r.financial_year and s.gss_code = r.gss_code
        and (t.accommodation_type = 'all' or s.accommodation_type = t.accommodation_type)
    where r.received
    group by all
),
parts as (
    select financial_year, gss_code, region_code, 'authorities_with_by_and_for' as measure, grp as breakdown,
           has_service as numerator, null::hugeint as denominator
    from authority_group
    union all
    select financial_year, gss_code, region_code, 'authorities_with_by_and_for_share', grp, has_service, returned
    from authority_group
    union all
    select financial_year, gss_code, region_code, 'population_covered_by_and_for', grp,
           population * coalesce(has_service, 0), population
    from authority_group
    union all
    select financial_year, gss_code, region_code, 'by_and_for_unit_share', accommodation_type,
           case when units is not null then coalesce(by_and_for_units, 0) end, units
    from authority_units
)
select * from parts
