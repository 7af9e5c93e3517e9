-- Individuals supported in safe accommodation: by type of accommodation and by identity,
-- and the shares built on them. An individual is counted once per instance of support.
with returns as (
    select * from stg_authority_returns__returns
),
cells as (
    select * from stg_authority_returns__counts where sheet = 'supported'
),
identities as (
    select unnest(['women', 'men', 'trans_nonbinary', 'children', 'identity_not_recorded']) as identity
),
types as (
    select unnest(['refuge', 'dispersed', 'sanctuary', 'second_stage', 'specialist', 'other']) as accommodation_type
),
-- individuals of each row of the `supported` sheet, and who came from outside the area
supported_rows as (
    select
        financial_year,
        gss_code,
        record_key as accommodation_type,
        sum(value) filter (where field in ('women', 'men', 'trans_nonbinary', 'children', 'identity_not_recorded'))
            as individuals,
        sum(value) filter (where field = 'from_outside_area') as from_outside_area
    from cells
    group by financial_year, gss_code, record_key
),
authority as (
    select
        r.financial_year,
        r.gss_code,
        r.region_code,
        sum(s.individuals) as individuals,
        -- the denominator of the outside-area share: rows whose from_outside_area is recorded
        sum(s.individuals) filter (where s.from_outside_area is not null) as individuals_outside_known,
        sum(s.from_outside_area) as from_outside_area
    from returns r
    left join supported_rows s on s.financial_year = r.financial_year and s.gss_code = r.gss_code
    group by r.financial_year, r.gss_code, r.region_code
),
authority_identity as (
    select r.financial_year, r.gss_code, r.region_code, i.identity, sum(c.value) as individuals
    from returns r
    cross join identities i
    left join cells c on c.financial_year = r.financial_year and c.gss_code = r.gss_code and c.field = i.identity
    group by all
),
authority_type as (
    select r.financial_year, r.gss_code, r.region_code, t.accommodation_type, sum(s.individuals) as individuals
    from returns r
    cross join types t
    left join supported_rows s
        on s.financial_year = r.financial_year and s.gss_code = r.gss_code
        and s.accommodation_type = t.accommodation_type
    group by all
),
adults as (
    select financial_year, gss_code, sum(individuals) as adults_recorded
    from authority_identity
    where identity in ('women', 'men', 'trans_nonbinary')
    group by all
),
parts as (
    select financial_year, gss_code, region_code, 'individuals_supported' as measure, 'all' as breakdown,
           individuals as numerator, null::hugeint as denominator
    from authority
    union all
    select financial_year, gss_code, region_code, 'individuals_supported', identity, individuals, null
    from authority_identity
    union all
    select financial_year, gss_code, region_code, 'individuals_supported', accommodation_type, individuals, null
    from authority_type
    union all
    select t.financial_year, t.gss_code, t.region_code, 'individuals_supported_share', t.accommodation_type,
           t.individuals, a.individuals
    from authority_type t join authority a using (financial_year, gss_code)
    union all
    select i.financial_year, i.gss_code, i.region_code, 'children_share', 'all', i.individuals, a.individuals
    from authority_identity i join authority a using (financial_year, gss_code)
    where i.identity = 'children'
    union all
    select i.financial_year, i.gss_code, i.region_code, 'adults_share', i.identity, i.individuals, d.adults_recorded
    from authority_identity i join adults d using (financial_year, gss_code)
    where i.identity in ('women', 'men', 'trans_nonbinary')
    union all
    select financial_year, gss_code, region_code, 'from_outside_area_share', 'all',
           from_outside_area, individuals_outside_known
    from authority
)
select * from parts
