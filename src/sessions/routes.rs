//! Login, token refresh, logout and "who am I".

use crate::auth::store;
use crate::auth::tokens::{random_token, token_hash};
use crate::auth::{OrgKind, Permission, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::integrity::{self, Change};
use crate::orgs::model::{Org, OrgRow, UserRow};
use crate::orgs::store as org_store;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Single use: each refresh returns a new one.
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub permissions: Vec<Permission>,
    pub org: Org,
}

fn principal_of(user: &UserRow, org: &OrgRow) -> ApiResult<Principal> {
    Ok(Principal {
        user_id: user.id,
        org_id: org.id,
        kind: OrgKind::parse(&org.kind)
            .ok_or_else(|| ApiError::internal("unknown org kind in database"))?,
        role: user.role(),
        permissions: user.permissions(),
        request_id: None,
    })
}

/// An audit event about the caller's own user, with nothing to show before or after.
fn user_event(action: &'static str, principal: &Principal) -> Change<'static> {
    Change {
        action,
        object_kind: "user",
        object_id: principal.user_id.to_string(),
        org_ids: vec![principal.org_id],
        before: None,
        after: None,
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the email or password is wrong")
}

/// Log in with email and password. Repeated failures for one email or from one address are
/// refused with 429 for a while.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenPair),
    (status = 401, body = crate::error::ErrorBody),
    (status = 422, body = crate::error::ErrorBody),
    (status = 429, body = crate::error::ErrorBody),
))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ValidJson<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(ApiError::invalid(
            "email",
            "email must be 1 to 254 characters",
        ));
    }
    if body.password.is_empty()
        || body.password.chars().count() > crate::auth::password::MAX_PASSWORD_CHARS
    {
        return Err(ApiError::invalid(
            "password",
            "password must be 1 to 256 characters",
        ));
    }
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let throttle_keys = [
        (format!("email:{email}"), store::MAX_FAILURES_PER_EMAIL),
        (format!("ip:{address}"), store::MAX_FAILURES_PER_ADDRESS),
    ];
    let mut conn = state.pool.get().await?;
    // The attempt counts as a failure until the password proves right, and is taken under a
    // lock, so parallel guesses cannot overrun the limit.
    let attempt = conn
        .transaction::<_, ApiError, _>(async |conn| {
            Ok(store::take_attempt(conn, &throttle_keys).await?)
        })
        .await?
        .ok_or_else(|| {
            ApiError::too_many_requests(format!(
                "too many failed logins; wait {} minutes",
                store::THROTTLE_WINDOW_MINUTES
            ))
            .retry_after(60 * store::THROTTLE_WINDOW_MINUTES as u32)
        })?;
    let found = org_store::find_user_by_email(&mut conn, &email).await?;
    let stored_hash = found.as_ref().map(|(user, _)| user.password_hash.clone());
    // No database connection is held while the password is checked.
    drop(conn);
    if !crate::auth::password::verify(body.value.password.clone(), stored_hash).await? {
        return Err(invalid_credentials());
    }
    let mut conn = state.pool.get().await?;
    store::forget_attempt(&mut conn, &attempt).await?;
    let Some((user, org)) = found else {
        return Err(invalid_credentials());
    };
    if user.disabled_at.is_some() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "user_disabled",
            "this user is disabled",
        ));
    }
    let mut principal = principal_of(&user, &org)?;
    principal.request_id = req
        .extensions()
        .get::<crate::http::middleware::RequestId>()
        .map(|r| r.0.clone());
    let pair = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let pair = issue_pair(&state, conn, &principal, Uuid::new_v4()).await?;
            integrity::record(
                conn,
                Some(&principal),
                user_event("session.started", &principal),
            )
            .await?;
            Ok(pair)
        })
        .await?;
    Ok(HttpResponse::Ok().json(pair))
}

use actix_web::HttpMessage;

async fn issue_pair(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    principal: &Principal,
    family_id: Uuid,
) -> ApiResult<TokenPair> {
    let refresh_token = random_token();
    let expires_at = Utc::now() + chrono::Duration::days(state.refresh_token_ttl_days);
    store::insert_refresh_token(
        conn,
        principal.user_id,
        family_id,
        &token_hash(&refresh_token),
        expires_at,
    )
    .await?;
    let generation = store::token_generation(conn, principal.user_id).await?;
    let access_token = state
        .jwt
        .issue(principal, family_id, generation, Utc::now().timestamp())
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl_seconds,
    })
}

