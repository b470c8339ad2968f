//! The access rule each route declares, and how a caller is checked against it.

use super::principal::{OrgKind, Permission, Principal, Role};
use crate::error::ApiError;

/// Who may call a route. A route with no declared `Access` cannot be registered at all
/// (see `app::routes`), and the middleware denies any matched route missing from the table.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// No token needed (login, health, docs).
    Public,
    /// Any authenticated user; the handler scopes objects to the caller.
    Authenticated,
    /// Authenticated, and at least one grant matches.
    Grants(&'static [Grant]),
}

#[derive(Clone, Copy, Debug)]
pub struct Grant {
    pub kinds: &'static [OrgKind],
    pub requires: Requirement,
}

#[derive(Clone, Copy, Debug)]
pub enum Requirement {
    Anyone,
    Owner,
    Permission(Permission),
    OwnerOr(Permission),
}

impl Requirement {
    fn satisfied_by(self, principal: &Principal) -> bool {
        match self {
            Requirement::Anyone => true,
            Requirement::Owner => principal.role == Role::Owner,
            Requirement::Permission(p) => principal.has(p),
            Requirement::OwnerOr(p) => principal.role == Role::Owner || principal.has(p),
        }
    }

    fn describe(self) -> String {
        match self {
            Requirement::Anyone => "any user".into(),
            Requirement::Owner => "the organisation's owner".into(),
            Requirement::Permission(p) => format!("the `{}` permission", p.as_str()),
            Requirement::OwnerOr(p) => format!("the owner or the `{}` permission", p.as_str()),
        }
    }
}

impl Access {
    pub fn is_public(&self) -> bool {
        matches!(self, Access::Public)
    }

    /// Answers 403 naming what is missing when no grant matches the caller.
    pub fn check(&self, principal: &Principal) -> Result<(), ApiError> {
        let grants = match self {
            Access::Public | Access::Authenticated => return Ok(()),
            Access::Grants(grants) => grants,
        };
        let for_kind: Vec<&Grant> = grants
            .iter()
            .filter(|g| g.kinds.contains(&principal.kind))
            .collect();
        if for_kind.is_empty() {
            return Err(ApiError::forbidden(format!(
                "users of a {} organisation may not call this function",
                principal.kind.as_str()
            ))
            .with("org_kind", principal.kind.as_str()));
        }
        if for_kind.iter().any(|g| g.requires.satisfied_by(principal)) {
            return Ok(());
        }
        let needed: Vec<String> = for_kind.iter().map(|g| g.requires.describe()).collect();
        Err(
            ApiError::forbidden(format!("this function needs {}", needed.join(", or ")))
                .with("role", principal.role.as_str()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn principal(kind: OrgKind, role: Role, permissions: &[Permission]) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            org_id: Uuid::new_v4(),
            kind,
            role,
            permissions: permissions.to_vec(),
            request_id: None,
        }
    }

    const ADMIN_ONLY: Access = Access::Grants(&[Grant {
        kinds: &[OrgKind::Platform],
        requires: Requirement::Permission(Permission::OrgsWrite),
    }]);

    #[test]
    fn a_grant_needs_both_the_kind_and_the_requirement() {
        let admin = principal(OrgKind::Platform, Role::Owner, &[Permission::OrgsWrite]);
        assert!(ADMIN_ONLY.check(&admin).is_ok());
        let platform_staff = principal(OrgKind::Platform, Role::Staff, &[]);
        let refused = ADMIN_ONLY.check(&platform_staff).unwrap_err();
        assert_eq!(refused.status.as_u16(), 403);
        assert!(refused.message.contains("orgs:write"));
        let lender = principal(OrgKind::Lender, Role::Owner, &[Permission::OrgsWrite]);
        assert_eq!(ADMIN_ONLY.check(&lender).unwrap_err().status.as_u16(), 403);
    }

    #[test]
    fn owner_or_permission_accepts_either() {
        let access = Access::Grants(&[Grant {
            kinds: OrgKind::ALL,
            requires: Requirement::OwnerOr(Permission::AuditRead),
        }]);
        assert!(
            access
                .check(&principal(OrgKind::Buyer, Role::Owner, &[]))
                .is_ok()
        );
        assert!(
            access
                .check(&principal(
                    OrgKind::Buyer,
                    Role::Staff,
                    &[Permission::AuditRead]
                ))
                .is_ok()
        );
        assert!(
            access
                .check(&principal(OrgKind::Buyer, Role::Staff, &[]))
                .is_err()
        );
    }
}
