-- Auctions (issue 16, second part): ascending bids on a listing, each bidder's deposit held by
-- the platform until the close, and the buyers' market funds the deposits come from.

-- A buyer's `funds`: money it placed with the platform to bid with (debit-positive, never
-- below zero: a deposit is refused without the funds). The platform's `deposits`: bidders'
-- deposits it holds; its balance is always the sum of the deposits held.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check
    CHECK (kind IN ('cash', 'loans_receivable', 'loans_payable', 'interest_income', 'interest_expense',
                    'fee_income', 'fee_expense', 'payable', 'receivable', 'escrow', 'sales', 'purchases',
                    'funds', 'deposits'));
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('disbursement', 'repayment', 'sale_payment', 'settlement', 'adjustment',
                    'funding', 'withdrawal', 'deposit', 'deposit_return', 'forfeit'));

-- A sale whose buyer did not pay in time: what it had paid (an auction deposit) went to the
-- seller's side of the waterfall, and the goods were offered again.
ALTER TABLE sales DROP CONSTRAINT sales_status_check;
ALTER TABLE sales ADD CONSTRAINT sales_status_check
    CHECK (status IN ('pending', 'settled', 'cancelled', 'forfeited'));
ALTER TABLE sales ADD COLUMN forfeited_at timestamptz;

ALTER TABLE listings
    ADD COLUMN reserve_price      numeric(20, 6) CHECK (reserve_price > 0),
    ADD COLUMN min_increment      numeric(20, 6) CHECK (min_increment > 0),
    ADD COLUMN starts_at          timestamptz,
    ADD COLUMN ends_at            timestamptz,
    ADD COLUMN extension_minutes  integer CHECK (extension_minutes BETWEEN 1 AND 60),
    ADD COLUMN max_extensions     integer CHECK (max_extensions BETWEEN 0 AND 20),
    ADD COLUMN extensions_used    integer NOT NULL DEFAULT 0 CHECK (extensions_used >= 0),
    ADD COLUMN deposit_rate       numeric(7, 6) CHECK (deposit_rate > 0 AND deposit_rate <= 1),
    ADD COLUMN payment_days       integer CHECK (payment_days BETWEEN 1 AND 30),
    ADD COLUMN relist_step        numeric(7, 6) CHECK (relist_step >= 0 AND relist_step < 1),
    ADD COLUMN max_relists        integer CHECK (max_relists BETWEEN 0 AND 10),
    -- How many times these goods were relisted before this listing (0 for the first).
    ADD COLUMN relist_count       integer NOT NULL DEFAULT 0 CHECK (relist_count >= 0),
    ADD COLUMN relisted_from      uuid REFERENCES listings (id),
    ADD COLUMN high_bid           numeric(20, 6),
    ADD COLUMN high_bidder_org_id uuid REFERENCES orgs (id),
    ADD COLUMN bid_count          integer NOT NULL DEFAULT 0,
    -- The winner's sale, and when it must be paid.
    ADD COLUMN sale_id            uuid REFERENCES sales (id),
    ADD COLUMN payment_due_at     timestamptz,
    -- Why an auction ended unsold or forfeited (`no_bids`, `below_reserve`, `goods_unavailable`,
    -- `unpaid`).
    ADD COLUMN outcome            text,
    ADD CONSTRAINT listings_auction_terms CHECK ((mode = 'auction') = (reserve_price IS NOT NULL
        AND min_increment IS NOT NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL
        AND extension_minutes IS NOT NULL AND max_extensions IS NOT NULL AND deposit_rate IS NOT NULL
        AND payment_days IS NOT NULL AND relist_step IS NOT NULL AND max_relists IS NOT NULL)),
    ADD CONSTRAINT listings_auction_window CHECK (ends_at IS NULL OR ends_at > starts_at),
    ADD CONSTRAINT listings_extensions_cap CHECK (max_extensions IS NULL OR extensions_used <= max_extensions),
    ADD CONSTRAINT listings_fixed_price CHECK ((mode = 'fixed') = (unit_price IS NOT NULL));
-- The close finds auctions past their end; the payment deadline awarded ones.
CREATE INDEX listings_auction_end_idx ON listings (ends_at) WHERE status = 'open' AND mode = 'auction';
CREATE INDEX listings_payment_due_idx ON listings (payment_due_at) WHERE status = 'awarded';

CREATE TABLE bids (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    listing_id    uuid NOT NULL REFERENCES listings (id),
    buyer_org_id  uuid NOT NULL REFERENCES orgs (id),
    unit_price    numeric(20, 6) NOT NULL CHECK (unit_price > 0),
    placed_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The deposit this bid took (only a bidder's first bid on a listing takes one).
    deposit       numeric(20, 2) NOT NULL CHECK (deposit >= 0),
    created_by    uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX bids_listing_idx ON bids (listing_id, seq);

-- Money the platform holds for the market: an auction bidder's deposit, held from its first
-- bid to the close (`returned` to losers; `applied` to the winner's sale as its first payment;
-- `forfeited` when the winner does not pay in time).
CREATE TABLE market_deposits (
    id              uuid PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    listing_id      uuid NOT NULL REFERENCES listings (id),
    buyer_org_id    uuid NOT NULL REFERENCES orgs (id),
    kind            text NOT NULL CHECK (kind IN ('auction')),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount          numeric(20, 2) NOT NULL CHECK (amount > 0),
    status          text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'applied', 'returned', 'forfeited')),
    sale_id         uuid REFERENCES sales (id),
    taken_entry_id  uuid NOT NULL REFERENCES journal_entries (id),
    ended_entry_id  uuid REFERENCES journal_entries (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    UNIQUE (listing_id, buyer_org_id, kind),
    CHECK ((status = 'held') = (ended_at IS NULL))
);
CREATE INDEX market_deposits_buyer_idx ON market_deposits (buyer_org_id, seq);
CREATE INDEX market_deposits_held_idx ON market_deposits (listing_id) WHERE status = 'held';
