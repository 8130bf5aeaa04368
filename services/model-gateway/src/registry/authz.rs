//! Who may do what in the registry.
//!
//! - Reading: every authenticated caller (an API key only if scoped to `model-gateway`).
//! - Registering: operators and providers (the model belongs to their tenant), and the system
//!   administrator signed in with a second factor (for the platform tenant).
//! - Changing a model (versions, stages): operators and providers of its owner tenant, the
//!   platform's operators and the system administrator (second factor).
//! - Serving claims the platform must vouch for: promoting to production a version whose
//!   endpoints claim to be on premise or in the province (the guardrail sends graded data there
//!   on that word) or name a key variable of the gateway (the process environment is the
//!   platform's) takes the platform's operators or the system administrator.
//! - Endpoint addresses and key names are shown to the owner tenant and the platform only.

use brain_auth::{AuthError, PLATFORM_TENANT, Principal, Role};

/// The scope name an API key needs for the registry.
pub const SERVICE: &str = "model-gateway";

const EDITORS: [Role; 3] = [Role::Operator, Role::Provider, Role::SystemAdmin];

pub fn may_read(caller: &Principal) -> Result<(), AuthError> {
    caller.require_service(SERVICE)
}

pub fn may_register(caller: &Principal) -> Result<(), AuthError> {
    caller.require_service(SERVICE)?;
    caller.require_admin(&EDITORS)
}

/// The platform itself: its operators, and the system administrator.
pub fn is_platform(caller: &Principal) -> bool {
    caller.is(Role::SystemAdmin) || (caller.tenant == PLATFORM_TENANT && caller.is(Role::Operator))
}

/// May change the model `name` that `owner` registered.
pub fn may_change(caller: &Principal, name: &str, owner: &str) -> Result<(), AuthError> {
    may_register(caller)?;
    if caller.tenant == owner || is_platform(caller) {
        Ok(())
    } else {
        Err(AuthError::denied(format!("model {name} belongs to another tenant; only its operators and providers change it")))
    }
}

/// May vouch for on-premise and in-province locations and key names when a version goes to
/// production.
pub fn may_attest(caller: &Principal) -> bool {
    is_platform(caller)
}

/// May see the endpoint addresses and key names of a model `owner` registered.
pub fn sees_addresses(caller: &Principal, owner: &str) -> bool {
    caller.tenant == owner || caller.tenant == PLATFORM_TENANT || caller.is_service()
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_auth::{AuthMethod, KeyScope, Subject};

    fn caller(tenant: &str, roles: &[Role], method: AuthMethod) -> Principal {
        Principal {
            tenant: tenant.into(),
            subject: Subject::User { id: "u1".into(), name: "u".into() },
            roles: roles.iter().copied().collect(),
            scope: None,
            method,
            session_id: None,
        }
    }

    #[test]
    fn operators_and_providers_register_and_change_their_own_models() {
        let provider = caller("ai-vendor", &[Role::Provider], AuthMethod::Password);
        assert!(may_register(&provider).is_ok());
        assert!(may_change(&provider, "m", "ai-vendor").is_ok());
        let refused = may_change(&provider, "m", "other-vendor").unwrap_err();
        assert!(refused.to_string().contains("another tenant") && !refused.to_string().contains("other-vendor"), "{refused}");
        assert!(!may_attest(&provider));
        let user = caller("91330100MA27XKQ717", &[Role::EnterpriseAdmin], AuthMethod::Password);
        assert!(may_read(&user).is_ok());
        assert!(may_register(&user).is_err(), "enterprise users read the catalog only");
    }

    #[test]
    fn the_platform_changes_any_model_and_its_administrator_needs_two_factors() {
        let operator = caller(PLATFORM_TENANT, &[Role::Operator], AuthMethod::Password);
        assert!(may_change(&operator, "m", "ai-vendor").is_ok());
        assert!(may_attest(&operator));
        let tenant_operator = caller("ai-vendor", &[Role::Operator], AuthMethod::Password);
        assert!(may_change(&tenant_operator, "m", "other").is_err() && !may_attest(&tenant_operator));
        let admin = caller(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::Password);
        assert!(may_register(&admin).is_err(), "no second factor");
        let admin = caller(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::PasswordOtp);
        assert!(may_change(&admin, "m", "ai-vendor").is_ok() && may_attest(&admin));
        let auditor = caller(PLATFORM_TENANT, &[Role::Auditor], AuthMethod::PasswordOtp);
        assert!(may_register(&auditor).is_err() && may_read(&auditor).is_ok());
    }

    #[test]
    fn keys_need_the_gateway_in_their_scope_and_addresses_stay_with_owner_and_platform() {
        let mut key = caller("ai-vendor", &[Role::Provider], AuthMethod::ApiKey);
        key.scope = Some(KeyScope { services: vec!["ingestion".into()], datasets: vec![] });
        assert!(may_read(&key).is_err() && may_register(&key).is_err());
        key.scope = Some(KeyScope { services: vec![SERVICE.into()], datasets: vec![] });
        assert!(may_register(&key).is_ok());
        assert!(sees_addresses(&key, "ai-vendor") && !sees_addresses(&key, "other"));
        assert!(sees_addresses(&caller(PLATFORM_TENANT, &[Role::Auditor], AuthMethod::PasswordOtp), "ai-vendor"));
        assert!(sees_addresses(&Principal::service("portal-api"), "ai-vendor"));
    }
}
