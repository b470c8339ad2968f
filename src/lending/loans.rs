//! Loans: requested by the supplier against pledged lot quantities, approved (with
//! maker-checker when the facility asks), disbursed, repaid, topped up with collateral,
//! released with the lender's consent, liquidated after default.

use super::model::{FacilityRow, LoanRow, MarginCall, PENDING};
use super::model::{facility_not_found, loan_not_found};
use super::revaluation::{self, Scope};
use super::store::{self, Party};
use crate::auth::Principal;
use crate::calendar::business_date;
use crate::db::schema::{liquidations, loans, lots as lots_table};
use crate::domain::lending::{self, Allocation, Owed};
use crate::domain::valuation::minor_units;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyOptional, KeyRequired, NO_BODY};
use crate::http::validate::money;
use crate::http::validate::quantity;
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::ledger::{self, AccountKind, Entry, Line};
use crate::lots::model::lot_not_found;
use crate::lots::model::{LotRow, ReleaseOrder};
use crate::lots::store::{self as lots, Viewer};
use crate::lots::valuation::{Terms, appraise};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

fn loan_status(loan: &LoanRow, wanted: &str) -> ApiError {
    ApiError::conflict(
        "loan_status",
        format!("the loan is {}; this needs it {wanted}", loan.status),
    )
    .with("status", &loan.status)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgeRequest {
    pub lot_id: Uuid,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLoan {
    pub facility_id: Uuid,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub principal: Decimal,
    pub collateral: Vec<PledgeRequest>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Collateral {
    pub lot_id: Uuid,
    pub lot_code: String,
    pub commodity_code: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub unit: String,
    /// At the last revaluation, in the loan's currency.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub market_value: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Approvals {
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// True while a second lender user must still confirm the approval.
    pub awaiting_second_approval: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Loan {
    pub id: Uuid,
    pub facility_id: Uuid,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    /// `requested`, `approved`, `active`, `repaid`, `rejected`, `cancelled`, `defaulted`,
    /// `liquidating`, `closed`, `written_off`.
    pub status: String,
    pub currency: String,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub principal: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub outstanding_principal: Decimal,
    /// Interest accrued and unpaid, to 8 decimal places.
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub accrued_interest: Decimal,
    /// The accrued interest as it would be paid, in currency units.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest_due: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees_due: Decimal,
    /// Fees + interest due + outstanding principal: what repays the loan today.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub amount_to_repay: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest_paid: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees_paid: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub annual_interest_rate: Decimal,
    pub collateral: Vec<Collateral>,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub collateral_value: Decimal,
    /// (outstanding principal, or the principal asked for before disbursement, + accrued
    /// interest) / collateral value; `null` when the collateral is worth nothing.
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub ltv: Option<Decimal>,
    pub revalued_at: Option<DateTime<Utc>>,
    /// The open margin call, or the last one.
    pub margin_call: Option<MarginCall>,
    pub approvals: Approvals,
    pub decided_reason: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub disbursed_at: Option<DateTime<Utc>>,
    pub disbursed_on: Option<NaiveDate>,
    pub maturity_date: Option<NaiveDate>,
    /// Interest has accrued through the end of this business date.
    pub accrued_through: Option<NaiveDate>,
    pub repaid_at: Option<DateTime<Utc>>,
    pub defaulted_at: Option<DateTime<Utc>>,
    pub default_reason: Option<String>,
}

/// The loan as it is now in this transaction.
pub async fn current(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Loan> {
    let row = store::reload_loan(conn, id).await?;
    present(conn, row).await
}

pub async fn present(conn: &mut AsyncPgConnection, row: LoanRow) -> ApiResult<Loan> {
    let pledges = store::pledges_of(conn, row.id).await?;
    let ids: Vec<Uuid> = pledges.iter().map(|p| p.lot_id).collect();
    let lots: Vec<(Uuid, String, String, String)> = lots_table::table
        .filter(lots_table::id.eq_any(&ids))
        .select((
            lots_table::id,
            lots_table::code,
            lots_table::commodity_code,
            lots_table::unit,
        ))
        .load(conn)
        .await?;
    let collateral = pledges
        .into_iter()
        .filter_map(|p| {
            let (_, code, commodity, unit) = lots.iter().find(|l| l.0 == p.lot_id)?.clone();
            Some(Collateral {
                lot_id: p.lot_id,
                lot_code: code,
                commodity_code: commodity,
                quantity: p.quantity,
                unit,
                market_value: p.market_value,
            })
        })
        .collect();
    let margin_call = store::latest_margin_call(conn, row.id).await?;
    let owed = owed(&row);
    Ok(Loan {
        amount_to_repay: owed.total(),
        interest_due: owed.interest,
        approvals: Approvals {
            awaiting_second_approval: row.status == "requested" && row.approved_by.is_some(),
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
        principal: row.principal,
        outstanding_principal: row.outstanding_principal,
        accrued_interest: row.accrued_interest,
        fees_due: row.fees_due,
        interest_paid: row.interest_paid,
        fees_paid: row.fees_paid,
        annual_interest_rate: row.annual_interest_rate,
        collateral,
        collateral_value: row.collateral_value,
        ltv: row.ltv,
        revalued_at: row.revalued_at,
        margin_call,
        decided_reason: row.decided_reason,
        requested_at: row.requested_at,
        disbursed_at: row.disbursed_at,
        disbursed_on: row.disbursed_on,
        maturity_date: row.maturity_date,
        accrued_through: row.accrued_through,
        repaid_at: row.repaid_at,
        defaulted_at: row.defaulted_at,
        default_reason: row.default_reason,
    })
}

/// One reason a loan or a pledge is refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Refusal {
    /// `principal_exceeds_lending_value`, `principal_exceeds_available_limit`,
    /// `quantity_not_free`, or a lot's ineligibility (`stale_price`, `expired`, `on_hold`,
    /// `not_in_custody`, `commodity_not_allowed`, `no_price`, `already_pledged`).
    pub code: String,
    /// The request field at fault.
    pub field: String,
    pub lot_id: Option<Uuid>,
}

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
    principal: &Principal,
    facility: &FacilityRow,
    collateral: &[PledgeRequest],
    today: NaiveDate,
) -> ApiResult<Offered> {
    if collateral.is_empty() {
        return Err(ApiError::invalid(
            "collateral",
            "pledge at least one lot quantity",
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
        let lot = lots::lock_visible(conn, Viewer::of(principal), pledge.lot_id)
            .await?
            .ok_or_else(|| lot_not_found().with("field", format!("collateral[{i}].lot_id")))?;
        let qty = quantity(
            &format!("collateral[{i}].quantity"),
            pledge.quantity,
            &lot.unit,
        )?;
        let valuation = appraise(conn, &lot, today, qty, Some(&terms)).await?;
        for reason in &valuation.ineligible_reasons {
            let code = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            offered.reasons.push(Refusal {
                code,
                field: format!("collateral[{i}].lot_id"),
                lot_id: Some(lot.id),
            });
        }
        if qty > lot.quantity_free() {
            offered.reasons.push(Refusal {
                code: "quantity_not_free".into(),
                field: format!("collateral[{i}].quantity"),
                lot_id: Some(lot.id),
            });
        }
        offered.market_value += valuation.market_value.unwrap_or(Decimal::ZERO);
        offered.lots.push((lot, qty));
    }
    Ok(offered)
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

/// Request a loan against pledged lot quantities (supplier with `loans:write`). The quantities
/// are pledged at once; a refusal answers 422 with every reason.
#[utoipa::path(post, path = "/v1/loans", tag = "lending", request_body = NewLoan,
    params(("Idempotency-Key" = Option<String>, Header, description = "optional")),
    responses((status = 201, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn request(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewLoan>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let facility = store::find_facility(conn, Party::of(&principal), new.facility_id)
                    .await?
                    .ok_or_else(facility_not_found)?;
                let facility = store::lock_facility(conn, facility.id).await?;
                if facility.status != "open" {
                    return Err(ApiError::conflict(
                        "facility_closed",
                        "the facility is closed",
                    ));
                }
                let amount = money("principal", new.principal, &facility.currency)?;
                let today = business_date(conn).await?;
                let mut offered =
                    offer(conn, &principal, &facility, &new.collateral, today).await?;
                let places = minor_units(&facility.currency);
                let lending_value =
                    lending::lending_value(offered.market_value, facility.advance_rate, places);
                let (drawn, committed) = store::usage(conn, facility.id).await?;
                let available = (facility.limit_amount - drawn - committed).max(Decimal::ZERO);
                if amount > lending_value {
                    offered.reasons.push(Refusal {
                        code: "principal_exceeds_lending_value".into(),
                        field: "principal".into(),
                        lot_id: None,
                    });
                }
                if amount > available {
                    offered.reasons.push(Refusal {
                        code: "principal_exceeds_available_limit".into(),
                        field: "principal".into(),
                        lot_id: None,
                    });
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
                let id = Uuid::new_v4();
                diesel::insert_into(loans::table)
                    .values((
                        loans::id.eq(id),
                        loans::facility_id.eq(facility.id),
                        loans::lender_org_id.eq(facility.lender_org_id),
                        loans::supplier_org_id.eq(facility.supplier_org_id),
                        loans::currency.eq(&facility.currency),
                        loans::principal.eq(amount),
                        loans::outstanding_principal.eq(Decimal::ZERO),
                        loans::annual_interest_rate.eq(facility.annual_interest_rate),
                        loans::status.eq("requested"),
                        loans::requested_by.eq(principal.user_id),
                    ))
                    .execute(conn)
                    .await?;
                for (lot, qty) in &offered.lots {
                    store::pledge(conn, id, lot.id, *qty).await?;
                }
                revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
                let loan = current(conn, id).await?;
                integrity::record(
                    conn,
                    Some(&principal),
                    audit_loan("loan.requested", &loan, None)?,
                )
                .await?;
                Ok(loan)
            })
        },
    )
    .await
}

/// Locks the loan the caller may see, or answers 404.
async fn locked(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<LoanRow> {
    store::lock_loan(conn, Party::of(principal), id)
        .await?
        .ok_or_else(loan_not_found)
}

async fn facility_of(conn: &mut AsyncPgConnection, loan: &LoanRow) -> ApiResult<FacilityRow> {
    store::find_facility(conn, Party::All, loan.facility_id)
        .await?
        .ok_or_else(|| ApiError::internal("loan without facility"))
}

/// Runs `change` on the locked loan in one transaction and answers the loan after it.
async fn decide<F>(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    action: &'static str,
    change: F,
) -> ApiResult<HttpResponse>
where
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
            &'r LoanRow,
        ) -> futures_util::future::BoxFuture<'r, ApiResult<()>>
        + Send,
{
    let mut conn = state.pool.get().await?;
    let loan = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = locked(conn, principal, id).await?;
            let before = to_json(&row)?;
            change(conn, &row).await?;
            let loan = current(conn, id).await?;
            integrity::record(
                conn,
                Some(principal),
                audit_loan(action, &loan, Some(before))?,
            )
            .await?;
            Ok(loan)
        })
        .await?;
    Ok(HttpResponse::Ok().json(loan))
}

/// Approve a requested loan (lender with `credit:write`). When the facility requires a second
/// approver, the first approval waits for a different lender user to confirm it.
#[utoipa::path(post, path = "/v1/loans/{id}/approve", tag = "lending",
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let user = principal.user_id;
    decide(
        &state,
        &principal,
        *id,
        "loan.approved",
        move |conn, loan| {
            Box::pin(async move {
                if loan.status != "requested" {
                    return Err(loan_status(loan, "requested"));
                }
                let facility = facility_of(conn, loan).await?;
                let now = Utc::now();
                let target = loans::table.find(loan.id);
                match (facility.second_approver_required, loan.approved_by) {
                    (true, None) => {
                        diesel::update(target)
                            .set((loans::approved_by.eq(user), loans::approved_at.eq(now)))
                            .execute(conn)
                            .await?;
                    }
                    (true, Some(first)) if first == user => {
                        return Err(ApiError::conflict(
                            "second_approver_required",
                            "this facility needs a second lender user to confirm the approval",
                        )
                        .with("approved_by", first));
                    }
                    (true, Some(_)) => {
                        diesel::update(target)
                            .set((
                                loans::confirmed_by.eq(user),
                                loans::confirmed_at.eq(now),
                                loans::status.eq("approved"),
                            ))
                            .execute(conn)
                            .await?;
                    }
                    (false, _) => {
                        diesel::update(target)
                            .set((
                                loans::approved_by.eq(user),
                                loans::approved_at.eq(now),
                                loans::status.eq("approved"),
                            ))
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(())
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    pub reason: String,
}

/// Reject a requested or approved loan (lender with `credit:write`); its pledges are released.
#[utoipa::path(post, path = "/v1/loans/{id}/reject", tag = "lending", request_body = Rejection,
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<Rejection>,
) -> ApiResult<HttpResponse> {
    let reason = crate::http::validate::text("reason", &body.reason, 1000)?;
    end_before_disbursement(&state, &principal, *id, "rejected", Some(reason)).await
}

/// Withdraw a loan request before disbursement (supplier with `loans:write`).
#[utoipa::path(post, path = "/v1/loans/{id}/cancel", tag = "lending",
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    end_before_disbursement(&state, &principal, *id, "cancelled", None).await
}

async fn end_before_disbursement(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    status: &'static str,
    reason: Option<String>,
) -> ApiResult<HttpResponse> {
    let action = if status == "rejected" {
        "loan.rejected"
    } else {
        "loan.cancelled"
    };
    decide(state, principal, id, action, move |conn, loan| {
        Box::pin(async move {
            if !PENDING.contains(&loan.status.as_str()) {
                return Err(loan_status(loan, "requested or approved"));
            }
            diesel::update(loans::table.find(loan.id))
                .set((loans::status.eq(status), loans::decided_reason.eq(reason)))
                .execute(conn)
                .await?;
            store::release_all(conn, loan.id).await?;
            Ok(())
        })
    })
    .await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disbursement {
    pub loan: Loan,
    pub journal_entry_id: Uuid,
}

/// Pay out an approved loan (lender with `credit:write`, `Idempotency-Key` required): the
/// loan becomes `active`, interest starts the next business day, and one balanced journal
/// entry moves the principal from the lender to the supplier.
#[utoipa::path(post, path = "/v1/loans/{id}/disburse", tag = "lending",
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Disbursement), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn disburse(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &NO_BODY,
        StatusCode::OK,
        move |conn| {
            Box::pin(async move {
                let row = locked(conn, &principal, id).await?;
                if row.status != "approved" {
                    return Err(loan_status(&row, "approved"));
                }
                let before = to_json(&row)?;
                let facility = facility_of(conn, &row).await?;
                let today = business_date(conn).await?;
                let places = minor_units(&row.currency);
                let fees =
                    lending::round_half_even(row.principal * facility.arrangement_fee_rate, places);
                let maturity = today + chrono::Days::new(facility.max_tenor_days as u64);
                diesel::update(loans::table.find(id))
                    .set((
                        loans::status.eq("active"),
                        loans::outstanding_principal.eq(row.principal),
                        loans::fees_due.eq(fees),
                        loans::disbursed_by.eq(principal.user_id),
                        loans::disbursed_at.eq(Utc::now()),
                        loans::disbursed_on.eq(today),
                        loans::accrued_through.eq(today),
                        loans::maturity_date.eq(maturity),
                    ))
                    .execute(conn)
                    .await?;
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
                        lines: vec![
                            Line::debit(
                                row.lender_org_id,
                                AccountKind::LoansReceivable,
                                row.principal,
                            ),
                            Line::credit(row.lender_org_id, AccountKind::Cash, row.principal),
                            Line::debit(row.supplier_org_id, AccountKind::Cash, row.principal),
                            Line::credit(
                                row.supplier_org_id,
                                AccountKind::LoansPayable,
                                row.principal,
                            ),
                        ],
                    },
                )
                .await?;
                revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
                let loan = current(conn, id).await?;
                integrity::record(
                    conn,
                    Some(&principal),
                    audit_loan("loan.disbursed", &loan, Some(before))?,
                )
                .await?;
                Ok(Disbursement {
                    loan,
                    journal_entry_id: entry,
                })
            })
        },
    )
    .await
}

/// What the loan owes now, in currency units: fees, interest due (accrued, rounded to the
/// minor unit) and outstanding principal.
pub fn owed(row: &LoanRow) -> Owed {
    Owed {
        fees: row.fees_due,
        interest: lending::interest_due(row.accrued_interest, minor_units(&row.currency)),
        principal: row.outstanding_principal,
    }
}

/// The journal lines that recognise a payment of `allocation` on a loan, whoever pays it: the
/// supplier's fee and interest expense and the lender's income, and the principal off the
/// supplier's payable and the lender's receivable. The cash lines are the caller's.
pub fn debt_paid(lender: Uuid, supplier: Uuid, allocation: &Allocation) -> [Line; 6] {
    [
        Line::debit(supplier, AccountKind::FeeExpense, allocation.fees),
        Line::credit(lender, AccountKind::FeeIncome, allocation.fees),
        Line::debit(supplier, AccountKind::InterestExpense, allocation.interest),
        Line::credit(lender, AccountKind::InterestIncome, allocation.interest),
        Line::debit(supplier, AccountKind::LoansPayable, allocation.principal),
        Line::credit(lender, AccountKind::LoansReceivable, allocation.principal),
    ]
}

/// Writes a payment of `allocation` to the locked loan's balances (the caller books the
/// journal entry). Interest paid in full clears the sub-cent remainder of the accrual.
pub async fn apply_payment(
    conn: &mut AsyncPgConnection,
    row: &LoanRow,
    allocation: &Allocation,
    interest_due: Decimal,
) -> ApiResult<()> {
    let accrued = if allocation.interest == interest_due {
        Decimal::ZERO
    } else {
        row.accrued_interest - allocation.interest
    };
    diesel::update(loans::table.find(row.id))
        .set((
            loans::fees_due.eq(row.fees_due - allocation.fees),
            loans::fees_paid.eq(row.fees_paid + allocation.fees),
            loans::accrued_interest.eq(accrued),
            loans::interest_paid.eq(row.interest_paid + allocation.interest),
            loans::outstanding_principal.eq(row.outstanding_principal - allocation.principal),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A loan paid to zero: `repaid` (or `closed` after a default), every pledge released.
pub async fn paid_off(conn: &mut AsyncPgConnection, row: &LoanRow) -> ApiResult<()> {
    let status = if row.status == "active" {
        "repaid"
    } else {
        "closed"
    };
    diesel::update(loans::table.find(row.id))
        .set((
            loans::status.eq(status),
            loans::repaid_at.eq(Utc::now()),
            loans::repaid_on.eq(business_date(conn).await?),
        ))
        .execute(conn)
        .await?;
    store::release_all(conn, row.id).await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRepayment {
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub amount: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Repayment {
    pub loan: Loan,
    /// What the amount paid: fees first, then interest, then principal.
    pub allocation: Allocation,
    pub journal_entry_id: Uuid,
}

/// Repay (supplier with `loans:write`, or the lender recording money received, with
/// `credit:write`; `Idempotency-Key` required). At zero the loan is `repaid` (or `closed`
/// after a default) and its pledges are released.
#[utoipa::path(post, path = "/v1/loans/{id}/repayments", tag = "lending", request_body = NewRepayment,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Repayment), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn repay(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewRepayment>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let amount = body.value.amount;
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let row = locked(conn, &principal, id).await?;
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
                apply_payment(conn, &row, &allocation, owed.interest).await?;
                let today = business_date(conn).await?;
                let (lender, supplier) = (row.lender_org_id, row.supplier_org_id);
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
                        lines: [
                            Line::credit(supplier, AccountKind::Cash, amount),
                            Line::debit(lender, AccountKind::Cash, amount),
                        ]
                        .into_iter()
                        .chain(debt_paid(lender, supplier, &allocation))
                        .collect(),
                    },
                )
                .await?;
                revaluation::revalue(conn, today, Scope::Loan(id), "repayment").await?;
                if allocation.total() == owed.total() {
                    paid_off(conn, &row).await?;
                }
                let loan = current(conn, id).await?;
                integrity::record(
                    conn,
                    Some(&principal),
                    audit_loan("loan.repayment", &loan, Some(before))?,
                )
                .await?;
                Ok(Repayment {
                    loan,
                    allocation,
                    journal_entry_id: entry,
                })
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoreCollateral {
    pub collateral: Vec<PledgeRequest>,
}

/// Pledge more goods to a loan (supplier with `loans:write`), for example to cure a margin
/// call: the same eligibility rules as a request; the loan is revalued at once.
#[utoipa::path(post, path = "/v1/loans/{id}/collateral", tag = "lending", request_body = MoreCollateral,
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_collateral(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<MoreCollateral>,
) -> ApiResult<HttpResponse> {
    let collateral = body.value.collateral;
    let caller = principal.clone();
    decide(
        &state,
        &principal,
        *id,
        "loan.collateral_added",
        move |conn, loan| {
            Box::pin(async move {
                if !matches!(loan.status.as_str(), "requested" | "approved" | "active") {
                    return Err(loan_status(loan, "requested, approved or active"));
                }
                let facility = facility_of(conn, loan).await?;
                let today = business_date(conn).await?;
                let offered = offer(conn, &caller, &facility, &collateral, today).await?;
                if !offered.reasons.is_empty() {
                    return Err(refused(offered.reasons, json!({})));
                }
                for (lot, qty) in &offered.lots {
                    store::pledge(conn, loan.id, lot.id, *qty).await?;
                }
                revaluation::revalue(conn, today, Scope::Loan(loan.id), "collateral").await?;
                Ok(())
            })
        },
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConsent {
    pub lot_id: Uuid,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consented {
    pub release_order_id: Uuid,
    pub release_order: ReleaseOrder,
    pub loan: Loan,
}

/// Consent to pledged goods leaving (lender with `credit:write`): the quantity leaves the
/// pledge and a release order lets the warehouse scan it out — only if the loan's LTV after
/// the release is at most the advance rate.
#[utoipa::path(post, path = "/v1/loans/{id}/collateral/release", tag = "lending", request_body = ReleaseConsent,
    params(("Idempotency-Key" = Option<String>, Header, description = "optional")),
    responses((status = 201, body = Consented), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn release_collateral(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<ReleaseConsent>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let consent = body.value;
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let row = locked(conn, &principal, id).await?;
                if !matches!(row.status.as_str(), "requested" | "approved" | "active") {
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
                    .ok_or_else(|| {
                        ApiError::invalid("lot_id", "this lot is not pledged to the loan")
                    })?;
                let lot = lots::lock(conn, pledge.lot_id).await?;
                let qty = quantity("quantity", consent.quantity, &lot.unit)?;
                if qty > pledge.quantity {
                    return Err(
                        ApiError::invalid("quantity", "more than is pledged to the loan")
                            .with("quantity_pledged", pledge.quantity.normalize().to_string()),
                    );
                }
                if lot.status != "in_custody" {
                    return Err(ApiError::conflict(
                        "lot_status",
                        format!(
                            "goods are released from custody; this lot is {}",
                            lot.status
                        ),
                    )
                    .with("status", &lot.status));
                }
                let facility = facility_of(conn, &row).await?;
                let places = minor_units(&row.currency);
                let released_value =
                    lending::round_half_even(pledge.market_value * qty / pledge.quantity, places);
                let value_after = row.collateral_value - released_value;
                let debt = if PENDING.contains(&row.status.as_str()) {
                    row.principal
                } else {
                    row.outstanding_principal
                };
                let ltv_after = lending::ltv(debt, row.accrued_interest, value_after);
                let owes = debt + row.accrued_interest > Decimal::ZERO;
                if owes && ltv_after.is_none_or(|ltv| ltv > facility.advance_rate) {
                    return Err(ApiError::conflict(
                        "ltv_above_advance_rate",
                        "after this release the loan's LTV would be above the advance rate",
                    )
                    .with("ltv_after", ltv_after.map(|l| l.to_string()))
                    .with("advance_rate", facility.advance_rate.to_string()));
                }
                store::unpledge(conn, id, lot.id, qty).await?;
                lots::add_reserved(conn, lot.id, qty).await?;
                let order = lots::create_release_order(
                    conn,
                    lot.id,
                    "lender_consent",
                    qty,
                    principal.user_id,
                )
                .await?;
                revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
                let loan = current(conn, id).await?;
                integrity::record(
                    conn,
                    Some(&principal),
                    audit_loan("loan.collateral_released", &loan, Some(before))?,
                )
                .await?;
                Ok(Consented {
                    release_order_id: order.id,
                    release_order: order,
                    loan,
                })
            })
        },
    )
    .await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Liquidation {
    pub id: Uuid,
    pub loan_id: Uuid,
    pub ordered_at: DateTime<Utc>,
    /// The pledged goods listed for the forced sale, valued on the business date.
    #[schema(value_type = Vec<Object>)]
    pub lots: Value,
    pub loan: Loan,
}

/// Order the pledged goods of a defaulted loan sold (lender with `credit:write`): the loan
/// becomes `liquidating` and the goods are listed for a forced sale; the sale settles through
/// the sales flow, which repays the loan from the proceeds.
#[utoipa::path(post, path = "/v1/loans/{id}/liquidate", tag = "lending",
    responses((status = 201, body = Liquidation), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn liquidate(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = *id;
    let mut conn = state.pool.get().await?;
    let liquidation = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = locked(conn, &principal, id).await?;
            if row.status != "defaulted" {
                return Err(loan_status(&row, "defaulted"));
            }
            let before = to_json(&row)?;
            let today = business_date(conn).await?;
            revaluation::revalue(conn, today, Scope::Loan(id), "revaluation").await?;
            let loan = current(conn, id).await?;
            let listed = json!(loan
                .collateral
                .iter()
                .map(|c| json!({
                    "lot_id": c.lot_id, "lot_code": c.lot_code, "commodity_code": c.commodity_code,
                    "quantity": c.quantity.normalize().to_string(), "unit": c.unit,
                    "market_value": c.market_value.to_string(),
                }))
                .collect::<Vec<_>>());
            let liquidation_id = Uuid::new_v4();
            let ordered_at: DateTime<Utc> = diesel::insert_into(liquidations::table)
                .values((
                    liquidations::id.eq(liquidation_id),
                    liquidations::loan_id.eq(id),
                    liquidations::ordered_by.eq(principal.user_id),
                    liquidations::lots.eq(&listed),
                ))
                .returning(liquidations::ordered_at)
                .get_result(conn)
                .await?;
            diesel::update(loans::table.find(id))
                .set(loans::status.eq("liquidating"))
                .execute(conn)
                .await?;
            let loan = current(conn, id).await?;
            integrity::record(
                conn,
                Some(&principal),
                audit_loan("loan.liquidation_ordered", &loan, Some(before))?,
            )
            .await?;
            Ok(Liquidation {
                id: liquidation_id,
                loan_id: id,
                ordered_at,
                lots: listed,
                loan,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(liquidation))
}

/// A loan: principal, outstanding, accrued interest, collateral and its value, LTV, margin
/// call (its lender, its supplier, the platform).
#[utoipa::path(get, path = "/v1/loans/{id}", tag = "lending",
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = store::find_loan(&mut conn, Party::of(&principal), *id)
        .await?
        .ok_or_else(loan_not_found)?;
    Ok(HttpResponse::Ok().json(present(&mut conn, row).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LoanQuery {
    pub status: Option<String>,
    pub facility_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The caller's loans, oldest first.
#[utoipa::path(get, path = "/v1/loans", tag = "lending", params(LoanQuery),
    responses((status = 200, body = Page<Loan>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<LoanQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let mut conn = state.pool.get().await?;
    let filter = store::LoanFilter {
        status: query.status,
        facility_id: query.facility_id,
    };
    let rows = store::list_loans(&mut conn, Party::of(&principal), filter, after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.seq);
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(present(&mut conn, row).await?);
    }
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MarginCallQuery {
    /// `open`, `cured` or `defaulted`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Margin calls on the caller's loans, oldest first.
#[utoipa::path(get, path = "/v1/margin-calls", tag = "lending", params(MarginCallQuery),
    responses((status = 200, body = Page<MarginCall>)), security(("bearer" = [])))]
pub async fn margin_calls(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<MarginCallQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let mut conn = state.pool.get().await?;
    let rows =
        store::list_margin_calls(&mut conn, Party::of(&principal), query.status, after, limit)
            .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |m| m.seq)))
}
