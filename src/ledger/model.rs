//! What the ledger's reads answer: account balances, journal entries with their lines, and
//! the balance check.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Int8, Numeric, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct Account {
    #[diesel(sql_type = Int8)]
    pub id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub org_id: Uuid,
    /// `cash`, `loans_receivable`, `loans_payable`, `interest_income`, `interest_expense`,
    /// `fee_income`, `fee_expense`, …
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Sum of debits (positive lines).
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub debits: Decimal,
    /// Sum of credits (negative lines), as a positive number.
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub credits: Decimal,
    /// Debits minus credits: positive for what the org has or is owed (cash, receivables,
    /// expenses), negative for what it owes or earned (payables, income).
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub balance: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LedgerCheck {
    /// True when every entry sums to zero in each currency and each currency sums to zero.
    pub balanced: bool,
    pub entries_checked: i64,
    /// Entries whose lines do not sum to zero (always empty: the database refuses them).
    pub unbalanced_entries: Vec<Uuid>,
    pub currencies: Vec<CurrencyTotal>,
}

#[derive(Debug, Serialize, diesel::QueryableByName, utoipa::ToSchema)]
pub struct CurrencyTotal {
    #[diesel(sql_type = Text)]
    pub currency: String,
    /// Sum of every line in this currency: zero when the books balance.
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub total: Decimal,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub debits: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JournalEntry {
    pub id: Uuid,
    /// `disbursement`, `repayment`, `sale_payment`, `settlement`, `adjustment`.
    pub kind: String,
    pub loan_id: Option<Uuid>,
    pub sale_id: Option<Uuid>,
    pub memo: String,
    pub business_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub lines: Vec<JournalLine>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JournalLine {
    pub org_id: Uuid,
    pub account: String,
    pub currency: String,
    /// Positive: debit; negative: credit.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub amount: Decimal,
}
