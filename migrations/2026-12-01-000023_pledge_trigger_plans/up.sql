-- The pledge trigger looked up a pledge's loan and lot through `exposure_pledge_work`, an SQL
-- function PostgreSQL cannot inline (its body is an ARRAY subquery), so it planned that body on
-- every call: twice per changed pledge, about 0.5 ms of planning each on a busy server, more
-- than the lookup itself. The same lookups written in the PL/pgSQL trigger are planned once
-- per session and kept.
CREATE OR REPLACE FUNCTION exposure_track_pledge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    w exposure_work[] := '{}';
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        w := w || ARRAY(
            SELECT ROW(ln.lender_org_id, ln.currency, ln.id, lot.id, lot.commodity_code,
                       exposure_location(lot.warehouse_id, lot.voyage_id), lot.expires_on, -1, -OLD.quantity,
                       -OLD.market_value)::exposure_work
            FROM loans ln, lots lot
            WHERE ln.id = OLD.loan_id AND lot.id = OLD.lot_id AND OLD.quantity > 0 AND exposure_live(ln.status));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        w := w || ARRAY(
            SELECT ROW(ln.lender_org_id, ln.currency, ln.id, lot.id, lot.commodity_code,
                       exposure_location(lot.warehouse_id, lot.voyage_id), lot.expires_on, 1, NEW.quantity,
                       NEW.market_value)::exposure_work
            FROM loans ln, lots lot
            WHERE ln.id = NEW.loan_id AND lot.id = NEW.lot_id AND NEW.quantity > 0 AND exposure_live(ln.status));
    END IF;
    PERFORM exposure_apply(w);
    RETURN NULL;
END
$$;

DROP FUNCTION exposure_pledge_work(uuid, uuid, numeric, numeric, integer);
