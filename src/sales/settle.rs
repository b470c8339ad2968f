//! Settlement: one transaction that takes the fee, repays every loan secured on the sold
//! goods from the proceeds (fees, interest, principal; a cash sweep until the loan is repaid),
//! pays the rest to the supplier, releases the pledges, creates the release orders and writes
//! one balanced journal entry. Any error rolls all of it back with the caller's transaction.
//!
//! Which pledges a sale releases: sold quantity is taken from the lot's pledges first (oldest
//! loan first; a liquidation sale's own loan before any other), so a sale of pledged goods
//! always pays their loans.
//!
//! When the proceeds left after the fee would not pay a loan what its lender needs — all it
//! owes when none of its goods stay pledged, otherwise enough that the debt left is within the
//! advance rate of the goods still pledged (the rule of a lender's release consent) — the
//! sale settles only once that lender has consented (`POST /v1/sales/{id}/consent`); a
//! liquidation sale carries the consent of the lender that ordered it.
//!
//! Lock order (`crate::locks`): the sale (held by the caller), then the loans secured on its
//! lots, then the lots.

use super::model::{ConsentNeeded, SaleLineRow, SaleRow, SettledLoan, SettlementRow};
use super::store;
use crate::auth::Principal;
use crate::db::locks::LockOrder;
use crate::domain::lending::{Allocation, Owed};
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::settlement::{
    Claim, Pledge, Release, Split, loans_holding, release_pledges, required_repayment, split,
};
use crate::domain::states::SaleKind;
use crate::domain::valuation::minor_units;
use crate::error::{ApiError, ApiResult};
use crate::fees::model::FeeBreakdown;
use crate::fees::service as fees;
use crate::integrity::Change;
use crate::ledger::{self, Entry, postings};
use crate::lending::model::{LoanRow, PledgeRow};
use crate::lending::service as loan_flow;
use crate::lending::store as lending;
use crate::lots::model::{LotRow, ReleaseOrderWritten};
use crate::lots::store as lots;
use crate::tiers;
use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

/// The business date and the platform's org, for a payment or a settlement to book on.
pub async fn booking_day(conn: &mut AsyncPgConnection) -> ApiResult<(NaiveDate, Uuid)> {
    match store::booking_day(conn).await? {
        (today, Some(platform)) => Ok((today, platform)),
        (_, None) => Err(ApiError::internal("no platform org")),
    }
}

/// One loan the sale touches.
pub struct Touched {
    pub loan: LoanRow,
    pub release: Release,
    pub owed: Owed,
    pub required: Decimal,
}

/// What settling the sale now would do.
pub struct Plan {
    pub fee: FeeBreakdown,
    pub loans: Vec<Touched>,
    pub split: Split,
    pub consents: Vec<ConsentNeeded>,
    /// The lots settling locked (none for a preview).
    pub locked: Vec<LotRow>,
}

impl Plan {
    pub fn awaiting_consent(&self) -> bool {
        self.consents.iter().any(|c| !c.consented)
    }
}

/// What a fully paid sale came to.
#[must_use = "a sale may wait for a lender's consent instead of settling"]
pub enum Settled {
    /// Settled: the sale's row as the caller holds it is now `settled`.
    Settled(Box<Written>),
    /// The loans whose lenders must consent first; nothing was written.
    AwaitingConsent(Vec<ConsentNeeded>),
}

/// What a settlement wrote, so that the sale's answer need not read it back.
pub struct Written {
    pub settled_at: DateTime<Utc>,
    /// The settlement's audit event, for the caller to record with its own.
    pub change: Change<'static>,
    /// The sale's lines (with their lots' names), settlement, loans' shares and release orders
    /// as written; its payments are the caller's.
    pub details: store::Details,
}

