-- Individuals with each specialist characteristic. The categories overlap: never add them.
-- The share uses only authorities whose characteristics section is complete, over the
-- individuals supported in those same authorities.
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts
    where (sheet = 'characteristics' and field = 'individuals') or sheet = 'supported'
),
completeness as (
    select * from stg_authority_returns__completeness where section = 'characteristics'
),
characteristics as (
    select unnest(['disabled', 'lgbtq', 'black_minoritised', 'ex_offender', 'mental_health', 'drug',
                   'alcohol', 'aged_16_25', 'aged_65_plus', 'nrpf', 'any']) as characteristic
),
authority_individuals as (
    select financial_year, gss_code,
           sum(value) filter (where field in ('women', 'men', 'trans_nonbinary', 'children', 'identity_not_recorded'))
               as individuals
    from cells where sheet = 'supported'
    group by all
),
authority_characteristic as (
    select r.financial_year, r.gss_code, r.region_code, x.characteristic, sum(c.value) as individuals,
           any_value(k.completeness) = 'complete' as complete
    from returns r
    cross join characteristics x
    left join cells c
        on c.financial_year = r.financial_year and c.gss_code = r.gss_code
        and c.sheet = 'characteristics' and c.record_key = x.characteristic
    left join completeness k on k.financial_year = r.financial_year and k.gss_code = r.gss_code
    group by r.financial_year, r.gss_code, r.region_code, x.characteristic
),
parts as (
    select financial_year, gss_code, region_code, 'specialist_characteristic' as measure,
           characteristic as breakdown, individuals as numerator, null::hugeint as denominator
    from authority_characteristic
    union all
    select a.financial_year, a.gss_code, a.region_code, 'specialist_characteristic_share', a.characteristic,
           case when a.complete and a.individuals is not null and i.individuals is not null then a.individuals end,
           case when a.complete and a.individuals is not null and i.individuals is not null then i.individuals end
    from authority_characteristic a
    left join authority_individuals i using (financial_year, gss_code)
)
select * from parts
