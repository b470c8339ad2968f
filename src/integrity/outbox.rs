//! The outbox: one event per state change, written in the change's transaction, numbered by
//! the sealer in the order it sees them committed, and read as a cursor feed per org.

use crate::db::schema::outbox_events as outbox;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// Gives committed, unnumbered events the next sequence numbers, in the order they were
/// written. Called by the sealer under its advisory lock, so numbers are never handed out
/// twice.
///
/// Planned on every call, not prepared: a plan kept from the service's start, when the table
/// was small, joined every event with every pending one and read the whole table again for
/// each (seconds a call after some thousands of events). Planned now, the last number is one
/// index read and each pending event one more.
pub async fn number_pending(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::sql_query(
        "WITH todo AS MATERIALIZED ( \
             SELECT id, row_number() OVER (ORDER BY id) AS n FROM outbox_events \
             WHERE seq IS NULL ORDER BY id LIMIT 10000) \
         UPDATE outbox_events o SET seq = (SELECT coalesce(max(seq), 0) FROM outbox_events) + todo.n \
         FROM todo WHERE o.id = todo.id",
    )
    .execute(conn)
    .await
}

#[derive(Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = outbox)]
pub struct OutboxEvent {
    #[diesel(column_name = seq)]
    #[serde(rename = "seq")]
    pub position: Option<i64>,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// Numbered events after `after`, for one org or (for the platform) all.
pub async fn feed(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<OutboxEvent>> {
    let mut query = outbox::table
        .select(OutboxEvent::as_select())
        .filter(outbox::seq.gt(after))
        .order(outbox::seq)
        .limit(limit + 1)
        .into_boxed();
    if let Some(org) = org {
        query = query.filter(outbox::org_ids.contains(vec![org]));
    }
    query.load(conn).await
}
