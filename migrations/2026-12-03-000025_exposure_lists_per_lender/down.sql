CREATE INDEX exposure_loans_breaching_all_idx ON exposure_loans (currency, ltv DESC NULLS FIRST, loan_id)
    WHERE ltv IS NULL OR ltv > margin_call_ltv;
CREATE INDEX exposure_loans_calls_all_idx ON exposure_loans (currency, call_deadline, call_id)
    WHERE call_id IS NOT NULL;
