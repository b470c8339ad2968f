-- Exposure figures kept up to date in the transactions that change them (issue 14, item 1), so
-- `GET /v1/exposure` reads a few hundred rows instead of aggregating every pledge of the book.
--
-- What is kept, for each book (a lender's, and every lender's together under the nil UUID) and
-- currency:
--   exposure_loans       one row per live loan (active, defaulted, liquidating): its debt, its
--                        collateral value (the sum of its pledges' stored market values), LTV
--                        and thresholds;
--   exposure_lots        which lots the book holds in which commodity, location and expiry
--                        date, with how many live pledges hold each (to count lots once);
--   exposure_loan_parts  the same for loans per commodity and per location;
--   exposure_cells       sums per (book, currency, dimension, key): loans, lots, quantity,
--                        value, outstanding principal, interest, loans above the margin-call
--                        and liquidation LTVs. Writers never update a cell: they append
--                        exposure_cell_deltas rows (no lock, so a hot lender's settlements do
--                        not queue on its totals) and `exposure_compact()` folds them in.
--                        A read sums cells and deltas.
--
-- Triggers on pledges, loans, lots, facilities and margin calls turn each change into signed
-- "work" rows (a pledge leaving the book: -1 with its quantity and value; arriving: +1) and hand
-- them to `exposure_apply`. `exposure_rebuild()` computes everything from scratch.
--
-- A trigger reads the other tables as they are when it fires, so one statement must not change
-- both a loan's status and its pledges (none does: the revaluation's statement that writes
-- loans and pledges together changes only their values, which no trigger watches).

CREATE TABLE exposure_loans (
    loan_id          uuid PRIMARY KEY REFERENCES loans (id),
    lender_org_id    uuid NOT NULL,
    currency         text NOT NULL,
    supplier_org_id  uuid NOT NULL,
    status           text NOT NULL,
    outstanding      numeric NOT NULL,
    interest         numeric NOT NULL,
    value            numeric NOT NULL,
    ltv              numeric,
    margin_call_ltv  numeric NOT NULL,
    liquidation_ltv  numeric NOT NULL,
    -- The loan's open margin call, if any.
    call_id          uuid,
    call_deadline    date
);
-- The first loans above their margin-call LTV, and the first open margin calls by deadline, of
-- one lender's book and of every lender's.
CREATE INDEX exposure_loans_breaching_idx ON exposure_loans (currency, lender_org_id, ltv DESC NULLS FIRST, loan_id)
    WHERE ltv IS NULL OR ltv > margin_call_ltv;
CREATE INDEX exposure_loans_breaching_all_idx ON exposure_loans (currency, ltv DESC NULLS FIRST, loan_id)
    WHERE ltv IS NULL OR ltv > margin_call_ltv;
CREATE INDEX exposure_loans_calls_idx ON exposure_loans (currency, lender_org_id, call_deadline, call_id)
    WHERE call_id IS NOT NULL;
CREATE INDEX exposure_loans_calls_all_idx ON exposure_loans (currency, call_deadline, call_id)
    WHERE call_id IS NOT NULL;

-- A breach's collateral leaves out the lots that came to the warehouse after it ended: found here.
CREATE INDEX lots_warehouse_since_idx ON lots (warehouse_id, warehouse_since) WHERE warehouse_id IS NOT NULL;

CREATE TABLE exposure_lots (
    lot_id          uuid NOT NULL,
    book            uuid NOT NULL,
    currency        text NOT NULL,
    commodity_code  text NOT NULL,
    location        text NOT NULL,
    expires_on      date NOT NULL,
    pledges         integer NOT NULL,
    PRIMARY KEY (lot_id, book, currency, commodity_code, location, expires_on)
);

CREATE TABLE exposure_loan_parts (
    loan_id  uuid NOT NULL,
    dim      text NOT NULL,
    key      text NOT NULL,
    pledges  integer NOT NULL,
    PRIMARY KEY (loan_id, dim, key)
);
CREATE INDEX exposure_loan_parts_key_idx ON exposure_loan_parts (dim, key);

