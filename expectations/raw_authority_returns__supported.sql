-- The rows the suite raw_authority_returns__supported sees: the year's rows of the table,
-- with the individuals of each row (the sum of the identity counts) for the rule
-- "from_outside_area <= individuals of that row".
select
    s.*,
    coalesce(s.women, 0) + coalesce(s.men, 0) + coalesce(s.trans_nonbinary, 0)
        + coalesce(s.children, 0) + coalesce(s.identity_not_recorded, 0) as individuals
from raw_authority_returns__supported s
where s.financial_year = $financial_year
order by s.file, s.sheet_row
