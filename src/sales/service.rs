//! Sale use cases, one function each, in the caller's transaction: create (checks and
//! reserves), pay (the payment that completes the total settles), consent (a lender lets a
//! sale settle short), cancel. Settlement itself is `settle`. Reads present one sale with its
//! settlement preview, or a page of sales in a fixed number of queries.
//!
//! A sale is visible to its supplier, its buyer, the lenders of loans secured on its goods,
//! and the platform (`store::find_visible`); to anyone else it does not exist.

use super::model::*;
use super::settle::{self, Settled, booking_day};
use super::store;
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::db::prepared::generic_plans_until_commit;
use crate::domain::lending::round_half_even;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::{LoanStatus, LotStatus, SaleKind, SaleStatus};
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::fees::service as fees;
use crate::http::validate::{self, money, quantity};
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::ledger::{self, Entry, postings};
use crate::lending::model::{LoanRow, loan_not_found};
use crate::lending::store::Party;
use crate::lots::model::LotRow;
use crate::lots::store as lots;
use crate::orgs::store as orgs;
use crate::tiers;
use diesel::OptionalExtension;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use std::collections::HashMap;
use uuid::Uuid;

pub fn sale_not_found() -> ApiError {
    ApiError::not_found("sale_not_found", "no such sale")
}

pub(super) fn sale_status(row: &SaleRow) -> ApiError {
    ApiError::conflict("sale_status", format!("the sale is {}", row.status))
        .with("status", row.status)
}

fn viewer(principal: &Principal) -> Option<Uuid> {
    (!principal.is_platform()).then_some(principal.org_id)
}

