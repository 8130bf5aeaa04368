//! Who is calling: the identity every handler and every store query is checked against.

use crate::error::AuthError;
use crate::roles::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The tenant the caller acts for; store queries are scoped to it.
    pub tenant: String,
    pub subject: Subject,
    pub roles: BTreeSet<Role>,
    /// Only API keys carry a scope; `None` means no restriction beyond roles and tenant.
    pub scope: Option<KeyScope>,
    pub method: AuthMethod,
    pub session_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Subject {
    User {
        id: String,
        name: String,
    },
    ApiKey {
        id: String,
        name: String,
    },
    /// Another service of the platform (mTLS or an in-process call).
    Service {
        name: String,
    },
}

impl Subject {
    /// A stable actor name for the audit ledger: `user:<id>`, `api-key:<id>`, `service:<name>`.
    pub fn actor(&self) -> String {
        match self {
            Self::User { id, .. } => format!("user:{id}"),
            Self::ApiKey { id, .. } => format!("api-key:{id}"),
            Self::Service { name } => format!("service:{name}"),
        }
    }
}

/// How the caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    Password,
    /// Password and a TOTP code.
    PasswordOtp,
    Oidc,
    ApiKey,
    Mtls,
}

impl AuthMethod {
    /// RFC 8176 authentication method references, as carried in the `amr` claim.
    pub fn amr(self) -> Vec<String> {
        let values: &[&str] = match self {
            Self::Password => &["pwd"],
            Self::PasswordOtp => &["pwd", "otp"],
            Self::Oidc => &["oidc"],
            Self::ApiKey => &["apikey"],
            Self::Mtls => &["mtls"],
        };
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    pub fn from_amr(amr: &[String]) -> Option<Self> {
        let has = |v: &str| amr.iter().any(|a| a == v);
        if has("oidc") {
            Some(Self::Oidc)
        } else if has("pwd") && has("otp") {
            Some(Self::PasswordOtp)
        } else if has("pwd") {
            Some(Self::Password)
        } else {
            None
        }
    }

    /// Whether a second factor was presented.
    pub fn is_multi_factor(self) -> bool {
        matches!(self, Self::PasswordOtp)
    }
}

/// What an API key may reach. An empty list means "all".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyScope {
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub datasets: Vec<String>,
}

impl KeyScope {
    pub fn allows_service(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == service)
    }

    pub fn allows_dataset(&self, dataset: &str) -> bool {
        self.datasets.is_empty() || self.datasets.iter().any(|d| d == dataset)
    }
}

