-- Women's Aid On Track: referrals to refuges by outcome, the rejection rate (Women's Aid's
-- own definition: not accepted = declined or withdrawn, over referrals with an outcome;
-- pending referrals are left out), by support need, and the reasons for declining.
with referrals as (
    select * from stg_womens_aid__referrals
),
geography as (
    select * from stg_geography
),
needs as (
    select financial_year, region_code, referral_id, outcome, trim(need) as need
    from referrals, unnest(string_split(coalesce(support_needs, ''), ';')) as t(need)
    where trim(need) <> ''
),
reasons as (
    select unnest(['no_capacity', 'needs_not_met', 'nrpf', 'risk_or_safety', 'unable_to_contact', 'other']) as reason
),
parts as (
    select financial_year, region_code, 'refuge_referrals' as measure, 'all' as breakdown,
           count(*) filter (where outcome in ('accepted', 'declined', 'withdrawn')) as numerator,
           null::bigint as denominator
    from referrals group by all
    union all
    select financial_year, region_code, 'refuge_referrals', 'accepted',
           count(*) filter (where outcome = 'accepted'), null
    from referrals group by all
    union all
    select financial_year, region_code, 'refuge_referrals', 'not_accepted',
           count(*) filter (where outcome in ('declined', 'withdrawn')), null
    from referrals group by all
    union all
    select financial_year, region_code, 'refuge_referrals_pending', 'all',
           count(*) filter (where outcome = 'pending'), null
    from referrals group by all
    union all
    select financial_year, region_code, 'refuge_referral_rejection_rate', 'all',
           count(*) filter (where outcome in ('declined', 'withdrawn')),
           count(*) filter (where outcome in ('accepted', 'declined', 'withdrawn'))
    from referrals group by all
    union all
    -- a referral with several needs counts under each
    select financial_year, region_code, 'refuge_referral_rejection_rate', need,
           count(*) filter (where outcome in ('declined', 'withdrawn')),
           count(*) filter (where outcome in ('accepted', 'declined', 'withdrawn'))
    from needs group by all
    union all
    select r.financial_year, r.region_code, 'refuge_referral_decline_reason_share', x.reason,
           count(*) filter (where r.decline_reason = x.reason),
           count(*)
    from referrals r cross join reasons x
    where r.outcome = 'declined'
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
        case when f.measure in ('refuge_referrals', 'refuge_referrals_pending') then f.numerator
             else 100.0 * f.numerator / nullif(f.denominator, 0) end::double as value
    from rolled_up f
    join geography g using (financial_year, geographic_level, geography_code)
)
select * from final
order by measure, breakdown, financial_year, geographic_level, geography_code
