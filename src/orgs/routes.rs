//! Handlers for organisations, their users and their activity.

use super::model::{DirectoryEntry, DirectoryQuery, NewOrg, NewUser, Org, User, UserChange};
use super::service::{self, org_not_found};
use super::store;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::KeyOptional;
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::audit;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Create an organisation (platform admin).
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = NewOrg,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first response for retries")),
    responses(
        (status = 201, body = Org),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "name taken"),
        (status = 422, body = crate::error::ErrorBody),
    ), security(("bearer" = [])))]
pub async fn create_org(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewOrg>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let name = service::org_name(&body.name)?;
    let kind = body.kind;
    idem.run(
        &state.pool,
        principal.user_id,
        &body.body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { service::create_org(conn, &principal, &name, kind).await })
        },
    )
    .await
}

/// The directory: every organisation's id, name, kind and tier, by name, for any signed-in
/// user — how a supplier finds its buyer's `buyer_org_id` or its lender, and a lender its
/// suppliers. `kind` narrows it; `q` matches part of the name, any case.
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", params(DirectoryQuery),
    responses((status = 200, body = Page<DirectoryEntry>)), security(("bearer" = [])))]
pub async fn directory(
    state: web::Data<AppState>,
    _principal: Principal,
    query: crate::http::query::ValidQuery<DirectoryQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::directory(&mut conn, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Read an organisation: the platform sees every org, other users their own.
#[utoipa::path(get, path = "/v1/orgs/{id}", tag = "orgs",
    responses((status = 200, body = Org), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_org(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let org = service::org(&mut conn, &principal, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(org))
}

/// Create a user. The platform admin (`orgs:write`) may create owners and staff in any org;
/// a user with `users:write` creates staff in their own org with a subset of their own
/// permissions.
#[utoipa::path(post, path = "/v1/orgs/{id}/users", tag = "orgs", request_body = NewUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first response for retries")),
    responses(
        (status = 201, body = User),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "email taken"),
        (status = 422, body = crate::error::ErrorBody),
    ), security(("bearer" = [])))]
pub async fn create_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewUser>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let checked = {
        let mut conn = state.pool.get().await?;
        service::check_new_user(&mut conn, &principal, id.into_inner(), &body.value).await?
    };
    let password_hash = service::hash_password(&body.value.password).await?;
    idem.run(
        &state.pool,
        principal.user_id,
        &body.body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                service::create_user(conn, &principal, checked, &password_hash).await
            })
        },
    )
    .await
}

/// What the org's users did, newest first (the org's owner, or a platform auditor).
#[utoipa::path(get, path = "/v1/orgs/{id}/activity", tag = "orgs", params(PageQuery),
    responses((status = 200, body = Page<audit::AuditEvent>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn activity(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org_id = id.into_inner();
    if !principal.sees_all_audit() && principal.org_id != org_id {
        return Err(org_not_found());
    }
    let limit = query.limit()?;
    let before = query.after()?;
    let mut conn = state.pool.get().await?;
    store::find_org(&mut conn, org_id)
        .await?
        .ok_or_else(org_not_found)?;
    let rows = audit::list(&mut conn, audit::Scope::ActorOrg(org_id), before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |e| e.id)))
}

/// The org's users, by email (the platform admin for any org; a `users:write` holder for its
/// own).
#[utoipa::path(get, path = "/v1/orgs/{id}/users", tag = "orgs",
    responses((status = 200, body = crate::http::Listed<User>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_users(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let users = service::users(&mut conn, &principal, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(crate::http::Listed { items: users }))
}

/// Change a user's permissions or disable it; its tokens stop working at once.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "orgs", request_body = UserChange,
    responses((status = 200, body = User), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<UserChange>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::change_user(conn, &principal, id, &body.value).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(user))
}