/// The sale, locked for the rest of the transaction, if the caller may see it.
async fn lock_visible(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<SaleRow> {
    store::lock_visible(conn, order, viewer(principal), id)
        .await?
        .ok_or_else(sale_not_found)
}

// ---------------------------------------------------------------------------------------------
// Presenting

/// A sale's money at its currency's minor unit (the columns keep three places for all).
struct Currencies(HashMap<Uuid, String>);

impl Currencies {
    fn money(&self, sale: Uuid, value: Decimal) -> Decimal {
        match self.0.get(&sale) {
            Some(c) => at_minor_unit(value, c),
            None => value,
        }
    }
}

/// Groups rows by the sale they belong to.
fn by_sale<T>(rows: impl IntoIterator<Item = (Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (sale, row) in rows {
        grouped.entry(sale).or_default().push(row);
    }
    grouped
}

fn settlements_of(
    details: (Vec<SettlementRow>, Vec<SettledLoan>),
    c: &Currencies,
) -> HashMap<Uuid, Settlement> {
    let mut loans = by_sale(details.1.into_iter().map(|mut l| {
        l.fees = Money::held(c.money(l.sale_id, l.fees.amount()));
        l.interest = Money::held(c.money(l.sale_id, l.interest.amount()));
        l.principal = Money::held(c.money(l.sale_id, l.principal.amount()));
        (l.sale_id, l)
    }));
    details
        .0
        .into_iter()
        .map(|s| {
            let m = |v: Decimal| Money::held(c.money(s.sale_id, v));
            let settlement = Settlement {
                business_date: s.business_date,
                gross: m(s.gross),
                fee: Some(m(s.fee)),
                loan_fees_repaid: Some(m(s.loan_fees_repaid)),
                interest_repaid: Some(m(s.interest_repaid)),
                principal_repaid: Some(m(s.principal_repaid)),
                to_supplier: Some(m(s.to_supplier)),
                fee_detail: Some(s.fee_detail),
                loans: Some(loans.remove(&s.sale_id).unwrap_or_default()),
                journal_entry_id: Some(s.journal_entry_id),
                settled_at: s.settled_at,
            };
            (s.sale_id, settlement)
        })
        .collect()
}

/// Sales as the API shows them, from their rows and the details of all of them.
fn assemble(rows: Vec<SaleRow>, details: store::Details) -> Vec<Sale> {
    let c = Currencies(rows.iter().map(|r| (r.id, r.currency.clone())).collect());
    let units: HashMap<Uuid, String> = details
        .lines
        .iter()
        .map(|(l, _, _, unit)| (l.lot_id, unit.clone()))
        .collect();
    let unit_of = |lot: &Uuid| units.get(lot).map_or("", String::as_str);
    let mut lines = by_sale(details.lines.into_iter().map(|(l, code, commodity, unit)| {
        let line = SaleLine {
            line_no: l.line_no,
            lot_id: l.lot_id,
            lot_code: code,
            commodity_code: commodity,
            quantity: Quantity::at(l.quantity, &unit),
            unit,
            unit_price: l.unit_price.normalize(),
            amount: Money::held(c.money(l.sale_id, l.amount)),
        };
        (l.sale_id, line)
    }));
    let mut payments = by_sale(details.payments.into_iter().map(|mut p| {
        p.amount = Money::held(c.money(p.sale_id, p.amount.amount()));
        (p.sale_id, p)
    }));
    let mut settlements = settlements_of((details.settlements, details.settled_loans), &c);
    let mut orders = by_sale(details.release_orders.into_iter().map(
        |(sale, id, lot_id, quantity, quantity_released, status)| {
            let order = SaleReleaseOrder {
                id,
                lot_id,
                quantity: Quantity::at(quantity, unit_of(&lot_id)),
                quantity_released: Quantity::at(quantity_released, unit_of(&lot_id)),
                status,
            };
            (sale, order)
        },
    ));
    rows.into_iter()
        .map(|row| Sale {
            id: row.id,
            kind: row.kind,
            supplier_org_id: row.supplier_org_id,
            buyer_org_id: row.buyer_org_id,
            loan_id: row.loan_id,
            total: Money::at(row.total, &row.currency),
            paid: Money::at(row.paid, &row.currency),
            currency: row.currency,
            status: row.status,
            lines: lines.remove(&row.id).unwrap_or_default(),
            payments: payments.remove(&row.id).unwrap_or_default(),
            settlement: settlements.remove(&row.id),
            release_orders: orders.remove(&row.id).unwrap_or_default(),
            lender_consents: None,
            settlement_blocked: None,
            created_at: row.created_at,
            cancelled_at: row.cancelled_at,
            settled_at: row.settled_at,
        })
        .collect()
}

/// One sale with everything it shows, and, while pending, the lenders' consents it needs.
pub async fn present(conn: &mut AsyncPgConnection, row: SaleRow) -> ApiResult<Sale> {
    let (consents, blocked) = if row.status == SaleStatus::Pending {
        let lines = store::lines_of(conn, row.id).await?;
        match settle::plan(conn, &row, &lines, None).await {
            Ok(plan) => (Some(plan.consents), None),
            // A rule that stops the sale settling now (no fee schedule, no storage rate) is
            // shown, not raised: the sale can still be read, paid into, or cancelled.
            Err(refusal) if refusal.status.is_client_error() => (None, Some(refusal.into())),
            Err(fault) => return Err(fault),
        }
    } else {
        (Some(Vec::new()), None)
    };
    let details = store::details(conn, &[row.id]).await?;
    one_sale(row, details, consents, blocked)
}

fn one_sale(
    row: SaleRow,
    details: store::Details,
    consents: Option<Vec<ConsentNeeded>>,
    blocked: Option<Blocked>,
) -> ApiResult<Sale> {
    let mut sale = assemble(vec![row], details)
        .pop()
        .ok_or_else(|| ApiError::internal("a sale vanished while presented"))?;
    sale.lender_consents = consents;
    sale.settlement_blocked = blocked;
    Ok(sale)
}

/// The sale this transaction just settled, from what the settlement wrote: only its payments
/// are read, and not even those when `only` is the one payment it had.
async fn settled_answer(
    conn: &mut AsyncPgConnection,
    row: SaleRow,
    mut details: store::Details,
    only: Option<Payment>,
) -> ApiResult<Sale> {
    details.payments = match only {
        Some(payment) => vec![payment],
        None => store::payments_of(conn, &[row.id]).await?,
    };
    one_sale(row, details, Some(Vec::new()), None)
}

pub(super) async fn current(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Sale> {
    let row = store::reload(conn, id).await?;
    present(conn, row).await
}

/// The sale, if the caller may see it.
pub async fn sale(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Sale> {
    let row = store::find_visible(conn, viewer(principal), id)
        .await?
        .ok_or_else(sale_not_found)?;
    Ok(present(conn, row).await?.seen_by(principal))
}

/// A page of the sales the caller may see, oldest first: six queries whatever the page size.
pub async fn sales(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: SaleQuery,
) -> ApiResult<Page<Sale>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            SaleStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("status", "status is pending, settled or cancelled")
            })
        })
        .transpose()?;
    let rows = store::list_visible(
        conn,
        viewer(principal),
        status.map(SaleStatus::as_str),
        after.unwrap_or(0),
        limit + 1,
    )
    .await?;
    let page = Page::from_rows(rows, limit, |r| r.seq);
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let details = store::details(conn, &ids).await?;
    Ok(Page {
        items: assemble(page.items, details)
            .into_iter()
            .map(|sale| sale.seen_by(principal))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// The audit event of a change to a sale, shared by its seller and its buyer: it carries what
/// both may see (the settlement's split goes into `sale.settled`, which the buyer does not
/// share).
pub(super) fn audit<'a>(
    action: &'a str,
    sale: &Sale,
    before: Option<serde_json::Value>,
) -> ApiResult<Change<'a>> {
    Ok(Change {
        action,
        object_kind: "sale",
        object_id: sale.id.to_string(),
        org_ids: vec![sale.supplier_org_id, sale.buyer_org_id],
        before,
        after: Some(to_json(&sale.clone().as_buyer_sees_it())?),
    })
}

