//! Who is calling: the authenticated user, their organisation's kind, role and permissions.

use crate::error::ApiError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};
use uuid::Uuid;

/// What kind of business an organisation is; it decides which functions its users may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Platform,
    Supplier,
    Lender,
    WarehouseOperator,
    Buyer,
    /// An independent inspection company, assigned to warehouses by the platform.
    Inspector,
}

impl OrgKind {
    pub const ALL: &'static [OrgKind] = &[
        OrgKind::Platform,
        OrgKind::Supplier,
        OrgKind::Lender,
        OrgKind::WarehouseOperator,
        OrgKind::Buyer,
        OrgKind::Inspector,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Platform => "platform",
            OrgKind::Supplier => "supplier",
            OrgKind::Lender => "lender",
            OrgKind::WarehouseOperator => "warehouse_operator",
            OrgKind::Buyer => "buyer",
            OrgKind::Inspector => "inspector",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Role::Owner),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// A right a user may hold. An owner holds every permission its org kind allows; a staff
/// user holds the subset its creator gave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Permission {
    /// Create organisations and their users (platform).
    #[serde(rename = "orgs:write")]
    OrgsWrite,
    /// Create users in one's own organisation.
    #[serde(rename = "users:write")]
    UsersWrite,
    /// Read the audit trail, verify it, and read the event feed.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Create commodities, warehouses and voyages (platform).
    #[serde(rename = "reference:write")]
    ReferenceWrite,
    /// Announce, split and withdraw one's own lots (supplier).
    #[serde(rename = "lots:write")]
    LotsWrite,
    /// Scan lots in, out, onto and off voyages; count stock; depart and arrive voyages
    /// (warehouse operator).
    #[serde(rename = "scans:write")]
    ScansWrite,
    /// Post commodity prices (platform, and price-feed accounts).
    #[serde(rename = "prices:write")]
    PricesWrite,
    /// Request loans, pledge goods and repay (supplier: its finance department).
    #[serde(rename = "loans:write")]
    LoansWrite,
    /// Open facilities; approve, reject and disburse loans; consent to releases; order
    /// liquidation; record repayments received (lender).
    #[serde(rename = "credit:write")]
    CreditWrite,
    /// Sell one's own goods and cancel unpaid sales (supplier: its sales department).
    #[serde(rename = "sales:write")]
    SalesWrite,
    /// Pay for purchases (buyer; the platform records payments received on a buyer's behalf).
    #[serde(rename = "payments:write")]
    PaymentsWrite,
    /// Inspect lots and grade them from what was measured (warehouse staff, or an inspector
    /// assigned to the warehouse).
    #[serde(rename = "inspections:write")]
    InspectionsWrite,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::OrgsWrite,
        Permission::UsersWrite,
        Permission::AuditRead,
        Permission::ReferenceWrite,
        Permission::LotsWrite,
        Permission::ScansWrite,
        Permission::PricesWrite,
        Permission::LoansWrite,
        Permission::CreditWrite,
        Permission::SalesWrite,
        Permission::PaymentsWrite,
        Permission::InspectionsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::OrgsWrite => "orgs:write",
            Permission::UsersWrite => "users:write",
            Permission::AuditRead => "audit:read",
            Permission::ReferenceWrite => "reference:write",
            Permission::LotsWrite => "lots:write",
            Permission::ScansWrite => "scans:write",
            Permission::PricesWrite => "prices:write",
            Permission::LoansWrite => "loans:write",
            Permission::CreditWrite => "credit:write",
            Permission::SalesWrite => "sales:write",
            Permission::PaymentsWrite => "payments:write",
            Permission::InspectionsWrite => "inspections:write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str() == text)
    }

    /// The org kinds whose users may hold this permission.
    pub fn allowed_for(self, kind: OrgKind) -> bool {
        match self {
            Permission::OrgsWrite | Permission::ReferenceWrite | Permission::PricesWrite => {
                kind == OrgKind::Platform
            }
            Permission::LotsWrite | Permission::LoansWrite | Permission::SalesWrite => {
                kind == OrgKind::Supplier
            }
            Permission::PaymentsWrite => matches!(kind, OrgKind::Buyer | OrgKind::Platform),
            Permission::CreditWrite => kind == OrgKind::Lender,
            Permission::ScansWrite => kind == OrgKind::WarehouseOperator,
            Permission::InspectionsWrite => {
                matches!(kind, OrgKind::WarehouseOperator | OrgKind::Inspector)
            }
            Permission::UsersWrite | Permission::AuditRead => true,
        }
    }

    /// Everything an owner of `kind` holds.
    pub fn all_for(kind: OrgKind) -> Vec<Permission> {
        Self::ALL
            .iter()
            .copied()
            .filter(|p| p.allowed_for(kind))
            .collect()
    }
}

/// The authenticated caller, put in the request by the access middleware.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub kind: OrgKind,
    pub role: Role,
    pub permissions: Vec<Permission>,
    /// The request this caller is making, for the audit trail.
    pub request_id: Option<String>,
}

impl Principal {
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }

    pub fn is_platform(&self) -> bool {
        self.kind == OrgKind::Platform
    }

    /// Platform users with `audit:read` see every org's trail; everyone else sees their own.
    pub fn sees_all_audit(&self) -> bool {
        self.is_platform() && (self.is_owner() || self.has(Permission::AuditRead))
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Principal>().cloned().ok_or_else(|| {
            ApiError::unauthorized("unauthenticated", "a bearer access token is required")
        }))
    }
}
