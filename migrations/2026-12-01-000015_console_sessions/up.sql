-- Browser sessions of the console (issue 15): an opaque random token in an HttpOnly,
-- SameSite=Strict cookie; the database keeps only its SHA-256. A session is honoured while it
-- is not ended, not idle for longer than its idle limit, not past its absolute expiry, and its
-- user is enabled at the token generation it started with (so a logout everywhere, a disabled
-- user, a changed password or changed permissions end it, as they end API tokens).
CREATE TABLE console_sessions (
    id                uuid PRIMARY KEY,
    token_hash        bytea NOT NULL UNIQUE,
    user_id           uuid NOT NULL REFERENCES users (id),
    token_generation  integer NOT NULL,
    -- The form token of this session (every form and every console POST carries it).
    csrf_token        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    ended_at          timestamptz
);
CREATE INDEX console_sessions_user_idx ON console_sessions (user_id);

-- The scan station's "today at this warehouse": the latest movements of a warehouse, newest
-- first, without reading every movement of every lot.
CREATE INDEX movements_warehouse_idx ON movements (warehouse_id, id) WHERE warehouse_id IS NOT NULL;
