CREATE FUNCTION exposure_pledge_work(p_loan uuid, p_lot uuid, p_quantity numeric, p_value numeric, n integer)
RETURNS exposure_work[] LANGUAGE sql STABLE AS $$
    SELECT ARRAY(
        SELECT ROW(ln.lender_org_id, ln.currency, ln.id, lot.id, lot.commodity_code,
                   exposure_location(lot.warehouse_id, lot.voyage_id), lot.expires_on, n, n * p_quantity,
                   n * p_value)::exposure_work
        FROM loans ln, lots lot
        WHERE ln.id = p_loan AND lot.id = p_lot AND p_quantity > 0 AND exposure_live(ln.status))
$$;

CREATE OR REPLACE FUNCTION exposure_track_pledge() RETURNS trigger LANGUAGE plpgsql AS $$
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
