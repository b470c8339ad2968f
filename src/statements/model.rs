//! Statement types: the query, the statement per currency with its summary and entries, the
//! goods deposited, and the rows the store reads.

use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Date, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Whose statement (default: the caller's org; others than one's own: platform only).
    pub org_id: Option<Uuid>,
    /// First business date (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last business date (default: the business date).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub org_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currencies: Vec<CurrencyStatement>,
    /// Goods received into custody in the period.
    pub deposits: Vec<Deposit>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyStatement {
    pub currency: String,
    /// Balance of each of the org's accounts at the start of `from` (debit positive).
    #[schema(value_type = Object)]
    pub opening_balances: BTreeMap<String, String>,
    /// Balance of each account at the end of `to`.
    #[schema(value_type = Object)]
    pub closing_balances: BTreeMap<String, String>,
    pub summary: Summary,
    pub entries: Vec<StatementEntry>,
}

/// The period's figures, from the org's point of view.
#[derive(Debug, Serialize, utoipa::ToSchema, Default)]
pub struct Summary {
    /// Loans paid out to the org.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub advances: Decimal,
    /// Interest it paid.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest: Decimal,
    /// Transaction and arrangement fees it paid.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Loan principal it repaid (by repayment or from sale proceeds).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub principal_repaid: Decimal,
    /// Gross value of its sales settled in the period.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub sale_proceeds: Decimal,
    /// What settlements paid out to it.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub payouts: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatementEntry {
    pub business_date: NaiveDate,
    pub entry_id: Uuid,
    pub kind: String,
    pub memo: String,
    pub loan_id: Option<Uuid>,
    pub sale_id: Option<Uuid>,
    /// The org's lines of the entry: account → amount (debit positive).
    #[schema(value_type = Object)]
    pub lines: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct Deposit {
    #[diesel(sql_type = Timestamptz)]
    pub received_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub lot_code: String,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = Numeric)]
    pub quantity: Quantity,
    #[diesel(sql_type = Text)]
    pub unit: String,
    /// In `currency`.
    #[diesel(sql_type = Nullable<Numeric>)]
    pub market_value_at_deposit: Option<Money>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
}

impl Deposit {
    /// The deposit with its quantity at its unit's decimals and its value at its currency's.
    pub fn shown(self) -> Self {
        let value = self
            .market_value_at_deposit
            .zip(self.currency.as_deref())
            .map(|(value, currency)| Money::at(value.amount(), currency));
        Self {
            quantity: self.quantity.in_unit(&self.unit),
            market_value_at_deposit: value,
            ..self
        }
    }
}

#[derive(diesel::QueryableByName)]
pub struct Balance {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub account: String,
    #[diesel(sql_type = Numeric)]
    pub opening: Decimal,
    #[diesel(sql_type = Numeric)]
    pub closing: Decimal,
}

#[derive(diesel::QueryableByName)]
pub struct LineRow {
    #[diesel(sql_type = SqlUuid)]
    pub entry_id: Uuid,
    #[diesel(sql_type = Date)]
    pub business_date: NaiveDate,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub memo: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub loan_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub sale_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub account: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub amount: Decimal,
}

#[derive(diesel::QueryableByName)]
pub struct Proceeds {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub gross: Decimal,
}
