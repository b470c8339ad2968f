//! The `Idempotency-Key` store.
//!
//! A request with a key runs in one transaction that first takes a transaction-scoped
//! advisory lock on (user, key) without waiting: a second request with the same key while the
//! first runs cannot take it and answers 409. Holding the lock, it looks for a stored response:
//! the same request gets it replayed with `Idempotent-Replayed: true`; another request with the
//! same key gets 422. Otherwise it makes the change and stores the response in the same
//! transaction, so there is never a change without its stored response, nor a stored response
//! without its change, and a request that fails stores nothing and may be retried with the
//! same key. One commit per request. Keys are scoped per user and kept at least 24 hours.

use crate::db::DbPool;
use crate::db::pipeline;
use crate::db::prepared::prepared;
use crate::db::schema::idempotency_keys as keys;
use crate::error::{ApiError, ApiResult};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload};
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// Keys are kept this long (and so at least 24 hours) before clean-up removes them.
pub const RETENTION_HOURS: i64 = 48;

/// The key a request carries, checked at the edge.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads the header; `required` decides whether its absence is an error.
    fn from_request(req: &HttpRequest, required: bool) -> ApiResult<Option<Self>> {
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

/// The body fingerprint of a request that has no body: the key and the path identify it.
pub const NO_BODY: [u8; 32] = [0; 32];

/// A request that moves goods or money: its `Idempotency-Key` (required or not, as the route
/// says) and what identifies it (method and path; the body's hash is given to [`run`]).
/// Extract it after the body, so a malformed body is reported before a missing key.
///
/// [`run`]: Idempotent::run
pub struct Idempotent<const KEY_REQUIRED: bool> {
    key: Option<IdempotencyKey>,
    method: Method,
    path: String,
}

/// A route that refuses a request without an `Idempotency-Key`.
pub type KeyRequired = Idempotent<true>;
/// A route that replays when the client sends an `Idempotency-Key`, and runs once when not.
pub type KeyOptional = Idempotent<false>;

impl<const KEY_REQUIRED: bool> FromRequest for Idempotent<KEY_REQUIRED> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            IdempotencyKey::from_request(req, KEY_REQUIRED).map(|key| Self {
                key,
                method: req.method().clone(),
                path: req.path().to_owned(),
            }),
        )
    }
}

impl KeyRequired {
    /// The key a console form carried (a hidden field made when its page was drawn) for this
    /// request: submitting the same form twice (a double click, a reload) replays the first
    /// answer instead of doing it again.
    pub fn from_form(req: &HttpRequest, key: &str) -> ApiResult<Self> {
        let key = key.trim();
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                "key",
                "the form's key is missing: reload the page and try again",
            ));
        }
        Ok(Self {
            key: Some(IdempotencyKey(key.to_owned())),
            method: req.method().clone(),
            path: req.path().to_owned(),
        })
    }
}

impl<const KEY_REQUIRED: bool> Idempotent<KEY_REQUIRED> {
    /// Runs `change` in one transaction for `user_id` and answers `status` with its JSON
    /// result; with a key, the answer is stored in that transaction and replayed on retries.
    pub async fn run<T, F>(
        self,
        pool: &DbPool,
        user_id: Uuid,
        body_sha256: &[u8; 32],
        status: StatusCode,
        change: F,
    ) -> ApiResult<HttpResponse>
    where
        T: Serialize + Send + 'static,
        F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> BoxFuture<'r, ApiResult<T>>
            + Send
            + 'static,
    {
        let hash = fingerprint(&self.method, &self.path, body_sha256);
        run(pool, user_id, self.key, hash, status, change).await
    }
}

/// The fingerprint of a request: method, path and body.
fn fingerprint(method: &Method, path: &str, body_sha256: &[u8; 32]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body_sha256);
    hasher.finalize().to_vec()
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

enum Outcome {
    Fresh(Vec<u8>),
    Replay { status: u16, body: Vec<u8> },
}

/// Runs `change` in one transaction and answers `status` with its JSON result. With a key,
/// the response is stored in that same transaction and replayed for retries.
async fn run<T, F>(
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
    // `BEGIN` with the key's lock and the lookup of its stored answer (one round trip), the
    // change, then the answer stored with the `COMMIT` (one round trip); a failure rolls
    // everything back.
    let answer = async {
        if let Some(replay) = stored_answer(&mut conn, user_id, &key, &hash).await? {
            return Ok(replay);
        }
        let value = change(&mut conn).await?;
        serde_json::to_vec(&value)
            .map(Outcome::Fresh)
            .map_err(ApiError::internal)
    }
    .await;
    let outcome = match answer {
        Ok(Outcome::Fresh(body)) => {
            let store = diesel::insert_into(keys::table).values((
                keys::user_id.eq(user_id),
                keys::idempotency_key.eq(key),
                keys::request_hash.eq(hash),
                keys::response_status.eq(status.as_u16() as i16),
                keys::response_body.eq(&body),
            ));
            pipeline::commit_with(&mut conn, store).await?;
            Outcome::Fresh(body)
        }
        Ok(replay) => {
            pipeline::commit(&mut conn).await?;
            replay
        }
        Err(error) => {
            // A failed rollback leaves the connection broken: the pool discards it, and the
            // request's own error is the one to answer.
            let _ = pipeline::rollback(&mut conn).await;
            return Err(error);
        }
    };
    Ok(match outcome {
        Outcome::Fresh(body) => HttpResponse::build(status)
            .content_type("application/json")
            .body(body),
        Outcome::Replay { status, body } => {
            HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .insert_header((REPLAYED_HEADER, "true"))
                .content_type("application/json")
                .body(body)
        }
    })
}

/// Opens the transaction holding the key (409 while another request holds it) and answers
/// what was stored for it: the replay of the same request, 422 for another request, or
/// nothing yet.
async fn stored_answer(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    key: &str,
    hash: &[u8],
) -> ApiResult<Option<Outcome>> {
    // `BEGIN`, the key's lock and the stored answer, sent together (one round trip):
    // PostgreSQL runs them in order, and the lookup, a statement of its own, reads what was
    // committed once the lock was held.
    let lock = prepared("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked")
        .bind::<Text, _>(format!("idempotency/{user_id}/{key}"));
    let lookup = keys::table.find((user_id, key)).select((
        keys::request_hash,
        keys::response_status,
        keys::response_body,
    ));
    let (locked, stored) = pipeline::begin_with(conn, |shared| async move {
        let (mut first, mut second) = (shared, shared);
        pipeline::together(
            lock.get_result::<Locked>(&mut first),
            lookup.load::<(Vec<u8>, i16, Vec<u8>)>(&mut second),
        )
        .await
    })
    .await?;
    if !locked.locked {
        return Err(ApiError::conflict(
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        ));
    }
    let stored = stored.into_iter().next();
    let Some((stored_hash, status, body)) = stored else {
        return Ok(None);
    };
    if stored_hash != hash {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        )
        .with("header", HEADER));
    }
    Ok(Some(Outcome::Replay {
        status: status as u16,
        body,
    }))
}

/// Removes keys past their retention.
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let cutoff = Utc::now() - chrono::Duration::hours(RETENTION_HOURS);
    diesel::delete(keys::table.filter(keys::created_at.lt(cutoff)))
        .execute(conn)
        .await
}
