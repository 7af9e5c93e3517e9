-- Households turned away (unable to be supported), their reasons, and households supported.
-- Authority figures are sums of the recorded cells of the return in use; England and
-- regions add up the authorities. An authority with no return has NULL figures ([x]).
with returns as (
    select * from stg_authority_returns__returns
),
counts as (
    select * from stg_authority_returns__counts
    where (sheet = 'unable_to_support' and field = 'households')
       or (sheet = 'supported' and field = 'households')
),
reasons as (
    select unnest([
        'capacity', 'needs_not_met', 'proximity_to_perpetrator', 'nrpf', 'declined_by_household',
        'supported_elsewhere', 'other', 'not_recorded'
    ]) as reason
),
-- per authority: one row per expected authority and year
authority as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        sum(c.value) filter (where c.sheet = 'unable_to_support') as unable,
        sum(c.value) filter (where c.sheet = 'unable_to_support' and c.record_key <> 'not_recorded') as unable_reason_recorded,
        sum(c.value) filter (where c.sheet = 'supported') as supported
    from returns r
    left join counts c on c.financial_year = r.financial_year and c.gss_code = r.gss_code
    group by r.financial_year, r.gss_code, r.region_code
),
authority_reason as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        x.reason,
        sum(c.value) as households
    from returns r
    cross join reasons x
    left join counts c
        on c.financial_year = r.financial_year and c.gss_code = r.gss_code
        and c.sheet = 'unable_to_support' and c.record_key = x.reason
    group by r.financial_year, r.gss_code, r.region_code, x.reason
),
authority_supported_type as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        t.accommodation_type,
        sum(c.value) as households
    from returns r
    cross join (select unnest(['refuge', 'dispersed', 'sanctuary', 'second_stage', 'specialist', 'other']) as accommodation_type) t
    left join counts c
        on c.financial_year = r.financial_year and c.gss_code = r.gss_code
        and c.sheet = 'supported' and c.record_key = t.accommodation_type
    group by all
),
-- every figure at authority level as (measure, breakdown, numerator, denominator)
parts as (
    -- only authorities that reported both figures count in the rate
    select financial_year, gss_code, region_code, 'turned_away_rate' as measure, 'all' as breakdown,
           case when unable is not null and supported is not null then unable end as numerator,
           case when unable is not null and supported is not null then unable + supported end as denominator
    from authority
    union all
    select financial_year, gss_code, region_code, 'households_unable_to_support', reason, households, null
    from authority_reason
    union all
    select financial_year, gss_code, region_code, 'households_unable_to_support', 'other_combined',
           sum(households) filter (where reason in ('declined_by_household', 'supported_elsewhere', 'other')), null
    from authority_reason group by all
    union all
    select financial_year, gss_code, region_code, 'households_unable_to_support', 'all', unable, null
    from authority
    union all
    select financial_year, gss_code, region_code, 'households_unable_to_support_reason_recorded', 'all',
           unable_reason_recorded, null
    from authority
    union all
    select financial_year, gss_code, region_code, 'households_supported', 'all', supported, null
    from authority
    union all
    select financial_year, gss_code, region_code, 'households_supported', accommodation_type, households, null
    from authority_supported_type
    union all
    select a.financial_year, a.gss_code, a.region_code, 'turned_away_reason_share', x.reason,
           x.households, a.unable_reason_recorded
    from authority_reason x
    join authority a using (financial_year, gss_code)
    where x.reason <> 'not_recorded'
    union all
    select a.financial_year, a.gss_code, a.region_code, 'turned_away_reason_share', 'other_combined',
           sum(x.households) filter (where x.reason in ('declined_by_household', 'supported_elsewhere', 'other')),
           any_value(a.unable_reason_recorded)
    from authority_reason x
    join authority a using (financial_year, gss_code)
    group by a.financial_year, a.gss_code, a.region_code
)
select * from parts
