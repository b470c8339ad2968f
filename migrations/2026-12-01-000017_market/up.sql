-- The market (issue 16, first part): listings of goods the platform holds, and buyers' offers
-- on fixed-price listings. An accepted offer becomes an ordinary sale (part one), which
-- reserves the goods, takes payment and settles through the waterfall.

-- What each tier brings in the market: how long after a listing opens a buyer of the tier
-- sees it (the privilege is the allocation of opportunities), and the factor on an auction
-- deposit. Configurable: change the rows.
CREATE TABLE tier_privileges (
    tier                      text PRIMARY KEY REFERENCES tiers (tier),
    visibility_delay_minutes  integer NOT NULL CHECK (visibility_delay_minutes >= 0),
    deposit_factor            numeric(7, 6) NOT NULL CHECK (deposit_factor > 0 AND deposit_factor <= 1)
);
INSERT INTO tier_privileges VALUES
    ('platinum', 0, 0.50), ('gold', 120, 0.70), ('silver', 360, 0.85), ('bronze', 1440, 1.00);

CREATE TABLE listings (
    id                  uuid PRIMARY KEY,
    seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    lot_id              uuid NOT NULL REFERENCES lots (id),
    -- The supplier owning the goods, or the lender selling a liquidating loan's goods.
    seller_org_id       uuid NOT NULL REFERENCES orgs (id),
    loan_id             uuid REFERENCES loans (id),
    mode                text NOT NULL CHECK (mode IN ('fixed', 'auction', 'group', 'forward')),
    status              text NOT NULL DEFAULT 'open'
                        CHECK (status IN ('scheduled', 'open', 'closed', 'awarded', 'unsold', 'withdrawn', 'filled', 'failed')),
    currency            text NOT NULL,
    quantity            numeric(20, 3) NOT NULL CHECK (quantity > 0),
    -- Taken by accepted offers (each one a sale).
    quantity_committed  numeric(20, 3) NOT NULL DEFAULT 0 CHECK (quantity_committed >= 0 AND quantity_committed <= quantity),
    unit_price          numeric(20, 6) CHECK (unit_price > 0),
    -- The seller's tier when it listed (listings rank by it).
    seller_tier         text NOT NULL REFERENCES tiers (tier),
    opened_at           timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    created_by          uuid NOT NULL REFERENCES users (id)
);
-- One live listing per lot.
CREATE UNIQUE INDEX listings_live_lot_idx ON listings (lot_id) WHERE status IN ('scheduled', 'open');
CREATE INDEX listings_open_idx ON listings (opened_at) WHERE status = 'open';
CREATE INDEX listings_seller_idx ON listings (seller_org_id, seq);

CREATE TABLE offers (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    listing_id    uuid NOT NULL REFERENCES listings (id),
    buyer_org_id  uuid NOT NULL REFERENCES orgs (id),
    quantity      numeric(20, 3) NOT NULL CHECK (quantity > 0),
    unit_price    numeric(20, 6) NOT NULL CHECK (unit_price > 0),
    -- `cancelled`: accepted, but the sale it became was cancelled unpaid (the quantity went
    -- back to the listing).
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected', 'withdrawn', 'expired', 'cancelled')),
    -- Why a seller's rejection, `sold_out` / `listing_withdrawn` when the listing went,
    -- `sale_cancelled`.
    reason        text,
    expires_at    timestamptz NOT NULL,
    sale_id       uuid REFERENCES sales (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    uuid NOT NULL REFERENCES users (id),
    decided_at    timestamptz,
    decided_by    uuid REFERENCES users (id),
    CHECK ((status IN ('accepted', 'cancelled')) = (sale_id IS NOT NULL))
);
CREATE INDEX offers_listing_idx ON offers (listing_id, seq);
CREATE INDEX offers_buyer_idx ON offers (buyer_org_id, seq);
CREATE INDEX offers_open_idx ON offers (expires_at) WHERE status = 'open';
