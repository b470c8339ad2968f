//! Queries for organisations and users.

use super::model::{DirectoryEntry, OrgRow, UserRow};
use crate::auth::{OrgKind, Permission, Role};
use crate::db::prepared::Cache;
use crate::db::schema::{orgs, users};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn insert_org(
    conn: &mut AsyncPgConnection,
    name: &str,
    kind: OrgKind,
) -> QueryResult<OrgRow> {
    diesel::insert_into(orgs::table)
        .values((
            orgs::id.eq(Uuid::new_v4()),
            orgs::name.eq(name),
            orgs::kind.eq(kind.as_str()),
        ))
        .returning(OrgRow::as_returning())
        .get_result(conn)
        .await
}

/// The directory, by name then id: `kind` and a case-blind part of the name narrow it.
/// `offset` and `limit` page it (the directory has no sequence of its own).
pub async fn directory(
    conn: &mut AsyncPgConnection,
    kind: Option<OrgKind>,
    q: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<DirectoryEntry>> {
    let mut query = orgs::table
        .select((orgs::id, orgs::name, orgs::kind, orgs::tier))
        .order((orgs::name.asc(), orgs::id.asc()))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(orgs::kind.eq(kind.as_str()));
    }
    if let Some(q) = q {
        // `%`, `_` and `\` in what was typed match themselves.
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(orgs::name.ilike(format!("%{escaped}%")));
    }
    query.load(conn).await
}

pub async fn find_org(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrgRow>> {
    orgs::table
        .find(id)
        .select(OrgRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_org_by_name(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<OrgRow>> {
    orgs::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<diesel::sql_types::Text, _>(name)
                .sql(")"),
        )
        .select(OrgRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub struct NewUserRow<'a> {
    pub org_id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub permissions: &'a [Permission],
    pub created_by: Option<Uuid>,
}

pub async fn insert_user(
    conn: &mut AsyncPgConnection,
    user: NewUserRow<'_>,
) -> QueryResult<UserRow> {
    let permissions: Vec<&str> = user.permissions.iter().map(|p| p.as_str()).collect();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(Uuid::new_v4()),
            users::org_id.eq(user.org_id),
            users::email.eq(user.email),
            users::password_hash.eq(user.password_hash),
            users::role.eq(user.role.as_str()),
            users::permissions.eq(permissions),
            users::created_by.eq(user.created_by),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_user(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Emails are matched case-insensitively (the unique index is on `lower(email)`).
pub async fn find_user_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<(UserRow, OrgRow)>> {
    users::table
        .inner_join(orgs::table)
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(users.email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email)
                .sql(")"),
        )
        .select((UserRow::as_select(), OrgRow::as_select()))
        .first(conn)
        .await
        .optional()
}

/// The org's users, by email (an org has few; at most `limit`).
pub async fn users_of(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    users::table
        .filter(users::org_id.eq(org))
        .order(users::email)
        .limit(limit)
        .select(UserRow::as_select())
        .load(conn)
        .await
}

/// Locks a user's row for a change.
pub async fn lock_user(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Sets a user's permissions and whether it is disabled, and raises its token generation so
/// the tokens it holds stop working.
pub async fn change_user(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    permissions: &[Permission],
    disabled_at: Option<chrono::DateTime<chrono::Utc>>,
) -> QueryResult<UserRow> {
    crate::auth::honoured::forget_all();
    let texts: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
    diesel::update(users::table.find(id))
        .set((
            users::permissions.eq(texts),
            users::disabled_at.eq(disabled_at),
            users::token_generation.eq(users::token_generation + 1),
        ))
        .returning(UserRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// Sets a new password hash and raises the token generation.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> QueryResult<()> {
    crate::auth::honoured::forget_all();
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::token_generation.eq(users::token_generation + 1),
        ))
        .cached()
        .execute(conn)
        .await
        .map(|_| ())
}
