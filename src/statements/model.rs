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

/// The period's figures, from the org's side of its own journal lines, so each one is a sum of
/// the entries below: a borrower's advances are what it received, a lender's what it lent.
#[derive(Debug, Serialize, utoipa::ToSchema, Default)]
pub struct Summary {
    /// Loans paid out: to the org when it borrows (`loans_payable` credits), by the org when it
    /// lends (`loans_receivable` debits).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub advances: Decimal,
    /// Loan principal repaid, by repayment or from sale proceeds: by the borrower
    /// (`loans_payable` debits), to the lender (`loans_receivable` credits).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub principal_repaid: Decimal,
    /// Interest paid by a borrower (`interest_expense`) or earned by a lender (`interest_income`).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest: Decimal,
    /// Transaction and arrangement fees paid (`fee_expense`) or earned (`fee_income`).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Gross value of the org's sales settled in the period (a seller's lines of its
    /// settlement entries: fee, loans repaid and what came to it).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub sale_proceeds: Decimal,
    /// What settlements paid into the org's cash: the rest of a sale to its seller, a loan's
    /// share to its lender, the transaction fee to the platform.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub payouts: Decimal,
    /// What a buyer paid towards its purchases (`cash` credits of `sale_payment` entries).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub purchases_paid: Decimal,
    /// Buyers' payments the platform took into escrow (`escrow` debits).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub escrow_received: Decimal,
    /// Escrow paid out by settlements (`escrow` credits).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub escrow_released: Decimal,
    /// Every `cash` debit: opening cash + `cash_in` − `cash_out` is the closing cash.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub cash_in: Decimal,
    /// Every `cash` credit.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub cash_out: Decimal,
}

impl Summary {
    /// The figures by name, in the order they are printed.
    pub fn figures(&self) -> [(&'static str, Decimal); 11] {
        [
            ("advances", self.advances),
            ("principal_repaid", self.principal_repaid),
            ("interest", self.interest),
            ("fees", self.fees),
            ("sale_proceeds", self.sale_proceeds),
            ("payouts", self.payouts),
            ("purchases_paid", self.purchases_paid),
            ("escrow_received", self.escrow_received),
            ("escrow_released", self.escrow_released),
            ("cash_in", self.cash_in),
            ("cash_out", self.cash_out),
        ]
    }

    /// Counts one of the org's lines: `amount` (debit positive) on `account` in an entry of
    /// `kind`.
    pub fn count(&mut self, kind: &str, account: &str, amount: Decimal) {
        let debit = amount.max(Decimal::ZERO);
        let credit = (-amount).max(Decimal::ZERO);
        match account {
            "loans_receivable" => {
                self.advances += debit;
                self.principal_repaid += credit;
            }
            "loans_payable" => {
                self.advances += credit;
                self.principal_repaid += debit;
            }
            "interest_expense" | "interest_income" => self.interest += amount.abs(),
            "fee_expense" | "fee_income" => self.fees += amount.abs(),
            "escrow" => {
                self.escrow_received += debit;
                self.escrow_released += credit;
            }
            "cash" => {
                self.cash_in += debit;
                self.cash_out += credit;
                match kind {
                    "settlement" => self.payouts += debit,
                    "sale_payment" => self.purchases_paid += credit,
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Every figure at the minor unit of `currency`.
    pub fn at_minor_unit(&mut self, currency: &str) {
        for v in [
            &mut self.advances,
            &mut self.principal_repaid,
            &mut self.interest,
            &mut self.fees,
            &mut self.sale_proceeds,
            &mut self.payouts,
            &mut self.purchases_paid,
            &mut self.escrow_received,
            &mut self.escrow_released,
            &mut self.cash_in,
            &mut self.cash_out,
        ] {
            *v = crate::domain::valuation::at_minor_unit(*v, currency);
        }
    }
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
