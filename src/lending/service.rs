//! Lending use cases, one function each: open a facility; request, approve, reject, cancel,
//! disburse and repay a loan; pledge more collateral, release some with the lender's consent,
//! order a defaulted loan's goods sold. Each runs in the caller's transaction: it locks rows in
//! the documented order (`crate::locks`), asks `domain::lending` whether the change is allowed,
//! writes through the store, posts to the ledger, revalues, and records the audit event.
//!
//! `apply_payment` and `paid_off` are shared with settlement, which repays loans from a sale.

use super::model::*;
use super::revaluation::{self, Scope};
use super::store::{self, Approval, Party};
use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::db::locks::LockOrder;
use crate::domain::custody::Commitments;
use crate::domain::inputs::{Fraction, Ratio, UnitInterval};
use crate::domain::lending::{self, Allocation, Owed};
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::{LoanStatus, LotStatus};
use crate::domain::valuation::minor_units;
use crate::error::{ApiError, ApiResult};
use crate::http::validate::{self, money, quantity};
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::ledger::{self, Entry, postings};
use crate::lots::model::{LotRow, lot_not_found};
use crate::lots::store::{self as lots, Viewer};
use crate::lots::valuation::{Terms, appraise};
use crate::orgs::store as orgs;
use crate::reference::store as reference;
use actix_web::http::StatusCode;
use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

fn loan_status(loan: &LoanRow, wanted: &str) -> ApiError {
    ApiError::conflict(
        "loan_status",
        format!("the loan is {}; this needs it {wanted}", loan.status),
    )
    .with("status", loan.status)
}

// ---------------------------------------------------------------------------------------------
// Facilities

/// A facility with its utilisation and borrowing base.
pub async fn present_facility(
    conn: &mut AsyncPgConnection,
    row: FacilityRow,
) -> ApiResult<Facility> {
    present_facilities(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("a facility presented as nothing"))
}

/// Facilities with their utilisation and borrowing base, in one query for all of them.
pub async fn present_facilities(
    conn: &mut AsyncPgConnection,
    rows: Vec<FacilityRow>,
) -> ApiResult<Vec<Facility>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let usage = store::usage(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .zip(usage)
        .map(|(row, (_, drawn, committed, collateral_value))| {
            facility_of_row(row, (drawn, committed, collateral_value))
        })
        .collect())
}

fn facility_of_row(
    row: FacilityRow,
    (drawn, committed, collateral_value): (Decimal, Decimal, Decimal),
) -> Facility {
    let places = minor_units(&row.currency);
    let currency = row.currency.clone();
    let money = |value: Decimal| Money::at(value, &currency);
    Facility {
        id: row.id,
        lender_org_id: row.lender_org_id,
        supplier_org_id: row.supplier_org_id,
        available: money((row.limit_amount - drawn - committed).max(Decimal::ZERO)),
        drawn: money(drawn),
        committed: money(committed),
        borrowing_base: money(lending::lending_value(
            collateral_value,
            row.advance_rate,
            places,
        )),
        collateral_value: money(collateral_value),
        currency: row.currency,
        limit: money(row.limit_amount),
        advance_rate: row.advance_rate,
        annual_interest_rate: row.annual_interest_rate,
        margin_call_ltv: row.margin_call_ltv,
        liquidation_ltv: row.liquidation_ltv,
        cure_period_days: row.cure_period_days,
        max_tenor_days: row.max_tenor_days,
        eligible_commodities: row.eligible_commodities,
        second_approver_required: row.second_approver_required,
        arrangement_fee_rate: row.arrangement_fee_rate,
        status: row.status,
        created_at: row.created_at,
    }
}

fn rate(field: &str, value: Decimal, low: Decimal, high: Decimal) -> ApiResult<Decimal> {
    if value <= low || value > high || value.normalize().scale() > 6 {
        return Err(ApiError::invalid(
            field,
            format!(
                "{field} must be above {low} and at most {high}, with at most 6 decimal places"
            ),
        ));
    }
    Ok(value)
}

/// A fraction from 0 (included) to `high`, at most 6 decimal places.
fn fraction(field: &str, value: Decimal, high: Decimal, message: &str) -> ApiResult<Decimal> {
    if value < Decimal::ZERO || value > high || value.normalize().scale() > 6 {
        return Err(ApiError::invalid(field, message));
    }
    Ok(value)
}

/// The facility's terms, each checked, with the design's defaults where none is given.
pub struct FacilityTerms {
    pub currency: String,
    pub limit: Decimal,
    pub advance_rate: Decimal,
    pub annual_interest_rate: Decimal,
    pub margin_call_ltv: Decimal,
    pub liquidation_ltv: Decimal,
    pub cure_period_days: i32,
    pub max_tenor_days: i32,
    pub arrangement_fee_rate: Decimal,
}

