-- Women's Aid On Track referrals to refuges, with the region of the refuge.

-- dasa: view
-- A view, not a table: an extract can be tens of millions of records, and a copy of them in
-- the order of the file would be written and sorted for nothing (decision 0022). Whoever
-- needs an order gives one.
with referrals as (
    select * from raw_womens_aid__referrals
),
services as (
    select * from stg_womens_aid__refuge_services
),
final as (
    select
        r.financial_year,
        r.referral_id,
        r.service_id,
        s.gss_code,
        s.region_code,
        r.referral_date,
        r.outcome,
        r.decline_reason,
        r.children,
        r.support_needs,
        r.file,
        r.line
    from referrals r
    left join services s on s.financial_year = r.financial_year and s.service_id = r.service_id
)
select * from final
