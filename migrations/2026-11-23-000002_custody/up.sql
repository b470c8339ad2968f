-- Custody: reference data, lots and their movement ledger, release orders, the cold chain.

CREATE TABLE commodities (
    code                  text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    unit                  text NOT NULL CHECK (unit IN ('kg', 't', 'm3', 'piece')),
    shelf_life_days       integer NOT NULL CHECK (shelf_life_days > 0),
    fresh_days            integer NOT NULL CHECK (fresh_days >= 0 AND fresh_days <= shelf_life_days),
    end_freshness_factor  numeric(5, 4) NOT NULL CHECK (end_freshness_factor BETWEEN 0 AND 1),
    -- {"A": "1.00", "B": "0.85"}: grade name to value factor.
    grades                jsonb NOT NULL CHECK (jsonb_typeof(grades) = 'object'),
    temperature_min_c     numeric(6, 2),
    temperature_max_c     numeric(6, 2),
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (temperature_min_c IS NULL OR temperature_max_c IS NULL OR temperature_min_c <= temperature_max_c)
);

CREATE TABLE warehouses (
    id                    uuid PRIMARY KEY,
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    operator_org_id       uuid NOT NULL REFERENCES orgs (id),
    address               text NOT NULL CHECK (length(address) BETWEEN 1 AND 500),
    kind                  text NOT NULL CHECK (kind IN ('cold_storage', 'ambient')),
    temperature_min_c     numeric(6, 2),
    temperature_max_c     numeric(6, 2),
    breach_grace_minutes  integer NOT NULL CHECK (breach_grace_minutes BETWEEN 0 AND 10080),
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (temperature_min_c IS NULL OR temperature_max_c IS NULL OR temperature_min_c <= temperature_max_c)
);
CREATE INDEX warehouses_operator_idx ON warehouses (operator_org_id);

CREATE TABLE storage_rates (
    warehouse_id       uuid NOT NULL REFERENCES warehouses (id),
    commodity_code     text NOT NULL REFERENCES commodities (code),
    rate_per_unit_day  numeric(20, 8) NOT NULL CHECK (rate_per_unit_day > 0),
    currency           text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (warehouse_id, commodity_code)
);

CREATE TABLE voyages (
    id                        uuid PRIMARY KEY,
    vessel_name               text NOT NULL CHECK (length(vessel_name) BETWEEN 1 AND 200),
    carrier_org_id            uuid NOT NULL REFERENCES orgs (id),
    origin                    text NOT NULL CHECK (length(origin) BETWEEN 1 AND 200),
    destination               text NOT NULL CHECK (length(destination) BETWEEN 1 AND 200),
    destination_warehouse_id  uuid REFERENCES warehouses (id),
    departs_at                timestamptz NOT NULL,
    eta                       timestamptz NOT NULL,
    status                    text NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'underway', 'arrived')),
    departed_at               timestamptz,
    arrived_at                timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (eta > departs_at)
);
CREATE INDEX voyages_carrier_idx ON voyages (carrier_org_id);

CREATE TABLE lots (
    id                          uuid PRIMARY KEY,
    -- Creation order, for stable cursor pagination.
    seq                         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    code                        text NOT NULL UNIQUE,
    owner_org_id                uuid NOT NULL REFERENCES orgs (id),
    commodity_code              text NOT NULL REFERENCES commodities (code),
    grade                       text NOT NULL,
    unit                        text NOT NULL CHECK (unit IN ('kg', 't', 'm3', 'piece')),
    status                      text NOT NULL CHECK (status IN ('announced', 'in_custody', 'in_transit', 'released')),
    quantity_announced          numeric(20, 3) NOT NULL CHECK (quantity_announced > 0),
    quantity_on_hand            numeric(20, 3) NOT NULL DEFAULT 0 CHECK (quantity_on_hand >= 0),
    quantity_pledged            numeric(20, 3) NOT NULL DEFAULT 0 CHECK (quantity_pledged >= 0),
    quantity_reserved           numeric(20, 3) NOT NULL DEFAULT 0 CHECK (quantity_reserved >= 0),
    warehouse_id                uuid REFERENCES warehouses (id),
    voyage_id                   uuid REFERENCES voyages (id),
    packed_on                   date NOT NULL,
    expires_on                  date NOT NULL,
    parent_lot_id               uuid REFERENCES lots (id),
    -- Warehouse-receipt fields, fixed at intake.
    market_value_at_deposit     numeric(20, 2),
    deposit_currency            text,
    storage_rate_per_unit_day   numeric(20, 8),
    storage_currency            text,
    insurer                     text,
    received_at                 timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK (quantity_pledged <= quantity_on_hand),
    CHECK (quantity_reserved <= quantity_on_hand),
    CHECK (num_nonnulls(warehouse_id, voyage_id) <= 1),
    CHECK (status <> 'in_custody' OR warehouse_id IS NOT NULL),
    CHECK (status <> 'in_transit' OR voyage_id IS NOT NULL),
    CHECK (status <> 'released' OR quantity_on_hand = 0),
    CHECK (expires_on >= packed_on)
);
CREATE INDEX lots_owner_idx ON lots (owner_org_id, id);
CREATE INDEX lots_warehouse_idx ON lots (warehouse_id, id) WHERE warehouse_id IS NOT NULL;
CREATE INDEX lots_voyage_idx ON lots (voyage_id, id) WHERE voyage_id IS NOT NULL;
CREATE INDEX lots_expires_idx ON lots (expires_on);
CREATE INDEX lots_parent_idx ON lots (parent_lot_id) WHERE parent_lot_id IS NOT NULL;

