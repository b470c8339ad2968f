//! Handlers for custody incidents: `GET /v1/custody-incidents` and `/v1/custody-incidents/{id}`.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::Page;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

/// Custody incidents the caller is party to (the platform: all), oldest first.
#[utoipa::path(get, path = "/v1/custody-incidents", tag = "lots", params(IncidentQuery),
    responses((status = 200, body = Page<Incident>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<IncidentQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::incidents(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One custody incident: what went missing, its value, whom it touched.
#[utoipa::path(get, path = "/v1/custody-incidents/{id}", tag = "lots",
    responses((status = 200, body = Incident), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::incident(&mut conn, &principal, *id).await?))
}
