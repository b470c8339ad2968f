//! Handlers for fee schedules and fee quotes: `POST /v1/fee-schedules`,
//! `GET /v1/fee-schedules`, `GET /v1/fee-quote`.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;

/// Set the fee schedule for a scope (platform, `reference:write`); the current schedule of the
/// same scope is superseded and kept.
#[utoipa::path(post, path = "/v1/fee-schedules", tag = "sales", request_body = NewFeeSchedule,
    responses((status = 201, body = FeeSchedule), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewFeeSchedule>,
) -> ApiResult<HttpResponse> {
    service::check_schedule(&body.value)?;
    let mut conn = state.pool.get().await?;
    let schedule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::set_schedule(conn, &principal, &body.value).await
        })
        .await?;
    Ok(HttpResponse::Created().json(schedule))
}

/// The current fee schedules, most general first.
#[utoipa::path(get, path = "/v1/fee-schedules", tag = "sales",
    responses((status = 200, body = Vec<FeeSchedule>)), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::schedules(&mut conn).await?))
}

/// What releasing a quantity of a lot through a sale would cost its owner, and how the fee
/// is computed (the owner, lenders it is pledged to, the platform).
#[utoipa::path(get, path = "/v1/fee-quote", tag = "sales", params(QuoteQuery),
    responses((status = 200, body = FeeBreakdown), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn quote(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<QuoteQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let breakdown = service::quote(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(breakdown))
}
