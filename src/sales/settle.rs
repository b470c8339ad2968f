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
//! Lock order: the sale, then the loans secured on its lots (by id), then the lots (by id) —
//! the same loan-before-lot order as the lending handlers.

use super::fees::{self, FeeBreakdown};
use super::model::{ConsentNeeded, SaleLineRow, SaleRow};
use crate::auth::Principal;
use crate::db::schema::{
    facilities, loans, orgs, pledges, release_orders, sale_consents, sales, settlement_loans,
    settlements,
};
use crate::domain::lending::{Allocation, Owed};
use crate::domain::settlement::{Claim, Split, required_repayment, split};
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change};
use crate::ledger::{self, Entry, postings};
use crate::lending::model::{LIVE, LoanRow};
use crate::lending::revaluation::{self, Scope};
use crate::lending::service as loan_flow;
use crate::lending::store as lending;
use crate::lots::model::LotRow;
use crate::lots::store as lots;
use crate::tiers;
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The platform's org: it holds buyers' payments in escrow and earns the fees.
pub async fn platform_org(conn: &mut AsyncPgConnection) -> ApiResult<Uuid> {
    orgs::table
        .filter(orgs::kind.eq("platform"))
        .order((orgs::created_at, orgs::id))
        .select(orgs::id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::internal("no platform org"))
}

pub async fn lines_of(conn: &mut AsyncPgConnection, sale: Uuid) -> ApiResult<Vec<SaleLineRow>> {
    Ok(crate::db::schema::sale_lines::table
        .filter(crate::db::schema::sale_lines::sale_id.eq(sale))
        .order(crate::db::schema::sale_lines::lot_id)
        .select(SaleLineRow::as_select())
        .load(conn)
        .await?)
}

/// One loan the sale touches.
pub struct Touched {
    pub loan: LoanRow,
    pub advance_rate: Decimal,
    /// (lot, quantity released from this loan's pledge on it).
    pub released: Vec<(Uuid, Decimal)>,
    pub quantity_released: Decimal,
    pub owed: Owed,
    pub required: Decimal,
}

/// What settling the sale now would do.
pub struct Plan {
    pub fee: FeeBreakdown,
    pub loans: Vec<Touched>,
    pub split: Split,
    pub consents: Vec<ConsentNeeded>,
}

impl Plan {
    pub fn awaiting_consent(&self) -> bool {
        self.consents.iter().any(|c| !c.consented)
    }
}

