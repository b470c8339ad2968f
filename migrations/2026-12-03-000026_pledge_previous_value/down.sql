ALTER TABLE pledges DROP COLUMN previous_market_value;
