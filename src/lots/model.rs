//! Rows and API types for lots, movements and release orders.

use crate::db::schema::{lots, movements, release_orders};
use crate::domain::inputs::QuantityInput;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::{LotStatus, MovementKind, ReleaseOrderStatus};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lots)]
pub struct LotRow {
    pub id: Uuid,
    pub seq: i64,
    pub code: String,
    pub owner_org_id: Uuid,
    pub commodity_code: String,
    pub grade: String,
    pub unit: String,
    pub status: LotStatus,
    pub quantity_announced: Decimal,
    pub quantity_on_hand: Decimal,
    pub quantity_pledged: Decimal,
    pub quantity_reserved: Decimal,
    /// The part of `quantity_reserved` that pending sales hold (the rest: open release
    /// orders). It may overlap the pledges: a sale takes pledged goods first.
    pub quantity_sold: Decimal,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub packed_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub parent_lot_id: Option<Uuid>,
    pub market_value_at_deposit: Option<Decimal>,
    pub deposit_currency: Option<String>,
    pub storage_rate_per_unit_day: Option<Decimal>,
    pub storage_currency: Option<String>,
    pub insurer: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the goods came into `warehouse_id` (a split keeps its parent's).
    pub warehouse_since: Option<DateTime<Utc>>,
    pub declared_grade: String,
    pub last_inspection_id: Option<Uuid>,
    pub last_inspected_at: Option<DateTime<Utc>>,
    pub inspection_due_on: Option<NaiveDate>,
}

impl LotRow {
    /// What is neither pledged nor reserved: free to withdraw, split off, pledge or sell.
    pub fn quantity_free(&self) -> Decimal {
        (self.quantity_on_hand - self.quantity_pledged - self.quantity_reserved).max(Decimal::ZERO)
    }
}

/// Warehouse-receipt facts kept from intake. Not shown to warehouse operators.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// What the goods were worth when received, in `deposit_currency`.
    pub market_value_at_deposit: Option<Money>,
    pub deposit_currency: Option<String>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub storage_rate_per_unit_day: Option<Decimal>,
    pub storage_currency: Option<String>,
    pub insurer: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Lot {
    pub id: Uuid,
    pub code: String,
    pub owner_org_id: Uuid,
    pub commodity_code: String,
    /// The grade that values the goods: the latest inspection's once inspected, until then
    /// the one the supplier declared.
    pub grade: String,
    /// The grade the supplier declared when announcing the lot.
    pub declared_grade: String,
    /// The latest inspection (`GET /v1/lots/{id}/inspections` has them all).
    pub last_inspection_id: Option<Uuid>,
    pub last_inspected_at: Option<DateTime<Utc>>,
    /// The day by which the next inspection is due, where the commodity requires inspection:
    /// the day of intake until first inspected, then the last inspection plus the
    /// commodity's re-inspection interval. `null` when none is due.
    pub inspection_due_on: Option<NaiveDate>,
    /// `announced`, `in_custody`, `in_transit` or `released`.
    pub status: LotStatus,
    pub unit: String,
    pub quantity_announced: Quantity,
    pub quantity_on_hand: Quantity,
    pub quantity_pledged: Quantity,
    pub quantity_reserved: Quantity,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub packed_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// On quality hold: an unacknowledged temperature breach at its warehouse.
    pub on_hold: bool,
    pub parent_lot_id: Option<Uuid>,
    pub received_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

impl Lot {
    pub fn from_row(row: LotRow, on_hold: bool, with_money: bool) -> Self {
        let receipt = with_money.then(|| Receipt {
            market_value_at_deposit: row
                .market_value_at_deposit
                .zip(row.deposit_currency.as_deref())
                .map(|(value, currency)| Money::at(value, currency)),
            deposit_currency: row.deposit_currency.clone(),
            storage_rate_per_unit_day: row.storage_rate_per_unit_day,
            storage_currency: row.storage_currency.clone(),
            insurer: row.insurer.clone(),
        });
        Self {
            id: row.id,
            code: row.code,
            owner_org_id: row.owner_org_id,
            commodity_code: row.commodity_code,
            grade: row.grade,
            declared_grade: row.declared_grade,
            last_inspection_id: row.last_inspection_id,
            last_inspected_at: row.last_inspected_at,
            inspection_due_on: row.inspection_due_on,
            status: row.status,
            quantity_announced: Quantity::at(row.quantity_announced, &row.unit),
            quantity_on_hand: Quantity::at(row.quantity_on_hand, &row.unit),
            quantity_pledged: Quantity::at(row.quantity_pledged, &row.unit),
            quantity_reserved: Quantity::at(row.quantity_reserved, &row.unit),
            warehouse_id: row.warehouse_id,
            voyage_id: row.voyage_id,
            packed_on: row.packed_on,
            expires_on: row.expires_on,
            on_hold,
            parent_lot_id: row.parent_lot_id,
            received_at: row.received_at,
            created_at: row.created_at,
            unit: row.unit,
            receipt,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLot {
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: String,
    pub grade: String,
    /// In the commodity's unit, as a decimal string.
    pub quantity: QuantityInput,
    pub packed_on: NaiveDate,
    /// The warehouse the goods are coming to, or
    #[serde(default)]
    pub warehouse_id: Option<Uuid>,
    /// the voyage they are loaded onto.
    #[serde(default)]
    pub voyage_id: Option<Uuid>,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub insurer: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LotQuery {
    /// The code printed on the lot, in any case, with or without spaces and hyphens. A code
    /// whose check character does not match finds nothing.
    #[param(
        max_length = 40,
        pattern = r"^[ -]*(?:[2-9A-HJKMNP-TV-Za-hjkmnp-tv-z][ -]*){9}$"
    )]
    pub code: Option<String>,
    #[param(value_type = Option<crate::domain::states::LotStatus>)]
    pub status: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    #[param(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: Option<String>,
    /// Only lots expiring before this date.
    pub expiring_before: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = movements)]
pub struct Movement {
    pub id: i64,
    pub lot_id: Uuid,
    /// `announce`, `receive`, `release`, `load`, `unload`, `transfer`, `count_adjustment`,
    /// `split_out`, `split_in` or `regrade`.
    pub kind: MovementKind,
    pub quantity_change: Quantity,
    pub quantity_after: Quantity,
    pub status_after: LotStatus,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub release_order_id: Option<Uuid>,
    pub related_lot_id: Option<Uuid>,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub actor_user_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Movement {
    /// The movement with its quantities shown at the decimals of its lot's `unit`.
    pub fn in_unit(self, unit: &str) -> Self {
        Self {
            quantity_change: self.quantity_change.in_unit(unit),
            quantity_after: self.quantity_after.in_unit(unit),
            ..self
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = release_orders)]
pub struct ReleaseOrder {
    pub id: Uuid,
    pub lot_id: Uuid,
    /// `withdrawal`, `sale`, `lender_consent` or `liquidation`.
    pub kind: String,
    pub quantity: Quantity,
    pub quantity_released: Quantity,
    /// `open`, `completed` or `cancelled`.
    pub status: ReleaseOrderStatus,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A release order as a settlement wrote it, for the sale's answer.
#[derive(Debug, Clone, QueryableByName)]
pub struct ReleaseOrderWritten {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub quantity: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub quantity_released: Decimal,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: ReleaseOrderStatus,
}

impl ReleaseOrder {
    /// The order with its quantities shown at the decimals of its lot's `unit`.
    pub fn in_unit(self, unit: &str) -> Self {
        Self {
            quantity: self.quantity.in_unit(unit),
            quantity_released: self.quantity_released.in_unit(unit),
            ..self
        }
    }
}

/// A release order as a worker looks for it: with its lot's code, unit and place, and how much
/// may still leave against it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReleaseOrderEntry {
    #[serde(flatten)]
    pub order: ReleaseOrder,
    pub lot_code: String,
    pub unit: String,
    pub warehouse_id: Option<Uuid>,
    pub quantity_left: Quantity,
}

/// `GET /v1/release-orders?lot_id=&warehouse_id=&status=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReleaseOrderQuery {
    pub lot_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    /// Default: every status.
    pub status: Option<ReleaseOrderStatus>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    pub quantity: QuantityInput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SplitResult {
    pub parent: Lot,
    pub child: Lot,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Withdrawal {
    pub release_order_id: Uuid,
    pub release_order: ReleaseOrder,
}

pub fn lot_not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("lot_not_found", "no such lot")
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LabelsQuery {
    /// The lots to label, 1 to 100 ids separated by commas, printed in this order.
    #[param(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}){0,99}$"
    )]
    pub lot_ids: String,
}
