//! Rows and API types for facilities, loans, pledges, margin calls and liquidations.

use crate::db::schema::{facilities, loan_ltv_history, loans, margin_calls, pledges};
use crate::domain::inputs::{Amount, Fraction, QuantityInput, Ratio, UnitInterval};
use crate::domain::lending::Allocation;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::LoanStatus;
use crate::lots::model::ReleaseOrder;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

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
    pub status: LoanStatus,
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
        self.status.is_live()
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

/// A loan's LTV as a business day closed (`GET /v1/loans/{id}/ltv-history`).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = loan_ltv_history)]
pub struct LtvPoint {
    pub business_date: NaiveDate,
    /// What the loan owed: outstanding principal and accrued interest.
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub outstanding: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub collateral_value: Decimal,
    /// `null` when the collateral was worth nothing.
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub ltv: Option<Decimal>,
}

/// What cures an open margin call today: the LTV back at the facility's advance rate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MarginCallCure {
    /// The least repayment that cures it (fees due first, then interest and principal).
    pub repayment: Money,
    /// Or the least market value of goods to pledge in addition (`POST /v1/loans/{id}/collateral`).
    pub extra_collateral_value: Money,
    /// The LTV a cure reaches: the facility's advance rate.
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub target_ltv: Decimal,
}

/// A margin call as listed: the call, and while it is open, what cures it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MarginCallItem {
    #[serde(flatten)]
    pub call: MarginCall,
    /// `null` once the call is closed.
    pub cure: Option<MarginCallCure>,
}

pub fn facility_not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("facility_not_found", "no such facility")
}

pub fn loan_not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("loan_not_found", "no such loan")
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFacility {
    pub supplier_org_id: Uuid,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    pub limit: Amount,
    /// Share of collateral value lent (default 0.50).
    #[serde(default)]
    pub advance_rate: Option<Fraction>,
    pub annual_interest_rate: UnitInterval,
    /// Above this LTV a margin call opens (default 0.65).
    #[serde(default)]
    pub margin_call_ltv: Option<Fraction>,
    /// Above this LTV the loan defaults at once (default 0.80).
    #[serde(default)]
    pub liquidation_ltv: Option<Ratio>,
    /// Days a margin call may stay open (default 3).
    #[schema(minimum = 0, maximum = 90)]
    pub cure_period_days: Option<i32>,
    #[schema(minimum = 1, maximum = 3650)]
    pub max_tenor_days: i32,
    pub eligible_commodities: Vec<String>,
    /// Approval needs a second lender user (maker-checker).
    #[serde(default)]
    pub second_approver_required: bool,
    /// Charged on disbursement as a share of principal, paid first by repayments (default 0).
    #[serde(default)]
    pub arrangement_fee_rate: Option<UnitInterval>,
}

