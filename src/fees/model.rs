//! The fee area's types: schedules as stored and as asked for, a line's fee, a sale's fee
//! breakdown, and the quote query.

use crate::db::schema::fee_schedules;
use crate::domain::inputs::{AmountOrZero, Fraction, QuantityInput, UnitPrice};
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const STORAGE_DAYS_EQUIVALENT: &str = "storage_days_equivalent";
pub const PERCENT_OF_VALUE: &str = "percent_of_value";

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = fee_schedules)]
pub struct FeeSchedule {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    /// The warehouse it applies to (none: every warehouse).
    pub warehouse_id: Option<Uuid>,
    /// The commodity it applies to (none: every commodity).
    pub commodity_code: Option<String>,
    /// The sale currency it applies to (none: every currency).
    pub currency: Option<String>,
    /// `storage_days_equivalent` or `percent_of_value`.
    pub method: String,
    pub days: Option<i32>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<Decimal>,
    /// At the minor unit of `currency` (two places without one, when it is 0).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub minimum_fee: Decimal,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

impl FeeSchedule {
    /// The schedule as the API prints it: its minimum fee at its currency's minor unit.
    pub fn shown(self) -> Self {
        let currency = self.currency.as_deref().unwrap_or("");
        Self {
            minimum_fee: crate::domain::valuation::at_minor_unit(self.minimum_fee, currency),
            ..self
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeeSchedule {
    pub warehouse_id: Option<Uuid>,
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: Option<String>,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// `storage_days_equivalent` (needs `days`, default 30) or `percent_of_value` (needs
    /// `percent`, a fraction: 0.015 for 1.5 %).
    #[schema(pattern = r"^(storage_days_equivalent|percent_of_value)$")]
    pub method: String,
    #[schema(minimum = 1, maximum = 365)]
    pub days: Option<i32>,
    #[serde(default)]
    pub percent: Option<Fraction>,
    /// In `currency`, which it then requires (default 0).
    #[serde(default)]
    pub minimum_fee: Option<AmountOrZero>,
}

/// The fee of one sale line, before the tier and before rounding.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineFee {
    pub lot_id: Uuid,
    pub quantity: Quantity,
    pub schedule_id: Uuid,
    pub method: String,
    /// The warehouse whose storage rate and schedule apply: where the goods are, or where
    /// their voyage is bound.
    pub warehouse_id: Option<Uuid>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub storage_rate_per_unit_day: Option<Decimal>,
    pub days: Option<i32>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<Decimal>,
    pub sale_value: Money,
    /// The method's amount.
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub base: Decimal,
    /// At the sale currency's minor unit.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub minimum_fee: Decimal,
    pub minimum_applied: bool,
    /// max(base, minimum fee).
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub charge: Decimal,
}

/// The fee of a whole sale: every line's charge, summed, × the tier factor, rounded once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeeBreakdown {
    pub lines: Vec<LineFee>,
    pub tier: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub tier_factor: Decimal,
    pub fee: Money,
    pub currency: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuoteQuery {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
    /// The agreed price per unit; needed by `percent_of_value` schedules.
    pub unit_price: Option<UnitPrice>,
    /// The sale currency (default: the currency of the warehouse's storage rate, else CNY).
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
}
