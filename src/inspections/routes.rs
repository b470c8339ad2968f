//! Handlers for quality rules, inspections, their photos, the lots due and inspector
//! assignments. Each parses the request and calls one function of `inspections::service`.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::KeyOptional;
use crate::http::json::RawBody;
use crate::http::{Listed, Page, PageQuery, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a request with an `Idempotency-Key` is compared by: its body and the object it names.
fn fingerprint(body: &[u8], id: Uuid) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(id.as_bytes());
    hash.update(body);
    hash.finalize().into()
}

/// Set a commodity's quality rules (platform, `reference:write`): a new version, in force at
/// once. Earlier inspections keep the version they were graded by.
#[utoipa::path(put, path = "/v1/commodities/{code}/quality", tag = "inspections", request_body = QualityIn,
    responses((status = 200, body = Quality), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_quality(
    state: web::Data<AppState>,
    principal: Principal,
    code: web::Path<String>,
    body: ValidJson<QualityIn>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner();
    let new = body.value;
    let mut conn = state.pool.get().await?;
    let stored = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::set_quality(conn, &principal, &code, new).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// A commodity's quality rules: the version in force, or `?version=` an earlier one.
#[utoipa::path(get, path = "/v1/commodities/{code}/quality", tag = "inspections", params(QualityQuery),
    responses((status = 200, body = Quality), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn quality(
    state: web::Data<AppState>,
    code: web::Path<String>,
    query: crate::http::query::ValidQuery<QualityQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let found = service::quality_of(&mut conn, &code, query.into_inner().version).await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Inspect a lot in one of your warehouses (warehouse staff, or an inspector assigned to the
/// warehouse; `inspections:write`). The grade follows from the results; a changed grade
/// revalues every loan secured on the lot at once.
#[utoipa::path(post, path = "/v1/lots/{id}/inspections", tag = "inspections", request_body = NewInspection,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first response for retries")),
    responses((status = 201, body = Inspected), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn inspect(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewInspection>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let checked = service::check_inspection(&body.value)?;
    let print = fingerprint(&body.body_sha256, id);
    idem.run(
        &state.pool,
        principal.user_id,
        &print,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::inspect(conn, &principal, id, checked).await }),
    )
    .await
}

/// A lot's inspections, oldest first, with their results and photo links (those who may see
/// the lot).
#[utoipa::path(get, path = "/v1/lots/{id}/inspections", tag = "inspections", params(PageQuery),
    responses((status = 200, body = Page<Inspection>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::inspections(&mut conn, &principal, *id, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Add a photo to an inspection your org made: the body is the image, `Content-Type:
/// image/jpeg` or `image/png` (the type is read from the bytes and must agree). At most 6
/// photos of at most 2 MiB; location and other metadata are removed before storing.
#[utoipa::path(post, path = "/v1/inspections/{id}/photos", tag = "inspections",
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first response for retries")),
    responses((status = 201, body = PhotoRef), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_photo(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: RawBody,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let cleaned = service::check_photo(content_type, &body.bytes)?;
    let print = fingerprint(&Sha256::digest(&body.bytes), id);
    idem.run(
        &state.pool,
        principal.user_id,
        &print,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { service::add_photo(conn, &principal, id, cleaned).await })
        },
    )
    .await
}

/// A photo of an inspection (those who may see the lot, and the inspecting org).
#[utoipa::path(get, path = "/v1/inspections/{id}/photos/{photo_id}", tag = "inspections",
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn photo(
    state: web::Data<AppState>,
    principal: Principal,
    ids: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (inspection, photo) = ids.into_inner();
    let mut conn = state.pool.get().await?;
    let found = service::photo_of(&mut conn, &principal, inspection, photo).await?;
    Ok(HttpResponse::Ok()
        .content_type(found.content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400, immutable"))
        .insert_header((header::ETAG, format!("\"{}\"", found.sha256)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(found.bytes))
}

/// Lots to inspect today in your warehouses: never inspected where the commodity requires
/// it, or due for re-inspection (`reason`: `never_inspected`, `due`, `overdue`).
#[utoipa::path(get, path = "/v1/inspections/due", tag = "inspections", params(DueQuery),
    responses((status = 200, body = Page<DueLot>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn due(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<DueQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::due(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Assign an inspector org to a warehouse (platform, `reference:write`).
#[utoipa::path(post, path = "/v1/warehouses/{id}/inspectors", tag = "inspections", request_body = NewAssignment,
    responses((status = 201, body = Assignment), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewAssignment>,
) -> ApiResult<HttpResponse> {
    let (warehouse, org) = (id.into_inner(), body.value.org_id);
    let mut conn = state.pool.get().await?;
    let assignment = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::assign(conn, &principal, warehouse, org).await
        })
        .await?;
    Ok(HttpResponse::Created().json(assignment))
}

/// End an inspector org's assignment to a warehouse (platform, `reference:write`).
#[utoipa::path(delete, path = "/v1/warehouses/{id}/inspectors/{org_id}", tag = "inspections",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn unassign(
    state: web::Data<AppState>,
    principal: Principal,
    ids: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (warehouse, org) = ids.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        service::unassign(conn, &principal, warehouse, org).await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The inspector orgs assigned to a warehouse (its operator, those inspectors, the platform).
#[utoipa::path(get, path = "/v1/warehouses/{id}/inspectors", tag = "inspections",
    responses((status = 200, body = Listed<Assignment>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn assignments(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let items = service::assignments(&mut conn, &principal, *id).await?;
    Ok(HttpResponse::Ok().json(Listed { items }))
}
