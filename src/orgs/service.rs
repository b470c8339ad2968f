//! Organisation and user use cases: creating orgs, checking and creating users with the
//! permissions their creator may grant.

use super::model::{DirectoryEntry, DirectoryQuery, NewUser, Org, User, UserChange};
use super::store;
use crate::auth::{OrgKind, Permission, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

/// The directory page a query asks for (see `GET /v1/orgs`).
pub async fn directory(
    conn: &mut AsyncPgConnection,
    query: DirectoryQuery,
) -> ApiResult<Page<DirectoryEntry>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let q = match &query.q {
        Some(q) => Some(crate::http::validate::text("q", q, 100)?),
        None => None,
    };
    let offset = after.unwrap_or(0);
    let rows = store::directory(conn, query.kind, q.as_deref(), offset, limit + 1).await?;
    Ok(Page::at_offset(rows, offset, limit))
}

pub fn org_not_found() -> ApiError {
    ApiError::not_found("org_not_found", "no such organisation")
}

/// One org, as the caller may see it: the platform any, others their own (else 404); a
/// supplier's or a buyer's with its tier, what the tier brings and what the next one takes.
pub async fn org(conn: &mut AsyncPgConnection, principal: &Principal, id: Uuid) -> ApiResult<Org> {
    if !principal.is_platform() && principal.org_id != id {
        return Err(org_not_found());
    }
    let row = store::find_org(conn, id).await?.ok_or_else(org_not_found)?;
    let mut org = Org::from(row);
    if matches!(org.kind, OrgKind::Supplier | OrgKind::Buyer) {
        let today = crate::calendar::business_date(conn).await?;
        let buyer = org.kind == OrgKind::Buyer;
        org.tier = Some(crate::tiers::status(conn, id, today, buyer).await?);
    }
    Ok(org)
}

/// An org's name as given: trimmed, 1 to 200 characters.
pub fn org_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

/// A new user's password hashed (off the request threads, a bounded number at once: a full
/// hasher answers 503 with `Retry-After`).
pub async fn hash_password(password: &str) -> ApiResult<String> {
    crate::auth::password::hash(password.to_owned())
        .await
        .map_err(|e| match e.downcast::<crate::auth::password::Busy>() {
            Ok(busy) => ApiError::from(busy),
            Err(other) => ApiError::internal(other),
        })
}

/// Create an organisation with a name no other org has.
pub async fn create_org(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    name: &str,
    kind: OrgKind,
) -> ApiResult<Org> {
    if store::find_org_by_name(conn, name).await?.is_some() {
        return Err(
            ApiError::conflict("org_name_taken", "an organisation with this name exists")
                .with("field", "name"),
        );
    }
    let org: Org = store::insert_org(conn, name, kind).await?.into();
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "org.created",
            object_kind: "org",
            object_id: org.id.to_string(),
            org_ids: vec![org.id, principal.org_id],
            before: None,
            after: Some(to_json(&org)?),
        },
    )
    .await?;
    Ok(org)
}

/// Whether `principal` manages the users of `org`: the platform admin any org's, a holder of
/// `users:write` its own org's. Others get 404, as if the org did not exist.
fn manages(principal: &Principal, org: Uuid) -> ApiResult<bool> {
    let platform_admin = principal.is_platform() && principal.has(Permission::OrgsWrite);
    if platform_admin || (principal.org_id == org && principal.has(Permission::UsersWrite)) {
        Ok(platform_admin)
    } else {
        Err(org_not_found())
    }
}

/// The most users one answer lists.
pub const MAX_USERS_LISTED: i64 = 1000;

/// The users of an org the caller manages, by email.
pub async fn users(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    org: Uuid,
) -> ApiResult<Vec<User>> {
    manages(principal, org)?;
    store::find_org(conn, org)
        .await?
        .ok_or_else(org_not_found)?;
    let rows = store::users_of(conn, org, MAX_USERS_LISTED).await?;
    Ok(rows.iter().map(User::from).collect())
}

