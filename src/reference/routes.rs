//! Handlers for commodities, warehouses and voyages.

use super::model::*;
use super::service::{self, may_see_voyage, voyage_not_found};
use super::store;
use crate::auth::Principal;
use crate::domain::states::VoyageStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Register a commodity with its grades, shelf life and temperature range.
#[utoipa::path(post, path = "/v1/commodities", tag = "reference", request_body = NewCommodity,
    responses((status = 201, body = Commodity), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_commodity(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewCommodity>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let commodity = service::register_commodity(&mut conn, &principal, &body.value).await?;
    Ok(HttpResponse::Created().json(commodity))
}

/// Every commodity.
#[utoipa::path(get, path = "/v1/commodities", tag = "reference",
    responses((status = 200, body = crate::http::Listed<Commodity>)), security(("bearer" = [])))]
pub async fn list_commodities(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let items = service::commodities(&mut conn).await?;
    Ok(HttpResponse::Ok().json(crate::http::Listed { items }))
}

/// Register a warehouse, its operator and its storage rates.
#[utoipa::path(post, path = "/v1/warehouses", tag = "reference", request_body = NewWarehouse,
    responses((status = 201, body = Warehouse), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_warehouse(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewWarehouse>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let warehouse = service::register_warehouse(&mut conn, &principal, &body.value).await?;
    Ok(HttpResponse::Created().json(warehouse))
}

/// Every warehouse, with its storage rates.
#[utoipa::path(get, path = "/v1/warehouses", tag = "reference",
    responses((status = 200, body = crate::http::Listed<Warehouse>)), security(("bearer" = [])))]
pub async fn list_warehouses(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let items = service::warehouses(&mut conn).await?;
    Ok(HttpResponse::Ok().json(crate::http::Listed { items }))
}

/// One warehouse.
#[utoipa::path(get, path = "/v1/warehouses/{id}", tag = "reference",
    responses((status = 200, body = Warehouse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_warehouse(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = store::find_warehouse(&mut conn, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("warehouse_not_found", "no such warehouse"))?;
    let rates = store::rates_of(&mut conn, row.id).await?;
    Ok(HttpResponse::Ok().json(Warehouse::from_row(row, rates)))
}

/// Register a voyage: a vessel of a carrier taking goods from origin to destination.
#[utoipa::path(post, path = "/v1/voyages", tag = "reference", request_body = NewVoyage,
    responses((status = 201, body = Voyage), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewVoyage>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let voyage = service::register_voyage(&mut conn, &principal, &body.value).await?;
    Ok(HttpResponse::Created().json(voyage))
}

/// Voyages, latest departure first: the platform sees all, a carrier its own, a supplier those
/// its goods are on (aboard, or announced aboard). `status` narrows them.
#[utoipa::path(get, path = "/v1/voyages", tag = "reference", params(VoyageQuery),
    responses((status = 200, body = crate::http::Page<Voyage>)), security(("bearer" = [])))]
pub async fn list_voyages(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<VoyageQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::voyages(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One voyage.
#[utoipa::path(get, path = "/v1/voyages/{id}", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let voyage = store::find_voyage(&mut conn, *id)
        .await?
        .filter(|v| may_see_voyage(&principal, v))
        .ok_or_else(voyage_not_found)?;
    Ok(HttpResponse::Ok().json(voyage))
}

async fn move_voyage(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    from: VoyageStatus,
    to: VoyageStatus,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let voyage = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::move_voyage(conn, principal, id, from, to).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(voyage))
}

/// The vessel has left: `planned` → `underway`.
#[utoipa::path(post, path = "/v1/voyages/{id}/depart", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn depart_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    move_voyage(
        &state,
        &principal,
        *id,
        VoyageStatus::Planned,
        VoyageStatus::Underway,
    )
    .await
}

/// The vessel has arrived: `underway` → `arrived`; its goods may now be unloaded.
#[utoipa::path(post, path = "/v1/voyages/{id}/arrive", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn arrive_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    move_voyage(
        &state,
        &principal,
        *id,
        VoyageStatus::Underway,
        VoyageStatus::Arrived,
    )
    .await
}
