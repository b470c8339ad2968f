ALTER TABLE lots DROP COLUMN warehouse_since;
