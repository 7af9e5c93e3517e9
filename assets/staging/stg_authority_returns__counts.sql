-- Every count cell of the returns in use, one row per cell, with its location: the
-- lineage of every figure built from the authority returns. A blank cell or a cell error
-- has a NULL value (not collected), never 0.
with returns as (
    select * from stg_authority_returns__returns where received
),
cells as (
    select * from raw_authority_returns__cells
),
final as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        c.sheet,
        c.record_key,
        c.field,
        case when c.cell_status = 'ok' then c.value end as value,
        c.cell_status,
        c.file,
        r.submission_number,
        c.sheet_row,
        c.column_letter
    from cells c
    join returns r on r.financial_year = c.financial_year and r.file = c.file
    where c.record_key is not null
)
select * from final order by financial_year, gss_code, sheet, sheet_row, column_letter
