-- Sales, transaction fees, settlement, counts and customer tiers.

-- Fee schedules. A schedule applies to a warehouse, a commodity, a currency, any combination
-- of them, or (all three NULL) to everything; the most specific current schedule wins
-- (warehouse, then commodity, then currency). A new schedule for the same scope supersedes
-- the current one, which is kept.
CREATE TABLE fee_schedules (
    id              uuid PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    warehouse_id    uuid REFERENCES warehouses (id),
    commodity_code  text REFERENCES commodities (code),
    currency        text CHECK (currency ~ '^[A-Z]{3}$'),
    method          text NOT NULL CHECK (method IN ('storage_days_equivalent', 'percent_of_value')),
    days            integer CHECK (days BETWEEN 1 AND 365),
    percent         numeric(9, 6) CHECK (percent > 0 AND percent < 1),
    minimum_fee     numeric(20, 3) NOT NULL DEFAULT 0 CHECK (minimum_fee >= 0),
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    superseded_at   timestamptz,
    CHECK ((method = 'storage_days_equivalent') = (days IS NOT NULL)),
    CHECK ((method = 'percent_of_value') = (percent IS NOT NULL)),
    CHECK (minimum_fee = 0 OR currency IS NOT NULL)
);
CREATE UNIQUE INDEX fee_schedules_current_scope ON fee_schedules (
    coalesce(warehouse_id, '00000000-0000-0000-0000-000000000000'), coalesce(commodity_code, ''), coalesce(currency, '')
) WHERE superseded_at IS NULL;

-- The default of design §1: a fee of 30 days of the warehouse's storage rate, no minimum.
INSERT INTO fee_schedules (id, method, days) VALUES ('00000000-0000-0000-0000-00000000fee0', 'storage_days_equivalent', 30);

-- Customer tiers: the thresholds a supplier must meet over the trailing 90 days, per currency
-- of the value released through sales; the fee factor of each tier.
CREATE TABLE tiers (
    tier        text PRIMARY KEY CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum')),
    rank        integer NOT NULL UNIQUE,
    fee_factor  numeric(4, 2) NOT NULL CHECK (fee_factor > 0 AND fee_factor <= 1)
);
INSERT INTO tiers VALUES ('bronze', 0, 1.00), ('silver', 1, 0.95), ('gold', 2, 0.90), ('platinum', 3, 0.85);

CREATE TABLE tier_thresholds (
    tier                      text NOT NULL REFERENCES tiers (tier),
    currency                  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    min_value_released        numeric(20, 2) NOT NULL CHECK (min_value_released >= 0),
    min_loans_repaid_on_time  integer NOT NULL CHECK (min_loans_repaid_on_time >= 0),
    min_clean_count_share     numeric(5, 4) NOT NULL CHECK (min_clean_count_share BETWEEN 0 AND 1),
    PRIMARY KEY (tier, currency)
);
INSERT INTO tier_thresholds VALUES
    ('silver', 'CNY', 100000, 1, 0.90), ('gold', 'CNY', 500000, 2, 0.95), ('platinum', 'CNY', 2000000, 4, 0.98),
    ('silver', 'USD', 15000, 1, 0.90), ('gold', 'USD', 75000, 2, 0.95), ('platinum', 'USD', 300000, 4, 0.98);

ALTER TABLE orgs ADD COLUMN tier text NOT NULL DEFAULT 'bronze' REFERENCES tiers (tier);

-- Every recomputation that changed an org's tier (and the first one), with the figures.
CREATE TABLE tier_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES orgs (id),
    tier            text NOT NULL REFERENCES tiers (tier),
    previous_tier   text REFERENCES tiers (tier),
    business_date   date NOT NULL,
    metrics         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tier_history_org_idx ON tier_history (org_id, id);

-- Every count scan, with or without a discrepancy (tiers count the clean ones).
CREATE TABLE stock_counts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id          uuid NOT NULL REFERENCES lots (id),
    owner_org_id    uuid NOT NULL REFERENCES orgs (id),
    warehouse_id    uuid NOT NULL REFERENCES warehouses (id),
    quantity_book   numeric(20, 3) NOT NULL,
    quantity_counted numeric(20, 3) NOT NULL,
    counted_by      uuid REFERENCES users (id),
    business_date   date NOT NULL,
    counted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_counts_owner_idx ON stock_counts (owner_org_id, business_date);

CREATE TABLE sales (
    id               uuid PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    kind             text NOT NULL DEFAULT 'sale' CHECK (kind IN ('sale', 'liquidation')),
    supplier_org_id  uuid NOT NULL REFERENCES orgs (id),
    buyer_org_id     uuid NOT NULL REFERENCES orgs (id),
    loan_id          uuid REFERENCES loans (id),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'settled', 'cancelled')),
    total            numeric(20, 3) NOT NULL CHECK (total > 0),
    paid             numeric(20, 3) NOT NULL DEFAULT 0 CHECK (paid >= 0),
    created_by       uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    settled_at       timestamptz,
    CHECK (paid <= total),
    CHECK (status <> 'settled' OR paid = total),
    CHECK (status <> 'cancelled' OR paid = 0),
    CHECK ((kind = 'liquidation') = (loan_id IS NOT NULL)),
    CHECK (supplier_org_id <> buyer_org_id)
);
CREATE INDEX sales_supplier_idx ON sales (supplier_org_id, seq);
CREATE INDEX sales_buyer_idx ON sales (buyer_org_id, seq);

