//! Handlers for login, token refresh, logout, "who am I" and changing one's password.

use super::model::*;
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::ValidJson;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};

/// Log in with email and password. Repeated failures for one email or from one address are
/// refused with 429 for a while.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = crate::error::ErrorBody),
    (status = 403, body = crate::error::ErrorBody, description = "the user is disabled"),
    (status = 422, body = crate::error::ErrorBody),
    (status = 429, body = crate::error::ErrorBody),
    (status = 503, body = crate::error::ErrorBody, description = "too many password checks at once"),
))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let (address, request_id) = crate::http::middleware::client_of(&req);
    let pair = service::login(&state, &body.value, &address, request_id).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Exchange a refresh token for a new pair. The old refresh token stops working; presenting
/// it again is taken as theft and revokes every token of its family.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = crate::error::ErrorBody),
))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let pair = service::refresh(&state, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Revoke the session (the refresh token's family). Always 204 for the caller's own tokens.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest, responses(
    (status = 204, description = "revoked"),
    (status = 401, body = crate::error::ErrorBody),
), security(("bearer" = [])))]
pub async fn logout(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    service::logout(&state, &principal, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: the user, their role and permissions, and their organisation.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses(
    (status = 200, body = Me),
    (status = 401, body = crate::error::ErrorBody),
), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::me(&mut conn, &principal).await?))
}

/// Change one's own password. Every token of the user stops working, this one included: log
/// in again with the new password.
#[utoipa::path(post, path = "/v1/me/password", tag = "auth", request_body = PasswordChange, responses(
    (status = 204, description = "changed"),
    (status = 401, body = crate::error::ErrorBody),
    (status = 422, body = crate::error::ErrorBody),
    (status = 429, body = crate::error::ErrorBody),
), security(("bearer" = [])))]
pub async fn change_password(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<PasswordChange>,
) -> ApiResult<HttpResponse> {
    service::change_password(&state, &principal, body.value).await?;
    Ok(HttpResponse::NoContent().finish())
}
