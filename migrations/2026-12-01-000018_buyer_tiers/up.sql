-- Buyers earn tiers too (issue 16): over the trailing 90 days, per currency, the value of the
-- purchases they completed (settled), how many, and the share paid on time (in full within two
-- days of the sale; an unpaid sale older than that counts as late). The daily job recomputes
-- them with the suppliers', up and down, into the same `orgs.tier` and `tier_history`.
CREATE TABLE buyer_tier_thresholds (
    tier                     text NOT NULL REFERENCES tiers (tier),
    currency                 text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    min_value_purchased      numeric(20, 2) NOT NULL CHECK (min_value_purchased >= 0),
    min_purchases_completed  integer NOT NULL CHECK (min_purchases_completed >= 0),
    min_on_time_share        numeric(5, 4) NOT NULL CHECK (min_on_time_share BETWEEN 0 AND 1),
    PRIMARY KEY (tier, currency)
);
INSERT INTO buyer_tier_thresholds VALUES
    ('silver', 'CNY', 50000, 2, 0.90), ('gold', 'CNY', 250000, 5, 0.95), ('platinum', 'CNY', 1000000, 10, 0.98),
    ('silver', 'USD', 7500, 2, 0.90), ('gold', 'USD', 37500, 5, 0.95), ('platinum', 'USD', 150000, 10, 0.98);
CREATE INDEX sales_buyer_created_idx ON sales (buyer_org_id, created_at);