CREATE TABLE exposure_cells (
    book               uuid NOT NULL,
    currency           text NOT NULL,
    dim                text NOT NULL,
    key                text NOT NULL,
    loans              bigint NOT NULL DEFAULT 0,
    lots               bigint NOT NULL DEFAULT 0,
    quantity           numeric NOT NULL DEFAULT 0,
    value              numeric NOT NULL DEFAULT 0,
    outstanding        numeric NOT NULL DEFAULT 0,
    interest           numeric NOT NULL DEFAULT 0,
    above_margin       bigint NOT NULL DEFAULT 0,
    above_liquidation  bigint NOT NULL DEFAULT 0,
    margin_calls       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (book, currency, dim, key)
);

CREATE TABLE exposure_cell_deltas (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    book               uuid NOT NULL,
    currency           text NOT NULL,
    dim                text NOT NULL,
    key                text NOT NULL,
    loans              bigint NOT NULL,
    lots               bigint NOT NULL,
    quantity           numeric NOT NULL,
    value              numeric NOT NULL,
    outstanding        numeric NOT NULL,
    interest           numeric NOT NULL,
    above_margin       bigint NOT NULL,
    above_liquidation  bigint NOT NULL,
    margin_calls       bigint NOT NULL
);
CREATE INDEX exposure_cell_deltas_book_idx ON exposure_cell_deltas (book, currency);

