//! Rows and API types for commodities, warehouses, storage rates and voyages.

use crate::db::schema::{commodities, storage_rates, voyages, warehouses};
use crate::domain::inputs::{Celsius, UnitInterval};
use crate::domain::quantity::Unit;
use crate::domain::states::VoyageStatus;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = commodities)]
pub struct CommodityRow {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub shelf_life_days: i32,
    pub fresh_days: i32,
    pub end_freshness_factor: Decimal,
    pub grades: Value,
    pub temperature_min_c: Option<Decimal>,
    pub temperature_max_c: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    /// The quality rules in force (`commodity_quality`), when there are any.
    pub quality_version: Option<i32>,
    pub inspection_required: bool,
    pub reinspect_days: Option<i32>,
}

impl CommodityRow {
    pub fn unit(&self) -> Unit {
        Unit::parse(&self.unit).unwrap_or(Unit::Kg)
    }

    pub fn grade_factor(&self, grade: &str) -> Option<Decimal> {
        self.grades.get(grade)?.as_str()?.parse().ok()
    }

    /// Every grade with its value factor.
    pub fn grade_factors(&self) -> BTreeMap<String, Decimal> {
        self.grades
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(grade, _)| Some((grade.clone(), self.grade_factor(grade)?)))
            .collect()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Commodity {
    pub code: String,
    pub name: String,
    pub unit: Unit,
    pub shelf_life_days: i32,
    pub fresh_days: i32,
    #[schema(value_type = String)]
    pub end_freshness_factor: Decimal,
    /// Grade name → value factor.
    #[schema(value_type = Object)]
    pub grades: Value,
    #[schema(value_type = Option<String>)]
    pub temperature_min_c: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub temperature_max_c: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    /// The version of the quality rules in force (`GET /v1/commodities/{code}/quality`).
    pub quality_version: Option<i32>,
    /// Lots must be inspected before they serve as collateral.
    pub inspection_required: bool,
    /// Days after an inspection by which the next one is due.
    pub reinspect_days: Option<i32>,
}

impl From<CommodityRow> for Commodity {
    fn from(row: CommodityRow) -> Self {
        Self {
            unit: row.unit(),
            code: row.code,
            name: row.name,
            shelf_life_days: row.shelf_life_days,
            fresh_days: row.fresh_days,
            end_freshness_factor: row.end_freshness_factor,
            grades: row.grades,
            temperature_min_c: row.temperature_min_c,
            temperature_max_c: row.temperature_max_c,
            created_at: row.created_at,
            quality_version: row.quality_version,
            inspection_required: row.inspection_required,
            reinspect_days: row.reinspect_days,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommodity {
    /// Upper-case letters, digits and `_`, e.g. `APPLE_FUJI`.
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub code: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    pub unit: Unit,
    #[schema(minimum = 1, maximum = 3650)]
    pub shelf_life_days: i32,
    pub fresh_days: i32,
    /// Value factor reached at the end of shelf life (0–1, default 0.5).
    #[serde(default)]
    pub end_freshness_factor: Option<UnitInterval>,
    /// Grade name → factor as a decimal string, e.g. `{"A": "1.00", "B": "0.85"}`.
    #[schema(value_type = Object)]
    pub grades: BTreeMap<String, String>,
    #[serde(default)]
    pub temperature_min_c: Option<Celsius>,
    #[serde(default)]
    pub temperature_max_c: Option<Celsius>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = warehouses)]
pub struct WarehouseRow {
    pub id: Uuid,
    pub name: String,
    pub operator_org_id: Uuid,
    pub address: String,
    pub kind: String,
    pub temperature_min_c: Option<Decimal>,
    pub temperature_max_c: Option<Decimal>,
    pub breach_grace_minutes: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, utoipa::ToSchema)]
#[diesel(table_name = storage_rates)]
#[serde(deny_unknown_fields)]
pub struct StorageRate {
    pub commodity_code: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub rate_per_unit_day: Decimal,
    pub currency: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Warehouse {
    pub id: Uuid,
    pub name: String,
    pub operator_org_id: Uuid,
    pub address: String,
    pub kind: String,
    #[schema(value_type = Option<String>)]
    pub temperature_min_c: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub temperature_max_c: Option<Decimal>,
    pub breach_grace_minutes: i32,
    pub storage_rates: Vec<StorageRate>,
    pub created_at: DateTime<Utc>,
}

impl Warehouse {
    pub fn from_row(row: WarehouseRow, storage_rates: Vec<StorageRate>) -> Self {
        Self {
            id: row.id,
            name: row.name,
            operator_org_id: row.operator_org_id,
            address: row.address,
            kind: row.kind,
            temperature_min_c: row.temperature_min_c,
            temperature_max_c: row.temperature_max_c,
            breach_grace_minutes: row.breach_grace_minutes,
            storage_rates,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WarehouseKind {
    ColdStorage,
    Ambient,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWarehouse {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    pub operator_org_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub address: String,
    pub kind: WarehouseKind,
    #[serde(default)]
    pub temperature_min_c: Option<Celsius>,
    #[serde(default)]
    pub temperature_max_c: Option<Celsius>,
    /// Minutes out of range before a breach opens (default 30).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10080)]
    pub breach_grace_minutes: Option<i32>,
    #[serde(default)]
    pub storage_rates: Vec<StorageRate>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = voyages)]
pub struct Voyage {
    pub id: Uuid,
    pub vessel_name: String,
    pub carrier_org_id: Uuid,
    pub origin: String,
    pub destination: String,
    pub destination_warehouse_id: Option<Uuid>,
    pub departs_at: DateTime<Utc>,
    pub eta: DateTime<Utc>,
    /// `planned`, `underway` or `arrived`.
    pub status: VoyageStatus,
    pub departed_at: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// `GET /v1/voyages?status=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VoyageQuery {
    pub status: Option<VoyageStatus>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVoyage {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub vessel_name: String,
    /// The warehouse-operator org that runs the vessel and scans goods on and off it.
    pub carrier_org_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub origin: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub destination: String,
    /// Where the goods are unloaded, when known.
    #[serde(default)]
    pub destination_warehouse_id: Option<Uuid>,
    pub departs_at: DateTime<Utc>,
    pub eta: DateTime<Utc>,
}
