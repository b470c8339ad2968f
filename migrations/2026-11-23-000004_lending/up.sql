-- Lending: the business date, facilities, loans and their pledges, margin calls, liquidations,
-- and the double-entry ledger.

-- Days the daily job has closed. The business date is the later of today (UTC) and the last
-- closed day, so `jobs daily --as-of` can move it forward for demos and tests.
CREATE TABLE daily_closes (
    business_date  date PRIMARY KEY,
    closed_at      timestamptz NOT NULL DEFAULT now(),
    loans_accrued  integer NOT NULL DEFAULT 0,
    margin_calls_opened integer NOT NULL DEFAULT 0,
    loans_defaulted integer NOT NULL DEFAULT 0
);

CREATE FUNCTION business_date() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT greatest((now() AT TIME ZONE 'UTC')::date,
                    coalesce((SELECT max(business_date) FROM daily_closes), '-infinity'::date))
$$;

-- Banker's rounding (half to even), as rust_decimal's MidpointNearestEven.
CREATE FUNCTION round_half_even(v numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT round(CASE WHEN abs(x - trunc(x)) = 0.5 AND mod(trunc(x), 2) = 0 THEN trunc(x) ELSE round(x) END / s, places)
    FROM (SELECT v * s AS x, s FROM (SELECT power(10::numeric, places) AS s) scale) scaled
$$;

-- Decimal places of a currency's minor unit, as `domain::valuation::minor_units`.
CREATE FUNCTION minor_units(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN currency IN ('JPY', 'KRW', 'VND') THEN 0
                WHEN currency IN ('BHD', 'KWD', 'OMR', 'JOD', 'TND') THEN 3
                ELSE 2 END
$$;

-- The freshness factor of design §3, exactly as `domain::valuation::freshness_factor`.
CREATE FUNCTION freshness_factor(packed_on date, as_of date, fresh_days integer, shelf_life_days integer, end_factor numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN as_of - packed_on >= shelf_life_days THEN 0::numeric
        WHEN as_of - packed_on <= fresh_days THEN 1::numeric
        ELSE round_half_even(1 - (1 - end_factor) * (as_of - packed_on - fresh_days) / (shelf_life_days - fresh_days)::numeric, 6)
    END
$$;

CREATE TABLE facilities (
    id                        uuid PRIMARY KEY,
    seq                       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    lender_org_id             uuid NOT NULL REFERENCES orgs (id),
    supplier_org_id           uuid NOT NULL REFERENCES orgs (id),
    currency                  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    limit_amount              numeric(20, 2) NOT NULL CHECK (limit_amount > 0),
    advance_rate              numeric(7, 6) NOT NULL CHECK (advance_rate > 0 AND advance_rate <= 1),
    annual_interest_rate      numeric(9, 6) NOT NULL CHECK (annual_interest_rate >= 0 AND annual_interest_rate <= 1),
    margin_call_ltv           numeric(7, 6) NOT NULL,
    liquidation_ltv           numeric(7, 6) NOT NULL,
    cure_period_days          integer NOT NULL CHECK (cure_period_days BETWEEN 0 AND 90),
    max_tenor_days            integer NOT NULL CHECK (max_tenor_days BETWEEN 1 AND 3650),
    eligible_commodities      text[] NOT NULL CHECK (cardinality(eligible_commodities) > 0),
    second_approver_required  boolean NOT NULL DEFAULT false,
    arrangement_fee_rate      numeric(7, 6) NOT NULL DEFAULT 0 CHECK (arrangement_fee_rate >= 0 AND arrangement_fee_rate < 1),
    status                    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by                uuid REFERENCES users (id),
    created_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (advance_rate < margin_call_ltv AND margin_call_ltv < liquidation_ltv AND liquidation_ltv <= 1.5)
);
CREATE INDEX facilities_lender_idx ON facilities (lender_org_id, seq);
CREATE INDEX facilities_supplier_idx ON facilities (supplier_org_id, seq);

CREATE TABLE loans (
    id                     uuid PRIMARY KEY,
    seq                    bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    facility_id            uuid NOT NULL REFERENCES facilities (id),
    lender_org_id          uuid NOT NULL REFERENCES orgs (id),
    supplier_org_id        uuid NOT NULL REFERENCES orgs (id),
    currency               text NOT NULL,
    principal              numeric(20, 2) NOT NULL CHECK (principal > 0),
    outstanding_principal  numeric(20, 2) NOT NULL CHECK (outstanding_principal >= 0),
    -- Kept at 8 decimal places; paid in currency units.
    accrued_interest       numeric(28, 8) NOT NULL DEFAULT 0 CHECK (accrued_interest >= 0),
    fees_due               numeric(20, 2) NOT NULL DEFAULT 0 CHECK (fees_due >= 0),
    interest_paid          numeric(20, 2) NOT NULL DEFAULT 0,
    fees_paid              numeric(20, 2) NOT NULL DEFAULT 0,
    annual_interest_rate   numeric(9, 6) NOT NULL,
    status                 text NOT NULL CHECK (status IN ('requested', 'approved', 'active', 'repaid', 'rejected', 'cancelled', 'defaulted', 'liquidating', 'closed', 'written_off')),
    requested_by           uuid REFERENCES users (id),
    requested_at           timestamptz NOT NULL DEFAULT now(),
    -- Maker-checker: the first approval, then the confirmation by another user.
    approved_by            uuid REFERENCES users (id),
    approved_at            timestamptz,
    confirmed_by           uuid REFERENCES users (id),
    confirmed_at           timestamptz,
    decided_reason         text,
    disbursed_by           uuid REFERENCES users (id),
    disbursed_at           timestamptz,
    disbursed_on           date,
    maturity_date          date,
    accrued_through        date,
    repaid_at              timestamptz,
    defaulted_at           timestamptz,
    default_reason         text,
    -- Written by revaluation (set-based): what the pledged goods are worth, and the LTV.
    collateral_value       numeric(20, 2) NOT NULL DEFAULT 0,
    ltv                    numeric(14, 6),
    revalued_at            timestamptz,
    CHECK (outstanding_principal <= principal),
    CHECK (confirmed_by IS NULL OR confirmed_by <> approved_by),
    CHECK (status NOT IN ('active', 'repaid', 'defaulted', 'liquidating', 'closed', 'written_off') OR disbursed_on IS NOT NULL)
);
CREATE INDEX loans_lender_idx ON loans (lender_org_id, seq);
CREATE INDEX loans_supplier_idx ON loans (supplier_org_id, seq);
CREATE INDEX loans_facility_idx ON loans (facility_id);
CREATE INDEX loans_live_idx ON loans (status) WHERE status IN ('active', 'defaulted', 'liquidating');

-- Lot quantities securing a loan. The lot's `quantity_pledged` is the sum over its pledges.
CREATE TABLE pledges (
    loan_id      uuid NOT NULL REFERENCES loans (id),
    lot_id       uuid NOT NULL REFERENCES lots (id),
    quantity     numeric(20, 3) NOT NULL CHECK (quantity >= 0),
    -- Revaluation's figure for this pledge, in the loan's currency.
    market_value numeric(20, 2) NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (loan_id, lot_id)
);
CREATE INDEX pledges_lot_idx ON pledges (lot_id);

CREATE TABLE margin_calls (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    loan_id       uuid NOT NULL REFERENCES loans (id),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'cured', 'defaulted')),
    ltv_at_open   numeric(14, 6),
    opened_on     date NOT NULL,
    deadline      date NOT NULL,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    closed_reason text,
    CHECK (deadline >= opened_on)
);
CREATE UNIQUE INDEX margin_calls_one_open_idx ON margin_calls (loan_id) WHERE status = 'open';

-- A lender's order to sell the pledged goods of a defaulted loan.
CREATE TABLE liquidations (
    id          uuid PRIMARY KEY,
    loan_id     uuid NOT NULL UNIQUE REFERENCES loans (id),
    ordered_by  uuid REFERENCES users (id),
    ordered_at  timestamptz NOT NULL DEFAULT now(),
    -- [{lot_id, quantity, market_value}] as listed for the forced sale.
    lots        jsonb NOT NULL
);

-- The ledger. Amounts are signed: debits positive, credits negative.
CREATE TABLE ledger_accounts (
    id        bigserial PRIMARY KEY,
    org_id    uuid NOT NULL REFERENCES orgs (id),
    kind      text NOT NULL CHECK (kind IN ('cash', 'loans_receivable', 'loans_payable', 'interest_income', 'interest_expense', 'fee_income', 'fee_expense', 'payable', 'receivable', 'escrow', 'sales', 'purchases')),
    currency  text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    UNIQUE (org_id, kind, currency),
    UNIQUE (id, currency)
);

CREATE TABLE journal_entries (
    id             uuid PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    kind           text NOT NULL CHECK (kind IN ('disbursement', 'repayment', 'settlement', 'adjustment')),
    loan_id        uuid REFERENCES loans (id),
    memo           text NOT NULL,
    business_date  date NOT NULL,
    created_by     uuid REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_loan_idx ON journal_entries (loan_id) WHERE loan_id IS NOT NULL;

CREATE TABLE journal_lines (
    id          bigserial PRIMARY KEY,
    entry_id    uuid NOT NULL REFERENCES journal_entries (id),
    account_id  bigint NOT NULL,
    currency    text NOT NULL,
    amount      numeric(20, 2) NOT NULL CHECK (amount <> 0),
    FOREIGN KEY (account_id, currency) REFERENCES ledger_accounts (id, currency)
);
CREATE INDEX journal_lines_entry_idx ON journal_lines (entry_id);
CREATE INDEX journal_lines_account_idx ON journal_lines (account_id);

-- The balance rule, in the database: at commit, every entry that gained lines sums to zero in
-- each currency and has at least two lines.
CREATE FUNCTION journal_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, sum(amount) AS total, count(*) AS lines INTO bad
    FROM journal_lines WHERE entry_id = NEW.entry_id
    GROUP BY currency HAVING sum(amount) <> 0 OR count(*) < 2
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in % (sum %, % lines)', NEW.entry_id, bad.currency, bad.total, bad.lines
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_lines_balance
    AFTER INSERT ON journal_lines DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_balances();

-- An entry without lines is refused as well.
CREATE FUNCTION journal_entry_has_lines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM journal_lines WHERE entry_id = NEW.id) THEN
        RAISE EXCEPTION 'journal entry % has no lines', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entries_have_lines
    AFTER INSERT ON journal_entries DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_has_lines();

-- Entries are never changed; corrections are new entries.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
