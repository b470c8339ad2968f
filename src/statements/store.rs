//! What a statement reads: an org's account balances at both ends of a period, its journal
//! lines in the period, its settled sale proceeds and the goods it deposited.

use super::model::{Balance, Deposit, LineRow, Proceeds};
use crate::db::prepared::prepared;
use chrono::NaiveDate;
use diesel::QueryResult;
use diesel::sql_types::{Date, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Everything a statement of `org` from `from` to `to` (inclusive business dates) is made of.
pub struct Books {
    pub balances: Vec<Balance>,
    pub lines: Vec<LineRow>,
    pub proceeds: Vec<Proceeds>,
    pub deposits: Vec<Deposit>,
}

pub async fn books(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Books> {
    let balances: Vec<Balance> = prepared(
        "SELECT a.currency, a.kind AS account, \
                coalesce(sum(l.amount) FILTER (WHERE e.business_date < $2), 0) AS opening, \
                coalesce(sum(l.amount) FILTER (WHERE e.business_date <= $3), 0) AS closing \
         FROM ledger_accounts a \
         LEFT JOIN journal_lines l ON l.account_id = a.id \
         LEFT JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.org_id = $1 GROUP BY a.currency, a.kind ORDER BY a.currency, a.kind",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let lines: Vec<LineRow> = prepared(
        "SELECT e.id AS entry_id, e.business_date, e.kind, e.memo, e.loan_id, e.sale_id, \
                a.kind AS account, l.currency, l.amount \
         FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
         JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.org_id = $1 AND e.business_date BETWEEN $2 AND $3 \
         ORDER BY e.business_date, e.seq, l.id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let proceeds: Vec<Proceeds> = prepared(
        "SELECT s.currency, sum(st.gross) AS gross FROM settlements st JOIN sales s ON s.id = st.sale_id \
         WHERE s.supplier_org_id = $1 AND st.business_date BETWEEN $2 AND $3 GROUP BY s.currency",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let deposits: Vec<Deposit> = prepared(
        "SELECT m.created_at AS received_at, lot.id AS lot_id, lot.code AS lot_code, lot.commodity_code, \
                m.quantity_change AS quantity, lot.unit, lot.market_value_at_deposit, lot.deposit_currency AS currency \
         FROM movements m JOIN lots lot ON lot.id = m.lot_id \
         WHERE lot.owner_org_id = $1 AND m.kind = 'receive' \
           AND (m.created_at AT TIME ZONE 'UTC')::date BETWEEN $2 AND $3 \
         ORDER BY m.id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    Ok(Books {
        balances,
        lines,
        proceeds,
        deposits,
    })
}
