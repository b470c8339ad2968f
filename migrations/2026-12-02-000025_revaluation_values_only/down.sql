DROP FUNCTION exposure_apply(exposure_work[], boolean);

-- As migrations 000013 and 000024 left it.
CREATE FUNCTION exposure_apply(w exposure_work[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
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

