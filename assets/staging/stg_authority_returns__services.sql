-- The commissioned services listed in the returns in use.
with returns as (
    select * from stg_authority_returns__returns where received
),
services as (
    select * from raw_authority_returns__services
),
final as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        s.service_ref,
        s.accommodation_type,
        s.provider_name,
        s.by_and_for = 'yes' as by_and_for,
        s.by_and_for_group,
        s.units,
        s.file,
        r.submission_number,
        s.sheet_row
    from services s
    join returns r on r.financial_year = s.financial_year and r.file = s.file
)
select * from final order by financial_year, gss_code, service_ref, sheet_row
