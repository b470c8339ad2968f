-- When a lot came into the warehouse it is in (received, unloaded or transferred there; a split
-- keeps its parent's): a temperature breach holds only the goods that were there while it
-- lasted.
ALTER TABLE lots ADD COLUMN warehouse_since timestamptz;

UPDATE lots SET warehouse_since = arrived.at
FROM (SELECT lot_id, max(created_at) AS at FROM movements
      WHERE kind IN ('receive', 'unload', 'transfer') GROUP BY lot_id) arrived
WHERE arrived.lot_id = lots.id AND lots.warehouse_id IS NOT NULL;

-- Split lots take their parent's (parents are older, so one pass per generation; three cover
-- what exists).
UPDATE lots c SET warehouse_since = p.warehouse_since FROM lots p
WHERE c.parent_lot_id = p.id AND c.warehouse_since IS NULL AND c.warehouse_id IS NOT NULL;
UPDATE lots c SET warehouse_since = p.warehouse_since FROM lots p
WHERE c.parent_lot_id = p.id AND c.warehouse_since IS NULL AND c.warehouse_id IS NOT NULL;
UPDATE lots c SET warehouse_since = p.warehouse_since FROM lots p
WHERE c.parent_lot_id = p.id AND c.warehouse_since IS NULL AND c.warehouse_id IS NOT NULL;