/// Change a user's permissions (staff only) or disable or re-enable it. The platform admin may
/// change any user; a `users:write` holder the staff of its own org, granting only what it
/// holds. Nobody changes themselves. Every change ends the tokens the user holds; disabling it
/// also revokes its refresh tokens.
pub async fn change_user(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    change: &UserChange,
) -> ApiResult<User> {
    let not_found = || ApiError::not_found("user_not_found", "no such user");
    let row = store::lock_user(conn, id).await?.ok_or_else(not_found)?;
    let platform_admin = manages(principal, row.org_id).map_err(|_| not_found())?;
    if row.id == principal.user_id {
        return Err(ApiError::conflict(
            "own_user",
            "you cannot change your own permissions or disable yourself",
        ));
    }
    let before = User::from(&row);
    if before.role == Role::Owner && !platform_admin {
        return Err(ApiError::forbidden(
            "only the platform admin changes an owner",
        ));
    }
    let org = store::find_org(conn, row.org_id)
        .await?
        .ok_or_else(org_not_found)?;
    let org_kind = OrgKind::parse(&org.kind)
        .ok_or_else(|| ApiError::internal("unknown org kind in database"))?;
    let permissions = match &change.permissions {
        Some(asked) if before.role == Role::Owner => {
            return Err(ApiError::invalid(
                "permissions",
                format!(
                    "an owner holds every permission of its org ({} asked)",
                    asked.len()
                ),
            ));
        }
        Some(asked) => {
            grantable_permissions(principal, platform_admin, org_kind, Role::Staff, asked)?
        }
        None => before.permissions.clone(),
    };
    let disabled_at = match change.disabled {
        Some(true) => row.disabled_at.or(Some(chrono::Utc::now())),
        Some(false) => None,
        None => row.disabled_at,
    };
    let after = User::from(&store::change_user(conn, id, &permissions, disabled_at).await?);
    if after.disabled {
        crate::auth::store::revoke_user(conn, id).await?;
    }
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "user.changed",
            object_kind: "user",
            object_id: id.to_string(),
            org_ids: vec![row.org_id, principal.org_id],
            before: Some(to_json(&before)?),
            after: Some(to_json(&after)?),
        },
    )
    .await?;
    Ok(after)
}

/// A new user as checked before the password is hashed: the org, the email, the role and the
/// permissions the creator may grant.
pub struct CheckedUser {
    org_id: Uuid,
    email: String,
    role: Role,
    permissions: Vec<Permission>,
}

/// The platform admin (`orgs:write`) may create owners and staff in any org; a user with
/// `users:write` creates staff in their own org with a subset of their own permissions.
pub async fn check_new_user(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    org_id: Uuid,
    new: &NewUser,
) -> ApiResult<CheckedUser> {
    let platform_admin = principal.is_platform() && principal.has(Permission::OrgsWrite);
    if !platform_admin && principal.org_id != org_id {
        return Err(org_not_found());
    }
    let org = store::find_org(conn, org_id)
        .await?
        .ok_or_else(org_not_found)?;
    let org_kind = OrgKind::parse(&org.kind)
        .ok_or_else(|| ApiError::internal("unknown org kind in database"))?;
    let email = valid_email(&new.email)?;
    crate::auth::password::check_strength(&new.password, &email)
        .map_err(|why| ApiError::invalid("password", why))?;
    let permissions = grantable_permissions(
        principal,
        platform_admin,
        org_kind,
        new.role,
        &new.permissions,
    )?;
    Ok(CheckedUser {
        org_id,
        email,
        role: new.role,
        permissions,
    })
}

/// Create a checked user with an already hashed password; the email must be free.
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    user: CheckedUser,
    password_hash: &str,
) -> ApiResult<User> {
    if store::find_user_by_email(conn, &user.email)
        .await?
        .is_some()
    {
        return Err(
            ApiError::conflict("email_taken", "a user with this email exists")
                .with("field", "email"),
        );
    }
    let row = store::insert_user(
        conn,
        store::NewUserRow {
            org_id: user.org_id,
            email: &user.email,
            password_hash,
            role: user.role,
            permissions: &user.permissions,
            created_by: Some(principal.user_id),
        },
    )
    .await?;
    let created = User::from(&row);
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "user.created",
            object_kind: "user",
            object_id: created.id.to_string(),
            org_ids: vec![user.org_id, principal.org_id],
            before: None,
            after: Some(to_json(&created)?),
        },
    )
    .await?;
    Ok(created)
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
