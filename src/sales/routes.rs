//! Sales handlers: `POST /v1/sales`, `GET /v1/sales`, `GET /v1/sales/{id}`,
//! `POST /v1/sales/{id}/cancel`, `POST /v1/sales/{id}/payments`, `POST /v1/sales/{id}/consent`.
//! Each parses the request and calls one function of `sales::service`.

use super::model::{NewPayment, NewSale, PaymentResult, Sale, SaleQuery};
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::idempotency::{KeyRequired, NO_BODY};
use crate::http::{Page, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

/// Sell goods (supplier with `sales:write`; or the lender of a `liquidating` loan, with
/// `credit:write` and `loan_id`, selling the goods pledged to it). The quantities are reserved
/// at once: 409 `quantity_not_free` when they are not. Pledged goods may be sold: settlement
/// repays their loans first.
#[utoipa::path(post, path = "/v1/sales", tag = "sales", request_body = NewSale,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewSale>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::create(conn, &principal, new).await }),
    )
    .await
}

/// A sale with its lines, payments, settlement and release orders; while pending, the
/// lenders' consents it needs.
#[utoipa::path(get, path = "/v1/sales/{id}", tag = "sales",
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::sale(&mut conn, &principal, *id).await?))
}

/// The sales the caller may see, oldest first.
#[utoipa::path(get, path = "/v1/sales", tag = "sales", params(SaleQuery),
    responses((status = 200, body = Page<Sale>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<SaleQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::sales(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Cancel an unpaid sale (its seller; `Idempotency-Key` required); the reserved quantities
/// are free again.
#[utoipa::path(post, path = "/v1/sales/{id}/cancel", tag = "sales",
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
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
        move |conn| Box::pin(async move { service::cancel(conn, &principal, id).await }),
    )
    .await
}

/// Pay for a sale (its buyer with `payments:write`, or the platform recording money received;
/// `Idempotency-Key` required). Partial payments accumulate in escrow; the one that completes
/// the total settles the sale in the same transaction, unless a lender must consent first.
#[utoipa::path(post, path = "/v1/sales/{id}/payments", tag = "sales", request_body = NewPayment,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = PaymentResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody, description = "too many settlements at once (`busy`, with Retry-After)")),
    security(("bearer" = [])))]
pub async fn pay(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewPayment>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let amount = body.value.amount.value();
    let id = *id;
    // The payment that completes a sale settles it: a turn is taken before a connection.
    let _turn = state.settling.enter().await?;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::pay(conn, &principal, id, amount).await }),
    )
    .await
}

/// A lender consents that the sale settle although its proceeds do not pay one of the
/// lender's loans what it needs (lender with `credit:write`; `Idempotency-Key` required). A
/// fully paid sale settles now.
#[utoipa::path(post, path = "/v1/sales/{id}/consent", tag = "sales",
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody, description = "too many settlements at once (`busy`, with Retry-After)")),
    security(("bearer" = [])))]
pub async fn consent(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = *id;
    // A consent to a paid sale settles it.
    let _turn = state.settling.enter().await?;
    idem.run(
        &state.pool,
        principal.user_id,
        &NO_BODY,
        StatusCode::OK,
        move |conn| Box::pin(async move { service::consent(conn, &principal, id).await }),
    )
    .await
}
