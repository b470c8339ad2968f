//! The audit trail. Events are inserted unsealed with each change; `seal` (one sealer at a
//! time, under an advisory lock) numbers them and links each to the previous one with
//! SHA-256(previous hash ‖ event), and `verify` recomputes the chain to detect an edited or
//! deleted event.

use super::Change;
use crate::auth::Principal;
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{audit_chain_head as head, audit_events as events};
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bytea, Int8};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The advisory lock key held by the sealer ("audit").
const SEAL_LOCK_KEY: i64 = 0x0061_7564_6974;
/// Events sealed per round; a backlog is worked off over several rounds.
const SEAL_BATCH: i64 = 2_000;
const VERIFY_BATCH: i64 = 5_000;

/// The audit event of `change` and its outbox event (`payload`, for the same orgs), in one
/// statement: one round trip for every change a request records.
pub async fn append_with_event(
    conn: &mut AsyncPgConnection,
    actor: Option<&Principal>,
    change: Change<'_>,
    payload: &serde_json::Value,
) -> QueryResult<()> {
    use diesel::sql_types::{Array, Jsonb, Nullable, Text, Uuid as SqlUuid};
    prepared(
        "WITH event AS (INSERT INTO outbox_events (org_ids, event_type, payload) VALUES ($1, $2, $3)) \
         INSERT INTO audit_events (actor_user_id, actor_org_id, org_ids, action, object_kind, \
                                   object_id, before, after, request_id) \
         VALUES ($4, $5, $1, $2, $6, $7, $8, $9, $10)",
    )
    .bind::<Array<SqlUuid>, _>(&change.org_ids)
    .bind::<Text, _>(change.action)
    .bind::<Jsonb, _>(payload)
    .bind::<Nullable<SqlUuid>, _>(actor.map(|a| a.user_id))
    .bind::<Nullable<SqlUuid>, _>(actor.map(|a| a.org_id))
    .bind::<Text, _>(change.object_kind)
    .bind::<Text, _>(&change.object_id)
    .bind::<Nullable<Jsonb>, _>(&change.before)
    .bind::<Nullable<Jsonb>, _>(&change.after)
    .bind::<Nullable<Text>, _>(actor.and_then(|a| a.request_id.clone()))
    .execute(conn)
    .await
    .map(|_| ())
}

