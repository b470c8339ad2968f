//! Fee schedules in the database: the current one of a scope, superseding it, the list, and
//! the most specific one that applies to goods.

use super::model::FeeSchedule;
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::fee_schedules;
use crate::error::{ApiError, ApiResult};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A key that serialises changes of the fee schedules (a rare, admin-only write).
const SCHEDULE_LOCK: i64 = 0x686f_6c64_6665_6573;

/// Serialise schedule changes until the transaction ends.
pub async fn lock_schedules(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    prepared("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(SCHEDULE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// The current schedule of exactly this scope.
pub async fn current_of_scope(
    conn: &mut AsyncPgConnection,
    warehouse: Option<Uuid>,
    commodity: Option<&str>,
    currency: Option<&str>,
) -> QueryResult<Option<FeeSchedule>> {
    same_scope(warehouse, commodity, currency)
        .select(FeeSchedule::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn supersede(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(fee_schedules::table.find(id))
        .set(fee_schedules::superseded_at.eq(Utc::now()))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// A schedule's values, checked.
pub struct ScheduleValues<'a> {
    pub warehouse_id: Option<Uuid>,
    pub commodity_code: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub method: &'a str,
    pub days: Option<i32>,
    pub percent: Option<Decimal>,
    pub minimum_fee: Decimal,
    pub created_by: Uuid,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    values: ScheduleValues<'_>,
) -> QueryResult<FeeSchedule> {
    diesel::insert_into(fee_schedules::table)
        .values((
            fee_schedules::id.eq(Uuid::new_v4()),
            fee_schedules::warehouse_id.eq(values.warehouse_id),
            fee_schedules::commodity_code.eq(values.commodity_code),
            fee_schedules::currency.eq(values.currency),
            fee_schedules::method.eq(values.method),
            fee_schedules::days.eq(values.days),
            fee_schedules::percent.eq(values.percent),
            fee_schedules::minimum_fee.eq(values.minimum_fee),
            fee_schedules::created_by.eq(values.created_by),
        ))
        .returning(FeeSchedule::as_returning())
        .get_result(conn)
        .await
}

/// The current schedules, oldest first.
pub async fn current(conn: &mut AsyncPgConnection) -> QueryResult<Vec<FeeSchedule>> {
    fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .order(fee_schedules::seq)
        .select(FeeSchedule::as_select())
        .load(conn)
        .await
}

fn same_scope<'a>(
    warehouse: Option<Uuid>,
    commodity: Option<&'a str>,
    currency: Option<&'a str>,
) -> fee_schedules::BoxedQuery<'a, diesel::pg::Pg> {
    let mut query = fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .into_boxed();
    query = match warehouse {
        Some(w) => query.filter(fee_schedules::warehouse_id.eq(w)),
        None => query.filter(fee_schedules::warehouse_id.is_null()),
    };
    query = match commodity {
        Some(c) => query.filter(fee_schedules::commodity_code.eq(c)),
        None => query.filter(fee_schedules::commodity_code.is_null()),
    };
    match currency {
        Some(c) => query.filter(fee_schedules::currency.eq(c)),
        None => query.filter(fee_schedules::currency.is_null()),
    }
}

/// The schedule that applies to goods of `commodity` leaving `warehouse`, sold in `currency`.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    warehouse: Option<Uuid>,
    commodity: &str,
    currency: &str,
) -> ApiResult<FeeSchedule> {
    let mut query = fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .filter(
            fee_schedules::commodity_code
                .is_null()
                .or(fee_schedules::commodity_code.eq(commodity)),
        )
        .filter(
            fee_schedules::currency
                .is_null()
                .or(fee_schedules::currency.eq(currency)),
        )
        .into_boxed();
    query = match warehouse {
        Some(w) => query.filter(
            fee_schedules::warehouse_id
                .is_null()
                .or(fee_schedules::warehouse_id.eq(w)),
        ),
        None => query.filter(fee_schedules::warehouse_id.is_null()),
    };
    query
        .order((
            fee_schedules::warehouse_id.is_not_null().desc(),
            fee_schedules::commodity_code.is_not_null().desc(),
            fee_schedules::currency.is_not_null().desc(),
        ))
        .select(FeeSchedule::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_fee_schedule",
                "no fee schedule applies to these goods; the platform must set one",
            )
        })
}
