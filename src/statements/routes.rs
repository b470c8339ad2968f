//! Handlers for statements: `GET /v1/statements?org_id=&from=&to=` (JSON) and
//! `GET /v1/statements.csv`.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// An org's statement for a period (its own users; the platform for any org).
#[utoipa::path(get, path = "/v1/statements", tag = "sales", params(StatementQuery),
    responses((status = 200, body = Statement), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn statement(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let statement = service::statement(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(statement))
}

/// The same statement as CSV: one row per balance, summary figure, entry line and deposit.
#[utoipa::path(get, path = "/v1/statements.csv", tag = "sales", params(StatementQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn statement_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let s = service::statement(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"statement-{}-{}-{}.csv\"",
                s.org_id, s.from, s.to
            ),
        ))
        .body(service::csv(&s)))
}
