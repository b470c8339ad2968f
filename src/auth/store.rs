//! Queries for refresh tokens and login throttling.

use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{login_failures, refresh_tokens as tokens};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Failed logins allowed per email within the window before further attempts get 429.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed logins allowed per client address within the window.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(tokens::table)
        .values((
            tokens::id.eq(Uuid::new_v4()),
            tokens::family_id.eq(family_id),
            tokens::user_id.eq(user_id),
            tokens::token_hash.eq(hash),
            tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The token with this hash, locked for the rest of the transaction.
pub async fn lock_refresh_token(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
) -> QueryResult<Option<RefreshTokenRow>> {
    tokens::table
        .filter(tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn mark_rotated(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(tokens::table.find(id))
        .set(tokens::rotated_at.eq(Utc::now()))
        .cached()
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    super::honoured::forget_all();
    diesel::update(
        tokens::table
            .filter(tokens::family_id.eq(family_id))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(Utc::now()))
    .cached()
    .execute(conn)
    .await
}

pub async fn recent_failures(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<i64> {
    let since = Utc::now() - chrono::Duration::minutes(THROTTLE_WINDOW_MINUTES);
    login_failures::table
        .filter(login_failures::throttle_key.eq(key))
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
        .await
}

/// Takes one login attempt against each `(key, limit)`, atomically: under a lock per key held
/// to the end of the caller's transaction, it counts the key's recent failures and, when every
/// key is under its limit, records the attempt as a failure (answering the rows, to forget
/// once the password proves right). `None` when a key is at its limit. Concurrent attempts
/// queue on the lock, so no more than the limit are ever checked.
pub async fn take_attempt(
    conn: &mut AsyncPgConnection,
    keys: &[(String, i64)],
) -> QueryResult<Option<Vec<i64>>> {
    let mut sorted: Vec<&(String, i64)> = keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, _) in &sorted {
        prepared("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind::<diesel::sql_types::Text, _>(format!("login/{key}"))
            .execute(conn)
            .await?;
    }
    for (key, limit) in keys {
        if recent_failures(conn, key).await? >= *limit {
            return Ok(None);
        }
    }
    let rows: Vec<_> = keys
        .iter()
        .map(|(k, _)| login_failures::throttle_key.eq(k))
        .collect();
    diesel::insert_into(login_failures::table)
        .values(rows)
        .returning(login_failures::id)
        .get_results(conn)
        .await
        .map(Some)
}

/// Forgets the attempt rows of a login that succeeded.
pub async fn forget_attempt(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::id.eq_any(ids)))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Removes throttle rows past the window and long-dead refresh tokens.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let window = Utc::now() - chrono::Duration::minutes(THROTTLE_WINDOW_MINUTES * 2);
    let failures =
        diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(window)))
            .execute(conn)
            .await?;
    let dead = Utc::now() - chrono::Duration::days(7);
    let tokens = diesel::delete(tokens::table.filter(tokens::expires_at.lt(dead)))
        .execute(conn)
        .await?;
    Ok(failures + tokens)
}

#[derive(diesel::QueryableByName)]
struct Honoured {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    honoured: bool,
}

/// Whether an access token of `user` at `generation`, of the login `session`, is still to be
/// honoured: the user's token generation has not moved on and the login was not ended.
pub async fn token_honoured(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    session: Option<Uuid>,
    generation: i32,
) -> QueryResult<bool> {
    let row: Honoured = prepared(
        "SELECT EXISTS (SELECT 1 FROM users \
                        WHERE id = $1 AND token_generation = $3 AND disabled_at IS NULL) \
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens \
                            WHERE family_id = $2 AND revoked_at IS NOT NULL) AS honoured",
    )
    .bind::<diesel::sql_types::Uuid, _>(user)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(session)
    .bind::<diesel::sql_types::Integer, _>(generation)
    .get_result(conn)
    .await?;
    Ok(row.honoured)
}

/// Revokes every refresh token of the user (a disabled user, a changed password).
pub async fn revoke_user(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<usize> {
    super::honoured::forget_all();
    diesel::update(
        tokens::table
            .filter(tokens::user_id.eq(user))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(Utc::now()))
    .cached()
    .execute(conn)
    .await
}
