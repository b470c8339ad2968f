//! Rows and API types for sales, their payments and settlements.

use crate::db::schema::{sale_lines, sale_payments, sales, settlement_loans, settlements};
use crate::domain::inputs::{Amount, QuantityInput, UnitPrice};
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::{ReleaseOrderStatus, SaleKind, SaleStatus};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize)]
#[diesel(table_name = sales)]
pub struct SaleRow {
    pub id: Uuid,
    pub seq: i64,
    pub kind: SaleKind,
    pub supplier_org_id: Uuid,
    pub buyer_org_id: Uuid,
    pub loan_id: Option<Uuid>,
    pub currency: String,
    pub status: SaleStatus,
    pub total: Decimal,
    pub paid: Decimal,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sale_lines)]
pub struct SaleLineRow {
    pub sale_id: Uuid,
    pub line_no: i32,
    pub lot_id: Uuid,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = sale_payments)]
pub struct Payment {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    #[serde(skip)]
    pub sale_id: Uuid,
    pub amount: Money,
    pub paid_by: Option<Uuid>,
    pub paid_at: DateTime<Utc>,
    pub journal_entry_id: Uuid,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = settlements)]
pub struct SettlementRow {
    pub sale_id: Uuid,
    pub business_date: NaiveDate,
    pub gross: Decimal,
    pub fee: Decimal,
    pub fee_detail: Value,
    pub loan_fees_repaid: Decimal,
    pub interest_repaid: Decimal,
    pub principal_repaid: Decimal,
    pub to_supplier: Decimal,
    pub journal_entry_id: Uuid,
    pub settled_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = settlement_loans)]
pub struct SettledLoan {
    #[serde(skip)]
    pub sale_id: Uuid,
    pub loan_id: Uuid,
    /// The quantity of the loan's collateral the sale released, in its lots' unit.
    pub quantity_released: Quantity,
    pub fees: Money,
    pub interest: Money,
    pub principal: Money,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SaleLine {
    pub line_no: i32,
    pub lot_id: Uuid,
    pub lot_code: String,
    pub commodity_code: String,
    pub unit: String,
    pub quantity: Quantity,
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    pub amount: Money,
}

/// A sale's settlement. The seller, its lenders and the platform see how the proceeds were
/// split; the buyer sees what it bought and when it settled, not the seller's financing (the
/// split's fields are left out of its answers).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Settlement {
    pub business_date: NaiveDate,
    pub gross: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<Money>,
    /// How the fee was found: each line's schedule, rate or percent and charge, the tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fee_detail: Option<Value>,
    /// Arrangement fees of the loans repaid from the proceeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loan_fees_repaid: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest_repaid: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_repaid: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_supplier: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loans: Option<Vec<SettledLoan>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_entry_id: Option<Uuid>,
    pub settled_at: DateTime<Utc>,
}

impl Settlement {
    /// The settlement as the buyer sees it: the gross and when, not the split.
    pub fn seen_by_buyer(self) -> Self {
        Self {
            business_date: self.business_date,
            gross: self.gross,
            fee: None,
            fee_detail: None,
            loan_fees_repaid: None,
            interest_repaid: None,
            principal_repaid: None,
            to_supplier: None,
            loans: None,
            journal_entry_id: None,
            settled_at: self.settled_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SaleReleaseOrder {
    pub id: Uuid,
    pub lot_id: Uuid,
    pub quantity: Quantity,
    pub quantity_released: Quantity,
    pub status: ReleaseOrderStatus,
}

/// A loan whose lender must consent before the sale settles.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsentNeeded {
    pub loan_id: Uuid,
    pub lender_org_id: Uuid,
    /// What the loan needs from the sale to settle without consent.
    pub required: Money,
    /// What the proceeds would pay it.
    pub would_pay: Money,
    pub consented: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sale {
    pub id: Uuid,
    /// `sale`, or `liquidation` (ordered by the lender of `loan_id`).
    pub kind: SaleKind,
    pub supplier_org_id: Uuid,
    pub buyer_org_id: Uuid,
    pub loan_id: Option<Uuid>,
    pub currency: String,
    /// `pending`, `settled`, `cancelled`, or `forfeited` (its buyer did not pay in time).
    pub status: SaleStatus,
    pub lines: Vec<SaleLine>,
    pub total: Money,
    pub paid: Money,
    pub payments: Vec<Payment>,
    pub settlement: Option<Settlement>,
    pub release_orders: Vec<SaleReleaseOrder>,
    /// While pending: the loans whose lenders must consent, as the sale stands now (their
    /// debt and the fee are recomputed at settlement). Shown on `GET /v1/sales/{id}` and on
    /// the answers of changes to one sale; left out of lists, where working it out for every
    /// pending sale would cost a settlement plan each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lender_consents: Option<Vec<ConsentNeeded>>,
    /// While pending, on the same answers: why the sale could not settle now if it were paid
    /// (`no_fee_schedule`, `no_storage_rate`, ...); the payment that completes it is refused
    /// with the same code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement_blocked: Option<Blocked>,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSaleLine {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
    pub unit_price: UnitPrice,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSale {
    pub buyer_org_id: Uuid,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Vec<NewSaleLine>,
    /// A lender selling the goods of its liquidating loan names the loan.
    pub loan_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SaleQuery {
    /// `pending`, `settled` or `cancelled`.
    #[param(value_type = Option<crate::domain::states::SaleStatus>)]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub amount: Amount,
}

impl Sale {
    /// The sale as `viewer` may see it: its buyer (when it is not also the seller) sees what
    /// it bought, paid and owes, not the seller's financing: no loan, no lender consents, no
    /// split of the proceeds.
    pub fn seen_by(self, viewer: &crate::auth::Principal) -> Self {
        if viewer.org_id != self.buyer_org_id || viewer.org_id == self.supplier_org_id {
            return self;
        }
        self.as_buyer_sees_it()
    }

    /// What the buyer sees, which is also what the seller and the buyer share in the audit
    /// trail.
    pub fn as_buyer_sees_it(self) -> Self {
        Self {
            loan_id: None,
            lender_consents: None,
            settlement: self.settlement.map(Settlement::seen_by_buyer),
            ..self
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentResult {
    pub payment: Payment,
    pub sale: Sale,
}

/// Why something cannot happen now: the error code and message a request for it would get.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Blocked {
    pub code: String,
    pub message: String,
}

impl From<crate::error::ApiError> for Blocked {
    fn from(error: crate::error::ApiError) -> Self {
        Self {
            code: error.code.to_owned(),
            message: error.message,
        }
    }
}
