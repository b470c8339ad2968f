//! Queries for readings and breaches. Breaches of one sensor are recomputed from its readings
//! since the last in-range reading before the earliest new one, so readings arriving late,
//! out of order or twice give the same breaches as readings arriving in order once.

use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{breaches, temperature_readings as readings};
use crate::domain::cold_chain::{self, Excursion};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = breaches)]
pub struct Breach {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub warehouse_id: Uuid,
    pub sensor_id: String,
    /// `too_hot` or `too_cold`.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    /// `null` while the excursion goes on.
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub extreme_celsius: Decimal,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<Uuid>,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct Reading {
    pub warehouse_id: Uuid,
    pub sensor_id: String,
    pub recorded_at: DateTime<Utc>,
    pub celsius: Decimal,
}

/// Stores readings, ignoring any already stored; answers how many were new.
pub async fn insert_readings(
    conn: &mut AsyncPgConnection,
    batch: &[Reading],
) -> QueryResult<usize> {
    let rows: Vec<_> = batch
        .iter()
        .map(|r| {
            (
                readings::warehouse_id.eq(r.warehouse_id),
                readings::sensor_id.eq(&r.sensor_id),
                readings::recorded_at.eq(r.recorded_at),
                readings::celsius.eq(r.celsius),
            )
        })
        .collect();
    diesel::insert_into(readings::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// Recomputes one sensor's breaches from `earliest` on; answers the breaches it touched, each
/// with whether it is new.
pub async fn recompute(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    sensor: &str,
    earliest: DateTime<Utc>,
    (min, max): (Option<Decimal>, Option<Decimal>),
    grace: Duration,
) -> QueryResult<Vec<(Breach, bool)>> {
    // One recomputation per sensor at a time.
    prepared("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind::<diesel::sql_types::Text, _>(format!("{warehouse}/{sensor}"))
        .execute(conn)
        .await?;
    let low = min.unwrap_or(Decimal::from(-1000));
    let high = max.unwrap_or(Decimal::from(1000));
    // No excursion reaches back past an in-range reading, so start from the last one before
    // the earliest new reading (a new reading may cut an excursion that began before it).
    let start: Option<DateTime<Utc>> = readings::table
        .filter(readings::warehouse_id.eq(warehouse))
        .filter(readings::sensor_id.eq(sensor))
        .filter(readings::recorded_at.lt(earliest))
        .filter(readings::celsius.between(low, high))
        .select(diesel::dsl::max(readings::recorded_at))
        .first(conn)
        .await?;
    // Without an earlier in-range reading, the whole history of the sensor is recomputed.
    let start = start.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let series: Vec<(DateTime<Utc>, Decimal)> = readings::table
        .filter(readings::warehouse_id.eq(warehouse))
        .filter(readings::sensor_id.eq(sensor))
        .filter(readings::recorded_at.ge(start))
        .order(readings::recorded_at)
        .select((readings::recorded_at, readings::celsius))
        .load(conn)
        .await?;
    let found: Vec<Excursion> = cold_chain::breaches(&series, min, max, grace);
    store_breaches(conn, (warehouse, sensor), start, found).await
}

/// Makes the sensor's stored breaches from `start` on match those `found`: upserts each found
/// one and drops unacknowledged ones that are no longer breaches.
async fn store_breaches(
    conn: &mut AsyncPgConnection,
    (warehouse, sensor): (Uuid, &str),
    start: DateTime<Utc>,
    found: Vec<Excursion>,
) -> QueryResult<Vec<(Breach, bool)>> {
    let existing: Vec<Breach> = breaches::table
        .filter(breaches::warehouse_id.eq(warehouse))
        .filter(breaches::sensor_id.eq(sensor))
        .filter(breaches::started_at.ge(start))
        .select(Breach::as_select())
        .load(conn)
        .await?;
    // Breaches that later readings showed were not breaches after all go, unless staff
    // already acknowledged them.
    for stale in existing.iter().filter(|b| b.acknowledged_at.is_none()) {
        if !found
            .iter()
            .any(|e| e.started_at == stale.started_at && e.kind.as_str() == stale.kind)
        {
            diesel::delete(breaches::table.find(stale.id))
                .execute(conn)
                .await?;
        }
    }
    let mut touched = Vec::with_capacity(found.len());
    for excursion in found {
        let breach: Breach = diesel::insert_into(breaches::table)
            .values((
                breaches::id.eq(Uuid::new_v4()),
                breaches::warehouse_id.eq(warehouse),
                breaches::sensor_id.eq(sensor),
                breaches::kind.eq(excursion.kind.as_str()),
                breaches::started_at.eq(excursion.started_at),
                breaches::ended_at.eq(excursion.ended_at),
                breaches::extreme_celsius.eq(excursion.extreme),
            ))
            .on_conflict((
                breaches::warehouse_id,
                breaches::sensor_id,
                breaches::kind,
                breaches::started_at,
            ))
            .do_update()
            .set((
                breaches::ended_at.eq(excursion.ended_at),
                breaches::extreme_celsius.eq(excursion.extreme),
            ))
            .returning(Breach::as_returning())
            .get_result(conn)
            .await?;
        let new = !existing.iter().any(|b| b.id == breach.id);
        touched.push((breach, new));
    }
    Ok(touched)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    warehouses: Option<&[Uuid]>,
    open_only: bool,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Breach>> {
    let mut query = breaches::table
        .select(Breach::as_select())
        .order(breaches::seq)
        .limit(limit + 1)
        .into_boxed();
    if let Some(warehouses) = warehouses {
        query = query.filter(breaches::warehouse_id.eq_any(warehouses.to_vec()));
    }
    if open_only {
        query = query.filter(breaches::acknowledged_at.is_null());
    }
    if let Some(after) = after {
        query = query.filter(breaches::seq.gt(after));
    }
    query.load(conn).await
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Breach>> {
    breaches::table
        .find(id)
        .select(Breach::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn acknowledge(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    by: Uuid,
    comment: &str,
) -> QueryResult<Breach> {
    diesel::update(breaches::table.find(id))
        .set((
            breaches::acknowledged_at.eq(Utc::now()),
            breaches::acknowledged_by.eq(by),
            breaches::comment.eq(comment),
        ))
        .returning(Breach::as_returning())
        .cached()
        .get_result(conn)
        .await
}
