//! Lending handlers: facilities, loans, margin calls and exposure. Each parses the request,
//! calls one service function (in one transaction when it writes) and answers.

use super::exposure::{self, Exposure, ExposureQuery, StressRequest};
use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyOptional, KeyRequired, NO_BODY};
use crate::http::validate;
use crate::http::{Page, PageQuery, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Open a facility for a supplier (lender with `credit:write`).
#[utoipa::path(post, path = "/v1/facilities", tag = "lending", request_body = NewFacility,
    responses((status = 201, body = Facility), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create_facility(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewFacility>,
) -> ApiResult<HttpResponse> {
    let new = body.value;
    let terms = service::facility_terms(&new)?;
    let mut conn = state.pool.get().await?;
    let facility = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::open_facility(conn, &principal, &new, terms).await
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(facility))
}

/// Change an open facility's limit or rates (its lender, with `credit:write`).
#[utoipa::path(patch, path = "/v1/facilities/{id}", tag = "lending", request_body = FacilityChange,
    responses((status = 200, body = Facility), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_facility(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<FacilityChange>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let facility = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::change_facility(conn, &principal, *id, &body.value).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(facility))
}

/// Close a facility to new loans (its lender, with `credit:write`); its loans run to their end.
#[utoipa::path(post, path = "/v1/facilities/{id}/close", tag = "lending",
    responses((status = 200, body = Facility), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn close_facility(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let facility = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::close_facility(conn, &principal, *id).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(facility))
}

/// A facility with its utilisation and borrowing base (its lender, its supplier, the platform).
#[utoipa::path(get, path = "/v1/facilities/{id}", tag = "lending",
    responses((status = 200, body = Facility), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_facility(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::facility(&mut conn, &principal, *id).await?))
}

/// The facilities the caller's org lends or borrows under, oldest first.
#[utoipa::path(get, path = "/v1/facilities", tag = "lending", params(PageQuery),
    responses((status = 200, body = Page<Facility>)), security(("bearer" = [])))]
pub async fn list_facilities(
    state: web::Data<AppState>,
    principal: Principal,
    page: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::facilities(&mut conn, &principal, &page).await?))
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
        move |conn| Box::pin(async move { service::request(conn, &principal, new).await }),
    )
    .await
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
    let mut conn = state.pool.get().await?;
    let loan = conn
        .transaction::<_, ApiError, _>(async |conn| service::approve(conn, &principal, *id).await)
        .await?;
    Ok(HttpResponse::Ok().json(loan))
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
    let reason = validate::text("reason", &body.reason, 1000)?;
    end_before_disbursement(&state, &principal, *id, Some(reason)).await
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
    end_before_disbursement(&state, &principal, *id, None).await
}

async fn end_before_disbursement(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    rejection: Option<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let loan = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::end_before_disbursement(conn, principal, id, rejection).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(loan))
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
        move |conn| Box::pin(async move { service::disburse(conn, &principal, id).await }),
    )
    .await
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
    let amount = body.value.amount.value();
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::repay(conn, &principal, id, amount).await }),
    )
    .await
}

/// Pledge more goods to a loan (supplier with `loans:write`; `Idempotency-Key` required), for
/// example to cure a margin call: the same eligibility rules as a request; the loan is
/// revalued at once.
#[utoipa::path(post, path = "/v1/loans/{id}/collateral", tag = "lending", request_body = MoreCollateral,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_collateral(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<MoreCollateral>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let collateral = body.value.collateral;
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::OK,
        move |conn| {
            Box::pin(async move { service::add_collateral(conn, &principal, id, collateral).await })
        },
    )
    .await
}

/// Consent to pledged goods leaving (lender with `credit:write`): the quantity leaves the
/// pledge and a release order lets the warehouse scan it out — only if the loan's LTV after
/// the release is at most the advance rate.
#[utoipa::path(post, path = "/v1/loans/{id}/collateral/release", tag = "lending", request_body = ReleaseConsent,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Consented), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn release_collateral(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<ReleaseConsent>,
    idem: KeyRequired,
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
            Box::pin(
                async move { service::release_collateral(conn, &principal, id, consent).await },
            )
        },
    )
    .await
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
    let mut conn = state.pool.get().await?;
    let liquidation = conn
        .transaction::<_, ApiError, _>(async |conn| service::liquidate(conn, &principal, *id).await)
        .await?;
    Ok(HttpResponse::Created().json(liquidation))
}

/// A loan: principal, outstanding, accrued interest, collateral and its value, LTV, margin
/// call (its lender, its supplier, the platform).
#[utoipa::path(get, path = "/v1/loans/{id}", tag = "lending",
    responses((status = 200, body = Loan), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_loan(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::loan(&mut conn, &principal, *id).await?))
}

/// The caller's loans, oldest first.
#[utoipa::path(get, path = "/v1/loans", tag = "lending", params(LoanQuery),
    responses((status = 200, body = Page<Loan>)), security(("bearer" = [])))]
pub async fn list_loans(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<LoanQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::loans(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The loan's LTV as each business day closed (the daily job records it after revaluing),
/// oldest first: what it owed, what its collateral was worth, the ratio.
#[utoipa::path(get, path = "/v1/loans/{id}/ltv-history", tag = "lending",
    responses((status = 200, body = crate::http::Listed<LtvPoint>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn ltv_history(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let items = service::ltv_history(&mut conn, &principal, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(crate::http::Listed { items }))
}

/// Margin calls on the caller's loans, oldest first.
#[utoipa::path(get, path = "/v1/margin-calls", tag = "lending", params(MarginCallQuery),
    responses((status = 200, body = Page<MarginCallItem>)), security(("bearer" = [])))]
pub async fn margin_calls(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<MarginCallQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::margin_calls(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The lender's book today: loans, outstanding, interest, collateral, LTV, concentrations,
/// LTV buckets, expiring collateral, margin calls and breaches touching the collateral.
#[utoipa::path(get, path = "/v1/exposure", tag = "lending", params(ExposureQuery),
    responses((status = 200, body = Exposure), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn exposure(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<ExposureQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let exposure = exposure::book(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(exposure))
}

/// What-if: the same figures after price changes per commodity, with the loans that would
/// pass their margin-call and liquidation LTVs. Nothing is written.
#[utoipa::path(post, path = "/v1/exposure/stress", tag = "lending", request_body = StressRequest,
    params(ExposureQuery),
    responses((status = 200, body = Exposure), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn stress(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<ExposureQuery>,
    body: ValidJson<StressRequest>,
) -> ApiResult<HttpResponse> {
    let request = body.value;
    exposure::check_shocks(&request.shocks)?;
    let mut conn = state.pool.get().await?;
    let exposure = exposure::stress(&mut conn, &principal, query.into_inner(), request).await?;
    Ok(HttpResponse::Ok().json(exposure))
}

/// The book as CSV, one loan per line, for a risk officer's spreadsheet.
#[utoipa::path(get, path = "/v1/exposure.csv", tag = "lending", params(ExposureQuery),
    responses((status = 200, content_type = "text/csv", body = String)), security(("bearer" = [])))]
pub async fn exposure_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<ExposureQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let csv = exposure::csv(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}\"", csv.file_name),
        ))
        .body(csv.body))
}
