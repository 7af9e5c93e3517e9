-- SafeLives Marac data summed over the year, per Marac. A Marac that misses one quarter
-- has it filled from its previous quarter (SafeLives' own method; the first quarter is
-- filled from the next) and is flagged; one that misses two or more is left out.
with quarters as (
    select
        q.*,
        cast(left(q.financial_year, 4) as integer) as start_year
    from raw_safelives__marac_quarterly q
),
expected_quarters as (
    select distinct
        financial_year,
        unnest([
            make_date(cast(left(financial_year, 4) as integer), 6, 30),
            make_date(cast(left(financial_year, 4) as integer), 9, 30),
            make_date(cast(left(financial_year, 4) as integer), 12, 31),
            make_date(cast(left(financial_year, 4) as integer) + 1, 3, 31)
        ]) as quarter_end
    from quarters
),
maracs as (
    select distinct financial_year, marac_id, pfa_code from quarters
),
grid as (
    select m.financial_year, m.marac_id, m.pfa_code, e.quarter_end
    from maracs m
    join expected_quarters e using (financial_year)
),
joined as (
    select
        g.*,
        q.cases_discussed,
        q.repeat_cases,
        q.line,
        q.file,
        q.cases_discussed is null as filled
    from grid g
    left join quarters q
        on q.financial_year = g.financial_year and q.marac_id = g.marac_id
        and cast(q.quarter_end as date) = g.quarter_end
),
filled as (
    select
        *,
        coalesce(
            cases_discussed,
            lag(cases_discussed) over w,
            lead(cases_discussed) over w
        ) as cases_filled,
        coalesce(
            repeat_cases,
            lag(repeat_cases) over w,
            lead(repeat_cases) over w
        ) as repeat_filled
    from joined
    window w as (partition by financial_year, marac_id order by quarter_end)
),
final as (
    select
        financial_year,
        marac_id,
        pfa_code,
        count(*) filter (where filled) as quarters_filled,
        count(*) filter (where filled) <= 1 as included,
        sum(cases_filled) as cases_discussed,
        sum(repeat_filled) as repeat_cases,
        string_agg(cast(line as varchar), ';' order by line) as lines,
        min(file) as file
    from filled
    group by financial_year, marac_id, pfa_code
)
select * from final order by financial_year, marac_id
