//! Custody incidents, one use case each: lock what a count may cut, take a shortage off the
//! lot's commitments, record the incident, and read incidents as each party may see them.

use super::model::*;
use super::store;
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::custody::{self, Cuts};
use crate::domain::lending::round_half_even;
use crate::domain::money::Money;
use crate::domain::quantity::{Quantity, Unit};
use crate::domain::valuation::minor_units;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::lending::revaluation::{self, Scope};
use crate::lending::store as lending;
use crate::lots::model::{LotRow, Movement};
use crate::lots::store::{self as lots, Viewer};
use crate::lots::valuation::appraise;
use crate::reference::store as reference;
use crate::sales::store::{self as sales, PendingLine};
use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;
use uuid::Uuid;

/// The sales and loans a count locked before its lot.
#[derive(Debug, Default)]
pub struct Claims {
    sales: Vec<Uuid>,
    loans: Vec<Uuid>,
}

/// Before a count locks its lot (found by `code`), the rows a shortage may change and that
/// come first in the lock order: the pending sales with goods of the lot, then the loans
/// holding pledges on it.
pub async fn lock_claims(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    viewer: Viewer,
    code: &str,
) -> ApiResult<Claims> {
    let Some(lot) = lots::find_visible_by_code(conn, viewer, code).await? else {
        return Ok(Claims::default());
    };
    let mut sale_ids: Vec<Uuid> = sales::pending_lines_on(conn, lot.id)
        .await?
        .into_iter()
        .map(|l| l.sale_id)
        .collect();
    sale_ids.sort();
    for id in &sale_ids {
        sales::lock(conn, order, *id).await?;
    }
    let loan_ids: Vec<Uuid> = lending::pledges_on(conn, lot.id)
        .await?
        .into_iter()
        .map(|p| p.0)
        .collect();
    lending::lock_loans(conn, order, &loan_ids).await?;
    Ok(Claims {
        sales: sale_ids,
        loans: loan_ids,
    })
}

/// The most a pending line can shrink without its sale's total falling below what its buyer
/// has paid, in the lot's unit: what is left of the line must be worth at least what the
/// buyer paid beyond the sale's other lines, with half a minor unit to spare for rounding.
fn cuttable(line: &PendingLine, unit: &str) -> Decimal {
    let headroom = line.total - line.paid;
    if headroom >= line.amount {
        return line.quantity;
    }
    let places = Unit::parse(unit).map_or(3, Unit::max_scale);
    let half_unit = Decimal::new(5, minor_units(&line.currency) + 1);
    let keep = (line.amount - headroom + half_unit) / line.unit_price;
    (line.quantity - keep)
        .round_dp_with_strategy(places, RoundingStrategy::ToZero)
        .clamp(Decimal::ZERO, line.quantity)
}

fn remaining_amount(line: &PendingLine, cut: Decimal) -> Decimal {
    round_half_even(
        (line.quantity - cut) * line.unit_price,
        minor_units(&line.currency),
    )
}

/// A count found only `counted` of the (locked) lot: takes what its commitments no longer
/// fit off them, in the order of `domain::custody::shortage`. Answers what it took; 409
/// `shortage_hits_paid_sale` when the missing goods were paid for by a buyer of a pending sale
/// (that sale must be settled or refunded first).
pub async fn take_shortage(
    conn: &mut AsyncPgConnection,
    (order, claims): (&mut LockOrder, &Claims),
    lot: &LotRow,
    (counted, today): (Decimal, NaiveDate),
) -> ApiResult<Effects> {
    let commitments = lots::commitments(conn, lot).await?;
    if commitments.fit(counted) {
        return Ok(Effects::default());
    }
    let lines = sales::pending_lines_on(conn, lot.id).await?;
    let pledges = lending::pledges_on(conn, lot.id).await?;
    // A sale or loan that took goods of the lot after the claims were locked: run again.
    if lines.iter().any(|l| !claims.sales.contains(&l.sale_id))
        || pledges.iter().any(|p| !claims.loans.contains(&p.0))
    {
        return Err(ApiError::race());
    }
    let limits: Vec<Decimal> = lines.iter().map(|l| cuttable(l, &lot.unit)).collect();
    let cuts = custody::shortage(&commitments, counted, limits.iter().sum()).map_err(|left| {
        ApiError::conflict(
            "shortage_hits_paid_sale",
            "the missing goods are held for a pending sale its buyer has paid for; settle or refund it first",
        )
        .with("quantity_uncovered", Quantity::at(left, &lot.unit))
    })?;
    let mut effects = Effects::default();
    cut_sales(conn, lot, (&lines, &limits), cuts.sold, &mut effects).await?;
    cut_pledges(conn, lot, (&cuts, &pledges, today), &mut effects).await?;
    cut_orders(conn, order, lot, cuts.orders, &mut effects).await?;
    Ok(effects)
}

