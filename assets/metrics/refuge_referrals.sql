-- Women's Aid On Track: referrals to refuges by outcome, the rejection rate (Women's Aid's
-- own definition: not accepted = declined or withdrawn, over referrals with an outcome;
-- pending referrals are left out), by support need, and the reasons for declining.
with counted as (
    -- one scan of the referrals (tens of millions at most: decision 0022): how many of each
    -- outcome, decline reason and list of support needs, region by region; every part below
    -- adds these counts up
    select financial_year, region_code, outcome, decline_reason, support_needs, count(*) as n
    from stg_womens_aid__referrals
    group by all
),
needs as (
    -- a referral with several needs counts under each
    select financial_year, region_code, outcome, trim(need) as need, n
    from counted, unnest(string_split(coalesce(support_needs, ''), ';')) as t(need)
    where trim(need) <> ''
),
reasons as (
    select unnest(['no_capacity', 'needs_not_met', 'nrpf', 'risk_or_safety', 'unable_to_contact', 'other']) as reason
),
parts as (
    select financial_year, region_code, 'refuge_referrals' as measure, 'all' as breakdown,
           coalesce(sum(n) filter (where outcome in ('accepted', 'declined', 'withdrawn')), 0)::bigint as numerator,
           null::bigint as denominator
    from counted group by all
    union all
    select financial_year, region_code, 'refuge_referrals', 'accepted',
           coalesce(sum(n) filter (where outcome = 'accepted'), 0)::bigint, null
    from counted group by all
    union all
    select financial_year, region_code, 'refuge_referrals', 'not_accepted',
           coalesce(sum(n) filter (where outcome in ('declined', 'withdrawn')), 0)::bigint, null
    from counted group by all
    union all
    select financial_year, region_code, 'refuge_referrals_pending', 'all',
           coalesce(sum(n) filter (where outcome = 'pending'), 0)::bigint, null
    from counted group by all
    union all
    select financial_year, region_code, 'refuge_referral_rejection_rate', 'all',
           coalesce(sum(n) filter (where outcome in ('declined', 'withdrawn')), 0)::bigint,
           coalesce(sum(n) filter (where outcome in ('accepted', 'declined', 'withdrawn')), 0)::bigint
    from counted group by all
    union all
    select financial_year, region_code, 'refuge_referral_rejection_rate', need,
           coalesce(sum(n) filter (where outcome in ('declined', 'withdrawn')), 0)::bigint,
           coalesce(sum(n) filter (where outcome in ('accepted', 'declined', 'withdrawn')), 0)::bigint
    from needs group by all
    union all
    select c.financial_year, c.region_code, 'refuge_referral_decline_reason_share', x.reason,
           coalesce(sum(c.n) filter (where c.decline_reason = x.reason), 0)::bigint,
           sum(c.n)::bigint
    from counted c cross join reasons x
    where c.outcome = 'declined'
    group by all
)
select * from parts
