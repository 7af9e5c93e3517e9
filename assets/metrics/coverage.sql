-- Coverage of the collection: returns received of expected, and how complete each return
-- says its sections are.
with returns as (
    select * from stg_authority_returns__returns
),
completeness as (
    select * from stg_authority_returns__completeness
),
geography as (
    select * from stg_geography
),
statuses as (
    select s.section, c.status
    from (select unnest(['supported', 'characteristics']) as section) s
    cross join (select unnest(['complete', 'partial', 'not_collected', 'not_stated']) as status) c
),
parts as (
    select financial_year, region_code, 'return_coverage' as measure, 'all' as breakdown,
           count(*) filter (where received) as numerator, count(*) as denominator
    from returns group by all
    union all
    select r.financial_year, r.region_code, 'section_completeness_share', s.section || '_' || s.status,
           count(*) filter (where c.completeness = s.status), count(*)
    from returns r
    cross join statuses s
    left join completeness c
        on c.financial_year = r.financial_year and c.gss_code = r.gss_code and c.section = s.section
    where r.received
    group by all
),
rolled_up as (
    select
        financial_year, measure, breakdown,
        case when grouping(region_code) = 1 then 'national' else 'regional' end as geographic_level,
        case when grouping(region_code) = 1 then 'E92000001' else region_code end as geography_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from parts
    group by grouping sets (
        (financial_year, measure, breakdown),
        (financial_year, measure, breakdown, region_code)
    )
),
final as (
    select
        f.measure, f.breakdown, f.financial_year, f.geographic_level, f.geography_code, g.geography_name,
        f.numerator::double as numerator,
        f.denominator::double as denominator,
        (100.0 * f.numerator / nullif(f.denominator, 0))::double as value
    from rolled_up f
    join geography g using (financial_year, geographic_level, geography_code)
)
select * from final
order by measure, breakdown, financial_year, geographic_level, geography_code
