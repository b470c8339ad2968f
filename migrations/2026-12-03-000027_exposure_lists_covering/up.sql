-- The two lists of the exposure answer — the loans above their margin-call LTV, and the open
-- margin calls by deadline — read only from their index, which now carries every column they show
-- (`INCLUDE`). Read through the table, each listed loan's row was a fetch from wherever it lay,
-- and a book of 100,000 loans spreads its 500 listed rows over more pages than a book of 10,000:
-- their two scans took 0.23 ms more a read (`auto_explain`, revaluation bench, 2026-12-03). From
-- the index alone, where the table's pages are all visible (after a vacuum, as autovacuum keeps
-- them), a read costs the same whatever the book's size. Of the included columns only `status` was
-- in no index before (the outstanding amount and the value move the LTV, the two thresholds are in
-- the index's condition, the supplier never changes): a change of a listed loan's status alone,
-- rare, can no longer stay on its page (HOT).
DROP INDEX exposure_loans_breaching_idx;
CREATE INDEX exposure_loans_breaching_idx ON exposure_loans (currency, lender_org_id, ltv DESC NULLS FIRST, loan_id)
    INCLUDE (supplier_org_id, status, outstanding, value, margin_call_ltv, liquidation_ltv)
    WHERE ltv IS NULL OR ltv > margin_call_ltv;
DROP INDEX exposure_loans_calls_idx;
CREATE INDEX exposure_loans_calls_idx ON exposure_loans (currency, lender_org_id, call_deadline, call_id)
    INCLUDE (ltv)
    WHERE call_id IS NOT NULL;
