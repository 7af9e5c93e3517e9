-- The financial years in the warehouse, and the ONS mid-year population estimate each
-- one uses: mid-YYYY for YYYY-YY, or the latest estimate held when that is not yet out.
with years as (
    select distinct financial_year from raw_ingested
),
estimates as (
    select distinct year from ref_population
),
final as (
    select
        y.financial_year,
        (select max(e.year) from estimates e where e.year <= cast(left(y.financial_year, 4) as integer))
            as population_year
    from years y
)
select * from final order by financial_year
