-- What pending sales reserve of a lot (a part of quantity_reserved; the rest is open release
-- orders). A sale takes pledged goods first, so its reservation may overlap the pledges: the
-- goods a lot must hold are the larger of the pledged and the sold quantity, plus what release
-- orders are still to let out. The lot's commitments always fit what is on hand.
ALTER TABLE lots ADD COLUMN quantity_sold numeric(20, 3) NOT NULL DEFAULT 0;

UPDATE lots SET quantity_sold = pending.quantity
FROM (
    SELECT l.lot_id, sum(l.quantity) AS quantity
    FROM sale_lines l JOIN sales s ON s.id = l.sale_id
    WHERE s.status = 'pending'
    GROUP BY l.lot_id
) pending
WHERE lots.id = pending.lot_id;

ALTER TABLE lots
    ADD CONSTRAINT lots_sold_within_reserved
        CHECK (quantity_sold >= 0 AND quantity_sold <= quantity_reserved),
    ADD CONSTRAINT lots_commitments_fit
        CHECK (greatest(quantity_pledged, quantity_sold) + quantity_reserved - quantity_sold
               <= quantity_on_hand);
