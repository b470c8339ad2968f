//! Integrity plumbing: the hash-chained audit trail and the outbox event feed, both written in
//! the transaction of the change they describe.

pub mod audit;
pub mod outbox;
pub mod routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;

/// One state change, as the audit trail and the event feed record it.
pub struct Change<'a> {
    /// What happened, as `area.verb`: `org.created`, `user.created`, `lot.received`.
    pub action: &'a str,
    pub object_kind: &'a str,
    pub object_id: String,
    /// The organisations entitled to see this change (their owners read it).
    pub org_ids: Vec<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends the audit event and the outbox event for `change`; call it inside the change's
/// transaction so both commit or neither does.
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: Option<&Principal>,
    change: Change<'_>,
) -> QueryResult<()> {
    let payload = payload(actor, &change);
    audit::append_with_event(conn, actor, change, &payload).await
}

/// The outbox event's payload for `change`.
fn payload(actor: Option<&Principal>, change: &Change<'_>) -> Value {
    serde_json::json!({
        "object_kind": change.object_kind,
        "object_id": change.object_id,
        "actor_user_id": actor.map(|a| a.user_id),
        "data": change.after,
    })
}

/// Appends the audit and outbox events of several changes of one request, in the order given,
/// in one statement (one round trip however many).
pub async fn record_all(
    conn: &mut AsyncPgConnection,
    actor: Option<&Principal>,
    changes: Vec<Change<'_>>,
) -> QueryResult<()> {
    let payloads: Vec<Value> = changes.iter().map(|c| payload(actor, c)).collect();
    audit::append_all_with_events(conn, actor, &changes, &payloads).await
}

/// A value as JSON for an audit event's before or after.
pub fn to_json(value: &impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}
