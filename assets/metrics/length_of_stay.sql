-- Stays in refuge, dispersed and specialist accommodation that ended during the year, by length.
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'length_of_stay'
),
geography as (
    select * from stg_geography
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
        case when f.measure = 'stays_recorded' then f.numerator
             else 100.0 * f.numerator / nullif(f.denominator, 0) end::double as value
    from rolled_up f
    join geography g using (financial_year, geographic_level, geography_code)
    where f.geographic_level <> 'local_authority'
)
select * from final
order by measure, breakdown, financial_year, geographic_level, geography_code
