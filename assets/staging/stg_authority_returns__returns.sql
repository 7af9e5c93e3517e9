-- One row per authority expected to make a return, per financial year: whether a return
-- was received, and which workbook is used (the highest submission number of the
-- workbooks that passed the structural checks; earlier ones are kept as superseded).
with expected as (
    select t.financial_year, t.gss_code, t.name as authority_name, t.region_code, t.region_name
    from ref_tier1_by_financial_year t
    where t.financial_year in (select financial_year from raw_ingested where source = 'authority_returns')
),
usable as (
    select * from raw_authority_returns__files where status = 'ok'
),
ranked as (
    select
        *,
        row_number() over (partition by financial_year, gss_code order by submission_number desc, file) as submission_rank
    from usable
),
superseded as (
    select financial_year, gss_code, string_agg(file, '; ' order by submission_number, file) as superseded_files
    from ranked
    where submission_rank > 1
    group by financial_year, gss_code
),
final as (
    select
        e.financial_year,
        e.gss_code,
        e.authority_name,
        e.region_code,
        e.region_name,
        r.file is not null as received,
        r.file,
        r.sha256,
        r.submission_number,
        r.submitted_on,
        r.authority_name as name_in_return,
        r.partnership_board,
        r.strategy_published,
        r.services_in_house,
        s.superseded_files
    from expected e
    left join ranked r
        on r.financial_year = e.financial_year and r.gss_code = e.gss_code and r.submission_rank = 1
    left join superseded s
        on s.financial_year = e.financial_year and s.gss_code = e.gss_code
)
select * from final order by financial_year, gss_code