/// Reads the terms of a new facility: 422 naming the first field that is wrong.
pub fn facility_terms(new: &NewFacility) -> ApiResult<FacilityTerms> {
    let currency = validate::currency("currency", &new.currency)?;
    let limit = money("limit", new.limit.value(), &currency)?;
    let one = Decimal::ONE;
    let advance_rate = rate(
        "advance_rate",
        new.advance_rate
            .map_or(Decimal::new(50, 2), Fraction::value),
        Decimal::ZERO,
        one,
    )?;
    let annual_interest_rate = fraction(
        "annual_interest_rate",
        new.annual_interest_rate.value(),
        one,
        "annual_interest_rate is a fraction from 0 to 1 (0.085 for 8.5 %), at most 6 decimal places",
    )?;
    let margin_call_ltv = rate(
        "margin_call_ltv",
        new.margin_call_ltv
            .map_or(Decimal::new(65, 2), Fraction::value),
        advance_rate,
        one,
    )?;
    let liquidation_ltv = rate(
        "liquidation_ltv",
        new.liquidation_ltv
            .map_or(Decimal::new(80, 2), Ratio::value),
        margin_call_ltv,
        Decimal::new(15, 1),
    )?;
    let cure_period_days = new.cure_period_days.unwrap_or(3);
    if !(0..=90).contains(&cure_period_days) {
        return Err(ApiError::invalid(
            "cure_period_days",
            "cure_period_days is 0 to 90",
        ));
    }
    if !(1..=3650).contains(&new.max_tenor_days) {
        return Err(ApiError::invalid(
            "max_tenor_days",
            "max_tenor_days is 1 to 3650",
        ));
    }
    // Below 1: with at most 6 places, at most 0.999999.
    let arrangement_fee_rate = fraction(
        "arrangement_fee_rate",
        new.arrangement_fee_rate
            .map_or(Decimal::ZERO, UnitInterval::value),
        one - Decimal::new(1, 6),
        "arrangement_fee_rate is a fraction from 0 to below 1",
    )?;
    if new.eligible_commodities.is_empty() || new.eligible_commodities.len() > 100 {
        return Err(ApiError::invalid(
            "eligible_commodities",
            "name at least one commodity the facility lends against",
        ));
    }
    Ok(FacilityTerms {
        currency,
        limit,
        advance_rate,
        annual_interest_rate,
        margin_call_ltv,
        liquidation_ltv,
        cure_period_days,
        max_tenor_days: new.max_tenor_days,
        arrangement_fee_rate,
    })
}

/// Opens a facility of the caller's org (a lender) for a supplier.
pub async fn open_facility(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewFacility,
    terms: FacilityTerms,
) -> ApiResult<Facility> {
    let supplier = orgs::find_org(conn, new.supplier_org_id)
        .await?
        .filter(|org| org.kind == OrgKind::Supplier.as_str())
        .ok_or_else(|| ApiError::unknown_reference("supplier_org_id", "no such supplier"))?;
    for (i, code) in new.eligible_commodities.iter().enumerate() {
        if reference::find_commodity(conn, code).await?.is_none() {
            return Err(ApiError::invalid(
                &format!("eligible_commodities[{i}]"),
                format!("no commodity `{code}`"),
            ));
        }
    }
    let row = store::insert_facility(
        conn,
        store::NewFacilityRow {
            lender_org_id: principal.org_id,
            supplier_org_id: supplier.id,
            currency: &terms.currency,
            limit_amount: terms.limit,
            advance_rate: terms.advance_rate,
            annual_interest_rate: terms.annual_interest_rate,
            margin_call_ltv: terms.margin_call_ltv,
            liquidation_ltv: terms.liquidation_ltv,
            cure_period_days: terms.cure_period_days,
            max_tenor_days: terms.max_tenor_days,
            eligible_commodities: &new.eligible_commodities,
            second_approver_required: new.second_approver_required,
            arrangement_fee_rate: terms.arrangement_fee_rate,
            created_by: Some(principal.user_id),
        },
    )
    .await?;
    let facility = present_facility(conn, row).await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "facility.opened",
            object_kind: "facility",
            object_id: facility.id.to_string(),
            org_ids: vec![facility.lender_org_id, facility.supplier_org_id],
            before: None,
            after: Some(to_json(&facility)?),
        },
    )
    .await?;
    Ok(facility)
}