-- Where a lot is, as a cell key: 'v:<voyage>' in transit, 'w:<warehouse>' in custody, '-' neither.
CREATE FUNCTION exposure_location(warehouse_id uuid, voyage_id uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN voyage_id IS NOT NULL THEN 'v:' || voyage_id
                WHEN warehouse_id IS NOT NULL THEN 'w:' || warehouse_id ELSE '-' END
$$;

-- Which loans count in a book: money is out.
CREATE FUNCTION exposure_live(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT status IN ('active', 'defaulted', 'liquidating')
$$;

-- One change to hand to exposure_apply. A pledge entering or leaving the book: every column,
-- n = +1 or -1, quantity and value signed the same. A change of value or quantity only: no
-- lot_id, n = 0 (as a cell row: commodity, location and expiry, no loan; as a loan row: the
-- loan only). A loan whose debt, status or thresholds changed: the loan only, zeros.
CREATE TYPE exposure_work AS (
    lender_org_id   uuid,
    currency        text,
    loan_id         uuid,
    lot_id          uuid,
    commodity_code  text,
    location        text,
    expires_on      date,
    n               integer,
    quantity        numeric,
    value           numeric
);

-- Planned once per connection (a generic plan): planning this statement for each call cost more
-- than running it on the one or two rows a request changes (2.7 ms against 1 ms a call), and
-- the generic plan serves the revaluation's hundred thousand loans as well.
CREATE FUNCTION exposure_apply(w exposure_work[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    everyone constant uuid := '00000000-0000-0000-0000-000000000000';
    lot_ids uuid[];
    loan_ids uuid[];
BEGIN
    IF w IS NULL OR cardinality(w) = 0 THEN
        RETURN;
    END IF;
    WITH w AS (SELECT * FROM unnest(w)),
    lot_moves AS (
        SELECT w.lot_id, b.book, w.currency, w.commodity_code, w.location, w.expires_on, sum(w.n)::integer AS n
        FROM w CROSS JOIN LATERAL (VALUES (w.lender_org_id), (everyone)) b(book)
        WHERE w.lot_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(w.n) <> 0),
    lots_up AS (
        INSERT INTO exposure_lots AS t (lot_id, book, currency, commodity_code, location, expires_on, pledges)
        SELECT * FROM lot_moves ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (lot_id, book, currency, commodity_code, location, expires_on)
        DO UPDATE SET pledges = t.pledges + excluded.pledges
        RETURNING t.*),
    -- A lot enters a cell when its first pledge arrives, leaves it when its last one goes.
    lot_counts AS (
        SELECT u.book, u.currency, u.commodity_code, u.location, u.expires_on,
               sum(CASE WHEN u.pledges = 0 THEN -1 WHEN u.pledges = m.n THEN 1 ELSE 0 END) AS lots
        FROM lots_up u JOIN lot_moves m USING (lot_id, book, currency, commodity_code, location, expires_on)
        GROUP BY 1, 2, 3, 4, 5),
    part_moves AS (
        SELECT w.loan_id, x.dim, x.key, w.lender_org_id, w.currency, sum(w.n)::integer AS n
        FROM w CROSS JOIN LATERAL (VALUES ('commodity', w.commodity_code), ('location', w.location)) x(dim, key)
        WHERE w.lot_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(w.n) <> 0),
    parts_up AS (
        INSERT INTO exposure_loan_parts AS t (loan_id, dim, key, pledges)
        SELECT loan_id, dim, key, n FROM part_moves ORDER BY 1, 2, 3
        ON CONFLICT (loan_id, dim, key) DO UPDATE SET pledges = t.pledges + excluded.pledges
        RETURNING t.*),
    part_counts AS (
        SELECT m.lender_org_id, m.currency, m.dim, m.key,
               sum(CASE WHEN u.pledges = 0 THEN -1 WHEN u.pledges = m.n THEN 1 ELSE 0 END) AS loans
        FROM parts_up u JOIN part_moves m USING (loan_id, dim, key)
        GROUP BY 1, 2, 3, 4),
    -- Values per place before they are spread over the cells.
    place_values AS (
        SELECT lender_org_id, currency, commodity_code, location, expires_on, sum(quantity) AS quantity,
               sum(value) AS value
        FROM w WHERE commodity_code IS NOT NULL GROUP BY 1, 2, 3, 4, 5),
    loan_moves AS (
        SELECT loan_id, sum(value) AS value FROM w WHERE loan_id IS NOT NULL GROUP BY 1),
    old_loans AS (
        SELECT el.* FROM exposure_loans el JOIN loan_moves m USING (loan_id)),
    new_loans AS (
        SELECT ln.id AS loan_id, ln.lender_org_id, ln.currency, ln.supplier_org_id, ln.status,
               ln.outstanding_principal AS outstanding, ln.accrued_interest AS interest,
               coalesce(o.value, 0) + m.value AS value, f.margin_call_ltv, f.liquidation_ltv,
               mc.id AS call_id, mc.deadline AS call_deadline
        FROM loan_moves m JOIN loans ln ON ln.id = m.loan_id JOIN facilities f ON f.id = ln.facility_id
        LEFT JOIN old_loans o ON o.loan_id = m.loan_id
        LEFT JOIN margin_calls mc ON mc.loan_id = ln.id AND mc.status = 'open'
        WHERE exposure_live(ln.status)),
    loans_up AS (
        INSERT INTO exposure_loans AS t (loan_id, lender_org_id, currency, supplier_org_id, status, outstanding,
                                         interest, value, ltv, margin_call_ltv, liquidation_ltv, call_id,
                                         call_deadline)
        SELECT loan_id, lender_org_id, currency, supplier_org_id, status, outstanding, interest, value,
               CASE WHEN round(value, minor_units(currency)) > 0
                    THEN round_half_even((outstanding + interest) / round(value, minor_units(currency)), 6) END,
               margin_call_ltv, liquidation_ltv, call_id, call_deadline
        FROM new_loans ORDER BY loan_id
        ON CONFLICT (loan_id) DO UPDATE SET status = excluded.status, outstanding = excluded.outstanding,
            interest = excluded.interest, value = excluded.value, ltv = excluded.ltv,
            margin_call_ltv = excluded.margin_call_ltv, liquidation_ltv = excluded.liquidation_ltv,
            call_id = excluded.call_id, call_deadline = excluded.call_deadline
        RETURNING t.*),
    -- Data-modifying CTEs run to completion whether or not anything reads them.
    loans_gone AS (
        DELETE FROM exposure_loans el USING old_loans o
        WHERE el.loan_id = o.loan_id AND NOT EXISTS (SELECT 1 FROM new_loans n WHERE n.loan_id = o.loan_id)
        RETURNING 1),
    loan_rows AS (
        SELECT -1 AS sign, o.* FROM old_loans o
        UNION ALL SELECT 1, u.* FROM loans_up u),
    -- Loans summed per status, supplier, LTV bucket and flags before they are spread over the
    -- cells (a revaluation changes every loan's row, and the sums barely).
    loan_groups AS (
        SELECT r.lender_org_id, r.currency, r.status, r.supplier_org_id,
               CASE WHEN r.ltv IS NULL THEN '5' WHEN r.ltv <= 0.5 THEN '1' WHEN r.ltv <= 0.65 THEN '2'
                    WHEN r.ltv <= 0.8 THEN '3' ELSE '4' END AS bucket,
               sum(r.sign) AS loans, sum(r.sign * r.value) AS value, sum(r.sign * r.outstanding) AS outstanding,
               sum(r.sign * r.interest) AS interest,
               sum(r.sign * (r.ltv IS NULL OR r.ltv > r.margin_call_ltv)::integer) AS above_margin,
               sum(r.sign * (r.ltv IS NULL OR r.ltv > r.liquidation_ltv)::integer) AS above_liquidation,
               sum(r.sign * (r.call_id IS NOT NULL)::integer) AS margin_calls
        FROM loan_rows r GROUP BY 1, 2, 3, 4, 5),
    deltas AS (
        SELECT book, currency, x.dim, x.key, 0 AS loans, lots, 0 AS quantity, 0 AS value, 0 AS outstanding,
               0 AS interest, 0 AS above_margin, 0 AS above_liquidation, 0 AS margin_calls
        FROM lot_counts CROSS JOIN LATERAL (VALUES ('commodity', commodity_code), ('location', location),
                                                   ('expires', expires_on::text)) x(dim, key)
        UNION ALL
        SELECT b.book, currency, dim, key, loans, 0, 0, 0, 0, 0, 0, 0, 0
        FROM part_counts CROSS JOIN LATERAL (VALUES (lender_org_id), (everyone)) b(book)
        UNION ALL
        SELECT b.book, pv.currency, x.dim, x.key, 0, 0, x.quantity, pv.value, 0, 0, 0, 0, 0
        FROM place_values pv CROSS JOIN LATERAL (VALUES (pv.lender_org_id), (everyone)) b(book)
        CROSS JOIN LATERAL (VALUES ('commodity', pv.commodity_code, pv.quantity), ('location', pv.location, 0),
                                   ('expires', pv.expires_on::text, 0)) x(dim, key, quantity)
        UNION ALL
        SELECT b.book, g.currency, x.dim, x.key, g.loans, 0, 0, g.value, g.outstanding, g.interest,
               g.above_margin, g.above_liquidation, g.margin_calls
        FROM loan_groups g CROSS JOIN LATERAL (VALUES (g.lender_org_id), (everyone)) b(book)
        CROSS JOIN LATERAL (VALUES ('total', ''), ('status', g.status), ('supplier', g.supplier_org_id::text),
                                   ('bucket', g.bucket)) x(dim, key))
    INSERT INTO exposure_cell_deltas (book, currency, dim, key, loans, lots, quantity, value, outstanding,
                                      interest, above_margin, above_liquidation, margin_calls)
    SELECT book, currency, dim, key, sum(loans), sum(lots), sum(quantity), sum(value), sum(outstanding),
           sum(interest), sum(above_margin), sum(above_liquidation), sum(margin_calls)
    FROM deltas GROUP BY 1, 2, 3, 4
    HAVING (sum(loans), sum(lots), sum(quantity), sum(value), sum(outstanding), sum(interest),
            sum(above_margin), sum(above_liquidation), sum(margin_calls)) <> (0, 0, 0, 0, 0, 0, 0, 0, 0);

    -- Entries whose last pledge left (only pledges entering or leaving the book change counts).
    SELECT array_agg(DISTINCT x.lot_id), array_agg(DISTINCT x.loan_id) INTO lot_ids, loan_ids
    FROM unnest(w) x WHERE x.lot_id IS NOT NULL;
    IF lot_ids IS NOT NULL THEN
        DELETE FROM exposure_lots WHERE lot_id = ANY (lot_ids) AND pledges = 0;
        DELETE FROM exposure_loan_parts WHERE loan_id = ANY (loan_ids) AND pledges = 0;
    END IF;
END
$$;

-- The pledges (with some quantity) of the given loans as work rows of sign n, with each lot's
-- place: a loan entering the book (n = 1) or leaving it (n = -1). The caller knows which.
CREATE FUNCTION exposure_pledges_of(loan_ids uuid[], n integer) RETURNS SETOF exposure_work
LANGUAGE sql STABLE AS $$
    SELECT ln.lender_org_id, ln.currency, p.loan_id, p.lot_id, lot.commodity_code,
           exposure_location(lot.warehouse_id, lot.voyage_id), lot.expires_on, n, n * p.quantity, n * p.market_value
    FROM pledges p JOIN loans ln ON ln.id = p.loan_id JOIN lots lot ON lot.id = p.lot_id
    WHERE p.loan_id = ANY (loan_ids) AND p.quantity > 0
$$;

-- The triggers on pledges, loans and lots are row-level with a WHEN condition, so the many
-- updates that change nothing the book counts (a lot's quantities, a loan's revaluation) cost
-- nothing. Two bulk writers keep the figures themselves instead: the revaluation, the only
-- writer of pledges' market values, and the daily interest accrual.

-- One pledge, before (-1) and after (+1), when it is live.
CREATE FUNCTION exposure_pledge_work(p_loan uuid, p_lot uuid, p_quantity numeric, p_value numeric, n integer)
RETURNS exposure_work[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT ROW(ln.lender_org_id, ln.currency, ln.id, lot.id, lot.commodity_code,
                   exposure_location(lot.warehouse_id, lot.voyage_id), lot.expires_on, n, n * p_quantity,
                   n * p_value)::exposure_work
        FROM loans ln, lots lot
        WHERE ln.id = p_loan AND lot.id = p_lot AND p_quantity > 0 AND exposure_live(ln.status))
$$;

CREATE FUNCTION exposure_track_pledge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[] := '{}';
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        w := w || exposure_pledge_work(OLD.loan_id, OLD.lot_id, OLD.quantity, OLD.market_value, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        w := w || exposure_pledge_work(NEW.loan_id, NEW.lot_id, NEW.quantity, NEW.market_value, 1);
    END IF;
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_pledge_inserted AFTER INSERT ON pledges
    FOR EACH ROW WHEN (NEW.quantity > 0) EXECUTE FUNCTION exposure_track_pledge();
CREATE TRIGGER exposure_pledge_updated AFTER UPDATE ON pledges
    FOR EACH ROW WHEN ((OLD.loan_id, OLD.lot_id, OLD.quantity) IS DISTINCT FROM (NEW.loan_id, NEW.lot_id, NEW.quantity))
    EXECUTE FUNCTION exposure_track_pledge();
CREATE TRIGGER exposure_pledge_deleted AFTER DELETE ON pledges
    FOR EACH ROW WHEN (OLD.quantity > 0) EXECUTE FUNCTION exposure_track_pledge();

-- A loan entering the book (disbursed) brings its pledges; leaving it (repaid, closed, written
-- off) takes them away; a change of its debt, status or facility changes its own row.
CREATE FUNCTION exposure_track_loan() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_live boolean := TG_OP = 'UPDATE' AND exposure_live(OLD.status);
    is_live boolean := exposure_live(NEW.status);
    w exposure_work[] := ARRAY[ROW(NEW.lender_org_id, NEW.currency, NEW.id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work];
BEGIN
    IF is_live AND NOT was_live THEN
        w := w || ARRAY(SELECT x FROM exposure_pledges_of(ARRAY[NEW.id], 1) x);
    ELSIF was_live AND NOT is_live THEN
        w := w || ARRAY(SELECT x FROM exposure_pledges_of(ARRAY[NEW.id], -1) x);
    END IF;
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_loan_inserted AFTER INSERT ON loans
    FOR EACH ROW WHEN (exposure_live(NEW.status)) EXECUTE FUNCTION exposure_track_loan();
-- Interest accrued by the daily job (accrued_through moves with it) is kept by the job.
CREATE TRIGGER exposure_loan_updated AFTER UPDATE ON loans
    FOR EACH ROW WHEN ((exposure_live(OLD.status) OR exposure_live(NEW.status))
        AND ((OLD.status, OLD.outstanding_principal, OLD.facility_id)
                 IS DISTINCT FROM (NEW.status, NEW.outstanding_principal, NEW.facility_id)
             OR (OLD.accrued_interest IS DISTINCT FROM NEW.accrued_interest
                 AND OLD.accrued_through IS NOT DISTINCT FROM NEW.accrued_through)))
    EXECUTE FUNCTION exposure_track_loan();

-- A lot that moves (transfer, unloading) or whose commodity or expiry is corrected moves its
-- pledges between cells.
CREATE FUNCTION exposure_track_lot() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[];
BEGIN
    SELECT array_agg(x) INTO w FROM (
        SELECT ROW(ln.lender_org_id, ln.currency, p.loan_id, p.lot_id, OLD.commodity_code,
                   exposure_location(OLD.warehouse_id, OLD.voyage_id), OLD.expires_on, -1, -p.quantity,
                   -p.market_value)::exposure_work
        FROM pledges p JOIN loans ln ON ln.id = p.loan_id
        WHERE p.lot_id = NEW.id AND p.quantity > 0 AND exposure_live(ln.status)
        UNION ALL
        SELECT ROW(ln.lender_org_id, ln.currency, p.loan_id, p.lot_id, NEW.commodity_code,
                   exposure_location(NEW.warehouse_id, NEW.voyage_id), NEW.expires_on, 1, p.quantity,
                   p.market_value)::exposure_work
        FROM pledges p JOIN loans ln ON ln.id = p.loan_id
        WHERE p.lot_id = NEW.id AND p.quantity > 0 AND exposure_live(ln.status)) s(x);
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_lot_updated AFTER UPDATE ON lots
    FOR EACH ROW WHEN ((OLD.commodity_code, OLD.warehouse_id, OLD.voyage_id, OLD.expires_on)
                       IS DISTINCT FROM (NEW.commodity_code, NEW.warehouse_id, NEW.voyage_id, NEW.expires_on))
    EXECUTE FUNCTION exposure_track_lot();

-- A facility's thresholds change every live loan's flags.
CREATE FUNCTION exposure_track_facilities() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[];
BEGIN
    SELECT array_agg(ROW(ln.lender_org_id, ln.currency, ln.id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work)
    INTO w
    FROM old_rows o JOIN new_rows nw ON nw.id = o.id JOIN loans ln ON ln.facility_id = nw.id
    WHERE exposure_live(ln.status)
      AND (o.margin_call_ltv, o.liquidation_ltv) IS DISTINCT FROM (nw.margin_call_ltv, nw.liquidation_ltv);
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_facilities_updated AFTER UPDATE ON facilities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_track_facilities();

-- A margin call opened or closed changes its loan's row (the book counts and lists open calls).
CREATE FUNCTION exposure_track_margin_calls() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT ROW(ln.lender_org_id, ln.currency, ln.id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work)
        INTO w
        FROM new_rows mc JOIN loans ln ON ln.id = mc.loan_id
        WHERE mc.status = 'open' AND exposure_live(ln.status);
    ELSE
        SELECT array_agg(DISTINCT ROW(ln.lender_org_id, ln.currency, ln.id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work)
        INTO w
        FROM old_rows o JOIN new_rows nw ON nw.id = o.id JOIN loans ln ON ln.id = nw.loan_id
        WHERE (o.status = 'open') <> (nw.status = 'open') AND exposure_live(ln.status);
    END IF;
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

CREATE TRIGGER exposure_margin_calls_inserted AFTER INSERT ON margin_calls REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_track_margin_calls();
CREATE TRIGGER exposure_margin_calls_updated AFTER UPDATE ON margin_calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION exposure_track_margin_calls();

-- Folds appended deltas into the cells, at most `batch` of them; one folder at a time.
CREATE FUNCTION exposure_compact(batch integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7237092610238353524) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM exposure_cell_deltas
        WHERE id IN (SELECT id FROM exposure_cell_deltas ORDER BY id LIMIT batch)
        RETURNING *),
    sums AS (
        SELECT book, currency, dim, key, sum(loans) AS loans, sum(lots) AS lots, sum(quantity) AS quantity,
               sum(value) AS value, sum(outstanding) AS outstanding, sum(interest) AS interest,
               sum(above_margin) AS above_margin, sum(above_liquidation) AS above_liquidation,
               sum(margin_calls) AS margin_calls, count(*) AS n
        FROM moved GROUP BY 1, 2, 3, 4),
    up AS (
        INSERT INTO exposure_cells AS c (book, currency, dim, key, loans, lots, quantity, value, outstanding,
                                         interest, above_margin, above_liquidation, margin_calls)
        SELECT book, currency, dim, key, loans, lots, quantity, value, outstanding, interest, above_margin,
               above_liquidation, margin_calls
        FROM sums ORDER BY 1, 2, 3, 4
        ON CONFLICT (book, currency, dim, key) DO UPDATE SET
            loans = c.loans + excluded.loans, lots = c.lots + excluded.lots,
            quantity = c.quantity + excluded.quantity, value = c.value + excluded.value,
            outstanding = c.outstanding + excluded.outstanding, interest = c.interest + excluded.interest,
            above_margin = c.above_margin + excluded.above_margin,
            above_liquidation = c.above_liquidation + excluded.above_liquidation,
            margin_calls = c.margin_calls + excluded.margin_calls
        RETURNING 1)
    SELECT coalesce(sum(n), 0) INTO folded FROM sums;
    DELETE FROM exposure_cells
    WHERE (loans, lots, quantity, value, outstanding, interest, above_margin, above_liquidation, margin_calls)
          = (0, 0, 0, 0, 0, 0, 0, 0, 0);
    RETURN folded;
END
$$;

-- Everything from scratch: empties the kept figures and applies every live loan with its
-- pledges, ten thousand loans at a time.
CREATE FUNCTION exposure_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[];
    chunk uuid[];
BEGIN
    DELETE FROM exposure_cell_deltas;
    DELETE FROM exposure_cells;
    DELETE FROM exposure_lots;
    DELETE FROM exposure_loan_parts;
    DELETE FROM exposure_loans;
    FOR chunk IN
        SELECT array_agg(id) FROM (
            SELECT id, (row_number() OVER (ORDER BY id) - 1) / 10000 AS part
            FROM loans WHERE exposure_live(status)) l
        GROUP BY part
    LOOP
        SELECT array_agg(x) INTO w FROM (
            SELECT x FROM exposure_pledges_of(chunk, 1) x
            UNION ALL
            SELECT ROW(lender_org_id, currency, id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work
            FROM loans WHERE id = ANY (chunk)) s(x);
        PERFORM exposure_apply(w);
    END LOOP;
    PERFORM exposure_compact(2147483647);
END
$$;

SELECT exposure_rebuild();
