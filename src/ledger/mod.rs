//! The double-entry ledger. Accounts belong to orgs, one per kind and currency; an entry's
//! lines are signed (debits positive, credits negative) and sum to zero in each currency. The
//! database refuses an unbalanced entry at commit (see the `journal_lines_balance` trigger),
//! and refuses any change to a written entry. Balances are sums of lines, never a stored
//! balance row that every settlement would have to lock.

pub mod model;
pub mod postings;
pub mod routes;
pub mod store;

use crate::db::prepared::prepared;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDate;
use diesel::sql_types::{Array, Date, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// What an account holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    Cash,
    LoansReceivable,
    LoansPayable,
    InterestIncome,
    InterestExpense,
    FeeIncome,
    FeeExpense,
    /// Buyers' payments the platform holds until the sale settles.
    Escrow,
    /// A buyer's money placed with the platform to bid with; never below zero.
    Funds,
    /// Market deposits the platform holds (auction bidders' deposits until the close).
    Deposits,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Cash => "cash",
            AccountKind::LoansReceivable => "loans_receivable",
            AccountKind::LoansPayable => "loans_payable",
            AccountKind::InterestIncome => "interest_income",
            AccountKind::InterestExpense => "interest_expense",
            AccountKind::FeeIncome => "fee_income",
            AccountKind::FeeExpense => "fee_expense",
            AccountKind::Escrow => "escrow",
            AccountKind::Funds => "funds",
            AccountKind::Deposits => "deposits",
        }
    }
}

/// One line: `amount` debited (positive) or credited (negative) to an org's account.
pub struct Line {
    pub org_id: Uuid,
    pub account: AccountKind,
    pub amount: Decimal,
}

impl Line {
    pub fn debit(org_id: Uuid, account: AccountKind, amount: Decimal) -> Self {
        Self {
            org_id,
            account,
            amount,
        }
    }

    pub fn credit(org_id: Uuid, account: AccountKind, amount: Decimal) -> Self {
        Self {
            org_id,
            account,
            amount: -amount,
        }
    }
}

pub struct Entry<'a> {
    pub kind: &'a str,
    pub loan_id: Option<Uuid>,
    pub sale_id: Option<Uuid>,
    pub memo: String,
    pub currency: &'a str,
    pub business_date: NaiveDate,
    pub created_by: Option<Uuid>,
    pub lines: Vec<Line>,
}

/// Writes `entry` in the caller's transaction, creating accounts on first use. Zero lines are
/// left out. Returns the entry's id.
pub async fn post(conn: &mut AsyncPgConnection, entry: Entry<'_>) -> ApiResult<Uuid> {
    let lines: Vec<&Line> = entry.lines.iter().filter(|l| !l.amount.is_zero()).collect();
    let sum: Decimal = lines.iter().map(|l| l.amount).sum();
    if !sum.is_zero() || lines.len() < 2 {
        return Err(ApiError::internal(format!(
            "unbalanced journal entry ({}, sum {sum})",
            entry.memo
        )));
    }
    let orgs: Vec<Uuid> = lines.iter().map(|l| l.org_id).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l.account.as_str()).collect();
    // Existing accounts are not locked by DO NOTHING: hot accounts stay uncontended.
    prepared(
        "INSERT INTO ledger_accounts (org_id, kind, currency) \
         SELECT o, k, $3 FROM unnest($1::uuid[], $2::text[]) AS t(o, k) \
         ON CONFLICT (org_id, kind, currency) DO NOTHING",
    )
    .bind::<Array<SqlUuid>, _>(&orgs)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Text, _>(entry.currency)
    .execute(conn)
    .await?;
    // The entry and its lines in one statement, each line finding its account by org and kind.
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
    let id = Uuid::new_v4();
    let written = prepared(
        "WITH entry AS (INSERT INTO journal_entries (id, kind, loan_id, sale_id, memo, business_date, created_by) \
                        VALUES ($1, $6, $7, $8, $9, $10, $11)) \
         INSERT INTO journal_lines (entry_id, account_id, currency, amount) \
         SELECT $1, a.id, $2, t.amount \
         FROM unnest($3::uuid[], $4::text[], $5::numeric[]) WITH ORDINALITY AS t(org_id, kind, amount, n) \
         JOIN ledger_accounts a ON a.org_id = t.org_id AND a.kind = t.kind AND a.currency = $2 \
         ORDER BY t.n",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(entry.currency)
    .bind::<Array<SqlUuid>, _>(&orgs)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Numeric>, _>(&amounts)
    .bind::<Text, _>(entry.kind)
    .bind::<Nullable<SqlUuid>, _>(entry.loan_id)
    .bind::<Nullable<SqlUuid>, _>(entry.sale_id)
    .bind::<Text, _>(&entry.memo)
    .bind::<Date, _>(entry.business_date)
    .bind::<Nullable<SqlUuid>, _>(entry.created_by)
    .execute(conn)
    .await?;
    if written != orgs.len() {
        return Err(ApiError::internal("ledger account missing after insert"));
    }
    Ok(id)
}

/// The balance of an org's account, with the account locked for the rest of the transaction
/// (created first if the org never had one): two deposits of one buyer queue here, so neither
/// spends money the other already took.
pub async fn locked_balance(
    conn: &mut AsyncPgConnection,
    org_id: Uuid,
    account: AccountKind,
    currency: &str,
) -> ApiResult<Decimal> {
    Ok(store::locked_balance(conn, org_id, account.as_str(), currency).await?)
}

/// The journal entries of one loan that touch the caller's books (the platform: all of them),
/// oldest first, at most `limit`.
pub async fn entries_of_loan(
    conn: &mut AsyncPgConnection,
    principal: &crate::auth::Principal,
    loan_id: uuid::Uuid,
    limit: i64,
) -> ApiResult<Vec<model::JournalEntry>> {
    let org = (!principal.is_platform()).then_some(principal.org_id);
    let filter = store::EntryFilter {
        org,
        loan_id: Some(loan_id),
        sale_id: None,
    };
    Ok(store::entries(conn, filter, None, limit).await?.items)
}
