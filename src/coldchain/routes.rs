//! Handlers for temperature readings and breaches.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, ValidJson};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Record a batch of temperature readings from the caller's warehouses. Breaches are found
/// (or revised) at once.
#[utoipa::path(post, path = "/v1/temperature-readings", tag = "cold chain", request_body = ReadingBatch,
    responses((status = 200, body = ReadingsAccepted), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn record_readings(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ReadingBatch>,
) -> ApiResult<HttpResponse> {
    let parsed = service::check_readings(&body.value.readings, Utc::now())?;
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::record_readings(conn, &principal, parsed).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Temperature breaches, oldest first.
#[utoipa::path(get, path = "/v1/breaches", tag = "cold chain", params(BreachQuery),
    responses((status = 200, body = Page<Breach>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<BreachQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::breaches(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Acknowledge a breach with a comment, optionally downgrading the goods. Lots in the
/// warehouse come off quality hold once no breach there is unacknowledged.
#[utoipa::path(post, path = "/v1/breaches/{id}/acknowledge", tag = "cold chain", request_body = Acknowledgement,
    responses((status = 200, body = Acknowledged), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<Acknowledgement>,
) -> ApiResult<HttpResponse> {
    let (comment, downgrade_to) = service::check_acknowledgement(&body.value)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::acknowledge(conn, &principal, id, &comment, downgrade_to.as_deref()).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}
