//! Handlers for lots: announce, list, read, movements, split, label, withdrawals, and the
//! reconciliation check.

use super::model::*;
use super::store::{self, LotFilter, Viewer};
use crate::auth::Principal;
use crate::domain::states::LotStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyOptional, KeyRequired};
use crate::http::{Page, PageQuery, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::service::{self, present};

/// Announce a lot: the supplier says goods are coming to a warehouse (or onto a voyage).
/// Holdfast assigns the lot's scannable code.
#[utoipa::path(post, path = "/v1/lots", tag = "lots", request_body = NewLot,
    responses((status = 201, body = Lot), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn announce(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewLot>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = service::check_new_lot(body.value, Utc::now().date_naive())?;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::announce(conn, &principal, new).await }),
    )
    .await
}

/// Release orders — what may leave, and how much is left of each — on the lots the caller may
/// see: warehouse staff find the `release_order_id` a release scan needs, suppliers and lenders
/// follow their goods out. Filter by `lot_id`, `warehouse_id` and `status` (`open`,
/// `completed`, `cancelled`); oldest first.
#[utoipa::path(get, path = "/v1/release-orders", tag = "lots", params(ReleaseOrderQuery),
    responses((status = 200, body = Page<ReleaseOrderEntry>)), security(("bearer" = [])))]
pub async fn release_orders(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<ReleaseOrderQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::release_orders(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// A lot found by the code printed on its label (any case; spaces and hyphens forgiven), for
/// those who may see it. A code whose check character does not match is mistyped: 404
/// `lot_code_mistyped`, so a scanner can say so.
#[utoipa::path(get, path = "/v1/lots/by-code/{code}", tag = "lots",
    params(("code" = String, Path, max_length = 40,
        pattern = r"^[ -]*(?:[2-9A-HJKMNP-TV-Za-hjkmnp-tv-z][ -]*){9}$",
        description = "the code on the label, e.g. `K7M3QX9T3`")),
    responses((status = 200, body = Lot)), security(("bearer" = [])))]
pub async fn by_code(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let lot = service::by_code(&mut conn, &principal, &code).await?;
    Ok(HttpResponse::Ok().json(lot))
}

/// Lots the caller may see: a supplier its own, warehouse staff those in their warehouses or
/// on their voyages, the platform all.
#[utoipa::path(get, path = "/v1/lots", tag = "lots", params(LotQuery),
    responses((status = 200, body = Page<Lot>), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<LotQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    if let Some(status) = &query.status
        && LotStatus::parse(status).is_none()
    {
        return Err(ApiError::invalid(
            "status",
            "status is announced, in_custody, in_transit or released",
        ));
    }
    if let Some(code) = &query.commodity_code {
        crate::http::validate::commodity_code("commodity_code", code)?;
    }
    let code = match &query.code {
        // A mistyped code (its check character fails) is no lot's code: nothing is found.
        Some(text) => Some(match service::read_code(text)? {
            Some(code) => code.as_str().to_owned(),
            None => String::new(),
        }),
        None => None,
    };
    let viewer = Viewer::of(&principal);
    let filter = LotFilter {
        code,
        status: query.status,
        warehouse_id: query.warehouse_id,
        voyage_id: query.voyage_id,
        commodity_code: query.commodity_code,
        expiring_before: query.expiring_before,
    };
    let mut conn = state.pool.get().await?;
    let rows = store::list(&mut conn, viewer, filter, after, limit).await?;
    let warehouses: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.status == LotStatus::InCustody)
        .filter_map(|r| r.warehouse_id)
        .collect();
    let held = store::holds(&mut conn, &warehouses).await?;
    let page = Page::from_rows(rows, limit, |row| row.seq);
    let items = page
        .items
        .into_iter()
        .map(|row| {
            let on_hold = held.hold(&row);
            Lot::from_row(row, on_hold, viewer.sees_money())
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// One lot.
#[utoipa::path(get, path = "/v1/lots/{id}", tag = "lots",
    responses((status = 200, body = Lot), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let viewer = Viewer::of(&principal);
    let mut conn = state.pool.get().await?;
    let row = store::find_visible(&mut conn, viewer, *id)
        .await?
        .ok_or_else(lot_not_found)?;
    Ok(HttpResponse::Ok().json(present(&mut conn, viewer, row).await?))
}

/// The lot's movement history, oldest first.
#[utoipa::path(get, path = "/v1/lots/{id}/movements", tag = "lots", params(PageQuery),
    responses((status = 200, body = Page<Movement>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn movements(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.after()?;
    let mut conn = state.pool.get().await?;
    let lot = store::find_visible(&mut conn, Viewer::of(&principal), *id)
        .await?
        .ok_or_else(lot_not_found)?;
    let rows = store::movements_of(&mut conn, &lot, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |m| m.id)))
}

/// A printable 100 × 150 mm label: owner, QR code and GS1-128 barcode ((10) lot code, (310n)
/// net weight), the code, commodity, grade, quantity on hand, dates and warehouse.
#[utoipa::path(get, path = "/v1/lots/{id}/label.svg", tag = "lots",
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn label(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let svg = service::label(&mut conn, &principal, *id).await?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

/// Labels for many lots (up to 100) as one HTML page that prints one label per sheet.
#[utoipa::path(get, path = "/v1/labels.html", tag = "lots", params(LabelsQuery),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn labels(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<LabelsQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let html = service::labels(&mut conn, &principal, &query.lot_ids).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Split part of a lot off into a new lot with its own code, in the same place.
#[utoipa::path(post, path = "/v1/lots/{id}/split", tag = "lots", request_body = SplitRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = SplitResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn split(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<SplitRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let id = id.into_inner();
    let requested = body.value.quantity.value();
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::split(conn, &principal, id, requested).await }),
    )
    .await
}

/// Ask for unpledged goods back: a release order the warehouse scans the goods out against.
#[utoipa::path(post, path = "/v1/withdrawals", tag = "lots", request_body = WithdrawalRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Withdrawal), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn withdraw(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<WithdrawalRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let request = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::withdraw(conn, &principal, request).await }),
    )
    .await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// True when every lot equals the sum of its movements.
    pub consistent: bool,
    pub discrepancies: Vec<store::Discrepancy>,
}

/// Lots whose quantity, status or place differs from their movement ledger (always none).
#[utoipa::path(get, path = "/v1/custody/reconciliation", tag = "lots",
    responses((status = 200, body = Reconciliation)), security(("bearer" = [])))]
pub async fn reconciliation(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let discrepancies = conn
        .transaction::<_, ApiError, _>(async |conn| Ok(store::reconciliation(conn).await?))
        .await?;
    Ok(HttpResponse::Ok().json(Reconciliation {
        consistent: discrepancies.is_empty(),
        discrepancies,
    }))
}
