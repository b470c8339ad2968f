//! The audit trail, its verification, and the event feed.

use super::audit::{self, AuditEvent, Scope, Verification};
use super::outbox::{self, OutboxEvent};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::{Page, PageQuery};
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// The audit trail, newest first: everything for platform auditors, otherwise the events that
/// concern the caller's organisation.
#[utoipa::path(get, path = "/v1/audit", tag = "integrity", params(PageQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit_trail(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit()?;
    let before = query.after()?;
    let scope = if principal.sees_all_audit() {
        Scope::Everything
    } else {
        Scope::Org(principal.org_id)
    };
    let mut conn = state.pool.get().await?;
    let rows = audit::list(&mut conn, scope, before, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |e| e.id)))
}

/// Seals pending events, then recomputes the whole hash chain.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "integrity",
    responses((status = 200, body = Verification), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    audit::seal(&mut conn).await?;
    let verification = audit::verify(&mut conn).await?;
    Ok(HttpResponse::Ok().json(verification))
}

/// The event feed in commit order, for the caller's organisation (everything for platform
/// auditors). Follow `next_cursor`; events appear within seconds of their change.
#[utoipa::path(get, path = "/v1/events", tag = "integrity", params(PageQuery),
    responses((status = 200, body = Page<OutboxEvent>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.after()?.unwrap_or(0);
    let org = (!principal.sees_all_audit()).then_some(principal.org_id);
    let mut conn = state.pool.get().await?;
    let rows = outbox::feed(&mut conn, org, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |e| {
        e.position.unwrap_or_default()
    })))
}
