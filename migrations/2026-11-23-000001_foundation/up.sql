-- Foundation: organisations, users, sessions, login throttling, idempotency, audit chain, outbox.

CREATE TABLE orgs (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind        text NOT NULL CHECK (kind IN ('platform', 'supplier', 'lender', 'warehouse_operator', 'buyer')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orgs_name_key ON orgs (lower(name));

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES orgs (id),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('owner', 'staff')),
    permissions    text[] NOT NULL DEFAULT '{}',
    created_by     uuid REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_id_idx ON users (org_id);

-- Refresh tokens are stored only as SHA-256 hashes. Each login starts a family; a refresh
-- rotates within the family; presenting a rotated token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Failed logins, counted per email and per client address over a sliding window. Kept in the
-- database so that every instance behind a load balancer applies the same limit.
CREATE TABLE login_failures (
    id            bigserial PRIMARY KEY,
    throttle_key  text NOT NULL,
    failed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_time_idx ON login_failures (throttle_key, failed_at);

-- Stored responses of requests sent with an Idempotency-Key, written in the same transaction
-- as the change they answer for.
CREATE TABLE idempotency_keys (
    user_id          uuid NOT NULL REFERENCES users (id),
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL,
    response_status  smallint NOT NULL,
    response_body    bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Audit events are inserted unsealed inside each business transaction. A single sealer,
-- holding an advisory lock, later gives them a sequence number and links each to the previous
-- one by SHA-256, so no business transaction ever waits on a global chain head.
CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor_user_id   uuid,
    actor_org_id    uuid,
    org_ids         uuid[] NOT NULL,
    action          text NOT NULL,
    object_kind     text NOT NULL,
    object_id       text NOT NULL,
    before          jsonb,
    after           jsonb,
    request_id      text,
    seq             bigint UNIQUE,
    prev_hash       bytea,
    hash            bytea,
    sealed_at       timestamptz,
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL))
);
CREATE INDEX audit_events_unsealed_idx ON audit_events (id) WHERE seq IS NULL;
CREATE INDEX audit_events_actor_org_idx ON audit_events (actor_org_id, id);
CREATE INDEX audit_events_org_ids_idx ON audit_events USING gin (org_ids);

-- The last sealed event, so that deleting the newest events is detected too.
CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq        bigint NOT NULL,
    hash       bytea NOT NULL
);
INSERT INTO audit_chain_head (singleton, seq, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Events for the feed and webhooks, written with the change. The sealer numbers them in the
-- order it sees them committed, so a reader following `seq` never skips a late commit.
CREATE TABLE outbox_events (
    id          bigserial PRIMARY KEY,
    org_ids     uuid[] NOT NULL,
    event_type  text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    seq         bigint UNIQUE
);
CREATE INDEX outbox_events_unsequenced_idx ON outbox_events (id) WHERE seq IS NULL;
CREATE INDEX outbox_events_org_ids_idx ON outbox_events USING gin (org_ids);
