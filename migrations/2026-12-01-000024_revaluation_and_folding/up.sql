-- Banker's rounding as one SQL expression PostgreSQL inlines where the value is a plain
-- column (a revaluation rounds a million pledge values): `round_half_even` is PL/pgSQL, about
-- 0.7 µs a call over `round` itself, 0.7 s on a million pledges. Same rule and results as
-- `round_half_even` (the test `the_sql_valuation_functions_agree_with_the_rust_ones` holds
-- both to rust_decimal's). Only for a value that is a column or a parameter: the body repeats
-- `v`, and PostgreSQL does not inline a function whose repeated argument is costly to compute,
-- so such a call would run through the slow SQL-function executor instead.
CREATE FUNCTION round_half_even_inline(v numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN round(v, places) <> trunc(v, places) AND v + v = trunc(v, places) + round(v, places)
                     AND trunc(trunc(v, places) / 2, places) * 2 = trunc(v, places)
                THEN trunc(v, places) ELSE round(v, places) END
$$;

-- The fold of appended exposure deltas chose its first `batch` rows with
-- `id IN (SELECT ... LIMIT batch)`. PL/pgSQL keeps one plan per session, and a plan made while
-- the table was nearly empty joined the two with a nested loop that ran the LIMIT subquery
-- again for every row: quadratic in the rows folded (0.44 s for 1,588 deltas, and a fold takes
-- up to 100,000). The last id of the batch is now found first, once, and the batch deleted by
-- range: linear whatever the plan.
CREATE OR REPLACE FUNCTION exposure_compact(batch integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
    last_id bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7237092610238353524) THEN
        RETURN 0;
    END IF;
    SELECT max(id) INTO last_id FROM (SELECT id FROM exposure_cell_deltas ORDER BY id LIMIT batch) first_ones;
    IF last_id IS NULL THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM exposure_cell_deltas WHERE id <= last_id
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

-- `exposure_apply` runs a generic plan, made on its first call in a session. Made while
-- `margin_calls` was empty (a new database, or before the first price drop), it looked up each
-- loan's open margin call by reading the whole table, once per loan: a price drop that opened
-- 13,332 margin calls spent 17 s there in the bench's first round (each new call brings its
-- loan to `exposure_apply`, which reads every call again for each). Without sequential scans
-- it reads by index whatever the table's size when the plan was made, as the ledger's checks do
-- (migration 000022).
ALTER FUNCTION exposure_apply(exposure_work[]) SET enable_seqscan = off;