-- What may leave a warehouse: a supplier's withdrawal now; sales and lender consent later.
CREATE TABLE release_orders (
    id                 uuid PRIMARY KEY,
    lot_id             uuid NOT NULL REFERENCES lots (id),
    kind               text NOT NULL CHECK (kind IN ('withdrawal', 'sale', 'lender_consent', 'liquidation')),
    quantity           numeric(20, 3) NOT NULL CHECK (quantity > 0),
    quantity_released  numeric(20, 3) NOT NULL DEFAULT 0 CHECK (quantity_released >= 0),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'cancelled')),
    created_by         uuid REFERENCES users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    CHECK (quantity_released <= quantity),
    CHECK (status <> 'completed' OR quantity_released = quantity)
);
CREATE INDEX release_orders_lot_idx ON release_orders (lot_id);

-- The append-only movement ledger. Each row records the signed change of the quantity on hand
-- and where the lot is, and in which status, after it; the lot row is their projection.
CREATE TABLE movements (
    id                bigserial PRIMARY KEY,
    lot_id            uuid NOT NULL REFERENCES lots (id),
    kind              text NOT NULL CHECK (kind IN ('announce', 'receive', 'release', 'load', 'unload', 'transfer', 'count_adjustment', 'split_out', 'split_in', 'regrade')),
    quantity_change   numeric(20, 3) NOT NULL,
    quantity_after    numeric(20, 3) NOT NULL CHECK (quantity_after >= 0),
    status_after      text NOT NULL,
    warehouse_id      uuid REFERENCES warehouses (id),
    voyage_id         uuid REFERENCES voyages (id),
    release_order_id  uuid REFERENCES release_orders (id),
    related_lot_id    uuid REFERENCES lots (id),
    reason            text,
    details           jsonb NOT NULL DEFAULT '{}',
    actor_user_id     uuid REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX movements_lot_idx ON movements (lot_id, id);

CREATE RULE movements_no_update AS ON UPDATE TO movements DO INSTEAD NOTHING;
CREATE RULE movements_no_delete AS ON DELETE TO movements DO INSTEAD NOTHING;

-- Lots whose projection differs from their movements: must always be empty.
CREATE VIEW lot_reconciliation AS
SELECT l.id AS lot_id,
       l.code,
       l.quantity_on_hand,
       coalesce(m.total, 0) AS quantity_from_movements,
       l.status,
       last.status_after AS status_from_movements,
       l.warehouse_id,
       last.warehouse_id AS warehouse_from_movements,
       l.voyage_id,
       last.voyage_id AS voyage_from_movements
FROM lots l
LEFT JOIN (SELECT lot_id, sum(quantity_change) AS total FROM movements GROUP BY lot_id) m ON m.lot_id = l.id
LEFT JOIN LATERAL (
    SELECT status_after, warehouse_id, voyage_id FROM movements mv
    WHERE mv.lot_id = l.id ORDER BY mv.id DESC LIMIT 1
) last ON true
WHERE l.quantity_on_hand <> coalesce(m.total, 0)
   OR last.status_after IS DISTINCT FROM l.status
   OR last.warehouse_id IS DISTINCT FROM l.warehouse_id
   OR last.voyage_id IS DISTINCT FROM l.voyage_id;

CREATE TABLE temperature_readings (
    warehouse_id  uuid NOT NULL REFERENCES warehouses (id),
    sensor_id     text NOT NULL CHECK (length(sensor_id) BETWEEN 1 AND 64),
    recorded_at   timestamptz NOT NULL,
    celsius       numeric(6, 2) NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (warehouse_id, recorded_at, sensor_id)
);

CREATE TABLE breaches (
    id               uuid PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    warehouse_id     uuid NOT NULL REFERENCES warehouses (id),
    sensor_id        text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('too_hot', 'too_cold')),
    started_at       timestamptz NOT NULL,
    -- When a reading was back in range; NULL while the excursion goes on.
    ended_at         timestamptz,
    extreme_celsius  numeric(6, 2) NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  uuid REFERENCES users (id),
    comment          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (warehouse_id, sensor_id, kind, started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    CHECK ((acknowledged_at IS NULL) = (comment IS NULL))
);
CREATE INDEX breaches_open_idx ON breaches (warehouse_id) WHERE acknowledged_at IS NULL;