impl Principal {
    pub fn is(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(r))
    }

    pub fn same_tenant(&self, tenant: &str) -> bool {
        self.tenant == tenant
    }

    /// Administers the platform across tenants: the system or the security administrator.
    /// The auditor reads the ledger but administers nothing, so it is not one.
    pub fn is_platform_admin(&self) -> bool {
        self.is_any(&[Role::SystemAdmin, Role::SecurityAdmin])
    }

    /// Whether the scope (if any) lets this caller reach a service / a dataset.
    pub fn may_use_service(&self, service: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.allows_service(service))
    }

    pub fn may_use_dataset(&self, dataset: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.allows_dataset(dataset))
    }

    /// `PermissionDenied` unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), AuthError> {
        if self.is_any(roles) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(AuthError::denied(format!(
            "requires one of the roles {}",
            names.join(", ")
        )))
    }

    /// `PermissionDenied` unless the key scope (if any) covers `service`.
    pub fn require_service(&self, service: &str) -> Result<(), AuthError> {
        if self.may_use_service(service) {
            Ok(())
        } else {
            Err(AuthError::denied(format!(
                "API key is not scoped to service {service:?}"
            )))
        }
    }

    /// `PermissionDenied` unless the key scope (if any) covers `dataset`.
    pub fn require_dataset(&self, dataset: &str) -> Result<(), AuthError> {
        if self.may_use_dataset(dataset) {
            Ok(())
        } else {
            Err(AuthError::denied(format!(
                "API key is not scoped to dataset {dataset:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role]) -> Principal {
        Principal {
            tenant: "91350100M000100Y43".into(),
            subject: Subject::User {
                id: "u1".into(),
                name: "li.na".into(),
            },
            roles: roles.iter().copied().collect(),
            scope: None,
            method: AuthMethod::Password,
            session_id: Some("s1".into()),
        }
    }

    #[test]
    fn role_helpers() {
        let p = user(&[Role::EnterpriseAdmin, Role::EnterpriseUser]);
        assert!(p.is(Role::EnterpriseAdmin));
        assert!(!p.is(Role::GovAdmin));
        assert!(p.is_any(&[Role::GovAdmin, Role::EnterpriseUser]));
        assert!(!p.is_any(&[]));
        assert!(!p.is_platform_admin());
        assert!(user(&[Role::SecurityAdmin]).is_platform_admin());
        assert!(user(&[Role::SystemAdmin]).is_platform_admin());
        assert!(!user(&[Role::Auditor]).is_platform_admin());
        assert!(p.same_tenant("91350100M000100Y43"));
        assert!(!p.same_tenant("91110000802100433B"));
    }

    #[test]
    fn empty_scope_lists_allow_everything_and_listed_ones_only_themselves() {
        let all = KeyScope::default();
        assert!(all.allows_service("ingestion") && all.allows_dataset("orders"));
        let narrow = KeyScope {
            services: vec!["ingestion".into()],
            datasets: vec!["orders".into()],
        };
        assert!(narrow.allows_service("ingestion"));
        assert!(!narrow.allows_service("governance"));
        assert!(narrow.allows_dataset("orders"));
        assert!(!narrow.allows_dataset("orders-archive"));
        let mut p = user(&[]);
        assert!(p.may_use_service("governance"));
        p.scope = Some(narrow);
        assert!(!p.may_use_service("governance"));
        assert!(!p.may_use_dataset("payroll"));
    }

    #[test]
    fn require_helpers_deny_with_a_reason() {
        let mut p = user(&[Role::GovAnalyst]);
        assert!(p.require_any(&[Role::GovAdmin, Role::GovAnalyst]).is_ok());
        let error = p
            .require_any(&[Role::GovAdmin, Role::SystemAdmin])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "permission denied: requires one of the roles gov-admin, system-admin"
        );
        assert!(p.require_service("governance").is_ok());
        p.scope = Some(KeyScope {
            services: vec!["ingestion".into()],
            datasets: vec!["orders".into()],
        });
        assert!(p.require_service("ingestion").is_ok());
        assert!(matches!(
            p.require_service("governance"),
            Err(AuthError::PermissionDenied { .. })
        ));
        assert!(p.require_dataset("orders").is_ok());
        assert!(
            p.require_dataset("payroll")
                .unwrap_err()
                .to_string()
                .contains("\"payroll\"")
        );
    }

    #[test]
    fn amr_round_trips() {
        for method in [
            AuthMethod::Password,
            AuthMethod::PasswordOtp,
            AuthMethod::Oidc,
        ] {
            assert_eq!(AuthMethod::from_amr(&method.amr()), Some(method));
        }
        assert_eq!(AuthMethod::PasswordOtp.amr(), vec!["pwd", "otp"]);
        assert_eq!(AuthMethod::from_amr(&[]), None);
        assert!(AuthMethod::PasswordOtp.is_multi_factor());
    }

    #[test]
    fn subject_serializes_with_a_kind_and_names_an_actor() {
        let json = serde_json::to_value(Subject::ApiKey {
            id: "k1".into(),
            name: "erp".into(),
        })
        .unwrap();
        assert_eq!(json["kind"], "api-key");
        assert_eq!(
            Subject::Service {
                name: "governance".into()
            }
            .actor(),
            "service:governance"
        );
        assert_eq!(user(&[]).subject.actor(), "user:u1");
    }
}
