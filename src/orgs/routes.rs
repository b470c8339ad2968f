//! Handlers for organisations, their users and their activity.

use super::model::{NewOrg, NewUser, Org, User};
use super::store;
use crate::auth::password::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::auth::{OrgKind, Permission, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::KeyOptional;
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::{self, Change, audit};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
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
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    let kind = body.kind;
    let body_sha256 = body.body_sha256;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                if store::find_org_by_name(conn, &name).await?.is_some() {
                    return Err(ApiError::conflict(
                        "org_name_taken",
                        "an organisation with this name exists",
                    )
                    .with("field", "name"));
                }
                let org: Org = store::insert_org(conn, &name, kind).await?.into();
                integrity::record(
                    conn,
                    Some(&principal),
                    Change {
                        action: "org.created",
                        object_kind: "org",
                        object_id: org.id.to_string(),
                        org_ids: vec![org.id, principal.org_id],
                        before: None,
                        after: Some(serde_json::to_value(&org).map_err(ApiError::internal)?),
                    },
                )
                .await?;
                Ok(org)
            })
        },
    )
    .await
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
    let id = id.into_inner();
    if !principal.is_platform() && principal.org_id != id {
        return Err(org_not_found());
    }
    let mut conn = state.pool.get().await?;
    let org = store::find_org(&mut conn, id)
        .await?
        .ok_or_else(org_not_found)?;
    let mut org = Org::from(org);
    if org.kind == OrgKind::Supplier {
        let today = crate::calendar::business_date(&mut conn).await?;
        org.tier = Some(crate::tiers::status(&mut conn, id, today).await?);
    }
    Ok(HttpResponse::Ok().json(org))
}

fn org_not_found() -> ApiError {
    ApiError::not_found("org_not_found", "no such organisation")
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
    let org_id = id.into_inner();
    let platform_admin = principal.is_platform() && principal.has(Permission::OrgsWrite);
    if !platform_admin && principal.org_id != org_id {
        return Err(org_not_found());
    }
    let org_kind = {
        let mut conn = state.pool.get().await?;
        let org = store::find_org(&mut conn, org_id)
            .await?
            .ok_or_else(org_not_found)?;
        OrgKind::parse(&org.kind)
            .ok_or_else(|| ApiError::internal("unknown org kind in database"))?
    };
    let email = valid_email(&body.email)?;
    let chars = body.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(ApiError::invalid(
            "password",
            format!("password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let permissions = grantable_permissions(
        &principal,
        platform_admin,
        org_kind,
        body.role,
        &body.permissions,
    )?;
    let role = body.role;
    let body_sha256 = body.body_sha256;
    let password_hash = crate::auth::password::hash(body.value.password.clone())
        .await
        .map_err(ApiError::internal)?;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                if store::find_user_by_email(conn, &email).await?.is_some() {
                    return Err(
                        ApiError::conflict("email_taken", "a user with this email exists")
                            .with("field", "email"),
                    );
                }
                let row = store::insert_user(
                    conn,
                    store::NewUserRow {
                        org_id,
                        email: &email,
                        password_hash: &password_hash,
                        role,
                        permissions: &permissions,
                        created_by: Some(principal.user_id),
                    },
                )
                .await?;
                let user = User::from(&row);
                integrity::record(
                    conn,
                    Some(&principal),
                    Change {
                        action: "user.created",
                        object_kind: "user",
                        object_id: user.id.to_string(),
                        org_ids: vec![org_id, principal.org_id],
                        before: None,
                        after: Some(serde_json::to_value(&user).map_err(ApiError::internal)?),
                    },
                )
                .await?;
                Ok(user)
            })
        },
    )
    .await
}

fn valid_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_owned();
    let well_formed = email.len() <= 254
        && email.split('@').count() == 2
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if well_formed {
        Ok(email)
    } else {
        Err(ApiError::invalid(
            "email",
            "email must look like name@example.com",
        ))
    }
}

/// The permissions the new user gets. Owners hold everything their kind allows; staff hold
/// what was asked, which must suit the org kind and (unless the platform admin asks) be held
/// by the creator.
fn grantable_permissions(
    creator: &Principal,
    platform_admin: bool,
    org_kind: OrgKind,
    role: Role,
    asked: &[String],
) -> ApiResult<Vec<Permission>> {
    if role == Role::Owner {
        if !platform_admin {
            return Err(
                ApiError::forbidden("only the platform admin creates owners").with("field", "role"),
            );
        }
        return Ok(Permission::all_for(org_kind));
    }
    let mut granted = Vec::new();
    for (index, text) in asked.iter().enumerate() {
        let field = format!("permissions[{index}]");
        let permission = Permission::parse(text)
            .ok_or_else(|| ApiError::invalid(&field, format!("`{text}` is not a permission")))?;
        if !permission.allowed_for(org_kind) {
            return Err(ApiError::invalid(
                &field,
                format!(
                    "`{text}` cannot be held by a {} organisation",
                    org_kind.as_str()
                ),
            ));
        }
        if !platform_admin && !creator.has(permission) {
            return Err(ApiError::forbidden(format!(
                "you cannot grant `{text}`, which you do not hold"
            ))
            .with("field", field));
        }
        if !granted.contains(&permission) {
            granted.push(permission);
        }
    }
    Ok(granted)
}

/// What the org's users did, newest first (the org's owner, or a platform auditor).
#[utoipa::path(get, path = "/v1/orgs/{id}/activity", tag = "orgs", params(PageQuery),
    responses((status = 200, body = Page<audit::AuditEvent>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn activity(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
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
