-- Coverage of the collection: returns received of expected, and how complete each return
-- says its sections are.
with returns as (
    select * from stg_authority_returns__returns
),
completeness as (
    select * from stg_authority_returns__completeness
),
statuses as (
    select s.section, c.status
    from (select unnest(['supported', 'characteristics']) as section) s
    cross join (select unnest(['complete', 'partial', 'not_collected', 'not_stated']) as status) c
),
parts as (
    select financial_year, region_code, 'return_coverage' as measure, 'all' as breakdown,
           count(*) filter (where received) as numerator, count(*) as denominator
    from returns group by all
    union all
    select r.financial_year, r.region_code, 'section_completeness_share', s.section || '_' || s.status,
           count(*) filter (where c.completeness = s.status), count(*)
    from returns r
    cross join statuses s
    left join completeness c
        on c.financial_year = r.financial_year and c.gss_code = r.gss_code and c.section = s.section
    where r.received
    group by all
)
select * from parts
