//! Queries for refresh tokens and login throttling.

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
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        tokens::table
            .filter(tokens::family_id.eq(family_id))
            .filter(tokens::revoked_at.is_null()),
    )
    .set(tokens::revoked_at.eq(Utc::now()))
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

pub async fn record_failure(conn: &mut AsyncPgConnection, keys: &[String]) -> QueryResult<()> {
    let rows: Vec<_> = keys
        .iter()
        .map(|k| login_failures::throttle_key.eq(k))
        .collect();
    diesel::insert_into(login_failures::table)
        .values(rows)
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