/// Works out the settlement of `sale` from the pledge values of the last revaluation. With
/// `locks`, the loans and then the lots are locked first, as settlement needs; without, it
/// is a preview.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    sale: &SaleRow,
    lines: &[SaleLineRow],
    locks: Option<&mut LockOrder>,
) -> ApiResult<Plan> {
    let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
    let mut loan_ids = store::live_loans_on(conn, &lot_ids).await?;
    let mut locked = Vec::new();
    let mut pledged = None;
    if let Some(order) = locks {
        let (lots, pledges) = lock_for_settlement(conn, order, &loan_ids, &lot_ids).await?;
        locked = lots;
        // A pledge may have been released while we waited for the locks. The pledges' values
        // are the last revaluation's, which every price change and every closed day runs.
        let before = std::mem::take(&mut loan_ids);
        let lots: Vec<(Uuid, Decimal)> =
            locked.iter().map(|l| (l.id, l.quantity_pledged)).collect();
        loan_ids = match loans_holding(&lot_ids, &lots, &as_pledges(&pledges)) {
            Some(ids) => ids,
            None => store::live_loans_on(conn, &lot_ids).await?,
        };
        // The pledges read under the loans' locks serve unless another loan came in meanwhile.
        if loan_ids.iter().all(|id| before.contains(id)) {
            pledged = Some(pledges);
        }
    }
    let touched = touched_loans(conn, sale, lines, &loan_ids, pledged).await?;
    let fee = sale_fee(conn, sale, lines, &locked).await?;
    let claims: Vec<Claim> = touched
        .iter()
        .map(|t| Claim {
            owed: t.owed,
            required: t.required,
        })
        .collect();
    let split = split(sale.total, fee.fee.amount(), &claims);
    // Consents matter only for a loan the proceeds leave short.
    let consented = if split.short.is_empty() {
        Vec::new()
    } else {
        store::consents(conn, sale.id).await?
    };
    let consents = split
        .short
        .iter()
        .map(|&i| {
            let t = &touched[i];
            ConsentNeeded {
                loan_id: t.loan.id,
                lender_org_id: t.loan.lender_org_id,
                required: Money::at(t.required, &sale.currency),
                would_pay: Money::at(split.loans[i].total(), &sale.currency),
                consented: consented.contains(&t.loan.id) || sale.loan_id == Some(t.loan.id),
            }
        })
        .collect();
    Ok(Plan {
        fee,
        loans: touched,
        split,
        consents,
        locked,
    })
}

/// Locks the loans, then every lot the settlement may touch, in one ascending run: the sold
/// lots, and the other lots pledged to these loans (a loan paid off releases all its pledges).
/// Answers the lots as locked and the loans' live pledges, read under the loans' locks.
pub(super) async fn lock_for_settlement(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    loan_ids: &[Uuid],
    lot_ids: &[Uuid],
) -> ApiResult<(Vec<LotRow>, Vec<PledgeRow>)> {
    lending::lock_loans(conn, order, loan_ids).await?;
    let pledges = lending::live_pledges_of(conn, loan_ids).await?;
    let mut touched: Vec<Uuid> = pledges
        .iter()
        .map(|p| p.lot_id)
        .chain(lot_ids.iter().copied())
        .collect();
    touched.sort();
    touched.dedup();
    let mut locked = Vec::with_capacity(touched.len());
    for lot in touched {
        locked.push(lots::lock(conn, order, lot).await?);
    }
    for loan in loan_ids {
        order.hold_pledged_lots_of(*loan);
    }
    Ok((locked, pledges))
}

/// The loans the sale takes goods from, with what each owes and needs from the proceeds;
/// `pledged`, when given, holds the live pledges of at least these loans, read under their
/// locks.
async fn touched_loans(
    conn: &mut AsyncPgConnection,
    sale: &SaleRow,
    lines: &[SaleLineRow],
    loan_ids: &[Uuid],
    pledged: Option<Vec<PledgeRow>>,
) -> ApiResult<Vec<Touched>> {
    let mut rows = lending::loans_with_advance_rate(conn, loan_ids).await?;
    // A loan that left the book while the locks were awaited has no claim on the goods.
    rows.retain(|(loan, _)| loan.is_live());
    let pledged = match pledged {
        Some(known) => known,
        None => lending::live_pledges_of(conn, loan_ids).await?,
    };
    let pledges: Vec<Pledge> = as_pledges(&pledged)
        .into_iter()
        .filter(|p| rows.iter().any(|(loan, _)| loan.id == p.loan_id))
        .collect();
    // Sold quantity comes out of the lot's pledges first, oldest loan first — except that a
    // liquidation sale takes the goods of the loan it liquidates first.
    let mut order: Vec<Uuid> = rows.iter().map(|(loan, _)| loan.id).collect();
    order.sort_by_key(|id| Some(*id) != sale.loan_id);
    let sold: Vec<(Uuid, Decimal)> = lines.iter().map(|l| (l.lot_id, l.quantity)).collect();
    let places = minor_units(&sale.currency);
    Ok(release_pledges(&order, &pledges, &sold)
        .into_iter()
        .filter_map(|release| {
            let (loan, advance_rate) = rows.iter().find(|(l, _)| l.id == release.loan_id)?;
            let owed = loan_flow::owed(loan);
            let required = if release.everything {
                owed.total()
            } else {
                required_repayment(owed.total(), *advance_rate, release.value_left, places)
            };
            Some(Touched {
                loan: loan.clone(),
                release,
                owed,
                required,
            })
        })
        .collect())
}

