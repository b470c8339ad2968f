//! Browser sessions of the console: an opaque random token in an HttpOnly, SameSite=Strict
//! cookie, kept in the database only as its SHA-256 (migration 000015). The JSON API keeps
//! its bearer tokens; these serve the pages.
//!
//! A session is honoured while it is not ended, has been used within [`IDLE_HOURS`], is
//! younger than [`LIFETIME_DAYS`], and its user is enabled at the token generation it started
//! with: a logout everywhere, a disabled user, a changed password or changed permissions end
//! it as they end the API's tokens. Finding the session reads the user and its org in the
//! same statement (one round trip per page), and notes the use at most every few minutes.

use super::principal::{OrgKind, Permission, Principal, Role};
use super::tokens::{random_token, token_hash};
use crate::db::prepared::prepared;
use diesel::sql_types::{Array, Bytea, Integer, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The cookie that carries the session token.
pub const COOKIE: &str = "holdfast_session";
/// A session unused this long ends.
pub const IDLE_HOURS: i64 = 12;
/// A session ends this long after sign-in, however much it is used.
pub const LIFETIME_DAYS: i64 = 7;

/// A signed-in browser: who, and the form token its forms must carry.
#[derive(Clone, Debug)]
pub struct BrowserSession {
    pub id: Uuid,
    pub csrf_token: String,
    pub principal: Principal,
    pub email: String,
    pub org_name: String,
}

/// A new session's secret parts: the cookie's value and the form token.
pub struct Started {
    pub token: String,
    pub csrf_token: String,
}

/// Starts a session for `user_id` at its token `generation`.
pub async fn start(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    generation: i32,
) -> diesel::QueryResult<Started> {
    let token = random_token();
    let csrf_token = random_token();
    prepared(
        "INSERT INTO console_sessions (id, token_hash, user_id, token_generation, csrf_token, expires_at) \
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6))",
    )
    .bind::<SqlUuid, _>(Uuid::new_v4())
    .bind::<Bytea, _>(token_hash(&token))
    .bind::<SqlUuid, _>(user_id)
    .bind::<Integer, _>(generation)
    .bind::<Text, _>(&csrf_token)
    .bind::<Integer, _>(LIFETIME_DAYS as i32)
    .execute(conn)
    .await?;
    Ok(Started { token, csrf_token })
}

#[derive(diesel::QueryableByName)]
struct Found {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    csrf_token: String,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Array<Text>)]
    permissions: Vec<String>,
    #[diesel(sql_type = SqlUuid)]
    org_id: Uuid,
    #[diesel(sql_type = Text)]
    org_kind: String,
    #[diesel(sql_type = Text)]
    org_name: String,
}

/// The session a cookie's token names, if it is still honoured.
pub async fn find(
    conn: &mut AsyncPgConnection,
    token: &str,
) -> diesel::QueryResult<Option<BrowserSession>> {
    let found: Option<Found> = prepared(
        "WITH s AS (
             SELECT s.id, s.csrf_token, s.last_seen_at, u.id AS user_id, u.email, u.role, u.permissions,
                    o.id AS org_id, o.kind AS org_kind, o.name AS org_name
             FROM console_sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id
             WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
               AND s.last_seen_at > now() - make_interval(hours => $2)
               AND u.disabled_at IS NULL AND u.token_generation = s.token_generation),
         seen AS (
             UPDATE console_sessions c SET last_seen_at = now() FROM s
             WHERE c.id = s.id AND s.last_seen_at < now() - interval '5 minutes')
         SELECT id, csrf_token, user_id, email, role, permissions, org_id, org_kind, org_name FROM s",
    )
    .bind::<Bytea, _>(token_hash(token))
    .bind::<Integer, _>(IDLE_HOURS as i32)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(|e| match e {
        diesel::result::Error::NotFound => Ok(None),
        other => Err(other),
    })?;
    Ok(found.and_then(|f| {
        let kind = OrgKind::parse(&f.org_kind)?;
        Some(BrowserSession {
            id: f.id,
            csrf_token: f.csrf_token,
            email: f.email,
            org_name: f.org_name,
            principal: Principal {
                user_id: f.user_id,
                org_id: f.org_id,
                kind,
                role: Role::parse(&f.role).unwrap_or(Role::Staff),
                permissions: f
                    .permissions
                    .iter()
                    .filter_map(|p| Permission::parse(p))
                    .collect(),
                request_id: None,
            },
        })
    }))
}

/// Ends a session (sign-out). Answers whether it was live.
pub async fn end(conn: &mut AsyncPgConnection, id: Uuid) -> diesel::QueryResult<bool> {
    let ended =
        prepared("UPDATE console_sessions SET ended_at = now() WHERE id = $1 AND ended_at IS NULL")
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?;
    Ok(ended > 0)
}

/// Removes sessions ended, idle or expired for more than a day.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> diesel::QueryResult<usize> {
    prepared(
        "DELETE FROM console_sessions \
         WHERE coalesce(ended_at, least(expires_at, last_seen_at + make_interval(hours => $1))) \
               < now() - interval '1 day'",
    )
    .bind::<Integer, _>(IDLE_HOURS as i32)
    .execute(conn)
    .await
}
