-- Commodity prices for the reference grade, as history: the latest not older than 7 days values
-- collateral.
CREATE TABLE prices (
    id              bigserial PRIMARY KEY,
    commodity_code  text NOT NULL REFERENCES commodities (code),
    price_per_unit  numeric(20, 6) NOT NULL CHECK (price_per_unit > 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    as_of           timestamptz NOT NULL,
    source          text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (commodity_code, currency, as_of, source)
);
CREATE INDEX prices_latest_idx ON prices (commodity_code, as_of DESC);
