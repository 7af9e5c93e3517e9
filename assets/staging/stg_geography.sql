-- Every geography a figure can be published for, per financial year, with its region and
-- the population estimate used for rates (England, regions, the Tier 1 authorities
-- expected that year, and the police force areas).
with years as (
    select * from stg_financial_years
),
authorities as (
    select t.financial_year, 'local_authority' as geographic_level, t.gss_code as geography_code,
           t.name as geography_name, t.region_code, t.region_name
    from ref_tier1_by_financial_year t
    join years y using (financial_year)
),
regions as (
    select distinct financial_year, 'regional' as geographic_level, region_code as geography_code,
           region_name as geography_name, region_code, region_name
    from authorities
),
england as (
    select financial_year, 'national' as geographic_level, 'E92000001' as geography_code,
           'England' as geography_name, null::varchar as region_code, null::varchar as region_name
    from years
),
police_force_areas as (
    select y.financial_year, 'police_force_area' as geographic_level, p.pfa_code as geography_code,
           p.pfa_name as geography_name, p.region_code, p.region_name
    from years y
    cross join ref_police_force_areas p
),
all_geographies as (
    select * from authorities
    union all select * from regions
    union all select * from england
    union all select * from police_force_areas
),
final as (
    select
        g.*,
        y.population_year,
        p.population_all,
        p.population_female_16plus
    from all_geographies g
    join years y using (financial_year)
    left join ref_population p on p.gss_code = g.geography_code and p.year = y.population_year
)
select * from final order by financial_year, geographic_level, geography_code
