-- Stays in refuge, dispersed and specialist accommodation that ended during the year, by length.
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'length_of_stay'
),
bands as (
    select unnest(['under_1_month', '1_to_3_months', '3_to_6_months', 'over_6_months']) as band
),
authority_band as (
    select r.financial_year, r.gss_code, r.region_code, b.band, sum(c.value) as stays
    from returns r
    cross join bands b
    left join cells c on c.financial_year = r.financial_year and c.gss_code = r.gss_code and c.field = b.band
    group by all
),
authority as (
    select financial_year, gss_code, region_code, sum(stays) as stays
    from authority_band group by all
),
parts as (
    select financial_year, gss_code, region_code, 'stays_recorded' as measure, 'all' as breakdown,
           stays as numerator, null::hugeint as denominator
    from authority
    union all
    select b.financial_year, b.gss_code, b.region_code, 'length_of_stay_share', b.band, b.stays, a.stays
    from authority_band b join authority a using (financial_year, gss_code)
)
select * from parts
