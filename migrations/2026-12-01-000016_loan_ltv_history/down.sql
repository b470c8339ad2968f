DROP TABLE loan_ltv_history;