fn as_pledges(rows: &[PledgeRow]) -> Vec<Pledge> {
    rows.iter()
        .map(|p| Pledge {
            loan_id: p.loan_id,
            lot_id: p.lot_id,
            quantity: p.quantity,
            market_value: p.market_value,
        })
        .collect()
}

/// The fee of the whole sale, at the supplier's tier. A lot the settlement has just locked
/// (`locked`) is not read again.
async fn sale_fee(
    conn: &mut AsyncPgConnection,
    sale: &SaleRow,
    lines: &[SaleLineRow],
    locked: &[LotRow],
) -> ApiResult<FeeBreakdown> {
    let mut line_fees = Vec::with_capacity(lines.len());
    for line in lines {
        let lot = match locked.iter().find(|lot| lot.id == line.lot_id) {
            Some(lot) => lot.clone(),
            None => lots::find_visible(conn, lots::Viewer::All, line.lot_id)
                .await?
                .ok_or_else(|| ApiError::internal("sale line without its lot"))?,
        };
        line_fees
            .push(fees::line_fee(conn, &lot, line.quantity, line.amount, &sale.currency).await?);
    }
    Ok(fees::total(
        line_fees,
        tiers::of_org(conn, sale.supplier_org_id).await?,
        &sale.currency,
    ))
}

/// Settles the locked, fully paid `sale` (locked through `order`), or answers the consents it
/// still waits for.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    sale: &SaleRow,
    (today, platform): (NaiveDate, Uuid),
) -> ApiResult<Settled> {
    let lines = store::lines_of(conn, sale.id).await?;
    let plan = plan(conn, sale, &lines, Some(order)).await?;
    if plan.awaiting_consent() {
        return Ok(Settled::AwaitingConsent(plan.consents));
    }
    let repaid = repay_loans(conn, order, &plan, today).await?;
    let release_orders = create_release_orders(conn, principal, sale, &lines).await?;
    let entry = post_settlement(conn, principal, sale, &plan, (today, platform)).await?;
    let split = &plan.split;
    let loans: Vec<(Uuid, Decimal, Allocation)> = plan
        .loans
        .iter()
        .zip(&split.loans)
        .map(|(t, a)| (t.loan.id, t.release.quantity, *a))
        .collect();
    let values = store::SettlementValues {
        sale_id: sale.id,
        business_date: today,
        gross: sale.total,
        fee: split.fee,
        fee_detail: serde_json::to_value(&plan.fee).map_err(ApiError::internal)?,
        repaid,
        to_supplier: split.to_supplier,
        journal_entry_id: entry,
        loans: &loans,
    };
    let settled_at = store::insert_settlement(conn, &values).await?;
    let details = written_details(
        sale,
        (&lines, &plan.locked),
        &values,
        settled_at,
        release_orders,
    );
    // The split of the proceeds is the seller's and its lenders' business, not the buyer's.
    let mut org_ids = vec![sale.supplier_org_id];
    org_ids.extend(plan.loans.iter().map(|t| t.loan.lender_org_id));
    let after = json!({
        "gross": sale.total.to_string(), "fee": split.fee.to_string(),
        "loan_fees_repaid": repaid.fees.to_string(),
        "interest_repaid": repaid.interest.to_string(),
        "principal_repaid": repaid.principal.to_string(),
        "to_supplier": split.to_supplier.to_string(), "journal_entry_id": entry,
    });
    let change = Change {
        action: "sale.settled",
        object_kind: "sale",
        object_id: sale.id.to_string(),
        org_ids,
        before: None,
        after: Some(after),
    };
    Ok(Settled::Settled(Box::new(Written {
        settled_at,
        change,
        details,
    })))
}

