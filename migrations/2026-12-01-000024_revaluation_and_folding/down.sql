ALTER FUNCTION exposure_apply(exposure_work[]) RESET enable_seqscan;
DROP FUNCTION round_half_even_inline(numeric, integer);

CREATE OR REPLACE FUNCTION exposure_compact(batch integer) RETURNS bigint LANGUAGE plpgsql AS $$
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
