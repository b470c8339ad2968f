//! Queries for reference data.

use super::model::{CommodityRow, StorageRate, Voyage, WarehouseRow};
use crate::db::locks::{LockOrder, Rank};
use crate::db::prepared::prepared;
use crate::db::schema::{commodities, storage_rates, voyages, warehouses};
use crate::domain::states::VoyageStatus;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn find_commodity(
    conn: &mut AsyncPgConnection,
    code: &str,
) -> QueryResult<Option<CommodityRow>> {
    commodities::table
        .find(code)
        .select(CommodityRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list_commodities(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CommodityRow>> {
    commodities::table
        .order(commodities::code)
        .select(CommodityRow::as_select())
        .load(conn)
        .await
}

pub async fn find_warehouse(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<WarehouseRow>> {
    warehouses::table
        .find(id)
        .select(WarehouseRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list_warehouses(conn: &mut AsyncPgConnection) -> QueryResult<Vec<WarehouseRow>> {
    warehouses::table
        .order(warehouses::name)
        .select(WarehouseRow::as_select())
        .load(conn)
        .await
}

pub async fn rates_of(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
) -> QueryResult<Vec<StorageRate>> {
    storage_rates::table
        .filter(storage_rates::warehouse_id.eq(warehouse))
        .order(storage_rates::commodity_code)
        .select(StorageRate::as_select())
        .load(conn)
        .await
}

pub async fn storage_rate(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    commodity: &str,
) -> QueryResult<Option<StorageRate>> {
    storage_rates::table
        .find((warehouse, commodity))
        .select(StorageRate::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_voyage(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Voyage>> {
    voyages::table
        .find(id)
        .select(Voyage::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whose voyages a list shows: every voyage, a carrier's own, or those a supplier has goods
/// on (aboard, or announced aboard).
#[derive(Clone, Copy, Debug)]
pub enum VoyageScope {
    All,
    Carrier(Uuid),
    GoodsOf(Uuid),
}

/// Voyages in `scope`, latest departure first; `offset` and `limit` page them.
pub async fn voyages(
    conn: &mut AsyncPgConnection,
    scope: VoyageScope,
    status: Option<VoyageStatus>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Voyage>> {
    use crate::db::schema::lots;
    let mut query = voyages::table
        .select(Voyage::as_select())
        .order((voyages::departs_at.desc(), voyages::id.asc()))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    match scope {
        VoyageScope::All => {}
        VoyageScope::Carrier(org) => query = query.filter(voyages::carrier_org_id.eq(org)),
        VoyageScope::GoodsOf(org) => {
            let aboard = lots::table
                .filter(lots::owner_org_id.eq(org))
                .filter(lots::voyage_id.is_not_null())
                .select(lots::voyage_id.assume_not_null());
            query = query.filter(voyages::id.eq_any(aboard));
        }
    }
    if let Some(status) = status {
        query = query.filter(voyages::status.eq(status.as_str()));
    }
    query.load(conn).await
}

pub async fn lock_voyage(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    id: Uuid,
) -> QueryResult<Option<Voyage>> {
    order.take(Rank::Voyage, id);
    voyages::table
        .find(id)
        .select(Voyage::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Warehouses the org operates.
pub async fn operated_by(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Vec<Uuid>> {
    warehouses::table
        .filter(warehouses::operator_org_id.eq(org))
        .select(warehouses::id)
        .load(conn)
        .await
}

pub struct CommodityValues<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub unit: &'a str,
    pub shelf_life_days: i32,
    pub fresh_days: i32,
    pub end_freshness_factor: rust_decimal::Decimal,
    pub grades: serde_json::Value,
    pub temperature_min_c: Option<rust_decimal::Decimal>,
    pub temperature_max_c: Option<rust_decimal::Decimal>,
}

pub async fn insert_commodity(
    conn: &mut AsyncPgConnection,
    c: CommodityValues<'_>,
) -> QueryResult<CommodityRow> {
    diesel::insert_into(commodities::table)
        .values((
            commodities::code.eq(c.code),
            commodities::name.eq(c.name),
            commodities::unit.eq(c.unit),
            commodities::shelf_life_days.eq(c.shelf_life_days),
            commodities::fresh_days.eq(c.fresh_days),
            commodities::end_freshness_factor.eq(c.end_freshness_factor),
            commodities::grades.eq(c.grades),
            commodities::temperature_min_c.eq(c.temperature_min_c),
            commodities::temperature_max_c.eq(c.temperature_max_c),
        ))
        .returning(CommodityRow::as_returning())
        .get_result(conn)
        .await
}

pub struct WarehouseValues<'a> {
    pub name: &'a str,
    pub operator_org_id: Uuid,
    pub address: &'a str,
    pub kind: &'a str,
    pub temperature_min_c: Option<rust_decimal::Decimal>,
    pub temperature_max_c: Option<rust_decimal::Decimal>,
    pub breach_grace_minutes: i32,
}

pub async fn insert_warehouse(
    conn: &mut AsyncPgConnection,
    w: WarehouseValues<'_>,
) -> QueryResult<WarehouseRow> {
    diesel::insert_into(warehouses::table)
        .values((
            warehouses::id.eq(Uuid::new_v4()),
            warehouses::name.eq(w.name),
            warehouses::operator_org_id.eq(w.operator_org_id),
            warehouses::address.eq(w.address),
            warehouses::kind.eq(w.kind),
            warehouses::temperature_min_c.eq(w.temperature_min_c),
            warehouses::temperature_max_c.eq(w.temperature_max_c),
            warehouses::breach_grace_minutes.eq(w.breach_grace_minutes),
        ))
        .returning(WarehouseRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert_storage_rate(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    rate: &StorageRate,
) -> QueryResult<usize> {
    diesel::insert_into(storage_rates::table)
        .values((
            storage_rates::warehouse_id.eq(warehouse),
            storage_rates::commodity_code.eq(&rate.commodity_code),
            storage_rates::rate_per_unit_day.eq(rate.rate_per_unit_day),
            storage_rates::currency.eq(&rate.currency),
        ))
        .execute(conn)
        .await
}

pub struct VoyageValues<'a> {
    pub vessel_name: &'a str,
    pub carrier_org_id: Uuid,
    pub origin: &'a str,
    pub destination: &'a str,
    pub destination_warehouse_id: Option<Uuid>,
    pub departs_at: chrono::DateTime<chrono::Utc>,
    pub eta: chrono::DateTime<chrono::Utc>,
}

pub async fn insert_voyage(
    conn: &mut AsyncPgConnection,
    v: VoyageValues<'_>,
) -> QueryResult<Voyage> {
    diesel::insert_into(voyages::table)
        .values((
            voyages::id.eq(Uuid::new_v4()),
            voyages::vessel_name.eq(v.vessel_name),
            voyages::carrier_org_id.eq(v.carrier_org_id),
            voyages::origin.eq(v.origin),
            voyages::destination.eq(v.destination),
            voyages::destination_warehouse_id.eq(v.destination_warehouse_id),
            voyages::departs_at.eq(v.departs_at),
            voyages::eta.eq(v.eta),
        ))
        .returning(Voyage::as_returning())
        .get_result(conn)
        .await
}

/// Moves a voyage to `underway` (stamping `departed_at`) or `arrived` (stamping `arrived_at`).
pub async fn set_voyage_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: VoyageStatus,
) -> QueryResult<Voyage> {
    let now = chrono::Utc::now();
    let update = diesel::update(voyages::table.find(id));
    if status == VoyageStatus::Underway {
        update
            .set((voyages::status.eq(status), voyages::departed_at.eq(now)))
            .returning(Voyage::as_returning())
            .get_result(conn)
            .await
    } else {
        update
            .set((voyages::status.eq(status), voyages::arrived_at.eq(now)))
            .returning(Voyage::as_returning())
            .get_result(conn)
            .await
    }
}

/// What goods need to be stamped at intake, read in one statement: the warehouse's storage
/// rate for the commodity (none aboard a vessel, or without one), the commodity's latest price
/// up to `at` in any currency, and the commodity's grade and freshness terms.
#[derive(diesel::QueryableByName)]
pub struct IntakeFacts {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    pub rate_per_unit_day: Option<rust_decimal::Decimal>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub rate_currency: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Numeric>)]
    pub price_per_unit: Option<rust_decimal::Decimal>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub price_currency: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub fresh_days: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub shelf_life_days: i32,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub end_freshness_factor: rust_decimal::Decimal,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub grades: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub inspection_required: bool,
}

impl IntakeFacts {
    pub fn storage_rate(&self, commodity: &str) -> Option<StorageRate> {
        Some(StorageRate {
            commodity_code: commodity.to_owned(),
            rate_per_unit_day: self.rate_per_unit_day?,
            currency: self.rate_currency.clone()?,
        })
    }

    pub fn grade_factor(&self, grade: &str) -> Option<rust_decimal::Decimal> {
        self.grades.get(grade)?.as_str()?.parse().ok()
    }
}

pub async fn intake_facts(
    conn: &mut AsyncPgConnection,
    warehouse: Option<Uuid>,
    commodity: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Option<IntakeFacts>> {
    use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
    prepared(
        "SELECT sr.rate_per_unit_day, sr.currency AS rate_currency, \
                p.price_per_unit, p.currency AS price_currency, \
                c.fresh_days, c.shelf_life_days, c.end_freshness_factor, c.grades, c.inspection_required \
         FROM commodities c \
         LEFT JOIN storage_rates sr ON sr.warehouse_id = $1 AND sr.commodity_code = c.code \
         LEFT JOIN LATERAL (SELECT price_per_unit, currency FROM prices \
                            WHERE commodity_code = c.code AND as_of <= $3 \
                            ORDER BY as_of DESC, id DESC LIMIT 1) p ON true \
         WHERE c.code = $2",
    )
    .bind::<Nullable<SqlUuid>, _>(warehouse)
    .bind::<Text, _>(commodity)
    .bind::<Timestamptz, _>(at)
    .get_result(conn)
    .await
    .optional()
}
