DROP TABLE inspection_photos;
ALTER TABLE lots DROP CONSTRAINT lots_last_inspection_fk;
DROP TABLE inspections;
DROP TABLE warehouse_inspectors;
DROP INDEX lots_inspection_due_idx;
ALTER TABLE lots
    DROP COLUMN declared_grade,
    DROP COLUMN last_inspection_id,
    DROP COLUMN last_inspected_at,
    DROP COLUMN inspection_due_on;
ALTER TABLE commodities
    DROP CONSTRAINT commodities_quality_fk,
    DROP COLUMN quality_version,
    DROP COLUMN inspection_required,
    DROP COLUMN reinspect_days;
DROP TABLE commodity_quality;
ALTER TABLE orgs DROP CONSTRAINT orgs_kind_check;
ALTER TABLE orgs ADD CONSTRAINT orgs_kind_check
    CHECK (kind IN ('platform', 'supplier', 'lender', 'warehouse_operator', 'buyer'));
