-- Quality inspection (design §10): the grade that values a lot is the one the platform
-- measured, not the one the supplier declared.

-- Independent inspection companies are an org kind of their own.
ALTER TABLE orgs DROP CONSTRAINT orgs_kind_check;
ALTER TABLE orgs ADD CONSTRAINT orgs_kind_check
    CHECK (kind IN ('platform', 'supplier', 'lender', 'warehouse_operator', 'buyer', 'inspector'));

-- What a commodity's inspection measures and which results make which grade, versioned: an
-- inspection names the version it was graded by, so a later change keeps its meaning.
-- parameters: [{"name", "unit", "min", "max"}]; grades: [{"grade", "ranges": {name: {"min", "max"}}}].
CREATE TABLE commodity_quality (
    commodity_code       text NOT NULL REFERENCES commodities (code),
    version              integer NOT NULL CHECK (version > 0),
    parameters           jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'array'),
    grades               jsonb NOT NULL CHECK (jsonb_typeof(grades) = 'array'),
    inspection_required  boolean NOT NULL,
    reinspect_days       integer CHECK (reinspect_days BETWEEN 1 AND 3650),
    created_by           uuid NOT NULL REFERENCES users (id),
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (commodity_code, version),
    CHECK (reinspect_days IS NULL OR inspection_required)
);

-- The version in force, copied onto the commodity so that valuing a lot reads one row.
ALTER TABLE commodities
    ADD COLUMN quality_version integer,
    ADD COLUMN inspection_required boolean NOT NULL DEFAULT false,
    ADD COLUMN reinspect_days integer,
    ADD CONSTRAINT commodities_quality_fk FOREIGN KEY (code, quality_version)
        REFERENCES commodity_quality (commodity_code, version);

-- The grade the supplier declared stays beside the measured one; `grade` is the latest
-- inspection's once there is one. `inspection_due_on`: the day by which the next inspection
-- is due (the intake day for goods never inspected, where inspection is required).
ALTER TABLE lots
    ADD COLUMN declared_grade text,
    ADD COLUMN last_inspection_id uuid,
    ADD COLUMN last_inspected_at timestamptz,
    ADD COLUMN inspection_due_on date;
UPDATE lots SET declared_grade = grade;
ALTER TABLE lots ALTER COLUMN declared_grade SET NOT NULL;
CREATE INDEX lots_inspection_due_idx ON lots (inspection_due_on)
    WHERE inspection_due_on IS NOT NULL AND status IN ('in_custody', 'in_transit');

-- An inspector org may inspect in the warehouses the platform assigns it to.
CREATE TABLE warehouse_inspectors (
    warehouse_id      uuid NOT NULL REFERENCES warehouses (id),
    inspector_org_id  uuid NOT NULL REFERENCES orgs (id),
    assigned_by       uuid NOT NULL REFERENCES users (id),
    assigned_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_id, inspector_org_id)
);
CREATE INDEX warehouse_inspectors_org_idx ON warehouse_inspectors (inspector_org_id);

CREATE TABLE inspections (
    id                 uuid PRIMARY KEY,
    seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    lot_id             uuid NOT NULL REFERENCES lots (id),
    commodity_code     text NOT NULL,
    quality_version    integer NOT NULL,
    warehouse_id       uuid NOT NULL REFERENCES warehouses (id),
    inspector_org_id   uuid NOT NULL REFERENCES orgs (id),
    inspector_user_id  uuid NOT NULL REFERENCES users (id),
    sample_size        integer NOT NULL CHECK (sample_size BETWEEN 1 AND 100000),
    results            jsonb NOT NULL CHECK (jsonb_typeof(results) = 'object'),
    graded             text NOT NULL,
    grade              text NOT NULL,
    override_reason    text,
    grade_before       text NOT NULL,
    notes              text,
    inspected_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (commodity_code, quality_version) REFERENCES commodity_quality (commodity_code, version),
    CHECK ((grade = graded) OR override_reason IS NOT NULL)
);
CREATE INDEX inspections_lot_idx ON inspections (lot_id, seq);
ALTER TABLE lots ADD CONSTRAINT lots_last_inspection_fk
    FOREIGN KEY (last_inspection_id) REFERENCES inspections (id);

-- Photos live in the database with the rest of the product's data (and its backups),
-- cleaned of metadata before they are stored.
CREATE TABLE inspection_photos (
    id              uuid PRIMARY KEY,
    inspection_id   uuid NOT NULL REFERENCES inspections (id),
    content_type    text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    size_bytes      integer NOT NULL CHECK (size_bytes > 0),
    sha256          text NOT NULL,
    bytes           bytea NOT NULL,
    uploaded_by     uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inspection_photos_inspection_idx ON inspection_photos (inspection_id, created_at);
