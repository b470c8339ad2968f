//! Rows and API types for facilities, loans, pledges and margin calls.

use crate::db::schema::{facilities, loans, margin_calls, pledges};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// Loan statuses in which money is out and interest accrues.
pub const LIVE: &[&str] = &["active", "defaulted", "liquidating"];
/// Loan statuses that hold the facility's limit before disbursement.
pub const PENDING: &[&str] = &["requested", "approved"];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = facilities)]
pub struct FacilityRow {
    pub id: Uuid,
    pub seq: i64,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    pub currency: String,
    pub limit_amount: Decimal,
    pub advance_rate: Decimal,
    pub annual_interest_rate: Decimal,
    pub margin_call_ltv: Decimal,
    pub liquidation_ltv: Decimal,
    pub cure_period_days: i32,
    pub max_tenor_days: i32,
    pub eligible_commodities: Vec<String>,
    pub second_approver_required: bool,
    pub arrangement_fee_rate: Decimal,
    pub status: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = loans)]
pub struct LoanRow {
    pub id: Uuid,
    pub seq: i64,
    pub facility_id: Uuid,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    pub currency: String,
    pub principal: Decimal,
    pub outstanding_principal: Decimal,
    pub accrued_interest: Decimal,
    pub fees_due: Decimal,
    pub interest_paid: Decimal,
    pub fees_paid: Decimal,
    pub annual_interest_rate: Decimal,
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub decided_reason: Option<String>,
    pub disbursed_by: Option<Uuid>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub disbursed_on: Option<NaiveDate>,
    pub maturity_date: Option<NaiveDate>,
    pub accrued_through: Option<NaiveDate>,
    pub repaid_at: Option<DateTime<Utc>>,
    pub defaulted_at: Option<DateTime<Utc>>,
    pub default_reason: Option<String>,
    pub collateral_value: Decimal,
    pub ltv: Option<Decimal>,
    pub revalued_at: Option<DateTime<Utc>>,
}

impl LoanRow {
    pub fn is_live(&self) -> bool {
        LIVE.contains(&self.status.as_str())
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pledges)]
pub struct PledgeRow {
    pub loan_id: Uuid,
    pub lot_id: Uuid,
    pub quantity: Decimal,
    pub market_value: Decimal,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = margin_calls)]
pub struct MarginCall {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub loan_id: Uuid,
    /// `open`, `cured` or `defaulted`.
    pub status: String,
    /// The LTV that opened it; `null` when the collateral was worth nothing.
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub ltv_at_open: Option<Decimal>,
    pub opened_on: NaiveDate,
    /// Cure by the end of this business date, or the loan defaults.
    pub deadline: NaiveDate,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `repayment`, `collateral`, `revaluation`, `deadline_passed`, `liquidation_ltv`, `repaid`.
    pub closed_reason: Option<String>,
}

pub fn facility_not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("facility_not_found", "no such facility")
}

pub fn loan_not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("loan_not_found", "no such loan")
}
