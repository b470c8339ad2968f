DROP INDEX listings_sale_idx;
DROP INDEX market_deposits_margins_due_idx;
DROP INDEX market_deposits_margins_held_idx;
DROP INDEX market_deposits_one_margin_per_sale;
DROP INDEX market_deposits_one_per_buyer;
DELETE FROM market_deposits WHERE kind <> 'auction';
ALTER TABLE market_deposits ADD CONSTRAINT market_deposits_listing_id_buyer_org_id_kind_key UNIQUE (listing_id, buyer_org_id, kind);
ALTER TABLE market_deposits DROP CONSTRAINT market_deposits_quantity, DROP COLUMN due_at, DROP COLUMN quantity;
ALTER TABLE market_deposits DROP CONSTRAINT market_deposits_kind_check;
ALTER TABLE market_deposits ADD CONSTRAINT market_deposits_kind_check CHECK (kind IN ('auction'));
DROP INDEX listings_group_deadline_idx;
ALTER TABLE listings
    DROP CONSTRAINT listings_forward_terms, DROP CONSTRAINT listings_group_minimum,
    DROP CONSTRAINT listings_group_terms, DROP CONSTRAINT listings_priced,
    DROP COLUMN margin_rate, DROP COLUMN deadline, DROP COLUMN min_total_quantity,
    ADD CONSTRAINT listings_fixed_price CHECK ((mode = 'fixed') = (unit_price IS NOT NULL));
