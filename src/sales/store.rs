//! Queries for sales, their lines, payments, consents and settlements. One visibility rule:
//! a sale is seen by its supplier, its buyer, the platform, and the lenders with a loan
//! secured (now or at settlement) on its goods, or whose liquidation it is.

use super::model::{Payment, SaleLineRow, SaleRow, SettledLoan, SettlementRow};
use crate::db::locks::{LockOrder, Rank};
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{
    loans, lots, pledges, release_orders, sale_consents, sale_lines, sale_payments, sales,
    settlement_loans, settlements,
};
use crate::domain::lending::Allocation;
use crate::domain::states::{LoanStatus, ReleaseOrderStatus, SaleKind, SaleStatus};
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Who may see a sale ($1: the viewer's org, NULL for the platform), as a condition on `s`.
macro_rules! visible {
    () => {
        "($1::uuid IS NULL OR s.supplier_org_id = $1 OR s.buyer_org_id = $1 \
         OR EXISTS (SELECT 1 FROM loans ln WHERE ln.id = s.loan_id AND ln.lender_org_id = $1) \
         OR EXISTS (SELECT 1 FROM sale_lines sl JOIN pledges p ON p.lot_id = sl.lot_id AND p.quantity > 0 \
                    JOIN loans ln ON ln.id = p.loan_id \
                    WHERE sl.sale_id = s.id AND ln.lender_org_id = $1) \
         OR EXISTS (SELECT 1 FROM settlement_loans st JOIN loans ln ON ln.id = st.loan_id \
                    WHERE st.sale_id = s.id AND ln.lender_org_id = $1))"
    };
}

/// A sale's columns as [`SaleRow`] reads them, named: a prepared statement's answer keeps its
/// shape when a migration adds a column while the service runs (`s.*` would not: PostgreSQL
/// refuses to run a cached plan whose result type changed).
macro_rules! sale_columns {
    () => {
        "s.id, s.seq, s.kind, s.supplier_org_id, s.buyer_org_id, s.loan_id, s.currency, s.status, \
         s.total, s.paid, s.created_by, s.created_at, s.cancelled_at, s.settled_at"
    };
}

const FIND_VISIBLE: &str = concat!(
    "SELECT ",
    sale_columns!(),
    " FROM sales s WHERE s.id = $2 AND ",
    visible!()
);

const LOCK_VISIBLE: &str = concat!(
    "SELECT ",
    sale_columns!(),
    " FROM sales s WHERE s.id = $2 AND ",
    visible!(),
    " FOR UPDATE OF s"
);

/// The sale locked, if `viewer` may see it: the visibility scope and the lock in one statement.
pub async fn lock_visible(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    viewer: Option<Uuid>,
    id: Uuid,
) -> QueryResult<Option<SaleRow>> {
    order.take(Rank::Sale, id);
    prepared(LOCK_VISIBLE)
        .bind::<Nullable<SqlUuid>, _>(viewer)
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

const LIST_VISIBLE: &str = concat!(
    "SELECT ",
    sale_columns!(),
    " FROM sales s WHERE s.seq > $2 AND ($3::text IS NULL OR s.status = $3) AND ",
    visible!(),
    " ORDER BY s.seq LIMIT $4"
);

/// The sale, if `viewer` (an org, or `None` for the platform) may see it.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    viewer: Option<Uuid>,
    id: Uuid,
) -> QueryResult<Option<SaleRow>> {
    prepared(FIND_VISIBLE)
        .bind::<Nullable<SqlUuid>, _>(viewer)
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

/// Up to `limit` sales after `after` that `viewer` may see, oldest first.
pub async fn list_visible(
    conn: &mut AsyncPgConnection,
    viewer: Option<Uuid>,
    status: Option<&str>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<SaleRow>> {
    prepared(LIST_VISIBLE)
        .bind::<Nullable<SqlUuid>, _>(viewer)
        .bind::<BigInt, _>(after)
        .bind::<Nullable<Text>, _>(status)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}

/// The sale, locked for the rest of the transaction (see `crate::locks`).
pub async fn lock(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    id: Uuid,
) -> QueryResult<SaleRow> {
    order.take(Rank::Sale, id);
    sales::table
        .find(id)
        .select(SaleRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn reload(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<SaleRow> {
    sales::table
        .find(id)
        .select(SaleRow::as_select())
        .first(conn)
        .await
}

/// The sale's lines, by lot id (the order their lots are locked in).
pub async fn lines_of(conn: &mut AsyncPgConnection, sale: Uuid) -> QueryResult<Vec<SaleLineRow>> {
    sale_lines::table
        .filter(sale_lines::sale_id.eq(sale))
        .order(sale_lines::lot_id)
        .select(SaleLineRow::as_select())
        .load(conn)
        .await
}

/// What a page of sales shows beside each row, loaded in one query per kind.
pub struct Details {
    /// Each line with its lot's code, commodity and unit, by sale and line number.
    pub lines: Vec<(SaleLineRow, String, String, String)>,
    pub payments: Vec<Payment>,
    pub settlements: Vec<SettlementRow>,
    pub settled_loans: Vec<SettledLoan>,
    /// (sale, id, lot, quantity, quantity released, status), by sale and lot.
    pub release_orders: Vec<(Uuid, Uuid, Uuid, Decimal, Decimal, ReleaseOrderStatus)>,
}

/// The payments of these sales, in the order they were made.
pub async fn payments_of(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Payment>> {
    sale_payments::table
        .filter(sale_payments::sale_id.eq_any(ids))
        .order(sale_payments::seq)
        .select(Payment::as_select())
        .load(conn)
        .await
}

pub async fn details(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Details> {
    let lines = sale_lines::table
        .inner_join(lots::table)
        .filter(sale_lines::sale_id.eq_any(ids))
        .order((sale_lines::sale_id, sale_lines::line_no))
        .select((
            SaleLineRow::as_select(),
            lots::code,
            lots::commodity_code,
            lots::unit,
        ))
        .load(conn)
        .await?;
    let payments = payments_of(conn, ids).await?;
    let settlements = settlements::table
        .filter(settlements::sale_id.eq_any(ids))
        .select(SettlementRow::as_select())
        .load(conn)
        .await?;
    let settled_loans = settlement_loans::table
        .filter(settlement_loans::sale_id.eq_any(ids))
        .order((settlement_loans::sale_id, settlement_loans::loan_id))
        .select(SettledLoan::as_select())
        .load(conn)
        .await?;
    let release_orders = release_orders::table
        .filter(release_orders::sale_id.eq_any(ids.iter().map(|id| Some(*id))))
        .order((release_orders::sale_id, release_orders::lot_id))
        .select((
            release_orders::sale_id.assume_not_null(),
            release_orders::id,
            release_orders::lot_id,
            release_orders::quantity,
            release_orders::quantity_released,
            release_orders::status,
        ))
        .load(conn)
        .await?;
    Ok(Details {
        lines,
        payments,
        settlements,
        settled_loans,
        release_orders,
    })
}

/// Quantity of the lot pledged to loans not yet paid out (`requested`, `approved`): it stays
/// with those requests and cannot be sold.
pub async fn pledged_to_pending_loans(
    conn: &mut AsyncPgConnection,
    lot: Uuid,
) -> QueryResult<Decimal> {
    let pending: Vec<Decimal> = pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq(lot))
        .filter(loans::status.eq_any(LoanStatus::PENDING))
        .select(pledges::quantity)
        .load(conn)
        .await?;
    Ok(pending.into_iter().sum())
}

/// Quantity of the lot pledged to this loan.
pub async fn pledged_to(
    conn: &mut AsyncPgConnection,
    loan: Uuid,
    lot: Uuid,
) -> QueryResult<Decimal> {
    let pledged: Option<Decimal> = pledges::table
        .find((loan, lot))
        .select(pledges::quantity)
        .first(conn)
        .await
        .optional()?;
    Ok(pledged.unwrap_or(Decimal::ZERO))
}

/// The live loans of `lender` with goods of these lots pledged.
pub async fn lenders_live_loans_on(
    conn: &mut AsyncPgConnection,
    lender: Uuid,
    lot_ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq_any(lot_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .filter(loans::status.eq_any(LoanStatus::LIVE))
        .filter(loans::lender_org_id.eq(lender))
        .select(pledges::loan_id)
        .distinct()
        .load(conn)
        .await
}

/// The live loans with goods of these lots pledged, oldest first.
pub async fn live_loans_on(
    conn: &mut AsyncPgConnection,
    lot_ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    let mut ids: Vec<(i64, Uuid)> = pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq_any(lot_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .filter(loans::status.eq_any(LoanStatus::LIVE))
        .select((loans::seq, loans::id))
        .distinct()
        .load(conn)
        .await?;
    ids.sort();
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

#[derive(QueryableByName)]
struct Day {
    #[diesel(sql_type = diesel::sql_types::Date)]
    business_date: NaiveDate,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    platform: Option<Uuid>,
}

/// The business date and the platform's org (which holds buyers' payments in escrow and earns
/// the fees), in one round trip: what a payment or a settlement books on.
pub async fn booking_day(conn: &mut AsyncPgConnection) -> QueryResult<(NaiveDate, Option<Uuid>)> {
    let day: Day = prepared(
        "SELECT business_date() AS business_date, \
                (SELECT id FROM orgs WHERE kind = 'platform' ORDER BY created_at, id LIMIT 1) AS platform",
    )
    .get_result(conn)
    .await?;
    Ok((day.business_date, day.platform))
}

/// The loans that consented to the sale settling short.
pub async fn consents(conn: &mut AsyncPgConnection, sale: Uuid) -> QueryResult<Vec<Uuid>> {
    sale_consents::table
        .filter(sale_consents::sale_id.eq(sale))
        .select(sale_consents::loan_id)
        .load(conn)
        .await
}

pub async fn insert_consent(
    conn: &mut AsyncPgConnection,
    sale: Uuid,
    loan: Uuid,
    by: Uuid,
) -> QueryResult<()> {
    diesel::insert_into(sale_consents::table)
        .values((
            sale_consents::sale_id.eq(sale),
            sale_consents::loan_id.eq(loan),
            sale_consents::consented_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// A new sale, checked by the service.
pub struct NewSaleRow<'a> {
    pub id: Uuid,
    pub kind: SaleKind,
    pub supplier_org_id: Uuid,
    pub buyer_org_id: Uuid,
    pub loan_id: Option<Uuid>,
    pub currency: &'a str,
    pub total: Decimal,
    pub created_by: Uuid,
}

pub async fn insert_sale(conn: &mut AsyncPgConnection, new: NewSaleRow<'_>) -> QueryResult<()> {
    diesel::insert_into(sales::table)
        .values((
            sales::id.eq(new.id),
            sales::kind.eq(new.kind),
            sales::supplier_org_id.eq(new.supplier_org_id),
            sales::buyer_org_id.eq(new.buyer_org_id),
            sales::loan_id.eq(new.loan_id),
            sales::currency.eq(new.currency),
            sales::total.eq(new.total),
            sales::created_by.eq(new.created_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert_line(conn: &mut AsyncPgConnection, line: &SaleLineRow) -> QueryResult<()> {
    diesel::insert_into(sale_lines::table)
        .values((
            sale_lines::sale_id.eq(line.sale_id),
            sale_lines::line_no.eq(line.line_no),
            sale_lines::lot_id.eq(line.lot_id),
            sale_lines::quantity.eq(line.quantity),
            sale_lines::unit_price.eq(line.unit_price),
            sale_lines::amount.eq(line.amount),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_cancelled(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(sales::table.find(id))
        .set((
            sales::status.eq(SaleStatus::Cancelled),
            sales::cancelled_at.eq(Utc::now()),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_forfeited(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(sales::table.find(id))
        .set((
            sales::status.eq(SaleStatus::Forfeited),
            sales::forfeited_at.eq(Utc::now()),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a payment and adds it to what the sale has been paid; answers both.
pub async fn insert_payment(
    conn: &mut AsyncPgConnection,
    sale: &SaleRow,
    amount: Decimal,
    paid_by: Uuid,
    journal_entry_id: Uuid,
) -> QueryResult<(Payment, SaleRow)> {
    let payment = diesel::insert_into(sale_payments::table)
        .values((
            sale_payments::id.eq(Uuid::new_v4()),
            sale_payments::sale_id.eq(sale.id),
            sale_payments::amount.eq(amount),
            sale_payments::paid_by.eq(paid_by),
            sale_payments::journal_entry_id.eq(journal_entry_id),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await?;
    let sale = diesel::update(sales::table.find(sale.id))
        .set(sales::paid.eq(sale.paid + amount))
        .returning(SaleRow::as_returning())
        .cached()
        .get_result(conn)
        .await?;
    Ok((payment, sale))
}

/// What a settlement writes: its totals, each loan's share, the sale settled.
pub struct SettlementValues<'a> {
    pub sale_id: Uuid,
    pub business_date: NaiveDate,
    pub gross: Decimal,
    pub fee: Decimal,
    pub fee_detail: serde_json::Value,
    pub repaid: Allocation,
    pub to_supplier: Decimal,
    pub journal_entry_id: Uuid,
    /// (loan, quantity released from its pledges, what it was paid).
    pub loans: &'a [(Uuid, Decimal, Allocation)],
}

/// The settlement, each loan's share and the sale settled, in one statement. $1 sale,
/// $2 business date, $3 gross, $4 fee, $5 fee detail, $6–$8 fees, interest and principal
/// repaid, $9 to the supplier, $10 journal entry, $11 when; $12–$16 each loan's id, quantity
/// released, fees, interest, principal.
const INSERT_SETTLEMENT: &str = "
WITH settled AS (
    INSERT INTO settlements (sale_id, business_date, gross, fee, fee_detail, loan_fees_repaid,
                             interest_repaid, principal_repaid, to_supplier, journal_entry_id,
                             settled_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)),
sale AS (UPDATE sales SET status = 'settled', settled_at = $11 WHERE id = $1)
INSERT INTO settlement_loans (sale_id, loan_id, quantity_released, fees, interest, principal)
SELECT $1, l.* FROM unnest($12::uuid[], $13::numeric[], $14::numeric[], $15::numeric[], $16::numeric[]) AS l";

/// Writes the settlement, its loan shares and the sale settled; answers when it settled.
pub async fn insert_settlement(
    conn: &mut AsyncPgConnection,
    s: &SettlementValues<'_>,
) -> QueryResult<chrono::DateTime<Utc>> {
    // At the microsecond the column keeps, so that the answer shows what a read shows.
    let settled_at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    use diesel::sql_types::{Array, Date, Jsonb, Numeric, Timestamptz};
    let column = |f: fn(&(Uuid, Decimal, Allocation)) -> Decimal| -> Vec<Decimal> {
        s.loans.iter().map(f).collect()
    };
    prepared(INSERT_SETTLEMENT)
        .bind::<SqlUuid, _>(s.sale_id)
        .bind::<Date, _>(s.business_date)
        .bind::<Numeric, _>(s.gross)
        .bind::<Numeric, _>(s.fee)
        .bind::<Jsonb, _>(&s.fee_detail)
        .bind::<Numeric, _>(s.repaid.fees)
        .bind::<Numeric, _>(s.repaid.interest)
        .bind::<Numeric, _>(s.repaid.principal)
        .bind::<Numeric, _>(s.to_supplier)
        .bind::<SqlUuid, _>(s.journal_entry_id)
        .bind::<Timestamptz, _>(settled_at)
        .bind::<Array<SqlUuid>, _>(s.loans.iter().map(|l| l.0).collect::<Vec<_>>())
        .bind::<Array<Numeric>, _>(column(|l| l.1))
        .bind::<Array<Numeric>, _>(column(|l| l.2.fees))
        .bind::<Array<Numeric>, _>(column(|l| l.2.interest))
        .bind::<Array<Numeric>, _>(column(|l| l.2.principal))
        .execute(conn)
        .await?;
    Ok(settled_at)
}

/// A pending sale's line on one lot, with what its sale was paid, for a shortage to shrink.
#[derive(Debug, Clone)]
pub struct PendingLine {
    pub sale_id: Uuid,
    pub line_no: i32,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount: Decimal,
    pub total: Decimal,
    pub paid: Decimal,
    pub currency: String,
    pub buyer_org_id: Uuid,
    pub supplier_org_id: Uuid,
    /// How many lines the sale has.
    pub lines: i64,
}

type LineTuple = (
    Uuid,
    i32,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    Decimal,
    String,
    Uuid,
    Uuid,
);

/// The lines of pending sales on the lot, newest sale first.
pub async fn pending_lines_on(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
) -> QueryResult<Vec<PendingLine>> {
    let rows: Vec<LineTuple> = sale_lines::table
        .inner_join(sales::table)
        .filter(sale_lines::lot_id.eq(lot_id))
        .filter(sales::status.eq(SaleStatus::Pending))
        .order(sales::seq.desc())
        .select((
            sale_lines::sale_id,
            sale_lines::line_no,
            sale_lines::quantity,
            sale_lines::unit_price,
            sale_lines::amount,
            sales::total,
            sales::paid,
            sales::currency,
            sales::buyer_org_id,
            sales::supplier_org_id,
        ))
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let counts: Vec<(Uuid, i64)> = sale_lines::table
        .filter(sale_lines::sale_id.eq_any(&ids))
        .group_by(sale_lines::sale_id)
        .select((sale_lines::sale_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| PendingLine {
            lines: counts.iter().find(|c| c.0 == r.0).map_or(1, |c| c.1),
            sale_id: r.0,
            line_no: r.1,
            quantity: r.2,
            unit_price: r.3,
            amount: r.4,
            total: r.5,
            paid: r.6,
            currency: r.7,
            buyer_org_id: r.8,
            supplier_org_id: r.9,
        })
        .collect())
}

/// A line shrunk by `cut`, to `amount`, and its sale's total with it; a line cut to nothing
/// leaves the sale (the caller cancels a sale left with no line).
pub async fn shrink_line(
    conn: &mut AsyncPgConnection,
    line: &PendingLine,
    cut: Decimal,
    amount: Decimal,
) -> QueryResult<()> {
    let key = sale_lines::table.find((line.sale_id, line.line_no));
    if cut < line.quantity {
        diesel::update(key)
            .set((
                sale_lines::quantity.eq(line.quantity - cut),
                sale_lines::amount.eq(amount),
            ))
            .cached()
            .execute(conn)
            .await?;
    } else if line.lines > 1 {
        diesel::delete(key).execute(conn).await?;
    }
    if line.lines > 1 || cut < line.quantity {
        diesel::update(sales::table.find(line.sale_id))
            .set(sales::total.eq(sales::total - (line.amount - amount)))
            .cached()
            .execute(conn)
            .await?;
    }
    Ok(())
}