async fn cut_sales(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    (lines, limits): (&[PendingLine], &[Decimal]),
    mut left: Decimal,
    effects: &mut Effects,
) -> ApiResult<()> {
    for (line, limit) in lines.iter().zip(limits) {
        let cut = left.min(*limit);
        if cut <= Decimal::ZERO {
            continue;
        }
        left -= cut;
        let amount = if cut == line.quantity {
            Decimal::ZERO
        } else {
            remaining_amount(line, cut)
        };
        sales::shrink_line(conn, line, cut, amount).await?;
        let cancelled = cut == line.quantity && line.lines == 1;
        if cancelled {
            sales::mark_cancelled(conn, line.sale_id).await?;
        }
        lots::reserve_for_sale(conn, lot.id, -cut).await?;
        let total = if cancelled {
            line.total
        } else {
            line.total - (line.amount - amount)
        };
        effects.sales.push(SaleCut {
            sale_id: line.sale_id,
            buyer_org_id: line.buyer_org_id,
            quantity_cut: Quantity::at(cut, &lot.unit),
            total: Money::at(total, &line.currency),
            cancelled,
        });
    }
    Ok(())
}

async fn cut_pledges(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    (cuts, pledges, today): (&Cuts, &[lending::PledgeOn], NaiveDate),
    effects: &mut Effects,
) -> ApiResult<()> {
    let (mut pending, mut live) = (cuts.pledged_pending, cuts.pledged_live);
    for &(loan, lender, status, quantity) in pledges {
        let left = if status.is_pending() {
            &mut pending
        } else {
            &mut live
        };
        let cut = (*left).min(quantity);
        if cut <= Decimal::ZERO {
            continue;
        }
        *left -= cut;
        lending::unpledge(conn, loan, lot.id, cut).await?;
        revaluation::revalue(conn, today, Scope::Loan(loan), "revaluation").await?;
        effects.pledges.push(PledgeCut {
            loan_id: loan,
            lender_org_id: lender,
            quantity_cut: Quantity::at(cut, &lot.unit),
        });
    }
    Ok(())
}

async fn cut_orders(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    lot: &LotRow,
    mut left: Decimal,
    effects: &mut Effects,
) -> ApiResult<()> {
    if left <= Decimal::ZERO {
        return Ok(());
    }
    for release in lots::lock_open_orders(conn, order, lot.id).await? {
        let cut = left.min(release.quantity.value() - release.quantity_released.value());
        if cut <= Decimal::ZERO {
            continue;
        }
        left -= cut;
        lots::shrink_release_order(conn, &release, cut).await?;
        effects.release_orders.push(OrderCut {
            release_order_id: release.id,
            quantity_cut: Quantity::at(cut, &lot.unit),
        });
    }
    Ok(())
}

/// Records the incident of a count (`movement`) that found `missing` of `lot` gone: valued at
/// market on the business date, against the warehouse's operator, told to the owner, the
/// operator, every lender with goods of the lot pledged and every buyer whose sale shrank.
pub async fn record(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    (lot, movement): (&LotRow, &Movement),
    (missing, today): (Decimal, NaiveDate),
    reason: &str,
    effects: &Effects,
) -> ApiResult<Incident> {
    let warehouse_id = lot
        .warehouse_id
        .ok_or_else(|| ApiError::internal("a counted lot without a warehouse"))?;
    let warehouse = reference::find_warehouse(conn, warehouse_id)
        .await?
        .ok_or_else(|| ApiError::internal("missing warehouse"))?;
    let valuation = appraise(conn, lot, today, missing, None).await?;
    let value = valuation
        .market_value
        .zip(valuation.currency.clone())
        .map(|(v, c)| (v.amount(), c));
    let mut lenders: Vec<Uuid> = lending::pledges_on(conn, lot.id)
        .await?
        .into_iter()
        .map(|p| p.1)
        .chain(effects.pledges.iter().map(|p| p.lender_org_id))
        .collect();
    lenders.sort();
    lenders.dedup();
    let mut buyers: Vec<Uuid> = effects.sales.iter().map(|s| s.buyer_org_id).collect();
    buyers.sort();
    buyers.dedup();
    let incident = store::insert(
        conn,
        NewIncident {
            lot,
            warehouse_id,
            operator_org_id: warehouse.operator_org_id,
            movement_id: movement.id,
            quantity_missing: missing,
            value,
            reason,
            effects,
            recorded_by: principal.user_id,
        },
        (&lenders, &buyers),
    )
    .await?
    .shown();
    let mut told = vec![incident.owner_org_id, incident.operator_org_id];
    told.extend(&lenders);
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "custody_incident.recorded",
            object_kind: "custody_incident",
            object_id: incident.id.to_string(),
            org_ids: told,
            before: None,
            after: Some(to_json(&incident)?),
        },
    )
    .await?;
    tell_buyers(conn, principal, &incident, effects).await?;
    Ok(incident)
}