/// Locks the caller's own open facility: 404 when it is not the caller's, 409 when closed.
async fn open_facility_of(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<FacilityRow> {
    let facility = store::find_facility(conn, Party::of(principal), id)
        .await?
        .filter(|f| f.lender_org_id == principal.org_id)
        .ok_or_else(facility_not_found)?;
    let facility = store::lock_facility(conn, &mut LockOrder::new(), facility.id).await?;
    if facility.status != "open" {
        return Err(ApiError::conflict(
            "facility_closed",
            "the facility is closed",
        ));
    }
    Ok(facility)
}

/// The lender changes an open facility's limit or rates. The limit may not go below what is
/// drawn and held for pending requests (409 `limit_below_drawn`, saying both); the advance rate
/// stays below the margin-call LTV (422). A new interest rate applies to loans requested from
/// now on.
pub async fn change_facility(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    change: &FacilityChange,
) -> ApiResult<Facility> {
    let facility = open_facility_of(conn, principal, id).await?;
    let before = present_facility(conn, facility.clone()).await?;
    let limit = match change.limit {
        Some(limit) => money("limit", limit.value(), &facility.currency)?,
        None => facility.limit_amount,
    };
    let annual_interest_rate = match change.annual_interest_rate {
        Some(rate) => fraction(
            "annual_interest_rate",
            rate.value(),
            Decimal::ONE,
            "annual_interest_rate is a fraction from 0 to 1 (0.085 for 8.5 %), at most 6 decimal places",
        )?,
        None => facility.annual_interest_rate,
    };
    let advance_rate = match change.advance_rate {
        Some(value) => {
            let below = facility.margin_call_ltv - Decimal::new(1, 6);
            rate("advance_rate", value.value(), Decimal::ZERO, below)?
        }
        None => facility.advance_rate,
    };
    let (drawn, committed) = store::usage_of(conn, facility.id).await?;
    if limit < drawn + committed {
        let money = |v: Decimal| Money::at(v, &facility.currency).to_string();
        return Err(ApiError::conflict(
            "limit_below_drawn",
            "the limit may not go below what the facility has drawn and holds for requests",
        )
        .with("drawn", money(drawn))
        .with("committed", money(committed)));
    }
    let row = store::change_facility(
        conn,
        facility.id,
        (limit, annual_interest_rate, advance_rate),
    )
    .await?;
    recorded_facility(conn, principal, row, "facility.changed", before).await
}

/// The lender closes its facility to new loans. Loans it has made run to their end; a
/// facility with requests still undecided or undisbursed is not closed (409
/// `facility_has_pending_loans`: reject or disburse them first).
pub async fn close_facility(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Facility> {
    let facility = open_facility_of(conn, principal, id).await?;
    let before = present_facility(conn, facility.clone()).await?;
    let (_, committed) = store::usage_of(conn, facility.id).await?;
    if committed > Decimal::ZERO {
        return Err(ApiError::conflict(
            "facility_has_pending_loans",
            "loans requested under the facility are not yet rejected, cancelled or disbursed",
        )
        .with(
            "committed",
            Money::at(committed, &facility.currency).to_string(),
        ));
    }
    let row = store::close_facility(conn, facility.id).await?;
    recorded_facility(conn, principal, row, "facility.closed", before).await
}

/// The changed facility, presented, with its audit event (the lender and the supplier).
async fn recorded_facility(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    row: FacilityRow,
    action: &'static str,
    before: Facility,
) -> ApiResult<Facility> {
    let facility = present_facility(conn, row).await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action,
            object_kind: "facility",
            object_id: facility.id.to_string(),
            org_ids: vec![facility.lender_org_id, facility.supplier_org_id],
            before: Some(to_json(&before)?),
            after: Some(to_json(&facility)?),
        },
    )
    .await?;
    Ok(facility)
}

