//! Incident types: the record, what the loss took off whom, and the list query.

use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use chrono::{DateTime, Utc};
use diesel::sql_types::{
    Array, BigInt, Jsonb, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What a shortage took off the lot's commitments, claim by claim.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Effects {
    /// Pending sales shrunk: their buyers are told.
    pub sales: Vec<SaleCut>,
    /// Pledges cut: their loans are revalued at once and the margin-call rules apply.
    pub pledges: Vec<PledgeCut>,
    /// Open release orders left with less to let out.
    pub release_orders: Vec<OrderCut>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SaleCut {
    pub sale_id: Uuid,
    pub buyer_org_id: Uuid,
    pub quantity_cut: Quantity,
    /// The sale's new total.
    pub total: Money,
    /// Every line of the sale was cut to nothing: the sale is cancelled.
    pub cancelled: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PledgeCut {
    pub loan_id: Uuid,
    pub lender_org_id: Uuid,
    pub quantity_cut: Quantity,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderCut {
    pub release_order_id: Uuid,
    pub quantity_cut: Quantity,
}

/// A custody incident as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct Incident {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[serde(skip)]
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub lot_code: String,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = SqlUuid)]
    pub warehouse_id: Uuid,
    /// The warehouse operator the loss is recorded against.
    #[diesel(sql_type = SqlUuid)]
    pub operator_org_id: Uuid,
    /// The goods' owner.
    #[diesel(sql_type = SqlUuid)]
    pub owner_org_id: Uuid,
    #[diesel(sql_type = Array<SqlUuid>)]
    pub lender_org_ids: Vec<Uuid>,
    #[diesel(sql_type = Array<SqlUuid>)]
    pub buyer_org_ids: Vec<Uuid>,
    /// The count movement that found the loss.
    #[diesel(sql_type = BigInt)]
    pub movement_id: i64,
    #[diesel(sql_type = Numeric)]
    pub quantity_missing: Quantity,
    #[diesel(sql_type = Text)]
    pub unit: String,
    /// The missing goods at market (price × grade × freshness) on the day, in `currency`;
    /// `null` without a price.
    #[diesel(sql_type = Nullable<Numeric>)]
    pub value: Option<Money>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    /// The worker's reason for the count.
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = Jsonb)]
    #[schema(value_type = Effects)]
    pub effects: Value,
    #[diesel(sql_type = SqlUuid)]
    pub recorded_by: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Incident {
    /// The incident with its quantity at its unit's places and its value at its currency's.
    pub fn shown(self) -> Self {
        let value = self
            .value
            .zip(self.currency.as_deref())
            .map(|(v, c)| Money::at(v.amount(), c));
        Self {
            quantity_missing: self.quantity_missing.in_unit(&self.unit),
            value,
            ..self
        }
    }
}

/// A new incident, as the count writes it.
pub struct NewIncident<'a> {
    pub lot: &'a crate::lots::model::LotRow,
    pub warehouse_id: Uuid,
    pub operator_org_id: Uuid,
    pub movement_id: i64,
    pub quantity_missing: Decimal,
    pub value: Option<(Decimal, String)>,
    pub reason: &'a str,
    pub effects: &'a Effects,
    pub recorded_by: Uuid,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Only this lot's.
    pub lot_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}
