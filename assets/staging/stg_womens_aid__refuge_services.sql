-- Women's Aid Routes to Support snapshot: services with the authority and region they are in.
with services as (
    select * from raw_womens_aid__refuge_services
),
geography as (
    select * from stg_geography where geographic_level = 'local_authority'
),
final as (
    select
        s.financial_year,
        s.service_id,
        s.snapshot_date,
        s.gss_code,
        g.region_code,
        s.service_type,
        s.by_and_for = 'yes' as by_and_for,
        s.by_and_for_group,
        s.bedspaces,
        s.accepts_nrpf = 'yes' as accepts_nrpf,
        s.wheelchair_accessible_bedspaces,
        s.file,
        s.line
    from services s
    left join geography g on g.financial_year = s.financial_year and g.geography_code = s.gss_code
)
select * from final order by financial_year, service_id, line
