-- A custody incident: goods a count found missing, valued at market, recorded against the
-- warehouse operator that held them, with what the loss took off sales, pledges and release
-- orders. Seen by the platform, the operator, the goods' owner and every lender or buyer the
-- loss touched.
CREATE TABLE custody_incidents (
    id                uuid PRIMARY KEY,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    lot_id            uuid NOT NULL REFERENCES lots (id),
    lot_code          text NOT NULL,
    commodity_code    text NOT NULL,
    warehouse_id      uuid NOT NULL REFERENCES warehouses (id),
    operator_org_id   uuid NOT NULL REFERENCES orgs (id),
    owner_org_id      uuid NOT NULL REFERENCES orgs (id),
    lender_org_ids    uuid[] NOT NULL DEFAULT '{}',
    buyer_org_ids     uuid[] NOT NULL DEFAULT '{}',
    movement_id       bigint NOT NULL REFERENCES movements (id),
    quantity_missing  numeric(20, 3) NOT NULL CHECK (quantity_missing > 0),
    unit              text NOT NULL,
    value             numeric(20, 3),
    currency          text,
    reason            text NOT NULL,
    effects           jsonb NOT NULL,
    recorded_by       uuid NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((value IS NULL) = (currency IS NULL))
);
CREATE INDEX custody_incidents_operator_idx ON custody_incidents (operator_org_id, seq);
CREATE INDEX custody_incidents_owner_idx ON custody_incidents (owner_org_id, seq);
CREATE INDEX custody_incidents_lenders_idx ON custody_incidents USING gin (lender_org_ids);
CREATE INDEX custody_incidents_buyers_idx ON custody_incidents USING gin (buyer_org_ids);
