//! The ledger's reads: balances summed from journal lines, entries with their lines, and the
//! proof that the books balance. `$1` is always the org whose books are read (NULL: all).

use super::model::{Account, CurrencyTotal, JournalEntry, JournalLine, LedgerCheck};
use crate::db::prepared::prepared;
use crate::http::Page;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use diesel::sql_types::{
    BigInt, Date, Int8, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Up to `limit` + 1 accounts after `after`, with their sums.
pub async fn accounts(
    conn: &mut AsyncPgConnection,
    org: Option<Uuid>,
    currency: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Account>> {
    diesel::sql_query(
        "SELECT a.id, a.org_id, a.kind, a.currency, \
                coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0)::numeric(20, 2) AS debits, \
                coalesce(-sum(l.amount) FILTER (WHERE l.amount < 0), 0)::numeric(20, 2) AS credits, \
                coalesce(sum(l.amount), 0)::numeric(20, 2) AS balance \
         FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id \
         WHERE ($1::uuid IS NULL OR a.org_id = $1) AND ($2::text IS NULL OR a.currency = $2) AND a.id > $3 \
         GROUP BY a.id ORDER BY a.id LIMIT $4",
    )
    .bind::<Nullable<SqlUuid>, _>(org)
    .bind::<Nullable<Text>, _>(currency)
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<BigInt, _>(limit + 1)
    .load(conn)
    .await
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

/// Which entries to read.
pub struct EntryFilter {
    /// Entries touching this org's accounts (NULL: all).
    pub org: Option<Uuid>,
    /// Entries of one loan, including the settlements of sales that repaid it.
    pub loan_id: Option<Uuid>,
    /// Entries of one sale.
    pub sale_id: Option<Uuid>,
}

/// A page of entries, oldest first, each with all its lines.
pub async fn entries(
    conn: &mut AsyncPgConnection,
    filter: EntryFilter,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Page<JournalEntry>> {
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
    .bind::<Nullable<SqlUuid>, _>(filter.org)
    .bind::<Nullable<SqlUuid>, _>(filter.loan_id)
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<BigInt, _>(limit + 1)
    .bind::<Nullable<SqlUuid>, _>(filter.sale_id)
    .load(conn)
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
    Ok(page)
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

/// The entries an org's check covers: every entry touching its accounts.
macro_rules! scope {
    () => {
        "SELECT e.id FROM journal_entries e WHERE $1::uuid IS NULL OR EXISTS ( \
         SELECT 1 FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
         WHERE l.entry_id = e.id AND a.org_id = $1)"
    };
}

const UNBALANCED: &str = concat!(
    "SELECT l.entry_id FROM journal_lines l WHERE l.entry_id IN (",
    scope!(),
    ") GROUP BY l.entry_id, l.currency HAVING sum(l.amount) <> 0 OR count(*) < 2 \
     UNION SELECT e.id FROM journal_entries e WHERE e.id IN (",
    scope!(),
    ") AND NOT EXISTS (SELECT 1 FROM journal_lines l WHERE l.entry_id = e.id)"
);

const CURRENCIES: &str = concat!(
    "SELECT l.currency, sum(l.amount)::numeric(20, 2) AS total, \
            coalesce(sum(l.amount) FILTER (WHERE l.amount > 0), 0)::numeric(20, 2) AS debits \
     FROM journal_lines l WHERE l.entry_id IN (",
    scope!(),
    ") GROUP BY l.currency ORDER BY l.currency"
);

const COUNTED: &str = concat!("SELECT count(*) AS n FROM (", scope!(), ") s");

/// Proves the books balance: each entry, and each currency overall.
pub async fn check(conn: &mut AsyncPgConnection, org: Option<Uuid>) -> QueryResult<LedgerCheck> {
    let unbalanced: Vec<Unbalanced> = diesel::sql_query(UNBALANCED)
        .bind::<Nullable<SqlUuid>, _>(org)
        .load(conn)
        .await?;
    let currencies: Vec<CurrencyTotal> = diesel::sql_query(CURRENCIES)
        .bind::<Nullable<SqlUuid>, _>(org)
        .load(conn)
        .await?;
    let counted: Counted = diesel::sql_query(COUNTED)
        .bind::<Nullable<SqlUuid>, _>(org)
        .get_result(conn)
        .await?;
    let balanced = unbalanced.is_empty() && currencies.iter().all(|c| c.total.is_zero());
    Ok(LedgerCheck {
        balanced,
        entries_checked: counted.n,
        unbalanced_entries: unbalanced.into_iter().map(|u| u.entry_id).collect(),
        currencies,
    })
}

#[derive(diesel::QueryableByName)]
struct Balance {
    #[diesel(sql_type = Numeric)]
    balance: Decimal,
}

/// The balance of `org`'s `kind` account in `currency`, the account row locked (created first
/// when missing).
pub async fn locked_balance(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    kind: &str,
    currency: &str,
) -> QueryResult<Decimal> {
    prepared(
        "INSERT INTO ledger_accounts (org_id, kind, currency) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, kind, currency) DO NOTHING",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(currency)
    .execute(conn)
    .await?;
    let row: Balance = prepared(
        "WITH a AS (SELECT id FROM ledger_accounts \
                    WHERE org_id = $1 AND kind = $2 AND currency = $3 FOR UPDATE) \
         SELECT coalesce(sum(l.amount), 0) AS balance \
         FROM a LEFT JOIN journal_lines l ON l.account_id = a.id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(currency)
    .get_result(conn)
    .await?;
    Ok(row.balance)
}