/// New terms for an open facility: each one given is changed, the rest kept.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityChange {
    /// Not below what the facility has drawn and holds for pending requests.
    #[serde(default)]
    pub limit: Option<Amount>,
    /// For loans requested from now on; a loan keeps the rate it was made at.
    #[serde(default)]
    pub annual_interest_rate: Option<UnitInterval>,
    /// Below the margin-call LTV: what new requests may borrow, and the LTV a margin call
    /// must be brought back to.
    #[serde(default)]
    pub advance_rate: Option<Fraction>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Facility {
    pub id: Uuid,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    pub currency: String,
    pub limit: Money,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub advance_rate: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub annual_interest_rate: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub margin_call_ltv: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub liquidation_ltv: Decimal,
    pub cure_period_days: i32,
    pub max_tenor_days: i32,
    pub eligible_commodities: Vec<String>,
    pub second_approver_required: bool,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub arrangement_fee_rate: Decimal,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Outstanding principal of disbursed loans.
    pub drawn: Money,
    /// Principal of requested and approved loans, held against the limit.
    pub committed: Money,
    /// limit − drawn − committed.
    pub available: Money,
    /// Market value of the goods pledged to disbursed loans, at the last revaluation.
    pub collateral_value: Money,
    /// collateral value × advance rate: what that collateral supports.
    pub borrowing_base: Money,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgeRequest {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLoan {
    pub facility_id: Uuid,
    pub principal: Amount,
    #[schema(min_items = 1, max_items = 100)]
    pub collateral: Vec<PledgeRequest>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Collateral {
    pub lot_id: Uuid,
    pub lot_code: String,
    pub commodity_code: String,
    pub quantity: Quantity,
    pub unit: String,
    /// At the last revaluation, in the loan's currency.
    pub market_value: Money,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct CollateralHold {
    /// The loan whose collateral it holds (listed under that loan).
    #[serde(skip)]
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub loan_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub lot_code: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub breach_id: Uuid,
    /// `too_hot` or `too_cold`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub ended_at: Option<DateTime<Utc>>,
    /// When warehouse staff acknowledged the breach and so lifted the hold.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub lifted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    pub lifted_by: Option<Uuid>,
    /// The staff's comment on lifting it.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Approvals {
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// True while a second lender user must still confirm the approval.
    pub awaiting_second_approval: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Loan {
    pub id: Uuid,
    pub facility_id: Uuid,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    /// `requested`, `approved`, `active`, `repaid`, `rejected`, `cancelled`, `defaulted`,
    /// `liquidating`, `closed`, `written_off`.
    pub status: LoanStatus,
    pub currency: String,
    pub principal: Money,
    pub outstanding_principal: Money,
    /// Interest accrued and unpaid, to 8 decimal places.
    #[serde(with = "crate::domain::decimal::accrual")]
    #[schema(value_type = String)]
    pub accrued_interest: Decimal,
    /// The accrued interest as it would be paid, in currency units.
    pub interest_due: Money,
    pub fees_due: Money,
    /// Fees + interest due + outstanding principal: what repays the loan today.
    pub amount_to_repay: Money,
    pub interest_paid: Money,
    pub fees_paid: Money,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub annual_interest_rate: Decimal,
    pub collateral: Vec<Collateral>,
    pub collateral_value: Money,
    /// (outstanding principal, or the principal asked for before disbursement, + accrued
    /// interest) / collateral value; `null` when the collateral is worth nothing.
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub ltv: Option<Decimal>,
    pub revalued_at: Option<DateTime<Utc>>,
    /// The open margin call, or the last one.
    pub margin_call: Option<MarginCall>,
    /// While a margin call is open: the repayment, or the extra collateral, that cures it.
    pub cure: Option<MarginCallCure>,
    /// Quality holds on the pledged goods: temperature breaches in their warehouse while they
    /// were there, newest first (at most 20); `lifted_at` is set once warehouse staff
    /// acknowledged the breach.
    pub holds: Vec<CollateralHold>,
    pub approvals: Approvals,
    pub decided_reason: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub disbursed_on: Option<NaiveDate>,
    pub maturity_date: Option<NaiveDate>,
    /// Interest has accrued through the end of this business date.
    pub accrued_through: Option<NaiveDate>,
    pub repaid_at: Option<DateTime<Utc>>,
    pub defaulted_at: Option<DateTime<Utc>>,
    pub default_reason: Option<String>,
}

/// One reason a loan or a pledge is refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Refusal {
    /// `principal_exceeds_lending_value`, `principal_exceeds_available_limit`,
    /// `quantity_not_free`, or a lot's ineligibility (`stale_price`, `expired`, `on_hold`,
    /// `not_in_custody`, `commodity_not_allowed`, `no_price`, `already_pledged`).
    pub code: String,
    /// The request field at fault.
    pub field: String,
    pub lot_id: Option<Uuid>,
    /// `quantity_not_free`: how much of the lot may still be pledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity_free: Option<crate::domain::quantity::Quantity>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disbursement {
    pub loan: Loan,
    pub journal_entry_id: Uuid,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRepayment {
    pub amount: Amount,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Repayment {
    pub loan: Loan,
    /// What the amount paid: fees first, then interest, then principal.
    pub allocation: Allocation,
    pub journal_entry_id: Uuid,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoreCollateral {
    #[schema(min_items = 1, max_items = 100)]
    pub collateral: Vec<PledgeRequest>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConsent {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consented {
    pub release_order_id: Uuid,
    pub release_order: ReleaseOrder,
    pub loan: Loan,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Liquidation {
    pub id: Uuid,
    pub loan_id: Uuid,
    pub ordered_at: DateTime<Utc>,
    /// The pledged goods listed for the forced sale, valued on the business date.
    #[schema(value_type = Vec<Object>)]
    pub lots: Value,
    pub loan: Loan,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoanQuery {
    #[param(value_type = Option<crate::domain::states::LoanStatus>)]
    pub status: Option<String>,
    pub facility_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MarginCallQuery {
    /// `open`, `cured` or `defaulted`.
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}