CREATE TABLE sale_lines (
    sale_id     uuid NOT NULL REFERENCES sales (id),
    line_no     integer NOT NULL CHECK (line_no > 0),
    lot_id      uuid NOT NULL REFERENCES lots (id),
    quantity    numeric(20, 3) NOT NULL CHECK (quantity > 0),
    unit_price  numeric(20, 6) NOT NULL CHECK (unit_price > 0),
    amount      numeric(20, 3) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (sale_id, line_no),
    UNIQUE (sale_id, lot_id)
);
CREATE INDEX sale_lines_lot_idx ON sale_lines (lot_id);

-- A lender's consent that a sale settle although its proceeds do not repay what the sold
-- goods secure of the lender's loan.
CREATE TABLE sale_consents (
    sale_id       uuid NOT NULL REFERENCES sales (id),
    loan_id       uuid NOT NULL REFERENCES loans (id),
    consented_by  uuid NOT NULL REFERENCES users (id),
    consented_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sale_id, loan_id)
);

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('disbursement', 'repayment', 'sale_payment', 'settlement', 'adjustment'));
ALTER TABLE journal_entries ADD COLUMN sale_id uuid REFERENCES sales (id);
CREATE INDEX journal_entries_sale_idx ON journal_entries (sale_id) WHERE sale_id IS NOT NULL;
CREATE INDEX journal_entries_date_idx ON journal_entries (business_date);

CREATE TABLE sale_payments (
    id                uuid PRIMARY KEY,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    sale_id           uuid NOT NULL REFERENCES sales (id),
    amount            numeric(20, 3) NOT NULL CHECK (amount > 0),
    paid_by           uuid REFERENCES users (id),
    paid_at           timestamptz NOT NULL DEFAULT now(),
    journal_entry_id  uuid NOT NULL REFERENCES journal_entries (id)
);
CREATE INDEX sale_payments_sale_idx ON sale_payments (sale_id);

CREATE TABLE settlements (
    sale_id           uuid PRIMARY KEY REFERENCES sales (id),
    business_date     date NOT NULL,
    gross             numeric(20, 3) NOT NULL CHECK (gross > 0),
    fee               numeric(20, 3) NOT NULL CHECK (fee >= 0),
    fee_detail        jsonb NOT NULL,
    loan_fees_repaid  numeric(20, 3) NOT NULL CHECK (loan_fees_repaid >= 0),
    interest_repaid   numeric(20, 3) NOT NULL CHECK (interest_repaid >= 0),
    principal_repaid  numeric(20, 3) NOT NULL CHECK (principal_repaid >= 0),
    to_supplier       numeric(20, 3) NOT NULL CHECK (to_supplier >= 0),
    journal_entry_id  uuid NOT NULL REFERENCES journal_entries (id),
    settled_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (fee + loan_fees_repaid + interest_repaid + principal_repaid + to_supplier = gross)
);

-- What a settlement paid to each loan secured on the sold goods.
CREATE TABLE settlement_loans (
    sale_id            uuid NOT NULL REFERENCES settlements (sale_id),
    loan_id            uuid NOT NULL REFERENCES loans (id),
    quantity_released  numeric(20, 3) NOT NULL CHECK (quantity_released >= 0),
    fees               numeric(20, 3) NOT NULL CHECK (fees >= 0),
    interest           numeric(20, 3) NOT NULL CHECK (interest >= 0),
    principal          numeric(20, 3) NOT NULL CHECK (principal >= 0),
    PRIMARY KEY (sale_id, loan_id)
);
CREATE INDEX settlement_loans_loan_idx ON settlement_loans (loan_id);

ALTER TABLE release_orders ADD COLUMN sale_id uuid REFERENCES sales (id);
CREATE INDEX release_orders_sale_idx ON release_orders (sale_id) WHERE sale_id IS NOT NULL;
ALTER TABLE release_orders ADD CONSTRAINT release_orders_sale_kind
    CHECK ((kind IN ('sale', 'liquidation')) = (sale_id IS NOT NULL));

-- The business dates a loan was repaid and defaulted on (tiers look back 90 business days).
ALTER TABLE loans ADD COLUMN repaid_on date, ADD COLUMN defaulted_on date;
UPDATE loans SET repaid_on = (repaid_at AT TIME ZONE 'UTC')::date WHERE repaid_at IS NOT NULL;
UPDATE loans SET defaulted_on = (defaulted_at AT TIME ZONE 'UTC')::date WHERE defaulted_at IS NOT NULL;
