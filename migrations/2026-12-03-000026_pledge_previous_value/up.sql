-- A pledge's market value before the revaluation that last changed it. The revaluation sets it
-- from the old value in the same UPDATE that writes the new one, so that its RETURNING, which
-- in PostgreSQL 15 sees only the row as written, gives both: the change to each exposure
-- figure comes from them, without finding every changed pledge a second time.
ALTER TABLE pledges ADD COLUMN previous_market_value numeric(20, 2) NOT NULL DEFAULT 0;
