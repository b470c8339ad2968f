-- A live loan's LTV as each business day closed (after that day's interest and revaluation):
-- what the loan owed, what its collateral was worth, and the ratio. The loan page draws it; the
-- live figure is the loan's own row.
CREATE TABLE loan_ltv_history (
    loan_id           uuid NOT NULL REFERENCES loans (id),
    business_date     date NOT NULL,
    outstanding       numeric(20, 2) NOT NULL,
    collateral_value  numeric(20, 2) NOT NULL,
    ltv               numeric(14, 6),
    PRIMARY KEY (loan_id, business_date)
);
