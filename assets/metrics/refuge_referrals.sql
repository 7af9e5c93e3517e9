-- Women's Aid On Track: referrals to refuges by outcome, the rejection rate (Women's Aid's
-- own definition: not accepted = declined or withdrawn, over referrals with an outcome;
-- pending referrals are left out), by support need, and the reasons for declining.
with referrals as (
    select * from stg_womens_aid__referrals
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
)
select * from parts
