-- The rows the suite raw_authority_returns__characteristics sees: the year's rows of the
-- table, with, per return, the largest single characteristic and the individuals
-- supported (the identity counts of the `supported` sheet; NULL when none is given), for
-- the rule "`any` is between the largest single characteristic and the individuals supported".
with characteristics as (
    select * from raw_authority_returns__characteristics where financial_year = $financial_year
),
singles as (
    select file, max(individuals) as largest_single
    from characteristics
    where characteristic <> 'any'
    group by file
),
supported as (
    select
        file,
        nullif(sum(coalesce(women, 0) + coalesce(men, 0) + coalesce(trans_nonbinary, 0)
            + coalesce(children, 0) + coalesce(identity_not_recorded, 0)), 0) as individuals_supported
    from raw_authority_returns__supported
    where financial_year = $financial_year
    group by file
),
final as (
    select c.*, p.individuals_supported, s.largest_single
    from characteristics c
    left join singles s using (file)
    left join supported p using (file)
)
select * from final order by file, sheet_row
