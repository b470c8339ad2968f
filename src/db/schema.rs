//! Diesel table definitions, written by hand to match `migrations/` (diesel_cli needs libpq).

diesel::table! {
    orgs (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        org_id -> Uuid,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        permissions -> Array<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        family_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        throttle_key -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Uuid,
        idempotency_key -> Text,
        request_hash -> Bytea,
        state -> Text,
        locked_until -> Timestamptz,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        occurred_at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        actor_org_id -> Nullable<Uuid>,
        org_ids -> Array<Uuid>,
        action -> Text,
        object_kind -> Text,
        object_id -> Text,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        request_id -> Nullable<Text>,
        seq -> Nullable<Int8>,
        prev_hash -> Nullable<Bytea>,
        hash -> Nullable<Bytea>,
        sealed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_chain_head (singleton) {
        singleton -> Bool,
        seq -> Int8,
        hash -> Bytea,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Int8,
        org_ids -> Array<Uuid>,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        seq -> Nullable<Int8>,
    }
}

diesel::joinable!(users -> orgs (org_id));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    users,
    refresh_tokens,
    login_failures,
    idempotency_keys,
    audit_events,
    audit_chain_head,
    outbox_events,
);