/// The audit and outbox events of `changes` (`payloads` beside them), in one statement, in
/// the order given.
pub async fn append_all_with_events(
    conn: &mut AsyncPgConnection,
    actor: Option<&Principal>,
    changes: &[Change<'_>],
    payloads: &[serde_json::Value],
) -> QueryResult<()> {
    use diesel::sql_types::{Jsonb, Nullable, Text, Uuid as SqlUuid};
    let column = |f: fn(&Change<'_>) -> String| changes.iter().map(f).collect::<Vec<_>>();
    let orgs: Vec<Value> = changes
        .iter()
        .map(|c| serde_json::json!(c.org_ids))
        .collect();
    prepared(
        "WITH c AS (SELECT * FROM unnest($1::jsonb[], $2::text[], $3::jsonb[], $4::text[], $5::text[], \
                                         $6::jsonb[], $7::jsonb[]) WITH ORDINALITY \
                    AS c(orgs, action, payload, object_kind, object_id, before, after, n)), \
              event AS (INSERT INTO outbox_events (org_ids, event_type, payload) \
                        SELECT ARRAY(SELECT jsonb_array_elements_text(orgs)::uuid), action, payload \
                        FROM c ORDER BY n) \
         INSERT INTO audit_events (actor_user_id, actor_org_id, org_ids, action, object_kind, \
                                   object_id, before, after, request_id) \
         SELECT $8, $9, ARRAY(SELECT jsonb_array_elements_text(orgs)::uuid), action, object_kind, \
                object_id, before, after, $10 \
         FROM c ORDER BY n",
    )
    .bind::<Array<Jsonb>, _>(&orgs)
    .bind::<Array<Text>, _>(column(|c| c.action.to_owned()))
    .bind::<Array<Jsonb>, _>(payloads)
    .bind::<Array<Text>, _>(column(|c| c.object_kind.to_owned()))
    .bind::<Array<Text>, _>(column(|c| c.object_id.clone()))
    .bind::<Array<Nullable<Jsonb>>, _>(changes.iter().map(|c| c.before.clone()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Jsonb>>, _>(changes.iter().map(|c| c.after.clone()).collect::<Vec<_>>())
    .bind::<Nullable<SqlUuid>, _>(actor.map(|a| a.user_id))
    .bind::<Nullable<SqlUuid>, _>(actor.map(|a| a.org_id))
    .bind::<Nullable<Text>, _>(actor.and_then(|a| a.request_id.clone()))
    .execute(conn)
    .await
    .map(|_| ())
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_org_id: Option<Uuid>,
    pub org_ids: Vec<Uuid>,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub request_id: Option<String>,
    /// Position in the chain; `null` until the sealer links the event (within seconds).
    pub seq: Option<i64>,
    #[serde(serialize_with = "hex_option")]
    #[schema(value_type = Option<String>)]
    pub hash: Option<Vec<u8>>,
    #[serde(skip)]
    pub prev_hash: Option<Vec<u8>>,
}

fn hex_option<S: serde::Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(bytes) => s.serialize_str(&hex::encode(bytes)),
        None => s.serialize_none(),
    }
}

/// JSON with every object's keys in byte order, whatever order the value holds them in: the
/// value an event was written with and the one read back from `jsonb` (which orders keys its
/// own way) hash alike, however serde_json keeps maps in a build.
pub fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(value, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// SHA-256(previous ‖ fields), each field length-prefixed so no two events encode alike.
pub fn chain_hash(previous: &[u8], seq: i64, event: &AuditEvent) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    let optional_uuid = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    let optional_json = |v: &Option<Value>| v.as_ref().map(canonical).unwrap_or_default();
    field(&seq.to_le_bytes());
    field(&event.id.to_le_bytes());
    field(
        event
            .occurred_at
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_bytes(),
    );
    field(optional_uuid(event.actor_user_id).as_bytes());
    field(optional_uuid(event.actor_org_id).as_bytes());
    let orgs: Vec<String> = event.org_ids.iter().map(Uuid::to_string).collect();
    field(orgs.join(",").as_bytes());
    field(event.action.as_bytes());
    field(event.object_kind.as_bytes());
    field(event.object_id.as_bytes());
    field(optional_json(&event.before).as_bytes());
    field(optional_json(&event.after).as_bytes());
    field(event.request_id.as_deref().unwrap_or("").as_bytes());
    hasher.finalize().to_vec()
}

/// Links every committed unsealed event into the chain and numbers the outbox. Returns how
/// many audit events were sealed. Safe to call from any number of instances at once.
pub async fn seal(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let sealed = conn
            .transaction(async |conn| seal_batch(conn).await)
            .await?;
        total += sealed;
        if (sealed as i64) < SEAL_BATCH {
            return Ok(total);
        }
    }
}

async fn seal_batch(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    prepared("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(SEAL_LOCK_KEY)
        .execute(conn)
        .await?;
    super::outbox::number_pending(conn).await?;
    let pending: Vec<AuditEvent> = events::table
        .filter(events::seq.is_null())
        .order(events::id)
        .limit(SEAL_BATCH)
        .select(AuditEvent::as_select())
        .load(conn)
        .await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let (mut seq, mut previous): (i64, Vec<u8>) = head::table
        .select((head::seq, head::hash))
        .for_update()
        .first(conn)
        .await?;
    let mut ids = Vec::with_capacity(pending.len());
    let mut seqs = Vec::with_capacity(pending.len());
    let mut prevs = Vec::with_capacity(pending.len());
    let mut hashes = Vec::with_capacity(pending.len());
    for event in &pending {
        seq += 1;
        let hash = chain_hash(&previous, seq, event);
        ids.push(event.id);
        seqs.push(seq);
        prevs.push(previous);
        hashes.push(hash.clone());
        previous = hash;
    }
    prepared(
        "UPDATE audit_events AS e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash, sealed_at = now() \
         FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS u(id, seq, prev_hash, hash) \
         WHERE e.id = u.id",
    )
    .bind::<Array<Int8>, _>(&ids)
    .bind::<Array<Int8>, _>(&seqs)
    .bind::<Array<Bytea>, _>(&prevs)
    .bind::<Array<Bytea>, _>(&hashes)
    .execute(conn)
    .await?;
    diesel::update(head::table)
        .set((head::seq.eq(seq), head::hash.eq(&previous)))
        .cached()
        .execute(conn)
        .await?;
    Ok(pending.len())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// True when every sealed event hashes to its stored hash, links to its predecessor, the
    /// sequence has no gap, and the chain ends at the recorded head.
    pub ok: bool,
    pub events_checked: i64,
    pub last_seq: i64,
    /// The first event at fault, when `ok` is false.
    pub first_bad_seq: Option<i64>,
    pub problem: Option<String>,
}

/// The hash of `event` if it is the one expected next in the chain after `previous`, or the
/// first bad sequence number and what is wrong.
fn next_link(
    previous: &[u8],
    expected_seq: i64,
    event: &AuditEvent,
) -> Result<Vec<u8>, (i64, String)> {
    let seq = event.seq.unwrap_or_default();
    if seq != expected_seq {
        return Err((expected_seq, format!("event {expected_seq} is missing")));
    }
    if event.prev_hash.as_deref() != Some(previous) {
        return Err((
            seq,
            format!("event {seq} does not link to event {}", seq - 1),
        ));
    }
    let hash = chain_hash(previous, seq, event);
    if event.hash.as_deref() != Some(hash.as_slice()) {
        return Err((seq, format!("event {seq} was altered after it was sealed")));
    }
    Ok(hash)
}

/// Recomputes the whole chain.
pub async fn verify(conn: &mut AsyncPgConnection) -> QueryResult<Verification> {
    let (head_seq, head_hash): (i64, Vec<u8>) = head::table
        .select((head::seq, head::hash))
        .first(conn)
        .await?;
    let mut previous = vec![0u8; 32];
    let mut expected_seq = 1i64;
    let mut checked = 0i64;
    let fail = |seq: i64, checked: i64, problem: String| Verification {
        ok: false,
        events_checked: checked,
        last_seq: head_seq,
        first_bad_seq: Some(seq),
        problem: Some(problem),
    };
    loop {
        let batch: Vec<AuditEvent> = events::table
            .filter(events::seq.ge(expected_seq))
            .filter(events::seq.le(head_seq))
            .order(events::seq)
            .limit(VERIFY_BATCH)
            .select(AuditEvent::as_select())
            .load(conn)
            .await?;
        if batch.is_empty() {
            break;
        }
        for event in &batch {
            match next_link(&previous, expected_seq, event) {
                Ok(hash) => previous = hash,
                Err((seq, problem)) => return Ok(fail(seq, checked, problem)),
            }
            expected_seq += 1;
            checked += 1;
        }
    }
    if checked != head_seq {
        return Ok(fail(
            checked + 1,
            checked,
            format!("the chain ends at event {checked}, but {head_seq} were sealed"),
        ));
    }
    if previous != head_hash {
        return Ok(fail(
            head_seq,
            checked,
            "the last event does not match the recorded chain head".into(),
        ));
    }
    Ok(Verification {
        ok: true,
        events_checked: checked,
        last_seq: head_seq,
        first_bad_seq: None,
        problem: None,
    })
}

/// Whose events a list returns.
pub enum Scope {
    Everything,
    /// Events that concern the org.
    Org(Uuid),
    /// Events the org's own users caused.
    ActorOrg(Uuid),
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = events::table
        .select(AuditEvent::as_select())
        .order(events::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(before) = before_id {
        query = query.filter(events::id.lt(before));
    }
    query = match scope {
        Scope::Everything => query,
        Scope::Org(org) => query.filter(events::org_ids.contains(vec![org])),
        Scope::ActorOrg(org) => query.filter(events::actor_org_id.eq(org)),
    };
    query.load(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_orders_keys_at_every_depth() {
        let mut inner = serde_json::Map::new();
        inner.insert("d".into(), Value::from("x\"y"));
        inner.insert("c".into(), Value::Null);
        let mut outer = serde_json::Map::new();
        outer.insert("b".into(), Value::Array(vec![Value::Object(inner)]));
        outer.insert("a".into(), Value::from(1));
        assert_eq!(
            canonical(&Value::Object(outer)),
            r#"{"a":1,"b":[{"c":null,"d":"x\"y"}]}"#
        );
    }
}
