-- The rows the suite raw_womens_aid__referrals sees: the year's rows of the table, with
-- referral_date_outside_year holding the date of a referral made outside the financial
-- year (1 April to 31 March; NULL otherwise), for the rule "referral_date is within the year".
select
    r.*,
    case
        when r.referral_date < $first_day or r.referral_date > $last_day then r.referral_date
    end as referral_date_outside_year
from raw_womens_aid__referrals r
where r.financial_year = $financial_year
order by r.file, r.line
