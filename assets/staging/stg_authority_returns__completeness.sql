-- How complete each return says each section is. A section is `complete` when every row
-- says complete, `not_collected` when every row says not collected, `partial` otherwise;
-- `not_stated` when no row gives a completeness code.
with returns as (
    select * from stg_authority_returns__returns where received
),
section_rows as (
    select financial_year, file, 'supported' as section, completeness from raw_authority_returns__supported
    union all
    select financial_year, file, 'characteristics' as section, completeness from raw_authority_returns__characteristics
),
final as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        s.section,
        case
            when count(s.completeness) = 0 then 'not_stated'
            when bool_and(s.completeness = 'complete') then 'complete'
            when bool_and(s.completeness = 'not_collected') then 'not_collected'
            else 'partial'
        end as completeness
    from section_rows s
    join returns r on r.financial_year = s.financial_year and r.file = s.file
    group by r.financial_year, r.gss_code, r.region_code, s.section
)
select * from final order by financial_year, gss_code, section
