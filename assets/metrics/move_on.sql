-- Where households went when they left safe accommodation during the year.
-- The share's denominator is every household leaving, "unknown" included (as published).
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'move_on'
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
)
select * from parts