/// The sale's details as the settlement wrote them: its lines named by their locked lots, the
/// settlement, each loan's share and the release orders, in the order `store::details` reads
/// them.
fn written_details(
    sale: &SaleRow,
    (lines, locked): (&[SaleLineRow], &[LotRow]),
    values: &store::SettlementValues<'_>,
    settled_at: DateTime<Utc>,
    orders: Vec<ReleaseOrderWritten>,
) -> store::Details {
    let named = lines
        .iter()
        .filter_map(|line| {
            let lot = locked.iter().find(|lot| lot.id == line.lot_id)?;
            Some((
                line.clone(),
                lot.code.clone(),
                lot.commodity_code.clone(),
                lot.unit.clone(),
            ))
        })
        .collect();
    let settlement = SettlementRow {
        sale_id: sale.id,
        business_date: values.business_date,
        gross: values.gross,
        fee: values.fee,
        fee_detail: values.fee_detail.clone(),
        loan_fees_repaid: values.repaid.fees,
        interest_repaid: values.repaid.interest,
        principal_repaid: values.repaid.principal,
        to_supplier: values.to_supplier,
        journal_entry_id: values.journal_entry_id,
        settled_at,
    };
    let mut settled_loans: Vec<SettledLoan> = values
        .loans
        .iter()
        .map(|(loan, quantity, paid)| SettledLoan {
            sale_id: sale.id,
            loan_id: *loan,
            quantity_released: Quantity::from(as_column(*quantity)),
            fees: Money::held(paid.fees),
            interest: Money::held(paid.interest),
            principal: Money::held(paid.principal),
        })
        .collect();
    settled_loans.sort_by_key(|l| l.loan_id);
    let mut release_orders: Vec<_> = orders
        .into_iter()
        .map(|o| {
            (
                sale.id,
                o.id,
                o.lot_id,
                o.quantity,
                o.quantity_released,
                o.status,
            )
        })
        .collect();
    release_orders.sort_by_key(|o| o.2);
    store::Details {
        lines: named,
        payments: Vec::new(),
        settlements: vec![settlement],
        settled_loans,
        release_orders,
    }
}

/// A quantity as its column keeps it: at three places.
fn as_column(quantity: Decimal) -> Decimal {
    let mut kept = quantity.round_dp(3);
    kept.rescale(3);
    kept
}

/// A release order for each line: the sale's reservation carries over to it until the goods
/// leave. Answers the orders as written.
async fn create_release_orders(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    sale: &SaleRow,
    lines: &[SaleLineRow],
) -> ApiResult<Vec<ReleaseOrderWritten>> {
    let kind = if sale.kind == SaleKind::Liquidation {
        "liquidation"
    } else {
        "sale"
    };
    let sold: Vec<(Uuid, Decimal)> = lines.iter().map(|l| (l.lot_id, l.quantity)).collect();
    Ok(lots::release_sold(conn, sale.id, kind, principal.user_id, &sold).await?)
}

/// Takes the sold goods out of the loans' pledges and pays each loan its share; answers the
/// total repaid.
async fn repay_loans(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    plan: &Plan,
    today: NaiveDate,
) -> ApiResult<Allocation> {
    let mut repaid = Allocation {
        fees: Decimal::ZERO,
        interest: Decimal::ZERO,
        principal: Decimal::ZERO,
    };
    for (t, allocation) in plan.loans.iter().zip(&plan.split.loans) {
        // A loan paid in full gives back all its pledges, the sold goods among them.
        if allocation.total() != t.owed.total() {
            for (lot, quantity) in &t.release.lots {
                lending::unpledge(conn, t.loan.id, *lot, *quantity).await?;
            }
        }
        loan_flow::receive_payment(conn, order, &t.loan, (allocation, t.owed), today).await?;
        repaid.fees += allocation.fees;
        repaid.interest += allocation.interest;
        repaid.principal += allocation.principal;
    }
    Ok(repaid)
}

/// The settlement's one balanced journal entry.
async fn post_settlement(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    sale: &SaleRow,
    plan: &Plan,
    (today, platform): (NaiveDate, Uuid),
) -> ApiResult<Uuid> {
    let paid: Vec<(Uuid, Allocation)> = plan
        .loans
        .iter()
        .zip(&plan.split.loans)
        .map(|(t, a)| (t.loan.lender_org_id, *a))
        .collect();
    let lines = postings::settlement(&postings::Settlement {
        platform,
        supplier: sale.supplier_org_id,
        gross: sale.total,
        fee: plan.split.fee,
        to_supplier: plan.split.to_supplier,
        loans: &paid,
    });
    ledger::post(
        conn,
        Entry {
            kind: "settlement",
            loan_id: None,
            sale_id: Some(sale.id),
            memo: format!("settlement of sale {}", sale.id),
            currency: &sale.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines,
        },
    )
    .await
}
