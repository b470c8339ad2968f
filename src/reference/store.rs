//! Queries for reference data.

use super::model::{CommodityRow, StorageRate, Voyage, WarehouseRow};
use crate::db::schema::{commodities, storage_rates, voyages, warehouses};
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

pub async fn lock_voyage(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Voyage>> {
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
