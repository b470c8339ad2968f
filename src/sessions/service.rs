//! Sessions: logging in (with the throttle and the bounded password check), refreshing and
//! ending a login, "who am I", and changing one's own password. These manage their own
//! connections, because no connection is held while a password is checked.

use super::model::*;
use crate::auth::tokens::{random_token, token_hash};
use crate::auth::{OrgKind, Principal};
use crate::auth::{browser, store};
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change};
use crate::orgs::model::{OrgRow, UserRow};
use crate::orgs::store as org_store;
use crate::state::AppState;
use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

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

/// Takes a login attempt against the throttle (429 with `Retry-After` past it). The attempt
/// counts as a failure until the password proves right, and is taken under a lock, so parallel
/// guesses cannot overrun the limit.
async fn take_attempt(
    conn: &mut diesel_async::AsyncPgConnection,
    keys: &[(String, i64)],
) -> ApiResult<Vec<i64>> {
    conn.transaction::<_, ApiError, _>(async |conn| Ok(store::take_attempt(conn, keys).await?))
        .await?
        .ok_or_else(|| {
            ApiError::too_many_requests(format!(
                "too many failed logins; wait {} minutes",
                store::THROTTLE_WINDOW_MINUTES
            ))
            .retry_after(60 * store::THROTTLE_WINDOW_MINUTES as u32)
        })
}

/// A user whose password proved right, enabled, with its token generation.
struct Authenticated {
    principal: Principal,
    generation: i32,
}

/// Checks email and password from `address`. Repeated failures for one email or from one
/// address are refused with 429 for a while.
async fn authenticate(
    state: &AppState,
    request: &LoginRequest,
    address: &str,
    request_id: Option<String>,
) -> ApiResult<Authenticated> {
    let email = request.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return Err(ApiError::invalid(
            "email",
            "email must be 1 to 254 characters",
        ));
    }
    if request.password.is_empty()
        || request.password.chars().count() > crate::auth::password::MAX_PASSWORD_CHARS
    {
        return Err(ApiError::invalid(
            "password",
            "password must be 1 to 256 characters",
        ));
    }
    let throttle_keys = [
        (format!("email:{email}"), store::MAX_FAILURES_PER_EMAIL),
        (format!("ip:{address}"), store::MAX_FAILURES_PER_ADDRESS),
    ];
    let mut conn = state.pool.get().await?;
    let attempt = take_attempt(&mut conn, &throttle_keys).await?;
    let found = org_store::find_user_by_email(&mut conn, &email).await?;
    let stored_hash = found.as_ref().map(|(user, _)| user.password_hash.clone());
    // No database connection is held while the password is checked.
    drop(conn);
    if !crate::auth::password::verify(request.password.clone(), stored_hash).await? {
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
    principal.request_id = request_id;
    Ok(Authenticated {
        principal,
        generation: user.token_generation,
    })
}

/// Log in with email and password from `address`. Repeated failures for one email or from one
/// address are refused with 429 for a while.
pub async fn login(
    state: &AppState,
    request: &LoginRequest,
    address: &str,
    request_id: Option<String>,
) -> ApiResult<TokenPair> {
    let Authenticated {
        principal,
        generation,
    } = authenticate(state, request, address, request_id).await?;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let session = (Uuid::new_v4(), generation);
        let pair = issue_pair(state, conn, &principal, session).await?;
        integrity::record(
            conn,
            Some(&principal),
            user_event("session.started", &principal),
        )
        .await?;
        Ok(pair)
    })
    .await
}

/// Signs a browser in to the console, checked as [`login`] checks: a new browser session
/// (its cookie token and form token).
pub async fn start_browser_session(
    state: &AppState,
    request: &LoginRequest,
    address: &str,
    request_id: Option<String>,
) -> ApiResult<browser::Started> {
    let Authenticated {
        principal,
        generation,
    } = authenticate(state, request, address, request_id).await?;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        let started = browser::start(conn, principal.user_id, generation).await?;
        integrity::record(
            conn,
            Some(&principal),
            user_event("session.started", &principal),
        )
        .await?;
        Ok(started)
    })
    .await
}

/// Signs a browser out: its session ends at once.
pub async fn end_browser_session(
    conn: &mut diesel_async::AsyncPgConnection,
    session: &browser::BrowserSession,
) -> ApiResult<()> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        if browser::end(conn, session.id).await? {
            integrity::record(
                conn,
                Some(&session.principal),
                user_event("session.ended", &session.principal),
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// A new token pair for `principal`, of the login `family_id`, at the user's token
/// `generation` (as read from its row).
async fn issue_pair(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    principal: &Principal,
    (family_id, generation): (Uuid, i32),
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
pub async fn refresh(state: &AppState, refresh_token: &str) -> ApiResult<TokenPair> {
    let hash = token_hash(refresh_token.trim());
    let mut conn = state.pool.get().await?;
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
                issue_pair(
                    state,
                    conn,
                    &principal,
                    (token.family_id, user.token_generation),
                )
                .await?,
            ))
        })
        .await?;
    match outcome {
        RefreshOutcome::Issued(pair) => Ok(pair),
        RefreshOutcome::Reused => Err(ApiError::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; every session of its family is now revoked",
        )),
        RefreshOutcome::Invalid(message) => {
            Err(ApiError::unauthorized("invalid_refresh_token", message))
        }
    }
}

/// End the caller's login named by its refresh token (the token's family).
pub async fn logout(state: &AppState, principal: &Principal, refresh_token: &str) -> ApiResult<()> {
    let hash = token_hash(refresh_token.trim());
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async move |conn| {
        if let Some(token) = store::lock_refresh_token(conn, &hash).await?
            && token.user_id == principal.user_id
            && store::revoke_family(conn, token.family_id).await? > 0
        {
            integrity::record(
                conn,
                Some(principal),
                user_event("session.ended", principal),
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// The caller: user, role, permissions and organisation.
pub async fn me(
    conn: &mut diesel_async::AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Me> {
    let user = org_store::find_user(conn, principal.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unauthenticated", "this user no longer exists"))?;
    let org = org_store::find_org(conn, user.org_id)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "this user's organisation no longer exists",
            )
        })?;
    Ok(Me {
        user_id: user.id,
        email: user.email.clone(),
        role: user.role(),
        permissions: user.permissions(),
        org: org.into(),
    })
}

/// Change one's own password. Every token of the user stops working, this one included.
pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    change: PasswordChange,
) -> ApiResult<()> {
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
    let attempt = take_attempt(&mut conn, &throttle).await?;
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
            Some(principal),
            user_event("user.password_changed", principal),
        )
        .await?;
        Ok(())
    })
    .await
}
