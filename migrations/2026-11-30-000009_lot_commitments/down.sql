ALTER TABLE lots DROP CONSTRAINT lots_commitments_fit, DROP CONSTRAINT lots_sold_within_reserved;
ALTER TABLE lots DROP COLUMN quantity_sold;
