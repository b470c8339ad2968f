//! `GET /v1/ledger/accounts`, `/entries`, `/check`: balances, entries, and the proof that
//! the books balance. An org sees its own accounts and the entries touching them; the platform
//! sees all.

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{
    BigInt, Date, Int8, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The org whose books the caller reads: its own, or any for the platform.
fn books_of(principal: &Principal, asked: Option<Uuid>) -> ApiResult<Option<Uuid>> {
    match asked {
        Some(org) if principal.is_platform() || org == principal.org_id => Ok(Some(org)),
        Some(_) => Err(ApiError::not_found("org_not_found", "no such organisation")),
        None if principal.is_platform() => Ok(None),
        None => Ok(Some(principal.org_id)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    /// Platform only: one org's accounts (others always read their own).
    pub org_id: Option<Uuid>,
    pub currency: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

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

/// Account balances, summed from the journal lines.
#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", params(AccountsQuery),
    responses((status = 200, body = Page<Account>)), security(("bearer" = [])))]
pub async fn accounts(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<AccountsQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let org = books_of(&principal, query.org_id)?;
    let mut conn = state.pool.get().await?;
    let rows: Vec<Account> = diesel::sql_query(
        "SELECT a.id, a.org_id, a.kind, a.currency, \
                coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0)::numeric(20, 2) AS debits, \
                coalesce(-sum(l.amount) FILTER (WHERE l.amount < 0), 0)::numeric(20, 2) AS credits, \
                coalesce(sum(l.amount), 0)::numeric(20, 2) AS balance \
         FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id \
         WHERE ($1::uuid IS NULL OR a.org_id = $1) AND ($2::text IS NULL OR a.currency = $2) AND a.id > $3 \
         GROUP BY a.id ORDER BY a.id LIMIT $4",
    )
    .bind::<Nullable<SqlUuid>, _>(org)
    .bind::<Nullable<Text>, _>(query.currency)
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<BigInt, _>(limit + 1)
    .load(&mut conn)
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |a| a.id)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// Entries of one loan, including the settlements of sales that repaid it.
    pub loan_id: Option<Uuid>,
    /// Entries of one sale: its payments and its settlement.
    pub sale_id: Option<Uuid>,
    /// Platform only: entries touching one org's accounts.
    pub org_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, diesel::QueryableByName)]
struct EntryLineRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Int8)]
    seq: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    loan_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    sale_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    memo: String,
    #[diesel(sql_type = Date)]
    business_date: NaiveDate,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    org_id: Uuid,
    #[diesel(sql_type = Text)]
    account: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
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

/// Journal entries, oldest first, each with all its lines.
#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(EntriesQuery),
    responses((status = 200, body = Page<JournalEntry>)), security(("bearer" = [])))]
pub async fn entries(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<EntriesQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let org = books_of(&principal, query.org_id)?;
    let mut conn = state.pool.get().await?;
    let rows: Vec<EntryLineRow> = diesel::sql_query(
        "WITH page AS ( \
             SELECT e.* FROM journal_entries e \
             WHERE e.seq > $3 AND ($2::uuid IS NULL OR e.loan_id = $2 \
                   OR e.sale_id IN (SELECT sale_id FROM settlement_loans WHERE loan_id = $2)) \
               AND ($5::uuid IS NULL OR e.sale_id = $5) \
               AND ($1::uuid IS NULL OR EXISTS ( \
                   SELECT 1 FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
                   WHERE l.entry_id = e.id AND a.org_id = $1)) \
             ORDER BY e.seq LIMIT $4) \
         SELECT p.id, p.seq, p.kind, p.loan_id, p.sale_id, p.memo, p.business_date, p.created_at, \
                a.org_id, a.kind AS account, l.currency, l.amount \
         FROM page p JOIN journal_lines l ON l.entry_id = p.id JOIN ledger_accounts a ON a.id = l.account_id \
         ORDER BY p.seq, l.id",
    )
    .bind::<Nullable<SqlUuid>, _>(org)
    .bind::<Nullable<SqlUuid>, _>(query.loan_id)
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<BigInt, _>(limit + 1)
    .bind::<Nullable<SqlUuid>, _>(query.sale_id)
    .load(&mut conn)
    .await?;
    let mut items: Vec<(i64, JournalEntry)> = Vec::new();
    for row in rows {
        let line = JournalLine {
            org_id: row.org_id,
            account: row.account,
            currency: row.currency,
            amount: row.amount,
        };
        match items.last_mut() {
            Some((_, entry)) if entry.id == row.id => entry.lines.push(line),
            _ => items.push((
                row.seq,
                JournalEntry {
                    id: row.id,
                    kind: row.kind,
                    loan_id: row.loan_id,
                    sale_id: row.sale_id,
                    memo: row.memo,
                    business_date: row.business_date,
                    created_at: row.created_at,
                    lines: vec![line],
                },
            )),
        }
    }
    let page = Page::from_rows(items, limit, |(seq, _)| *seq).map(|(_, entry)| entry);
    Ok(HttpResponse::Ok().json(page))
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

#[derive(diesel::QueryableByName)]
struct Unbalanced {
    #[diesel(sql_type = SqlUuid)]
    entry_id: Uuid,
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Proves the books balance: each entry, and each currency overall. The platform checks the
/// whole ledger; an org checks every entry that touches its accounts.
#[utoipa::path(get, path = "/v1/ledger/check", tag = "ledger",
    responses((status = 200, body = LedgerCheck)), security(("bearer" = [])))]
pub async fn check(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let org = books_of(&principal, None)?;
    let mut conn = state.pool.get().await?;
    let scope = "SELECT e.id FROM journal_entries e WHERE $1::uuid IS NULL OR EXISTS ( \
                 SELECT 1 FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
                 WHERE l.entry_id = e.id AND a.org_id = $1)";
    let unbalanced: Vec<Unbalanced> = diesel::sql_query(format!(
        "SELECT l.entry_id FROM journal_lines l WHERE l.entry_id IN ({scope}) \
         GROUP BY l.entry_id, l.currency HAVING sum(l.amount) <> 0 OR count(*) < 2 \
         UNION SELECT e.id FROM journal_entries e WHERE e.id IN ({scope}) \
           AND NOT EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_id = e.id)"
    ))
    .bind::<Nullable<SqlUuid>, _>(org)
    .load(&mut conn)
    .await?;
    let currencies: Vec<CurrencyTotal> = diesel::sql_query(format!(
        "SELECT l.currency, sum(l.amount)::numeric(20, 2) AS total, \
                coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0)::numeric(20, 2) AS debits \
         FROM journal_lines l WHERE l.entry_id IN ({scope}) GROUP BY l.currency ORDER BY l.currency"
    ))
    .bind::<Nullable<SqlUuid>, _>(org)
    .load(&mut conn)
    .await?;
    let counted: Counted = diesel::sql_query(format!("SELECT count(*) AS n FROM ({scope}) s"))
        .bind::<Nullable<SqlUuid>, _>(org)
        .get_result(&mut conn)
        .await?;
    let balanced = unbalanced.is_empty() && currencies.iter().all(|c| c.total.is_zero());
    Ok(HttpResponse::Ok().json(LedgerCheck {
        balanced,
        entries_checked: counted.n,
        unbalanced_entries: unbalanced.into_iter().map(|u| u.entry_id).collect(),
        currencies,
    }))
}