/// Each buyer whose sale shrank hears of it, and of nothing else (no loans, no lenders).
async fn tell_buyers(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    incident: &Incident,
    effects: &Effects,
) -> ApiResult<()> {
    for cut in &effects.sales {
        integrity::record(
            conn,
            Some(principal),
            Change {
                action: "sale.shrunk",
                object_kind: "sale",
                object_id: cut.sale_id.to_string(),
                org_ids: vec![cut.buyer_org_id, incident.owner_org_id],
                before: None,
                after: Some(json!({
                    "sale_id": cut.sale_id,
                    "lot_id": incident.lot_id,
                    "lot_code": incident.lot_code,
                    "incident_id": incident.id,
                    "quantity_cut": cut.quantity_cut,
                    "total": cut.total,
                    "cancelled": cut.cancelled,
                })),
            },
        )
        .await?;
    }
    Ok(())
}

/// The incident as `principal` may see it: a buyer sees only its own sales' cuts, and neither
/// a buyer nor the warehouse operator sees the owner's loans or lenders.
pub fn as_seen_by(principal: &Principal, mut incident: Incident) -> Incident {
    let sees_financing = matches!(
        principal.kind,
        OrgKind::Platform | OrgKind::Supplier | OrgKind::Lender
    );
    if !sees_financing {
        incident.lender_org_ids.clear();
        if let Some(effects) = incident.effects.as_object_mut() {
            effects.insert("pledges".into(), json!([]));
            if principal.kind == OrgKind::Buyer
                && let Some(sales) = effects.get_mut("sales").and_then(|s| s.as_array_mut())
            {
                let own = principal.org_id.to_string();
                sales.retain(|s| s["buyer_org_id"] == own.as_str());
            }
        }
        if principal.kind == OrgKind::Buyer {
            incident.buyer_org_ids.retain(|b| *b == principal.org_id);
        }
    }
    incident
}

/// A page of the incidents the caller may see, oldest first.
pub async fn incidents(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: IncidentQuery,
) -> ApiResult<Page<Incident>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let org = store::viewer(principal.kind, principal.org_id);
    let rows = store::list(conn, org, query.lot_id, after, limit).await?;
    let page = Page::from_rows(rows, limit, |i| i.seq);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|i| as_seen_by(principal, i.shown()))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// One incident the caller may see, or 404.
pub async fn incident(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Incident> {
    let org = store::viewer(principal.kind, principal.org_id);
    store::find(conn, org, id)
        .await?
        .map(|i| as_seen_by(principal, i.shown()))
        .ok_or_else(|| ApiError::not_found("incident_not_found", "no such custody incident"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: &str, unit_price: &str, total: &str, paid: &str) -> PendingLine {
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        let amount = round_half_even(d(quantity) * d(unit_price), 2);
        PendingLine {
            sale_id: Uuid::nil(),
            line_no: 1,
            quantity: d(quantity),
            unit_price: d(unit_price),
            amount,
            total: d(total),
            paid: d(paid),
            currency: "CNY".into(),
            buyer_org_id: Uuid::nil(),
            supplier_org_id: Uuid::nil(),
            lines: 1,
        }
    }

    #[test]
    fn a_line_shrinks_no_further_than_what_its_buyer_paid() {
        for (quantity, price, total, paid) in [
            ("100", "6.50", "650.00", "600.00"),
            ("999999.999", "0.000001", "1.00", "0.50"),
            ("20000", "6.50", "130000.00", "0"),
            (
                "12.345",
                "99999999.999999",
                "1234499999.99",
                "1234499999.99",
            ),
        ] {
            let l = line(quantity, price, total, paid);
            let cut = cuttable(&l, "kg");
            assert!(cut >= Decimal::ZERO && cut <= l.quantity, "{quantity}");
            let left = if cut == l.quantity {
                Decimal::ZERO
            } else {
                remaining_amount(&l, cut)
            };
            assert!(
                l.total - (l.amount - left) >= l.paid,
                "{quantity} at {price}: cut {cut}"
            );
        }
    }
}
