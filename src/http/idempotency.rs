//! The `Idempotency-Key` store.
//!
//! The first request with a key claims it in a short transaction of its own, so a second
//! request arriving while the first runs sees the claim and answers 409. The business change
//! and the stored response commit together in one transaction, so a crash can never leave a
//! change without its stored response; a failed request releases the key (it wrote nothing).
//! A retry with the same key and body replays the stored status and body with
//! `Idempotent-Replayed: true`; the same key with another body is a 422. Keys are scoped per
//! user and kept at least 24 hours.

use crate::db::schema::idempotency_keys as keys;
use crate::db::{DbConn, DbPool};
use crate::error::{ApiError, ApiResult};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long a claim blocks retries before a crashed request's key may be taken over.
const CLAIM_SECONDS: i64 = 60;
/// Keys are kept this long (and so at least 24 hours) before clean-up removes them.
pub const RETENTION_HOURS: i64 = 48;

/// The key a request carries, checked at the edge.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads the header; `required` decides whether its absence is an error.
    pub fn from_request(req: &HttpRequest, required: bool) -> ApiResult<Option<Self>> {
        let Some(value) = req.headers().get(HEADER) else {
            return if required {
                Err(ApiError::bad_request(
                    "idempotency_key_required",
                    "this request moves goods or money and needs an Idempotency-Key header",
                )
                .with("header", HEADER))
            } else {
                Ok(None)
            };
        };
        let text = value.to_str().unwrap_or("").trim();
        if text.is_empty() || text.len() > 255 || !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ApiError::bad_request(
                "invalid_idempotency_key",
                "the Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .with("header", HEADER));
        }
        Ok(Some(Self(text.to_owned())))
    }
}

/// The fingerprint of a request: method, path and body.
pub fn request_hash(req: &HttpRequest, body_sha256: &[u8; 32]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(body_sha256);
    hasher.finalize().to_vec()
}

/// A stored key: request hash, state, claim expiry, response status and body.
type StoredKey = (
    Vec<u8>,
    String,
    chrono::DateTime<Utc>,
    Option<i16>,
    Option<Vec<u8>>,
);

enum Claim {
    Proceed,
    Replay { status: u16, body: Vec<u8> },
}

async fn claim(conn: &mut DbConn, user_id: Uuid, key: &str, hash: &[u8]) -> ApiResult<Claim> {
    let now = Utc::now();
    let locked_until = now + chrono::Duration::seconds(CLAIM_SECONDS);
    let inserted = diesel::insert_into(keys::table)
        .values((
            keys::user_id.eq(user_id),
            keys::idempotency_key.eq(key),
            keys::request_hash.eq(hash),
            keys::state.eq("in_progress"),
            keys::locked_until.eq(locked_until),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Proceed);
    }
    conn.transaction::<_, ApiError, _>(async move |conn| {
        {
            let (stored_hash, state, until, status, body): StoredKey = keys::table
                .find((user_id, key))
                .select((
                    keys::request_hash,
                    keys::state,
                    keys::locked_until,
                    keys::response_status,
                    keys::response_body,
                ))
                .for_update()
                .first(conn)
                .await?;
            if stored_hash != hash {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request",
                )
                .with("header", HEADER));
            }
            match (state.as_str(), status, body) {
                ("completed", Some(status), Some(body)) => Ok(Claim::Replay {
                    status: status as u16,
                    body,
                }),
                _ if until > now => Err(ApiError::conflict(
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                )),
                _ => {
                    // The first attempt died without finishing; its transaction rolled back.
                    diesel::update(keys::table.find((user_id, key)))
                        .set(keys::locked_until.eq(locked_until))
                        .execute(conn)
                        .await?;
                    Ok(Claim::Proceed)
                }
            }
        }
    })
    .await
}

async fn release(pool: &DbPool, user_id: Uuid, key: &str) {
    let Ok(mut conn) = pool.get().await else {
        return;
    };
    let result = diesel::delete(
        keys::table
            .find((user_id, key))
            .filter(keys::state.eq("in_progress")),
    )
    .execute(&mut conn)
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "could not release an idempotency key");
    }
}

/// Runs `change` in one transaction and answers `status` with its JSON result. With a key,
/// the response is stored in that same transaction and replayed for retries.
pub async fn run<T, F>(
    pool: &DbPool,
    user_id: Uuid,
    key: Option<IdempotencyKey>,
    hash: Vec<u8>,
    status: StatusCode,
    change: F,
) -> ApiResult<HttpResponse>
where
    T: Serialize + Send + 'static,
    F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> BoxFuture<'r, ApiResult<T>> + Send + 'static,
{
    let mut conn = pool.get().await?;
    let Some(IdempotencyKey(key)) = key else {
        let value = conn
            .transaction(async move |conn| change(conn).await)
            .await?;
        return Ok(HttpResponse::build(status).json(value));
    };
    match claim(&mut conn, user_id, &key, &hash).await? {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .insert_header((REPLAYED_HEADER, "true"))
                .content_type("application/json")
                .body(body));
        }
        Claim::Proceed => {}
    }
    let stored_key = key.clone();
    let result = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let value = change(conn).await?;
            let body = serde_json::to_vec(&value).map_err(ApiError::internal)?;
            diesel::update(keys::table.find((user_id, &stored_key)))
                .set((
                    keys::state.eq("completed"),
                    keys::response_status.eq(status.as_u16() as i16),
                    keys::response_body.eq(&body),
                ))
                .execute(conn)
                .await?;
            Ok(body)
        })
        .await;
    match result {
        Ok(body) => Ok(HttpResponse::build(status)
            .content_type("application/json")
            .body(body)),
        Err(error) => {
            // Nothing was written, so the client may retry the same key.
            drop(conn);
            release(pool, user_id, &key).await;
            Err(error)
        }
    }
}

/// Removes keys past their retention.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let cutoff = Utc::now() - chrono::Duration::hours(RETENTION_HOURS);
    diesel::delete(keys::table.filter(keys::created_at.lt(cutoff)))
        .execute(conn)
        .await
}
