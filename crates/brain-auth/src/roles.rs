//! Roles and tenant kinds (architecture §6). The system, security and audit administrators
//! are the three separated administrators MLPS level 3 requires: nobody holds two of them.

use crate::error::AuthError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Operates the platform: configuration, tenants, users — not security policy, not audit.
    SystemAdmin,
    /// Security policy: roles, keys, lockouts.
    SecurityAdmin,
    /// Reads the audit ledger; changes nothing.
    Auditor,
    GovAdmin,
    GovAnalyst,
    EnterpriseAdmin,
    EnterpriseUser,
    Provider,
    Operator,
}

/// The separated administrator roles of MLPS level 3.
pub const SEPARATED_ADMIN_ROLES: [Role; 3] =
    [Role::SystemAdmin, Role::SecurityAdmin, Role::Auditor];

impl Role {
    pub const ALL: [Role; 9] = [
        Role::SystemAdmin,
        Role::SecurityAdmin,
        Role::Auditor,
        Role::GovAdmin,
        Role::GovAnalyst,
        Role::EnterpriseAdmin,
        Role::EnterpriseUser,
        Role::Provider,
        Role::Operator,
    ];

    /// The serde name, e.g. `system-admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SystemAdmin => "system-admin",
            Self::SecurityAdmin => "security-admin",
            Self::Auditor => "auditor",
            Self::GovAdmin => "gov-admin",
            Self::GovAnalyst => "gov-analyst",
            Self::EnterpriseAdmin => "enterprise-admin",
            Self::EnterpriseUser => "enterprise-user",
            Self::Provider => "provider",
            Self::Operator => "operator",
        }
    }

    pub fn is_separated_admin(self) -> bool {
        SEPARATED_ADMIN_ROLES.contains(&self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AuthError::bad_input(format!("unknown role {s:?}")))
    }
}

/// Refuses a set of roles that gives one user two of the separated administrator duties.
pub fn check_role_separation(roles: &[Role]) -> Result<(), AuthError> {
    let mut held = SEPARATED_ADMIN_ROLES
        .into_iter()
        .filter(|admin| roles.contains(admin));
    match (held.next(), held.next()) {
        (Some(first), Some(second)) => Err(AuthError::RoleConflict { first, second }),
        _ => Ok(()),
    }
}

/// What kind of organisation a tenant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantKind {
    /// The operator of the brain itself.
    Platform,
    Government,
    /// Identified by its unified social credit code.
    Enterprise,
    ServiceProvider,
    Bank,
}

impl TenantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Government => "government",
            Self::Enterprise => "enterprise",
            Self::ServiceProvider => "service-provider",
            Self::Bank => "bank",
        }
    }

    /// Checks a tenant id for this kind: an enterprise's id is its unified social credit code;
    /// other kinds need a non-empty id of letters, digits, `-`, `_` or `.` (at most 64).
    pub fn validate_id(self, id: &str) -> Result<(), AuthError> {
        let refuse = |reason: String| AuthError::InvalidTenantId {
            id: id.chars().take(64).collect(),
            reason,
        };
        match self {
            Self::Enterprise => crate::uscc::validate(id).map_err(|e| refuse(e.to_string())),
            _ => {
                if id.is_empty() || id.len() > 64 {
                    return Err(refuse("must be 1 to 64 characters".into()));
                }
                if let Some(c) = id
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                {
                    return Err(refuse(format!("character {c:?} is not allowed")));
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for TenantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_kebab_case_and_match_as_str() {
        for role in Role::ALL {
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::String(role.as_str().into())
            );
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert_eq!(
            serde_json::to_value(TenantKind::ServiceProvider).unwrap(),
            "service-provider"
        );
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn one_user_holds_at_most_one_separated_admin_role() {
        assert!(check_role_separation(&[]).is_ok());
        assert!(
            check_role_separation(&[Role::SystemAdmin, Role::Operator, Role::GovAdmin]).is_ok()
        );
        assert!(check_role_separation(&[Role::Auditor]).is_ok());
        for (a, b) in [
            (Role::SystemAdmin, Role::SecurityAdmin),
            (Role::SystemAdmin, Role::Auditor),
            (Role::SecurityAdmin, Role::Auditor),
        ] {
            match check_role_separation(&[Role::EnterpriseUser, b, a]) {
                Err(AuthError::RoleConflict { first, second }) => {
                    assert_eq!((first, second), (a, b))
                }
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
    }

    #[test]
    fn tenant_ids_are_checked_by_kind() {
        assert!(
            TenantKind::Enterprise
                .validate_id("91350100M000100Y43")
                .is_ok()
        );
        let error = TenantKind::Enterprise
            .validate_id("91350100M000100Y44")
            .unwrap_err();
        assert!(error.to_string().contains("check character"), "{error}");
        assert!(TenantKind::Government.validate_id("zj-jxt").is_ok());
        assert!(TenantKind::Bank.validate_id("").is_err());
        assert!(TenantKind::Platform.validate_id("a b").is_err());
    }
}
