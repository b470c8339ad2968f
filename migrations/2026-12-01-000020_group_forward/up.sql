-- Group buying and forward sales (issue 16, third part).
--
-- A group listing: `unit_price` is the group price, `min_total_quantity` what the members must
-- join for it to happen by `deadline`; `quantity_committed` is what they joined. A forward
-- listing: goods in transit at `unit_price`, each accepted offer's buyer posting `margin_rate`
-- of its price as a margin, due `payment_days` business days after the goods are unloaded.
ALTER TABLE listings
    ADD COLUMN min_total_quantity numeric(20, 3) CHECK (min_total_quantity > 0),
    ADD COLUMN deadline           timestamptz,
    ADD COLUMN margin_rate        numeric(7, 6) CHECK (margin_rate > 0 AND margin_rate <= 1),
    DROP CONSTRAINT listings_fixed_price,
    ADD CONSTRAINT listings_priced CHECK ((mode IN ('fixed', 'group', 'forward')) = (unit_price IS NOT NULL)),
    ADD CONSTRAINT listings_group_terms CHECK ((mode = 'group') = (min_total_quantity IS NOT NULL AND deadline IS NOT NULL)),
    ADD CONSTRAINT listings_group_minimum CHECK (min_total_quantity IS NULL OR min_total_quantity <= quantity),
    ADD CONSTRAINT listings_forward_terms CHECK ((mode = 'forward') = (margin_rate IS NOT NULL));
CREATE INDEX listings_group_deadline_idx ON listings (deadline) WHERE status = 'open' AND mode = 'group';

-- A group member's full payment (`group`), and a forward buyer's margin (`margin`, with its
-- sale from the start) are held as deposits too. `quantity`: what the member joined, or what
-- the forward sale first sold (the margin returns in proportion to what does not arrive).
-- `due_at`: when a forward sale, once its goods are unloaded, must be paid.
ALTER TABLE market_deposits DROP CONSTRAINT market_deposits_kind_check;
ALTER TABLE market_deposits ADD CONSTRAINT market_deposits_kind_check
    CHECK (kind IN ('auction', 'group', 'margin'));
ALTER TABLE market_deposits
    ADD COLUMN quantity numeric(20, 3) CHECK (quantity > 0),
    ADD COLUMN due_at   timestamptz,
    ADD CONSTRAINT market_deposits_quantity CHECK ((kind IN ('group', 'margin')) = (quantity IS NOT NULL));
-- One join per buyer and group, one auction deposit per bidder; margins are one per sale.
ALTER TABLE market_deposits DROP CONSTRAINT market_deposits_listing_id_buyer_org_id_kind_key;
CREATE UNIQUE INDEX market_deposits_one_per_buyer ON market_deposits (listing_id, buyer_org_id, kind)
    WHERE kind IN ('auction', 'group');
CREATE UNIQUE INDEX market_deposits_one_margin_per_sale ON market_deposits (sale_id) WHERE kind = 'margin';
CREATE INDEX market_deposits_margins_held_idx ON market_deposits (seq) WHERE kind = 'margin' AND status = 'held';
CREATE INDEX market_deposits_margins_due_idx ON market_deposits (due_at) WHERE kind = 'margin' AND status = 'applied';

-- A sale's auction (the buyers' tiers read an award's payment deadline).
CREATE INDEX listings_sale_idx ON listings (sale_id) WHERE sale_id IS NOT NULL;
