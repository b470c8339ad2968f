//! Rows and API types for organisations and users.

use crate::auth::{OrgKind, Permission, Role};
use crate::db::schema::{orgs, users};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orgs)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Access tokens name it; raising it ends them all.
    pub token_generation: i32,
    pub disabled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub kind: OrgKind,
    pub created_at: DateTime<Utc>,
    /// Suppliers and buyers: the tier, what it brings (fee factor, market privileges), the
    /// figures it stands on and what the next tier takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<crate::tiers::TierStatus>,
}

/// One entry of the directory: enough to name an org in a request (a buyer, a lender, a
/// supplier) and to see its tier, which is public by design.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct DirectoryEntry {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub tier: String,
}

/// `GET /v1/orgs?kind=&q=`: the directory, by name.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// Only orgs of this kind.
    pub kind: Option<crate::auth::OrgKind>,
    /// Part of the name, any case.
    #[param(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

impl From<OrgRow> for Org {
    fn from(row: OrgRow) -> Self {
        Org {
            id: row.id,
            name: row.name,
            kind: OrgKind::parse(&row.kind).unwrap_or(OrgKind::Buyer),
            created_at: row.created_at,
            tier: None,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub role: Role,
    pub permissions: Vec<Permission>,
    /// A disabled user cannot log in, and its tokens stopped working when it was disabled.
    pub disabled: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `PATCH /v1/users/{id}`: what changes; what is left out stays.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// The staff member's permissions, replacing the ones held.
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::auth::Permission>>)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Staff)
    }

    pub fn permissions(&self) -> Vec<Permission> {
        self.permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
            .collect()
    }
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        User {
            id: row.id,
            org_id: row.org_id,
            email: row.email.clone(),
            role: row.role(),
            permissions: row.permissions(),
            disabled: row.disabled_at.is_some(),
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    /// 1–200 characters, unique (case-insensitive).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub name: String,
    pub kind: OrgKind,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(
        max_length = 254,
        pattern = r"^[^\s@\x00]+@[^\s@.\x00][^\s@\x00]*\.[^\s@\x00]*[^\s@.\x00]$"
    )]
    pub email: String,
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    pub role: Role,
    /// For staff: a subset of the creator's permissions. Owners hold all their kind allows.
    #[serde(default)]
    #[schema(value_type = Vec<crate::auth::Permission>)]
    pub permissions: Vec<String>,
}