/// The live loans with pledges on these lots, oldest first.
async fn loans_on(conn: &mut AsyncPgConnection, lot_ids: &[Uuid]) -> ApiResult<Vec<Uuid>> {
    let mut ids: Vec<(i64, Uuid)> = pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq_any(lot_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .filter(loans::status.eq_any(LIVE))
        .select((loans::seq, loans::id))
        .distinct()
        .load(conn)
        .await?;
    ids.sort();
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

/// Works out the settlement of `sale` on `today` from the pledge values of the last
/// revaluation. With `lock`, the loans and then the lots are locked first, as settlement
/// needs; without, it is a preview.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    sale: &SaleRow,
    lines: &[SaleLineRow],
    lock: bool,
) -> ApiResult<Plan> {
    let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
    let mut loan_ids = loans_on(conn, &lot_ids).await?;
    if lock {
        let mut by_id = loan_ids.clone();
        by_id.sort();
        let _: Vec<Uuid> = loans::table
            .filter(loans::id.eq_any(&by_id))
            .order(loans::id)
            .select(loans::id)
            .for_update()
            .load(conn)
            .await?;
        for lot in &lot_ids {
            lots::lock(conn, *lot).await?;
        }
        // A pledge may have been released while we waited for the locks. The pledges' values
        // are the last revaluation's, which every price change and every closed day runs.
        loan_ids = loans_on(conn, &lot_ids).await?;
    }
    let rows: Vec<(LoanRow, Decimal)> = loans::table
        .inner_join(facilities::table)
        .filter(loans::id.eq_any(&loan_ids))
        .order(loans::seq)
        .select((LoanRow::as_select(), facilities::advance_rate))
        .load(conn)
        .await?;
    let all_pledges = pledges::table
        .filter(pledges::loan_id.eq_any(&loan_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .select(crate::lending::model::PledgeRow::as_select())
        .load(conn)
        .await?;
    let places = minor_units(&sale.currency);
    let mut touched: Vec<Touched> = rows
        .into_iter()
        .map(|(loan, advance_rate)| Touched {
            owed: loan_flow::owed(&loan),
            loan,
            advance_rate,
            released: Vec::new(),
            quantity_released: Decimal::ZERO,
            required: Decimal::ZERO,
        })
        .collect();
    // Sold quantity comes out of the lot's pledges first, oldest loan first — except that a
    // liquidation sale takes the goods of the loan it liquidates first.
    touched.sort_by_key(|t| Some(t.loan.id) != sale.loan_id);
    let mut released_value: BTreeMap<Uuid, Decimal> = BTreeMap::new();
    for line in lines {
        let mut left = line.quantity;
        for t in touched.iter_mut() {
            if left.is_zero() {
                break;
            }
            if let Some(p) = all_pledges
                .iter()
                .find(|p| p.loan_id == t.loan.id && p.lot_id == line.lot_id)
            {
                let take = left.min(p.quantity);
                left -= take;
                t.released.push((line.lot_id, take));
                t.quantity_released += take;
                *released_value.entry(t.loan.id).or_default() += p.market_value * take / p.quantity;
            }
        }
    }
    touched.retain(|t| !t.released.is_empty());
    for t in touched.iter_mut() {
        let pledged: Decimal = all_pledges
            .iter()
            .filter(|p| p.loan_id == t.loan.id)
            .map(|p| p.market_value)
            .sum();
        let left = (pledged - released_value.get(&t.loan.id).copied().unwrap_or_default())
            .max(Decimal::ZERO);
        let everything = all_pledges
            .iter()
            .filter(|p| p.loan_id == t.loan.id)
            .all(|p| {
                t.released
                    .iter()
                    .any(|(lot, q)| *lot == p.lot_id && *q == p.quantity)
            });
        t.required = if everything {
            t.owed.total()
        } else {
            required_repayment(t.owed.total(), t.advance_rate, left, places)
        };
    }
    let mut line_fees = Vec::with_capacity(lines.len());
    for line in lines {
        let lot = lots::find_visible(conn, lots::Viewer::All, line.lot_id)
            .await?
            .ok_or_else(|| ApiError::internal("sale line without its lot"))?;
        line_fees
            .push(fees::line_fee(conn, &lot, line.quantity, line.amount, &sale.currency).await?);
    }
    let fee = fees::total(
        line_fees,
        tiers::of_org(conn, sale.supplier_org_id).await?,
        &sale.currency,
    );
    let claims: Vec<Claim> = touched
        .iter()
        .map(|t| Claim {
            owed: t.owed,
            required: t.required,
        })
        .collect();
    let split = split(sale.total, fee.fee, &claims);
    let consented: Vec<Uuid> = sale_consents::table
        .filter(sale_consents::sale_id.eq(sale.id))
        .select(sale_consents::loan_id)
        .load(conn)
        .await?;
    let consents = split
        .short
        .iter()
        .map(|&i| {
            let t = &touched[i];
            ConsentNeeded {
                loan_id: t.loan.id,
                lender_org_id: t.loan.lender_org_id,
                required: at_minor_unit(t.required, &sale.currency),
                would_pay: at_minor_unit(split.loans[i].total(), &sale.currency),
                consented: consented.contains(&t.loan.id) || sale.loan_id == Some(t.loan.id),
            }
        })
        .collect();
    Ok(Plan {
        fee,
        loans: touched,
        split,
        consents,
    })
}

/// Settles the locked, fully paid `sale`, or answers the consents it still waits for.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    sale: &SaleRow,
    today: NaiveDate,
) -> ApiResult<Option<Vec<ConsentNeeded>>> {
    let lines = lines_of(conn, sale.id).await?;
    let plan = plan(conn, sale, &lines, true).await?;
    if plan.awaiting_consent() {
        return Ok(Some(plan.consents));
    }
    let split = &plan.split;
    let mut repaid = Allocation {
        fees: Decimal::ZERO,
        interest: Decimal::ZERO,
        principal: Decimal::ZERO,
    };
    for (t, allocation) in plan.loans.iter().zip(&split.loans) {
        for (lot, quantity) in &t.released {
            lending::unpledge(conn, t.loan.id, *lot, *quantity).await?;
        }
        loan_flow::apply_payment(conn, &t.loan, allocation, t.owed.interest).await?;
        // Revalued while still live, so an open margin call is cured by the repayment.
        revaluation::revalue(conn, today, Scope::Loan(t.loan.id), "repayment").await?;
        if allocation.total() == t.owed.total() {
            loan_flow::paid_off(conn, &t.loan).await?;
        }
        repaid.fees += allocation.fees;
        repaid.interest += allocation.interest;
        repaid.principal += allocation.principal;
    }
    let order_kind = if sale.kind == "liquidation" {
        "liquidation"
    } else {
        "sale"
    };
    for line in &lines {
        // The sale's reservation carries over to the release order until the goods leave.
        diesel::insert_into(release_orders::table)
            .values((
                release_orders::id.eq(Uuid::new_v4()),
                release_orders::lot_id.eq(line.lot_id),
                release_orders::kind.eq(order_kind),
                release_orders::quantity.eq(line.quantity),
                release_orders::created_by.eq(principal.user_id),
                release_orders::sale_id.eq(sale.id),
            ))
            .execute(conn)
            .await?;
    }
    let platform = platform_org(conn).await?;
    let paid: Vec<(Uuid, Allocation)> = plan
        .loans
        .iter()
        .zip(&split.loans)
        .map(|(t, a)| (t.loan.lender_org_id, *a))
        .collect();
    let journal = postings::settlement(&postings::Settlement {
        platform,
        supplier: sale.supplier_org_id,
        gross: sale.total,
        fee: split.fee,
        to_supplier: split.to_supplier,
        loans: &paid,
    });
    let entry = ledger::post(
        conn,
        Entry {
            kind: "settlement",
            loan_id: None,
            sale_id: Some(sale.id),
            memo: format!("settlement of sale {}", sale.id),
            currency: &sale.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines: journal,
        },
    )
    .await?;
    diesel::insert_into(settlements::table)
        .values((
            settlements::sale_id.eq(sale.id),
            settlements::business_date.eq(today),
            settlements::gross.eq(sale.total),
            settlements::fee.eq(split.fee),
            settlements::fee_detail
                .eq(serde_json::to_value(&plan.fee).map_err(ApiError::internal)?),
            settlements::loan_fees_repaid.eq(repaid.fees),
            settlements::interest_repaid.eq(repaid.interest),
            settlements::principal_repaid.eq(repaid.principal),
            settlements::to_supplier.eq(split.to_supplier),
            settlements::journal_entry_id.eq(entry),
        ))
        .execute(conn)
        .await?;
    let rows: Vec<_> = plan
        .loans
        .iter()
        .zip(&split.loans)
        .map(|(t, a)| {
            (
                settlement_loans::sale_id.eq(sale.id),
                settlement_loans::loan_id.eq(t.loan.id),
                settlement_loans::quantity_released.eq(t.quantity_released),
                settlement_loans::fees.eq(a.fees),
                settlement_loans::interest.eq(a.interest),
                settlement_loans::principal.eq(a.principal),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(settlement_loans::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    diesel::update(sales::table.find(sale.id))
        .set((
            sales::status.eq("settled"),
            sales::settled_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    let mut org_ids = vec![sale.supplier_org_id, sale.buyer_org_id];
    org_ids.extend(plan.loans.iter().map(|t| t.loan.lender_org_id));
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "sale.settled",
            object_kind: "sale",
            object_id: sale.id.to_string(),
            org_ids,
            before: None,
            after: Some(json!({
                "gross": sale.total.to_string(), "fee": split.fee.to_string(),
                "loan_fees_repaid": repaid.fees.to_string(),
                "interest_repaid": repaid.interest.to_string(),
                "principal_repaid": repaid.principal.to_string(),
                "to_supplier": split.to_supplier.to_string(), "journal_entry_id": entry,
            })),
        },
    )
    .await?;
    Ok(None)
}

/// The lots of a sale, locked in id order (the caller holds the sale).
pub async fn lock_lots(
    conn: &mut AsyncPgConnection,
    lines: &[SaleLineRow],
) -> ApiResult<Vec<LotRow>> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        out.push(lots::lock(conn, line.lot_id).await?);
    }
    Ok(out)
}
