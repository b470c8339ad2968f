//! Handlers for prices and the daily feed import.

use super::service::{self, Imported};
use crate::auth::Principal;
use crate::domain::inputs::UnitPrice;
use crate::domain::price_feed::PriceRow;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::{self, Change};
use crate::reference::prices::{self as store, Price};
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrice {
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: String,
    /// For the commodity's reference grade, per unit.
    pub price_per_unit: UnitPrice,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    pub as_of: DateTime<Utc>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub source: String,
}

/// Post a price (platform admin or a price feed with `prices:write`).
#[utoipa::path(post, path = "/v1/prices", tag = "prices", request_body = NewPrice,
    responses((status = 201, body = Price), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn post(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewPrice>,
) -> ApiResult<HttpResponse> {
    let new = &body.value;
    crate::http::validate::unit_price("price_per_unit", new.price_per_unit.value(), 6)?;
    let currency = crate::http::validate::currency("currency", &new.currency)?;
    let source = crate::http::validate::text("source", &new.source, 200)?;
    let row = PriceRow {
        line: 1,
        commodity_code: new.commodity_code.clone(),
        price_per_unit: new.price_per_unit.value(),
        currency,
        as_of: new.as_of,
        source,
    };
    let mut conn = state.pool.get().await?;
    let price = conn
        .transaction::<_, ApiError, _>(async |conn| {
            if row.as_of > service::latest_allowed(conn).await? {
                return Err(ApiError::invalid(
                    "as_of",
                    "a price cannot be from the future",
                ));
            }
            if reference::find_commodity(conn, &row.commodity_code)
                .await?
                .is_none()
            {
                return Err(ApiError::unknown_reference(
                    "commodity_code",
                    "no such commodity",
                ));
            }
            let price = store::insert(conn, &row, Some(principal.user_id))
                .await?
                .ok_or_else(|| {
                    ApiError::conflict(
                        "price_exists",
                        "this source already gave a price for this commodity at this time",
                    )
                })?;
            integrity::record(
                conn,
                Some(&principal),
                Change {
                    action: "price.posted",
                    object_kind: "price",
                    object_id: price.id.to_string(),
                    org_ids: vec![principal.org_id],
                    before: None,
                    after: Some(serde_json::to_value(&price).map_err(ApiError::internal)?),
                },
            )
            .await?;
            service::revalue_after_price_change(conn).await?;
            Ok(price)
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
