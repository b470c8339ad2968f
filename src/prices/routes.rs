//! Handlers for prices and the daily feed import.

use super::service::{self, Imported, NewPrice};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery, ValidJson};
use crate::reference::prices::{self as store, Price};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use serde::Deserialize;

/// Post a price (platform admin or a price feed with `prices:write`).
#[utoipa::path(post, path = "/v1/prices", tag = "prices", request_body = NewPrice,
    responses((status = 201, body = Price), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewPrice>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let price = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::post(conn, &principal, &body.value).await
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(price))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PriceQuery {
    #[param(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Price history, newest first.
#[utoipa::path(get, path = "/v1/prices", tag = "prices", params(PriceQuery),
    responses((status = 200, body = Page<Price>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    query: crate::http::query::ValidQuery<PriceQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, before) = PageQuery::bounds(query.limit, query.cursor)?;
    let mut conn = state.pool.get().await?;
    if let Some(code) = &query.commodity_code {
        crate::http::validate::commodity_code("commodity_code", code)?;
    }
    let rows = store::history(&mut conn, query.commodity_code.as_deref(), before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |p| p.id)))
}

/// Import a daily feed: a CSV body (`Content-Type: text/csv`) with columns `commodity_code`,
/// `price_per_unit`, `currency`, `as_of`, `source`. A bad row is refused with its line number
/// and nothing from the file is written; rows imported before are skipped.
#[utoipa::path(post, path = "/v1/prices/import", tag = "prices", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Imported), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn import_feed(
    state: web::Data<AppState>,
    principal: Principal,
    body: crate::http::json::RawBody,
) -> ApiResult<HttpResponse> {
    let text = std::str::from_utf8(&body.bytes)
        .map_err(|_| ApiError::bad_request("malformed_body", "the file is not UTF-8"))?;
    let mut conn = state.pool.get().await?;
    let outcome = service::import_feed(&mut conn, &principal, text).await?;
    Ok(HttpResponse::Ok().json(outcome))
}
