//! Forfeiture: a buyer that did not pay its sale in time (an auction winner past its payment
//! days) loses what it paid. In one transaction the escrowed payment goes to the seller's side
//! of the waterfall — each loan secured on the goods first (the loan a liquidation sells
//! before any other, then the oldest), fees, interest, principal, as far as it goes; the rest
//! to the supplier — the reserved goods are free again, and the sale is `forfeited`. No fee is
//! taken: no goods left.
//!
//! Lock order (`crate::db::locks`): the sale, the loans secured on its lots, then the lots.

use super::service::{audit, current, sale_status, shared_row};
use super::settle::{booking_day, lock_for_settlement};
use super::store;
use crate::auth::Principal;
use crate::db::locks::LockOrder;
use crate::domain::settlement::{Claim, split};
use crate::domain::states::SaleStatus;
use crate::error::ApiResult;
use crate::integrity;
use crate::ledger::{self, Entry, postings};
use crate::lending::service as loan_flow;
use crate::lending::store as lending;
use crate::lots::store as lots;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::model::Sale;
use diesel_async::AsyncPgConnection;

/// Forfeits the pending sale `id` for its buyer's failure to pay; `principal` is the seller
/// the market acts for.
pub async fn forfeit(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Sale> {
    let mut order = LockOrder::new();
    let row = store::lock(conn, &mut order, id).await?;
    if row.status != SaleStatus::Pending {
        return Err(sale_status(&row));
    }
    let before = shared_row(&row)?;
    let lines = store::lines_of(conn, id).await?;
    let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
    let loan_ids = store::live_loans_on(conn, &lot_ids).await?;
    lock_for_settlement(conn, &mut order, &loan_ids, &lot_ids).await?;
    let loan_ids = store::live_loans_on(conn, &lot_ids).await?;
    let mut loans = lending::loans_with_advance_rate(conn, &loan_ids).await?;
    // The loan a liquidation sells first, then the oldest (the order `live_loans_on` gives).
    loans.sort_by_key(|(loan, _)| Some(loan.id) != row.loan_id);
    let claims: Vec<Claim> = loans
        .iter()
        .map(|(loan, _)| Claim {
            owed: loan_flow::owed(loan),
            required: Decimal::ZERO,
        })
        .collect();
    let shares = split(row.paid, Decimal::ZERO, &claims);
    let (today, platform) = booking_day(conn).await?;
    let mut paid = Vec::with_capacity(loans.len());
    for ((loan, _), (claim, allocation)) in loans.iter().zip(claims.iter().zip(&shares.loans)) {
        if allocation.total().is_zero() {
            continue;
        }
        loan_flow::receive_payment(conn, &mut order, loan, (allocation, claim.owed), today).await?;
        paid.push((loan.lender_org_id, *allocation));
    }
    for line in &lines {
        lots::reserve_for_sale(conn, line.lot_id, -line.quantity).await?;
    }
    if row.paid > Decimal::ZERO {
        ledger::post(
            conn,
            Entry {
                kind: "forfeit",
                loan_id: None,
                sale_id: Some(id),
                memo: format!("sale {id} forfeited unpaid"),
                currency: &row.currency,
                business_date: today,
                created_by: Some(principal.user_id),
                lines: postings::forfeit(
                    platform,
                    row.supplier_org_id,
                    row.paid,
                    shares.to_supplier,
                    &paid,
                ),
            },
        )
        .await?;
    }
    store::mark_forfeited(conn, id).await?;
    let sale = current(conn, id).await?;
    let mut change = audit("sale.forfeited", &sale, Some(before))?;
    change
        .org_ids
        .extend(loans.iter().map(|(loan, _)| loan.lender_org_id));
    integrity::record(conn, Some(principal), change).await?;
    Ok(sale)
}
