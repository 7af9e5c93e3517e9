-- SafeLives Marac cases over the year, per 10,000 women aged 16 and over, and the repeat
-- rate, by police force area, region and England. Maracs that missed two or more quarters
-- are left out (see stg_safelives__marac_annual).
with maracs as (
    select * from stg_safelives__marac_annual where included
),
geography as (
    select * from stg_geography
),
areas as (
    select g.* from geography g
    where g.geographic_level = 'police_force_area'
      and g.financial_year in (select distinct financial_year from raw_safelives__marac_quarterly)
),
area as (
    select
        a.financial_year, a.geography_code as pfa_code, a.region_code, a.population_female_16plus as women,
        sum(m.cases_discussed) as cases, sum(m.repeat_cases) as repeat_cases
    from areas a
    left join maracs m on m.financial_year = a.financial_year and m.pfa_code = a.geography_code
    group by all
),
parts as (
    select financial_year, pfa_code, region_code, 'marac_cases' as measure, 'all' as breakdown,
           cases as numerator, null::hugeint as denominator
    from area
    union all
    select financial_year, pfa_code, region_code, 'marac_cases_per_10000_women', 'all',
           cases, case when cases is not null then women end
    from area
    union all
    select financial_year, pfa_code, region_code, 'marac_repeat_rate', 'all', repeat_cases, cases
    from area
)
select * from parts
