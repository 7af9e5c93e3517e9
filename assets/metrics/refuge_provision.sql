-- Women's Aid Routes to Support snapshot (1 May): refuge bedspaces, against the Council of
-- Europe minimum of one family place per 10,000 population, and the by-and-for share.
with services as (
    select * from stg_womens_aid__refuge_services where service_type = 'refuge'
),
geography as (
    select * from stg_geography
),
years as (
    select distinct financial_year from raw_womens_aid__refuge_services
),
authorities as (
    select g.* from geography g join years using (financial_year) where g.geographic_level = 'local_authority'
),
authority as (
    -- the snapshot lists every service, so an authority with none has 0 bedspaces
    select
        a.financial_year, a.geography_code as gss_code, a.region_code, a.population_all as population,
        coalesce(sum(s.bedspaces), 0) as bedspaces,
        coalesce(sum(s.bedspaces) filter (where s.by_and_for), 0) as by_and_for_bedspaces
    from authorities a
    left join services s on s.financial_year = a.financial_year and s.gss_code = a.geography_code
    group by all
),
parts as (
    select financial_year, gss_code, region_code, 'refuge_bedspaces' as measure, 'all' as breakdown,
           bedspaces as numerator, null::hugeint as denominator
    from authority
    union all
    select financial_year, gss_code, region_code, 'refuge_bedspaces_per_10000', 'all', bedspaces, population
    from authority
    union all
    select financial_year, gss_code, region_code, 'by_and_for_bedspace_share', 'all', by_and_for_bedspaces, bedspaces
    from authority
    union all
    -- shortfall against the minimum, in bedspaces, over the minimum (population / 10,000)
    select financial_year, gss_code, region_code, 'refuge_shortfall_vs_council_of_europe', 'all',
           population / 10000.0 - bedspaces, population / 10000.0
    from authority
)
select * from parts
