-- Where households went when they left safe accommodation during the year.
-- The share's denominator is every household leaving, "unknown" included (as published).
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'move_on'
),
geography as (
    select * from stg_geography
),
destinations as (
    select unnest(['social_housing', 'private_rented', 'non_da_supported', 'other_safe_accommodation',
                   'friends_family', 'own_home', 'temporary_accommodation', 'returned_to_perpetrator',
                   'other', 'unknown']) as destination
),
authority_destination as (
    select r.financial_year, r.gss_code, r.region_code, d.destination, sum(c.value) as households
    from returns r
    cross join destinations d
    left join cells c on c.financial_year = r.financial_year and c.gss_code = r.gss_code and c.record_key = d.destination
    group by all
),
authority as (
    select
        financial_year, gss_code, region_code,
        sum(households) as households,
        sum(households) filter (where destination in ('other_safe_accommodation', 'friends_family', 'own_home',
                                                      'temporary_accommodation', 'other')) as other_combined,
        sum(households) filter (where destination in ('social_housing', 'private_rented', 'own_home')) as settled,
        sum(households) filter (where destination = 'returned_to_perpetrator') as returned
    from authority_destination
    group by all
),
parts as (
    select financial_year, gss_code, region_code, 'households_moved_on' as measure, 'all' as breakdown,
           households as numerator, null::hugeint as denominator
    from authority
    union all
    select d.financial_year, d.gss_code, d.region_code, 'move_on_share', d.destination, d.households, a.households
    from authority_destination d join authority a using (financial_year, gss_code)
    union all
    select financial_year, gss_code, region_code, 'move_on_share', 'other_combined', other_combined, households
    from authority
    union all
    select financial_year, gss_code, region_code, 'returned_to_perpetrator_rate', 'all', returned, households
    from authority
    union all
    select financial_year, gss_code, region_code, 'settled_housing_share', 'all', settled, households
    from authority
),
rolled_up as (
    select
        financial_year, measure, breakdown,
        case when grouping(region_code) = 1 then 'national'
             when grouping(gss_code) = 1 then 'regional' else 'local_authority' end as geographic_level,
        case when grouping(region_code) = 1 then 'E92000001'
             when grouping(gss_code) = 1 then region_code else gss_code end as geography_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator
    from parts
    group by grouping sets (
        (financial_year, measure, breakdown),
        (financial_year, measure, breakdown, region_code),
        (financial_year, measure, breakdown, region_code, gss_code)
    )
),
final as (
    select
        f.measure, f.breakdown, f.financial_year, f.geographic_level, f.geography_code, g.geography_name,
        f.numerator::double as numerator,
        f.denominator::double as denominator,
        case when f.measure = 'households_moved_on' then f.numerator
             else 100.0 * f.numerator / nullif(f.denominator, 0) end::double as value
    from rolled_up f
    join geography g using (financial_year, geographic_level, geography_code)
    where f.geographic_level <> 'local_authority' or f.measure <> 'move_on_share'
)
select * from final
order by measure, breakdown, financial_year, geographic_level, geography_code
