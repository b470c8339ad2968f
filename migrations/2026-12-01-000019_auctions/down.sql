DROP TABLE market_deposits;
DROP TABLE bids;
DROP INDEX listings_payment_due_idx;
DROP INDEX listings_auction_end_idx;
ALTER TABLE listings
    DROP CONSTRAINT listings_fixed_price, DROP CONSTRAINT listings_extensions_cap,
    DROP CONSTRAINT listings_auction_window, DROP CONSTRAINT listings_auction_terms,
    DROP COLUMN outcome, DROP COLUMN payment_due_at, DROP COLUMN sale_id, DROP COLUMN bid_count,
    DROP COLUMN high_bidder_org_id, DROP COLUMN high_bid, DROP COLUMN relisted_from,
    DROP COLUMN relist_count, DROP COLUMN max_relists, DROP COLUMN relist_step,
    DROP COLUMN payment_days, DROP COLUMN deposit_rate, DROP COLUMN extensions_used,
    DROP COLUMN max_extensions, DROP COLUMN extension_minutes, DROP COLUMN ends_at,
    DROP COLUMN starts_at, DROP COLUMN min_increment, DROP COLUMN reserve_price;
ALTER TABLE sales DROP COLUMN forfeited_at;
ALTER TABLE sales DROP CONSTRAINT sales_status_check;
ALTER TABLE sales ADD CONSTRAINT sales_status_check CHECK (status IN ('pending', 'settled', 'cancelled'));
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('disbursement', 'repayment', 'sale_payment', 'settlement', 'adjustment'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('cash', 'loans_receivable', 'loans_payable', 'interest_income', 'interest_expense',
                    'fee_income', 'fee_expense', 'payable', 'receivable', 'escrow', 'sales', 'purchases'));
