//! Queries for custody incidents: insert one, read one or a page of those an org may see.

use super::model::{Incident, NewIncident};
use crate::auth::OrgKind;
use diesel::QueryResult;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

const COLUMNS: &str = "id, seq, lot_id, lot_code, commodity_code, warehouse_id, operator_org_id, \
    owner_org_id, lender_org_ids, buyer_org_ids, movement_id, quantity_missing, unit, value, \
    currency, reason, effects, recorded_by, created_at";

/// Who sees an incident: the platform all; an org those it is party to (the operator, the
/// owner, a lender or buyer the loss touched). $1 the org, NULL for the platform.
const VISIBLE: &str = "($1::uuid IS NULL OR operator_org_id = $1 OR owner_org_id = $1 \
    OR $1 = ANY (lender_org_ids) OR $1 = ANY (buyer_org_ids))";

/// The org whose view to apply: `None` for the platform.
pub fn viewer(kind: OrgKind, org: Uuid) -> Option<Uuid> {
    (kind != OrgKind::Platform).then_some(org)
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewIncident<'_>,
    (lenders, buyers): (&[Uuid], &[Uuid]),
) -> QueryResult<Incident> {
    let effects = serde_json::to_value(new.effects).unwrap_or_default();
    let (value, currency) = new.value.clone().unzip();
    diesel::sql_query(format!(
        "INSERT INTO custody_incidents (id, lot_id, lot_code, commodity_code, warehouse_id, \
             operator_org_id, owner_org_id, lender_org_ids, buyer_org_ids, movement_id, \
             quantity_missing, unit, value, currency, reason, effects, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING {COLUMNS}"
    ))
    .bind::<SqlUuid, _>(Uuid::new_v4())
    .bind::<SqlUuid, _>(new.lot.id)
    .bind::<Text, _>(&new.lot.code)
    .bind::<Text, _>(&new.lot.commodity_code)
    .bind::<SqlUuid, _>(new.warehouse_id)
    .bind::<SqlUuid, _>(new.operator_org_id)
    .bind::<SqlUuid, _>(new.lot.owner_org_id)
    .bind::<Array<SqlUuid>, _>(lenders)
    .bind::<Array<SqlUuid>, _>(buyers)
    .bind::<BigInt, _>(new.movement_id)
    .bind::<Numeric, _>(new.quantity_missing)
    .bind::<Text, _>(&new.lot.unit)
    .bind::<Nullable<Numeric>, _>(value)
    .bind::<Nullable<Text>, _>(currency)
    .bind::<Text, _>(new.reason)
    .bind::<Jsonb, _>(effects)
    .bind::<SqlUuid, _>(new.recorded_by)
    .get_result(conn)
    .await
}

/// The incident, if `org` (None: the platform) may see it.
pub async fn find(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    id: Uuid,
) -> QueryResult<Option<Incident>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM custody_incidents WHERE {VISIBLE} AND id = $2"
    ))
    .bind::<Nullable<SqlUuid>, _>(org)
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
    .map(Some)
    .or_else(|e| match e {
        diesel::result::Error::NotFound => Ok(None),
        e => Err(e),
    })
}

/// A page of the incidents `org` may see, oldest first, after `after` (a seq).
pub async fn list(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    lot: Option<Uuid>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Incident>> {
    diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM custody_incidents WHERE {VISIBLE} \
           AND ($2::uuid IS NULL OR lot_id = $2) AND seq > $3 ORDER BY seq LIMIT $4"
    ))
    .bind::<Nullable<SqlUuid>, _>(org)
    .bind::<Nullable<SqlUuid>, _>(lot)
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<BigInt, _>(limit + 1)
    .load(conn)
    .await
}