/// A sale's row as the seller and the buyer both see it (without the loan it liquidates).
pub(super) fn shared_row(row: &SaleRow) -> ApiResult<serde_json::Value> {
    let mut value = to_json(row)?;
    if let Some(map) = value.as_object_mut() {
        map.remove("loan_id");
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------------
// Creating

/// The lines of a new sale, each checked, in lot order: (request index, lot, quantity, price).
fn checked_lines(new: &NewSale) -> ApiResult<Vec<(usize, &NewSaleLine)>> {
    if new.lines.is_empty() || new.lines.len() > 100 {
        return Err(ApiError::invalid("lines", "a sale has 1 to 100 lines"));
    }
    let mut indexed: Vec<(usize, &NewSaleLine)> = new.lines.iter().enumerate().collect();
    indexed.sort_by_key(|(_, l)| l.lot_id);
    if let Some(pair) = indexed.windows(2).find(|w| w[0].1.lot_id == w[1].1.lot_id) {
        return Err(ApiError::invalid(
            &format!("lines[{}].lot_id", pair[1].0),
            "each lot appears once",
        ));
    }
    for (i, line) in &indexed {
        crate::http::validate::unit_price(
            &format!("lines[{i}].unit_price"),
            line.unit_price.value(),
            6,
        )?;
    }
    Ok(indexed)
}

/// Who sells: a supplier its own goods, or a lender the goods of its liquidating loan.
fn check_seller(principal: &Principal, loan_id: Option<Uuid>) -> ApiResult<()> {
    match (principal.kind, loan_id) {
        (OrgKind::Supplier, None) | (OrgKind::Lender, Some(_)) => Ok(()),
        (OrgKind::Supplier, Some(_)) => Err(ApiError::forbidden(
            "loan_id names the loan a lender liquidates; a supplier sells without it",
        )
        .with("field", "loan_id")),
        _ => Err(ApiError::invalid(
            "loan_id",
            "a lender sells only the goods of a liquidating loan, named by loan_id",
        )),
    }
}

/// The liquidating loan a lender sells the goods of, locked before the lots.
async fn liquidating_loan(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<LoanRow> {
    let loan = crate::lending::store::lock_loan(conn, order, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)?;
    if loan.status != LoanStatus::Liquidating {
        return Err(ApiError::conflict(
            "loan_status",
            format!(
                "the loan is {}; liquidation sales are for liquidating loans",
                loan.status
            ),
        )
        .with("status", loan.status));
    }
    Ok(loan)
}

/// How much of the lot this sale may take: what is on hand, less what is reserved and what
/// is pledged to loans not yet paid out; a liquidation only what is pledged to its loan.
async fn sellable(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    loan: Option<&LoanRow>,
) -> ApiResult<Decimal> {
    let pending = store::pledged_to_pending_loans(conn, lot.id).await?;
    let mut sellable = lot.quantity_on_hand - lot.quantity_reserved - pending;
    if let Some(loan) = loan {
        sellable = sellable.min(store::pledged_to(conn, loan.id, lot.id).await?);
    }
    Ok(sellable)
}

/// One line, checked against its locked lot: (line, its lot, its fee).
async fn line_of(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    (i, line): (usize, &NewSaleLine),
    supplier: Uuid,
    loan: Option<&LoanRow>,
    currency: &str,
) -> ApiResult<(SaleLineRow, crate::fees::model::LineFee)> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let lot = lots::lock(conn, order, line.lot_id)
        .await
        .optional()?
        .filter(|l| l.owner_org_id == supplier)
        .ok_or_else(|| {
            ApiError::unknown_reference(&field("lot_id"), "no such lot of the seller's")
        })?;
    let qty = quantity(&field("quantity"), line.quantity.value(), &lot.unit)?;
    if !matches!(lot.status, LotStatus::InCustody | LotStatus::InTransit) {
        return Err(ApiError::conflict(
            "lot_status",
            format!(
                "the lot is {}; goods are sold while in custody or in transit",
                lot.status
            ),
        )
        .with("field", field("lot_id"))
        .with("status", lot.status));
    }
    let sellable = sellable(conn, &lot, loan).await?;
    if qty > sellable {
        return Err(ApiError::conflict(
            "quantity_not_free",
            "the quantity is reserved for another sale or release, or pledged to a loan not yet paid out",
        )
        .with("field", field("quantity"))
        .with("lot_id", lot.id)
        .with("quantity_available", Quantity::at(sellable.max(Decimal::ZERO), &lot.unit)));
    }
    let amount = round_half_even(
        crate::http::validate::product(&field("unit_price"), qty, line.unit_price.value())?,
        minor_units(currency),
    );
    if amount <= Decimal::ZERO {
        return Err(ApiError::invalid(
            &field("unit_price"),
            "the line is worth less than the currency's minor unit",
        ));
    }
    let fee = fees::line_fee(conn, &lot, qty, amount, currency).await?;
    let row = SaleLineRow {
        sale_id: Uuid::nil(),
        line_no: i as i32 + 1,
        lot_id: lot.id,
        quantity: qty,
        unit_price: line.unit_price.value(),
        amount,
    };
    Ok((row, fee))
}

/// A supplier sells goods (or a lender the goods of its liquidating loan, naming `loan_id`):
/// the quantities are reserved at once, 409 `quantity_not_free` when they are not. Pledged
/// goods may be sold: settlement repays their loans first.
pub async fn create(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: NewSale,
) -> ApiResult<Sale> {
    let currency = validate::currency("currency", &new.currency)?;
    let indexed = checked_lines(&new)?;
    check_seller(principal, new.loan_id)?;
    let buyer = orgs::find_org(conn, new.buyer_org_id)
        .await?
        .filter(|o| o.kind == OrgKind::Buyer.as_str())
        .ok_or_else(|| ApiError::unknown_reference("buyer_org_id", "no such buyer"))?;
    let mut order = LockOrder::new();
    let loan = match new.loan_id {
        Some(id) => Some(liquidating_loan(conn, &mut order, principal, id).await?),
        None => None,
    };
    let supplier = loan
        .as_ref()
        .map(|l| l.supplier_org_id)
        .unwrap_or(principal.org_id);
    let mut lines = Vec::with_capacity(indexed.len());
    let mut line_fees = Vec::with_capacity(indexed.len());
    for line in indexed {
        let (row, fee) =
            line_of(conn, &mut order, line, supplier, loan.as_ref(), &currency).await?;
        lines.push(row);
        line_fees.push(fee);
    }
    let total: Decimal = lines.iter().map(|l| l.amount).sum();
    let fee = fees::total(line_fees, tiers::of_org(conn, supplier).await?, &currency);
    if fee.fee.amount() >= total {
        return Err(ApiError::invalid(
            "lines",
            "the sale total does not cover the transaction fee",
        )
        .with("fee", fee.fee.to_string()));
    }
    let id = Uuid::new_v4();
    store::insert_sale(
        conn,
        store::NewSaleRow {
            id,
            kind: if loan.is_some() {
                SaleKind::Liquidation
            } else {
                SaleKind::Sale
            },
            supplier_org_id: supplier,
            buyer_org_id: buyer.id,
            loan_id: loan.as_ref().map(|l| l.id),
            currency: &currency,
            total: at_minor_unit(total, &currency),
            created_by: principal.user_id,
        },
    )
    .await?;
    for mut line in lines {
        line.sale_id = id;
        store::insert_line(conn, &line).await?;
        lots::reserve_for_sale(conn, line.lot_id, line.quantity).await?;
    }
    let sale = current(conn, id).await?;
    let mut change = audit("sale.created", &sale, None)?;
    if let Some(loan) = &loan {
        change.org_ids.push(loan.lender_org_id);
    }
    integrity::record(conn, Some(principal), change).await?;
    Ok(sale)
}

// ---------------------------------------------------------------------------------------------
// Changing

/// The seller cancels an unpaid sale; the reserved quantities are free again.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Sale> {
    let mut order = LockOrder::new();
    let row = lock_visible(conn, &mut order, principal, id).await?;
    let seller = match row.loan_id {
        Some(loan) => {
            crate::lending::store::find_loan(conn, Party::All, loan)
                .await?
                .map(|l| l.lender_org_id)
                == Some(principal.org_id)
        }
        None => row.supplier_org_id == principal.org_id,
    };
    if !seller {
        return Err(ApiError::forbidden("only the seller cancels a sale"));
    }
    if row.status != SaleStatus::Pending {
        return Err(sale_status(&row));
    }
    if row.paid > Decimal::ZERO {
        return Err(ApiError::conflict(
            "sale_paid",
            "the buyer has paid part of the sale; it can no longer be cancelled",
        )
        .with("paid", row.paid.to_string()));
    }
    let before = shared_row(&row)?;
    let lines = store::lines_of(conn, id).await?;
    let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
    for lot in lot_ids {
        lots::lock(conn, &mut order, lot).await?;
    }
    for line in &lines {
        lots::reserve_for_sale(conn, line.lot_id, -line.quantity).await?;
    }
    store::mark_cancelled(conn, id).await?;
    let sale = current(conn, id).await?;
    integrity::record(
        conn,
        Some(principal),
        audit("sale.cancelled", &sale, Some(before))?,
    )
    .await?;
    Ok(sale)
}

/// The buyer (or the platform recording money received) pays towards a sale; the money waits
/// in escrow, and the payment that completes the total settles the sale, unless a lender must
/// consent first.
pub async fn pay(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    amount: Decimal,
) -> ApiResult<PaymentResult> {
    generic_plans_until_commit(conn).await?;
    let mut order = LockOrder::new();
    let row = lock_visible(conn, &mut order, principal, id).await?;
    if !principal.is_platform() && row.buyer_org_id != principal.org_id {
        return Err(ApiError::forbidden("only the buyer pays for a sale"));
    }
    if row.status != SaleStatus::Pending {
        return Err(sale_status(&row));
    }
    let amount = money("amount", amount, &row.currency)?;
    let due = row.total - row.paid;
    if due.is_zero() {
        return Err(ApiError::conflict(
            "sale_paid",
            "the sale is paid in full and waits for a lender's consent",
        ));
    }
    if amount > due {
        return Err(ApiError::invalid("amount", "more than is due on the sale")
            .with("amount_due", due.to_string()));
    }
    let buyer = row.buyer_org_id;
    let (payment, sale) = take_payment(conn, &mut order, principal, row, amount, |platform| {
        postings::sale_payment(buyer, platform, amount)
    })
    .await?;
    Ok(PaymentResult {
        payment,
        sale: sale.seen_by(principal),
    })
}

/// Money the market already holds for the buyer (an auction winner's deposit) becomes a
/// payment towards its pending sale: from the platform's held deposits into escrow, and the
/// sale settles when it completes the total. `principal` is the seller the market acts for.
pub async fn apply_held_payment(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    amount: Decimal,
) -> ApiResult<Sale> {
    let mut order = LockOrder::new();
    let row = store::lock(conn, &mut order, id).await?;
    if row.status != SaleStatus::Pending {
        return Err(sale_status(&row));
    }
    let amount = amount.min(row.total - row.paid);
    let (_, sale) = take_payment(conn, &mut order, principal, row, amount, |platform| {
        postings::deposit_applied(platform, amount)
    })
    .await?;
    Ok(sale)
}

/// Books a payment of `amount` on the locked, pending `row` with the journal lines `lines`
/// builds (given the platform's org), and settles the sale when it is paid in full, unless a
/// lender must consent first.
async fn take_payment(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    row: SaleRow,
    amount: Decimal,
    lines: impl FnOnce(Uuid) -> Vec<ledger::Line>,
) -> ApiResult<(Payment, Sale)> {
    let id = row.id;
    let before = shared_row(&row)?;
    let first = row.paid.is_zero();
    let (today, platform) = booking_day(conn).await?;
    let entry = ledger::post(
        conn,
        Entry {
            kind: "sale_payment",
            loan_id: None,
            sale_id: Some(id),
            memo: format!("payment for sale {id}"),
            currency: &row.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines: lines(platform),
        },
    )
    .await?;
    let (mut payment, row) =
        store::insert_payment(conn, &row, amount, principal.user_id, entry).await?;
    payment.amount = Money::at(payment.amount.amount(), &row.currency);
    let mut changes = Vec::with_capacity(2);
    let only = first.then(|| payment.clone());
    let day = Some((today, platform));
    let sale = settle_if_paid(conn, order, principal, row, day, only, &mut changes).await?;
    changes.push(audit("sale.payment", &sale, Some(before))?);
    integrity::record_all(conn, Some(principal), changes).await?;
    Ok((payment, sale))
}

/// A lender consents that the sale settle although its proceeds do not pay one of the
/// lender's loans what it needs. A fully paid sale settles now.
pub async fn consent(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Sale> {
    let mut order = LockOrder::new();
    let row = lock_visible(conn, &mut order, principal, id).await?;
    if row.status != SaleStatus::Pending {
        return Err(sale_status(&row));
    }
    let lines = store::lines_of(conn, id).await?;
    let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
    let mine = store::lenders_live_loans_on(conn, principal.org_id, &lot_ids).await?;
    if mine.is_empty() {
        return Err(ApiError::conflict(
            "no_loan_secured",
            "none of your loans is secured on these goods",
        ));
    }
    let before = shared_row(&row)?;
    for loan in &mine {
        store::insert_consent(conn, id, *loan, principal.user_id).await?;
    }
    let mut changes = Vec::with_capacity(2);
    let sale = settle_if_paid(conn, &mut order, principal, row, None, None, &mut changes).await?;
    let mut change = audit("sale.lender_consented", &sale, Some(before))?;
    change.org_ids.push(principal.org_id);
    changes.push(change);
    integrity::record_all(conn, Some(principal), changes).await?;
    Ok(sale)
}

/// Settles the locked sale `row` if it is paid in full, unless a lender must consent first
/// (awaiting consent is an answer, not a failure: the sale stays pending and shows whose
/// consent it waits for), and answers the sale as this transaction leaves it: from the row
/// as written and what the settlement wrote, not read again. The settlement's audit change
/// joins `changes`. `day`: the business date and platform org, when the caller has them;
/// `only`: the sale's one payment, when the caller knows it is its only one.
async fn settle_if_paid(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    mut row: SaleRow,
    day: Option<(chrono::NaiveDate, Uuid)>,
    only: Option<Payment>,
    changes: &mut Vec<Change<'static>>,
) -> ApiResult<Sale> {
    if row.paid != row.total {
        return present(conn, row).await;
    }
    let day = match day {
        Some(day) => day,
        None => booking_day(conn).await?,
    };
    match settle_now(conn, order, principal, &mut row, day).await? {
        Some(written) => {
            let settle::Written {
                change, details, ..
            } = *written;
            changes.push(change);
            settled_answer(conn, row, details, only).await
        }
        None => present(conn, row).await,
    }
}

/// Settles the locked, fully paid sale `row` unless a lender must consent first, and keeps
/// `row` as it now is; answers what the settlement wrote (its audit change among it, for the
/// caller to record with its own).
async fn settle_now(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    row: &mut SaleRow,
    day: (chrono::NaiveDate, Uuid),
) -> ApiResult<Option<Box<settle::Written>>> {
    match settle::settle(conn, order, principal, row, day).await? {
        Settled::Settled(written) => {
            row.status = SaleStatus::Settled;
            row.settled_at = Some(written.settled_at);
            Ok(Some(written))
        }
        Settled::AwaitingConsent(_) => Ok(None),
    }
}
