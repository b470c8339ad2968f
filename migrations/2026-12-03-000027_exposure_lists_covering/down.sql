DROP INDEX exposure_loans_breaching_idx;
CREATE INDEX exposure_loans_breaching_idx ON exposure_loans (currency, lender_org_id, ltv DESC NULLS FIRST, loan_id)
    WHERE ltv IS NULL OR ltv > margin_call_ltv;
DROP INDEX exposure_loans_calls_idx;
CREATE INDEX exposure_loans_calls_idx ON exposure_loans (currency, lender_org_id, call_deadline, call_id)
    WHERE call_id IS NOT NULL;