/// The facility, if the caller may see it.
pub async fn facility(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Facility> {
    let row = store::find_facility(conn, Party::of(principal), id)
        .await?
        .ok_or_else(facility_not_found)?;
    present_facility(conn, row).await
}

/// A page of the facilities the caller lends or borrows under.
pub async fn facilities(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    page: &PageQuery,
) -> ApiResult<Page<Facility>> {
    let limit = page.limit()?;
    let rows = store::list_facilities(conn, Party::of(principal), page.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.seq);
    Ok(Page {
        items: present_facilities(conn, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

async fn facility_of(conn: &mut AsyncPgConnection, loan: &LoanRow) -> ApiResult<FacilityRow> {
    store::find_facility(conn, Party::All, loan.facility_id)
        .await?
        .ok_or_else(|| ApiError::internal("loan without facility"))
}

// ---------------------------------------------------------------------------------------------
// Presenting loans

/// What the loan owes now, in currency units.
pub fn owed(row: &LoanRow) -> Owed {
    lending::owed(
        row.fees_due,
        row.accrued_interest,
        row.outstanding_principal,
        minor_units(&row.currency),
    )
}

/// The loan as it is now in this transaction.
pub async fn current(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Loan> {
    let row = store::reload_loan(conn, id).await?;
    present(conn, row).await
}

pub async fn present(conn: &mut AsyncPgConnection, row: LoanRow) -> ApiResult<Loan> {
    present_all(conn, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("a loan presented as nothing"))
}

/// What presenting loans reads besides their rows, for all of them at once: a page of loans
/// costs the same five queries as one loan.
struct Extras {
    pledges: Vec<PledgeRow>,
    labels: Vec<(Uuid, String, String, String)>,
    margin_calls: Vec<MarginCall>,
    advance_rates: Vec<(Uuid, Decimal)>,
    holds: Vec<CollateralHold>,
}

/// The loans as the API shows them, in the order given.
pub async fn present_all(conn: &mut AsyncPgConnection, rows: Vec<LoanRow>) -> ApiResult<Vec<Loan>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let pledges = store::live_pledges_of(conn, &ids).await?;
    let lot_ids: Vec<Uuid> = pledges.iter().map(|p| p.lot_id).collect();
    let labels = lots::labels(conn, &lot_ids).await?;
    let margin_calls = store::latest_margin_calls(conn, &ids).await?;
    let facility_ids: Vec<Uuid> = rows.iter().map(|r| r.facility_id).collect();
    let advance_rates = store::advance_rates(conn, &facility_ids).await?;
    let holds = store::holds_of(conn, &ids).await?;
    let extras = Extras {
        pledges,
        labels,
        margin_calls,
        advance_rates,
        holds,
    };
    Ok(rows.into_iter().map(|row| assemble(row, &extras)).collect())
}

/// One loan from its row and what was read for the page it is on.
fn assemble(row: LoanRow, extras: &Extras) -> Loan {
    let currency = row.currency.clone();
    let money = |value: Decimal| Money::at(value, &currency);
    let collateral = extras
        .pledges
        .iter()
        .filter(|p| p.loan_id == row.id)
        .filter_map(|p| {
            let (_, code, commodity, unit) =
                extras.labels.iter().find(|l| l.0 == p.lot_id)?.clone();
            Some(Collateral {
                lot_id: p.lot_id,
                lot_code: code,
                commodity_code: commodity,
                quantity: Quantity::at(p.quantity, &unit),
                unit,
                market_value: money(p.market_value),
            })
        })
        .collect();
    let margin_call = extras
        .margin_calls
        .iter()
        .find(|m| m.loan_id == row.id)
        .cloned();
    let cure = margin_call
        .as_ref()
        .filter(|m| m.status == "open")
        .and_then(|_| extras.advance_rates.iter().find(|f| f.0 == row.facility_id))
        .map(|(_, rate)| cure_of(&row, *rate));
    let holds = extras
        .holds
        .iter()
        .filter(|h| h.loan_id == row.id)
        .cloned()
        .collect();
    let owed = owed(&row);
    Loan {
        amount_to_repay: money(owed.total()),
        interest_due: money(owed.interest),
        approvals: Approvals {
            awaiting_second_approval: row.status == LoanStatus::Requested
                && row.approved_by.is_some(),
            approved_by: row.approved_by,
            approved_at: row.approved_at,
            confirmed_by: row.confirmed_by,
            confirmed_at: row.confirmed_at,
        },
        id: row.id,
        facility_id: row.facility_id,
        lender_org_id: row.lender_org_id,
        supplier_org_id: row.supplier_org_id,
        status: row.status,
        currency: row.currency,
        principal: money(row.principal),
        outstanding_principal: money(row.outstanding_principal),
        accrued_interest: row.accrued_interest,
        fees_due: money(row.fees_due),
        interest_paid: money(row.interest_paid),
        fees_paid: money(row.fees_paid),
        annual_interest_rate: row.annual_interest_rate,
        collateral,
        collateral_value: money(row.collateral_value),
        ltv: row.ltv,
        revalued_at: row.revalued_at,
        margin_call,
        cure,
        holds,
        decided_reason: row.decided_reason,
        requested_at: row.requested_at,
        disbursed_at: row.disbursed_at,
        disbursed_on: row.disbursed_on,
        maturity_date: row.maturity_date,
        accrued_through: row.accrued_through,
        repaid_at: row.repaid_at,
        defaulted_at: row.defaulted_at,
        default_reason: row.default_reason,
    }
}

/// The loan, if the caller may see it.
pub async fn loan(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Loan> {
    let row = store::find_loan(conn, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)?;
    present(conn, row).await
}

/// The most closing LTVs one answer gives (a year of business days and more).
pub const LTV_HISTORY_DAYS: i64 = 400;

/// A loan's LTV as each business day closed, oldest first (at most [`LTV_HISTORY_DAYS`]),
/// for a caller who may see the loan (else 404).
pub async fn ltv_history(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Vec<LtvPoint>> {
    store::find_loan(conn, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)?;
    Ok(store::ltv_history(conn, id, LTV_HISTORY_DAYS).await?)
}

/// Every margin call of a loan the caller may see (else 404), newest first.
pub async fn margin_calls_of(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Vec<MarginCall>> {
    store::find_loan(conn, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)?;
    Ok(store::margin_calls_of(conn, id, 100).await?)
}

/// A page of the caller's loans, oldest first.
pub async fn loans(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: LoanQuery,
) -> ApiResult<Page<Loan>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            LoanStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "status is one of the loan statuses (active, repaid, ...)",
                )
            })
        })
        .transpose()?;
    let filter = store::LoanFilter {
        status,
        facility_id: query.facility_id,
    };
    let rows = store::list_loans(conn, Party::of(principal), filter, after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.seq);
    Ok(Page {
        items: present_all(conn, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

/// A page of the margin calls on the caller's loans, oldest first.
pub async fn margin_calls(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: MarginCallQuery,
) -> ApiResult<Page<MarginCallItem>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let rows =
        store::list_margin_calls(conn, Party::of(principal), query.status, after, limit).await?;
    let page = Page::from_rows(rows, limit, |m| m.seq);
    let open: Vec<Uuid> = page
        .items
        .iter()
        .filter(|m| m.status == "open")
        .map(|m| m.loan_id)
        .collect();
    let loans = store::loans_with_advance_rate(conn, &open).await?;
    let items = page
        .items
        .into_iter()
        .map(|call| {
            let cure = loans
                .iter()
                .find(|(loan, _)| loan.id == call.loan_id && call.status == "open")
                .map(|(loan, rate)| cure_of(loan, *rate));
            MarginCallItem { call, cure }
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// What cures the loan's open margin call, from its debt and collateral value now.
fn cure_of(row: &LoanRow, advance_rate: Decimal) -> MarginCallCure {
    let owed = owed(row);
    let debt = row.outstanding_principal + row.accrued_interest;
    let places = minor_units(&row.currency);
    let cure = lending::cure(
        (debt, row.fees_due, owed.total()),
        row.collateral_value,
        advance_rate,
        places,
    );
    MarginCallCure {
        repayment: Money::at(cure.repayment, &row.currency),
        extra_collateral_value: Money::at(cure.extra_collateral_value, &row.currency),
        target_ltv: advance_rate,
    }
}

fn audit_loan<'a>(action: &'a str, loan: &Loan, before: Option<Value>) -> ApiResult<Change<'a>> {
    Ok(Change {
        action,
        object_kind: "loan",
        object_id: loan.id.to_string(),
        org_ids: vec![loan.lender_org_id, loan.supplier_org_id],
        before,
        after: Some(to_json(loan)?),
    })
}

/// Presents the loan after a change and records the change's audit event.
async fn recorded(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    action: &'static str,
    before: Option<Value>,
) -> ApiResult<Loan> {
    let loan = current(conn, id).await?;
    integrity::record(conn, Some(principal), audit_loan(action, &loan, before)?).await?;
    Ok(loan)
}

// ---------------------------------------------------------------------------------------------
// Requests and decisions

fn refused(reasons: Vec<Refusal>, facts: Value) -> ApiError {
    let field = <[Refusal]>::first(&reasons)
        .map(|r| r.field.clone())
        .unwrap_or_default();
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "loan_refused",
        format!("refused: {}", codes.join(", ")),
    )
    .with("field", field)
    .with("reasons", &reasons);
    if let Value::Object(map) = facts {
        for (key, value) in map {
            error = error.with(&key, value);
        }
    }
    error
}

/// Collateral offered for a loan: each lot locked (in id order), valued on the business
/// date under the facility's terms, and checked free and eligible.
struct Offered {
    lots: Vec<(LotRow, Decimal)>,
    market_value: Decimal,
    reasons: Vec<Refusal>,
}

async fn offer(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    facility: &FacilityRow,
    collateral: &[PledgeRequest],
    today: NaiveDate,
) -> ApiResult<Offered> {
    if collateral.is_empty() || collateral.len() > 100 {
        return Err(ApiError::invalid(
            "collateral",
            "pledge 1 to 100 lot quantities",
        ));
    }
    let mut indexed: Vec<(usize, &PledgeRequest)> = collateral.iter().enumerate().collect();
    indexed.sort_by_key(|(_, p)| p.lot_id);
    if let Some(pair) = indexed.windows(2).find(|w| w[0].1.lot_id == w[1].1.lot_id) {
        return Err(ApiError::invalid(
            &format!("collateral[{}].lot_id", pair[1].0),
            "each lot appears once",
        ));
    }
    let terms = Terms {
        currency: &facility.currency,
        eligible_commodities: &facility.eligible_commodities,
    };
    let mut offered = Offered {
        lots: Vec::new(),
        market_value: Decimal::ZERO,
        reasons: Vec::new(),
    };
    for (i, pledge) in indexed {
        let lot = lots::lock_visible(conn, order, Viewer::of(principal), pledge.lot_id)
            .await?
            .ok_or_else(|| lot_not_found().with("field", format!("collateral[{i}].lot_id")))?;
        let qty = quantity(
            &format!("collateral[{i}].quantity"),
            pledge.quantity.value(),
            &lot.unit,
        )?;
        let valuation = appraise(conn, &lot, today, qty, Some(&terms)).await?;
        for reason in &valuation.ineligible_reasons {
            offered.reasons.push(Refusal {
                code: reason.as_str().to_owned(),
                field: format!("collateral[{i}].lot_id"),
                lot_id: Some(lot.id),
                quantity_free: None,
            });
        }
        if qty > lot.quantity_free() {
            offered.reasons.push(Refusal {
                code: "quantity_not_free".into(),
                field: format!("collateral[{i}].quantity"),
                lot_id: Some(lot.id),
                quantity_free: Some(Quantity::at(lot.quantity_free(), &lot.unit)),
            });
        }
        offered.market_value += valuation.market_value.map_or(Decimal::ZERO, Money::amount);
        offered.lots.push((lot, qty));
    }
    Ok(offered)
}

/// A supplier requests a loan under a facility against pledged lot quantities, which are
/// pledged at once. A refusal answers 422 `loan_refused` with every reason.
pub async fn request(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: NewLoan,
) -> ApiResult<Loan> {
    let facility = store::find_facility(conn, Party::of(principal), new.facility_id)
        .await?
        .ok_or_else(facility_not_found)?;
    let mut order = LockOrder::new();
    let facility = store::lock_facility(conn, &mut order, facility.id).await?;
    if facility.status != "open" {
        return Err(ApiError::conflict(
            "facility_closed",
            "the facility is closed",
        ));
    }
    let amount = money("principal", new.principal.value(), &facility.currency)?;
    let today = business_date(conn).await?;
    let mut offered = offer(
        conn,
        &mut order,
        principal,
        &facility,
        &new.collateral,
        today,
    )
    .await?;
    let places = minor_units(&facility.currency);
    let lending_value = lending::lending_value(offered.market_value, facility.advance_rate, places);
    let (drawn, committed) = store::usage_of(conn, facility.id).await?;
    let available = (facility.limit_amount - drawn - committed).max(Decimal::ZERO);
    for (exceeded, code) in [
        (amount > lending_value, "principal_exceeds_lending_value"),
        (amount > available, "principal_exceeds_available_limit"),
    ] {
        if exceeded {
            offered.reasons.push(Refusal {
                code: code.into(),
                field: "principal".into(),
                lot_id: None,
                quantity_free: None,
            });
        }
    }
    if !offered.reasons.is_empty() {
        return Err(refused(
            offered.reasons,
            json!({
                "collateral_value": offered.market_value.to_string(),
                "lending_value": lending_value.to_string(),
                "available": available.to_string(),
            }),
        ));
    }
    let id = store::insert_loan(conn, &facility, amount, principal.user_id).await?;
    for (lot, qty) in &offered.lots {
        store::pledge(conn, id, lot.id, *qty).await?;
    }
    revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
    recorded(conn, principal, id, "loan.requested", None).await
}

/// Locks the loan the caller may see, or answers 404.
async fn locked(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<LoanRow> {
    store::lock_loan(conn, order, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)
}

/// A lender approves a requested loan. When the facility requires a second approver, the
/// first approval waits for a different lender user to confirm it.
pub async fn approve(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Loan> {
    let loan = locked(conn, &mut LockOrder::new(), principal, id).await?;
    let before = to_json(&loan)?;
    if loan.status != LoanStatus::Requested {
        return Err(loan_status(&loan, "requested"));
    }
    let facility = facility_of(conn, &loan).await?;
    let user = principal.user_id;
    let approval = match (facility.second_approver_required, loan.approved_by) {
        (true, None) => Approval::First,
        (true, Some(first)) if first == user => {
            return Err(ApiError::conflict(
                "second_approver_required",
                "this facility needs a second lender user to confirm the approval",
            )
            .with("approved_by", first));
        }
        (true, Some(_)) => Approval::Confirmation,
        (false, _) => Approval::Only,
    };
    store::record_approval(conn, loan.id, user, approval).await?;
    recorded(conn, principal, id, "loan.approved", Some(before)).await
}

/// Ends a loan before disbursement, releasing its pledges: a lender rejects it (with a
/// reason) or the supplier cancels it.
pub async fn end_before_disbursement(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    rejection: Option<String>,
) -> ApiResult<Loan> {
    let (action, status) = match rejection {
        Some(_) => ("loan.rejected", LoanStatus::Rejected),
        None => ("loan.cancelled", LoanStatus::Cancelled),
    };
    let mut order = LockOrder::new();
    let loan = locked(conn, &mut order, principal, id).await?;
    let before = to_json(&loan)?;
    if !loan.status.is_pending() {
        return Err(loan_status(&loan, "requested or approved"));
    }
    store::end_before_disbursement(conn, loan.id, status, rejection.as_deref()).await?;
    store::release_all(conn, &mut order, loan.id).await?;
    recorded(conn, principal, id, action, Some(before)).await
}

// ---------------------------------------------------------------------------------------------
// Money

/// A lender pays out an approved loan: it becomes `active`, interest starts the next business
/// day, and one balanced journal entry moves the principal from the lender to the supplier.
pub async fn disburse(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Disbursement> {
    let row = locked(conn, &mut LockOrder::new(), principal, id).await?;
    if row.status != LoanStatus::Approved {
        return Err(loan_status(&row, "approved"));
    }
    let before = to_json(&row)?;
    let facility = facility_of(conn, &row).await?;
    let today = business_date(conn).await?;
    let places = minor_units(&row.currency);
    let maturity_date = lending::maturity_date(today, facility.max_tenor_days)
        .ok_or_else(|| ApiError::internal("maturity date past the calendar"))?;
    let disbursed = store::Disbursed {
        by: principal.user_id,
        on: today,
        fees_due: lending::arrangement_fee(row.principal, facility.arrangement_fee_rate, places),
        maturity_date,
    };
    store::mark_disbursed(conn, &row, disbursed).await?;
    let entry = ledger::post(
        conn,
        Entry {
            kind: "disbursement",
            loan_id: Some(id),
            sale_id: None,
            memo: format!("disbursement of loan {id}"),
            currency: &row.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines: postings::disbursement(row.lender_org_id, row.supplier_org_id, row.principal),
        },
    )
    .await?;
    revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
    let loan = recorded(conn, principal, id, "loan.disbursed", Some(before)).await?;
    Ok(Disbursement {
        loan,
        journal_entry_id: entry,
    })
}

/// Writes a payment of `allocation` to the locked loan's balances (the caller books the
/// journal entry). Interest paid in full clears the sub-cent remainder of the accrual.
pub async fn apply_payment(
    conn: &mut AsyncPgConnection,
    row: &LoanRow,
    allocation: &Allocation,
    interest_due: Decimal,
) -> ApiResult<()> {
    let accrued_after = if allocation.interest == interest_due {
        Decimal::ZERO
    } else {
        row.accrued_interest - allocation.interest
    };
    store::apply_payment(conn, row, allocation, accrued_after).await?;
    Ok(())
}

/// Pays `allocation` into the locked loan `row`, which owes `owed`, on `today`. A part
/// payment is booked and the loan revalued (a margin call it cures closes). A payment of
/// everything owed closes the loan: its open margin call cured, the loan `repaid` (or
/// `closed` after a default) with its debt and collateral at zero in one write, every pledge
/// released (the lots not yet held locked in id order). It is not revalued: it gives all its
/// collateral back, and it leaves the exposure figures once, not after each write.
pub async fn receive_payment(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    row: &LoanRow,
    (allocation, owed): (&Allocation, Owed),
    today: NaiveDate,
) -> ApiResult<()> {
    if allocation.total() == owed.total() {
        revaluation::cure_before_payoff(conn, row.id, today, "repayment").await?;
        store::pay_off(conn, row, allocation, row.status.when_paid_off(), today).await?;
        store::release_all(conn, order, row.id).await?;
    } else {
        apply_payment(conn, row, allocation, owed.interest).await?;
        revaluation::revalue(conn, today, Scope::Loan(row.id), "repayment").await?;
    }
    Ok(())
}

/// A repayment: fees first, then interest, then principal. At zero the loan is `repaid` (or
/// `closed` after a default) and its pledges are released.
pub async fn repay(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    amount: Decimal,
) -> ApiResult<Repayment> {
    let mut order = LockOrder::new();
    let row = locked(conn, &mut order, principal, id).await?;
    if !row.is_live() {
        return Err(loan_status(&row, "active, defaulted or liquidating"));
    }
    let amount = money("amount", amount, &row.currency)?;
    let before = to_json(&row)?;
    let owed = owed(&row);
    let allocation = lending::allocate(amount, owed).map_err(|total| {
        ApiError::invalid("amount", "more than the loan owes")
            .with("amount_to_repay", total.to_string())
    })?;
    let today = business_date(conn).await?;
    receive_payment(conn, &mut order, &row, (&allocation, owed), today).await?;
    let entry = ledger::post(
        conn,
        Entry {
            kind: "repayment",
            loan_id: Some(id),
            sale_id: None,
            memo: format!("repayment of loan {id}"),
            currency: &row.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines: postings::repayment(row.lender_org_id, row.supplier_org_id, &allocation),
        },
    )
    .await?;
    let loan = recorded(conn, principal, id, "loan.repayment", Some(before)).await?;
    Ok(Repayment {
        loan,
        allocation,
        journal_entry_id: entry,
    })
}

// ---------------------------------------------------------------------------------------------
// Collateral

/// The supplier pledges more goods to a loan, for example to cure a margin call: the same
/// eligibility rules as a request; the loan is revalued at once.
pub async fn add_collateral(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    collateral: Vec<PledgeRequest>,
) -> ApiResult<Loan> {
    let mut order = LockOrder::new();
    let loan = locked(conn, &mut order, principal, id).await?;
    let before = to_json(&loan)?;
    if !loan.status.takes_collateral_changes() {
        return Err(loan_status(&loan, "requested, approved or active"));
    }
    let facility = facility_of(conn, &loan).await?;
    let today = business_date(conn).await?;
    let offered = offer(conn, &mut order, principal, &facility, &collateral, today).await?;
    if !offered.reasons.is_empty() {
        return Err(refused(offered.reasons, json!({})));
    }
    for (lot, qty) in &offered.lots {
        store::pledge(conn, loan.id, lot.id, *qty).await?;
    }
    revaluation::revalue(conn, today, Scope::Loan(loan.id), "collateral").await?;
    recorded(conn, principal, id, "loan.collateral_added", Some(before)).await
}

/// The lender consents to pledged goods leaving: the quantity leaves the pledge and a release
/// order lets the warehouse scan it out — only if the loan's LTV after the release is at most
/// the advance rate.
pub async fn release_collateral(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    consent: ReleaseConsent,
) -> ApiResult<Consented> {
    let mut order = LockOrder::new();
    let row = locked(conn, &mut order, principal, id).await?;
    if !row.status.takes_collateral_changes() {
        return Err(loan_status(&row, "requested, approved or active"));
    }
    let before = to_json(&row)?;
    let today = business_date(conn).await?;
    revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
    let row = store::reload_loan(conn, id).await?;
    let pledge = store::pledges_of(conn, id)
        .await?
        .into_iter()
        .find(|p| p.lot_id == consent.lot_id)
        .ok_or_else(|| ApiError::invalid("lot_id", "this lot is not pledged to the loan"))?;
    let lot = lots::lock(conn, &mut order, pledge.lot_id).await?;
    let qty = quantity("quantity", consent.quantity.value(), &lot.unit)?;
    if qty > pledge.quantity {
        return Err(
            ApiError::invalid("quantity", "more than is pledged to the loan")
                .with("quantity_pledged", Quantity::at(pledge.quantity, &lot.unit)),
        );
    }
    if lot.status != LotStatus::InCustody {
        return Err(ApiError::conflict(
            "lot_status",
            format!(
                "goods are released from custody; this lot is {}",
                lot.status
            ),
        )
        .with("status", lot.status));
    }
    check_unreserved(&lot, qty)?;
    releasable(conn, &lot, qty, row.status.is_pending()).await?;
    keeps_cover(conn, &row, &pledge, qty).await?;
    store::unpledge(conn, id, lot.id, qty).await?;
    lots::add_reserved(conn, lot.id, qty).await?;
    let release_order =
        lots::create_release_order(conn, lot.id, "lender_consent", qty, principal.user_id, None)
            .await?
            .in_unit(&lot.unit);
    revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
    let loan = recorded(
        conn,
        principal,
        id,
        "loan.collateral_released",
        Some(before),
    )
    .await?;
    Ok(Consented {
        release_order_id: release_order.id,
        release_order,
        loan,
    })
}

/// Goods a pending sale holds may be the pledged goods themselves; what a release order lets
/// out may not. Released from the pledge onto a release order, the goods must still fit
/// beside every other commitment (409 `quantity_reserved`, with how much may be let out).
async fn releasable(
    conn: &mut AsyncPgConnection,
    lot: &crate::lots::model::LotRow,
    qty: Decimal,
    loan_pending: bool,
) -> ApiResult<()> {
    let now = lots::commitments(conn, lot).await?;
    let after = if loan_pending {
        // A pending loan's pledge never overlaps a sale: releasing it changes nothing.
        Commitments {
            pledged_pending: now.pledged_pending - qty,
            reserved: now.reserved + qty,
            ..now
        }
    } else {
        Commitments {
            pledged_live: now.pledged_live - qty,
            reserved: now.reserved + qty,
            ..now
        }
    };
    if after.fit(lot.quantity_on_hand) {
        return Ok(());
    }
    // Each unit released adds one to the commitments until the pledges fall below the sold.
    let room = (lot.quantity_on_hand - now.total()).max(Decimal::ZERO)
        + (now.pledged_live - now.sold).max(Decimal::ZERO);
    Err(ApiError::conflict(
        "quantity_reserved",
        "part of these goods is already sold in a pending sale; they cannot also be let out",
    )
    .with("field", "quantity")
    .with(
        "quantity_releasable",
        Quantity::at(room.min(qty), &lot.unit),
    ))
}

/// The release order reserves what it lets out; goods a sale or another order already
/// reserves cannot be reserved twice (409 `quantity_reserved`).
fn check_unreserved(lot: &crate::lots::model::LotRow, qty: Decimal) -> ApiResult<()> {
    let unreserved = (lot.quantity_on_hand - lot.quantity_reserved).max(Decimal::ZERO);
    if qty > unreserved {
        return Err(ApiError::conflict(
            "quantity_reserved",
            "part of these goods is already reserved for a sale or another release",
        )
        .with("field", "quantity")
        .with("quantity_unreserved", Quantity::at(unreserved, &lot.unit)));
    }
    Ok(())
}

/// Refuses (409 `ltv_above_advance_rate`) a release of `qty` from `pledge` that would leave
/// the loan's LTV above its facility's advance rate.
async fn keeps_cover(
    conn: &mut AsyncPgConnection,
    row: &LoanRow,
    pledge: &PledgeRow,
    qty: Decimal,
) -> ApiResult<()> {
    let facility = facility_of(conn, row).await?;
    let places = minor_units(&row.currency);
    let released_value =
        lending::round_half_even(pledge.market_value * qty / pledge.quantity, places);
    // Before disbursement the LTV is measured on the principal asked for.
    let debt = if row.status.is_pending() {
        row.principal
    } else {
        row.outstanding_principal
    };
    lending::release_keeps_cover(
        debt,
        row.accrued_interest,
        row.collateral_value - released_value,
        facility.advance_rate,
    )
    .map_err(|ltv_after| {
        ApiError::conflict(
            "ltv_above_advance_rate",
            "after this release the loan's LTV would be above the advance rate",
        )
        .with("ltv_after", ltv_after.map(|l| l.to_string()))
        .with("advance_rate", facility.advance_rate.to_string())
    })
}

/// The lender orders the pledged goods of a defaulted loan sold: the loan becomes
/// `liquidating` and the goods are listed for a forced sale, which settles through the sales
/// flow and repays the loan from the proceeds.
pub async fn liquidate(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Liquidation> {
    let row = locked(conn, &mut LockOrder::new(), principal, id).await?;
    if row.status != LoanStatus::Defaulted {
        return Err(loan_status(&row, "defaulted"));
    }
    let before = to_json(&row)?;
    let today = business_date(conn).await?;
    revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
    let loan = current(conn, id).await?;
    let listed = json!(
        loan.collateral
            .iter()
            .map(|c| json!({
                "lot_id": c.lot_id, "lot_code": c.lot_code, "commodity_code": c.commodity_code,
                "quantity": c.quantity, "unit": c.unit,
                "market_value": c.market_value.to_string(),
            }))
            .collect::<Vec<_>>()
    );
    let liquidation_id = Uuid::new_v4();
    let ordered_at =
        store::insert_liquidation(conn, liquidation_id, id, principal.user_id, &listed).await?;
    let loan = recorded(
        conn,
        principal,
        id,
        "loan.liquidation_ordered",
        Some(before),
    )
    .await?;
    Ok(Liquidation {
        id: liquidation_id,
        loan_id: id,
        ordered_at,
        lots: listed,
        loan,
    })
}