enum RefreshOutcome {
    Issued(TokenPair),
    Reused,
    Invalid(&'static str),
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
    let hash = token_hash(body.refresh_token.trim());
    let mut conn = state.pool.get().await?;
    let state_ref = state.clone();
    let outcome = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let Some(token) = store::lock_refresh_token(conn, &hash).await? else {
                return Ok(RefreshOutcome::Invalid("the refresh token is not valid"));
            };
            if token.revoked_at.is_some() {
                return Ok(RefreshOutcome::Invalid("the refresh token was revoked"));
            }
            if token.rotated_at.is_some() {
                store::revoke_family(conn, token.family_id).await?;
                return Ok(RefreshOutcome::Reused);
            }
            if token.expires_at <= Utc::now() {
                return Ok(RefreshOutcome::Invalid("the refresh token has expired"));
            }
            store::mark_rotated(conn, token.id).await?;
            let user = org_store::find_user(conn, token.user_id)
                .await?
                .ok_or_else(invalid_credentials)?;
            if user.disabled_at.is_some() {
                return Ok(RefreshOutcome::Invalid("the user is disabled"));
            }
            let org = org_store::find_org(conn, user.org_id)
                .await?
                .ok_or_else(invalid_credentials)?;
            let principal = principal_of(&user, &org)?;
            Ok(RefreshOutcome::Issued(
                issue_pair(&state_ref, conn, &principal, token.family_id).await?,
            ))
        })
        .await?;
    match outcome {
        RefreshOutcome::Issued(pair) => Ok(HttpResponse::Ok().json(pair)),
        RefreshOutcome::Reused => Err(ApiError::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; every session of its family is now revoked",
        )),
        RefreshOutcome::Invalid(message) => {
            Err(ApiError::unauthorized("invalid_refresh_token", message))
        }
    }
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
    let hash = token_hash(body.refresh_token.trim());
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        if let Some(token) = store::lock_refresh_token(conn, &hash).await?
            && token.user_id == principal.user_id
            && store::revoke_family(conn, token.family_id).await? > 0
        {
            integrity::record(
                conn,
                Some(&principal),
                user_event("session.ended", &principal),
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I: the user, their role and permissions, and their organisation.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses(
    (status = 200, body = Me),
    (status = 401, body = crate::error::ErrorBody),
), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let user = org_store::find_user(&mut conn, principal.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", "this user no longer exists"))?;
    let org = org_store::find_org(&mut conn, user.org_id)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "this user's organisation no longer exists",
            )
        })?;
    Ok(HttpResponse::Ok().json(Me {
        user_id: user.id,
        email: user.email.clone(),
        role: user.role(),
        permissions: user.permissions(),
        org: org.into(),
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
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
    let change = body.value;
    let mut conn = state.pool.get().await?;
    let user = org_store::find_user(&mut conn, principal.user_id)
        .await?
        .ok_or_else(invalid_credentials)?;
    crate::auth::password::check_strength(&change.new_password, &user.email)
        .map_err(|why| ApiError::invalid("new_password", why))?;
    // Guesses at the current password count against the same throttle as logins.
    let throttle = [(
        format!("email:{}", user.email.to_lowercase()),
        store::MAX_FAILURES_PER_EMAIL,
    )];
    let attempt = conn
        .transaction::<_, ApiError, _>(async |conn| Ok(store::take_attempt(conn, &throttle).await?))
        .await?
        .ok_or_else(|| {
            ApiError::too_many_requests("too many wrong passwords; wait a while")
                .retry_after(60 * store::THROTTLE_WINDOW_MINUTES as u32)
        })?;
    drop(conn);
    let current = crate::auth::password::verify(
        change.current_password.clone(),
        Some(user.password_hash.clone()),
    )
    .await?;
    if !current {
        return Err(ApiError::invalid(
            "current_password",
            "the current password is wrong",
        ));
    }
    let new_hash = crate::auth::password::hash(change.new_password)
        .await
        .map_err(ApiError::internal)?;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        store::forget_attempt(conn, &attempt).await?;
        org_store::set_password(conn, principal.user_id, &new_hash).await?;
        store::revoke_user(conn, principal.user_id).await?;
        integrity::record(
            conn,
            Some(&principal),
            user_event("user.password_changed", &principal),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
