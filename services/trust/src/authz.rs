//! Who may administer what (pure rules; the operations call them before touching the store).
//!
//! - Tenants are created by the system administrator.
//! - Users of a tenant are created by the system administrator (any tenant; the separated
//!   administrator roles only in the platform tenant) or by the tenant's own administrator
//!   (government or enterprise administrator; business roles only).
//! - API keys are security policy: the security administrator issues them for any tenant, a
//!   tenant administrator for its own tenant with at most its own roles; keys never hold an
//!   administrator role of the platform.
//! - The auditor reads; it changes nothing.

use brain_auth::{AuthError, PLATFORM_TENANT, Principal, Role};

/// Administrators of a tenant's own accounts.
pub const TENANT_ADMINS: [Role; 2] = [Role::GovAdmin, Role::EnterpriseAdmin];

pub fn may_create_tenant(caller: &Principal) -> Result<(), AuthError> {
    caller.require_admin(&[Role::SystemAdmin])
}

/// Reading a tenant's users or keys: its administrators, or platform administrators and the auditor.
pub fn may_read_accounts(caller: &Principal, tenant: &str) -> Result<(), AuthError> {
    if caller.is_any(&[Role::SystemAdmin, Role::SecurityAdmin, Role::Auditor]) {
        return caller.require_second_factor_for_admins();
    }
    caller.require_tenant(tenant)?;
    caller.require_any(&TENANT_ADMINS)
}

pub fn may_create_user(caller: &Principal, tenant: &str, roles: &[Role]) -> Result<(), AuthError> {
    brain_auth::check_role_separation(roles)?;
    let separated = roles.iter().any(|r| r.is_separated_admin());
    if separated && tenant != PLATFORM_TENANT {
        return Err(AuthError::denied("system, security and audit administrators belong to the platform tenant"));
    }
    if caller.is(Role::SystemAdmin) {
        return caller.require_second_factor_for_admins();
    }
    caller.require_tenant(tenant)?;
    caller.require_any(&TENANT_ADMINS)?;
    if separated {
        return Err(AuthError::denied("only the system administrator creates administrators"));
    }
    Ok(())
}

pub fn may_issue_api_key(caller: &Principal, tenant: &str, roles: &[Role]) -> Result<(), AuthError> {
    if roles.is_empty() {
        return Err(AuthError::denied("an API key needs at least one role"));
    }
    if let Some(admin) = roles.iter().find(|r| r.is_separated_admin()) {
        return Err(AuthError::denied(format!("API keys cannot hold the {admin} role: administrators sign in in person")));
    }
    if caller.is(Role::SecurityAdmin) {
        return caller.require_second_factor_for_admins();
    }
    caller.require_tenant(tenant)?;
    caller.require_any(&TENANT_ADMINS)?;
    if let Some(extra) = roles.iter().find(|r| !caller.is(**r)) {
        return Err(AuthError::denied(format!("a key cannot hold the {extra} role its issuer does not hold")));
    }
    Ok(())
}

pub fn may_revoke_api_key(caller: &Principal, tenant: &str) -> Result<(), AuthError> {
    if caller.is(Role::SecurityAdmin) {
        return caller.require_second_factor_for_admins();
    }
    caller.require_tenant(tenant)?;
    caller.require_any(&TENANT_ADMINS)
}

/// Registering and withdrawing a tenant's data products, and deciding on access to them.
pub fn may_manage_products(caller: &Principal) -> Result<(), AuthError> {
    caller.require_any(&[Role::GovAdmin, Role::EnterpriseAdmin, Role::Provider])
}

/// Asking for and reading other tenants' data: business roles, not platform administrators.
pub fn may_consume(caller: &Principal) -> Result<(), AuthError> {
    if caller.roles.iter().any(|r| r.is_separated_admin()) {
        return Err(AuthError::denied("platform administrators do not read tenants' data"));
    }
    caller.require_any(&[Role::GovAdmin, Role::GovAnalyst, Role::EnterpriseAdmin, Role::EnterpriseUser, Role::Provider])
}

/// Reading the audit ledger: the auditor and the security administrator.
pub fn may_read_ledger(caller: &Principal) -> Result<(), AuthError> {
    caller.require_admin(&[Role::Auditor, Role::SecurityAdmin])
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_auth::{AuthMethod, Subject};

    fn who(tenant: &str, roles: &[Role], method: AuthMethod) -> Principal {
        Principal { tenant: tenant.into(), subject: Subject::User { id: "u".into(), name: "U".into() }, roles: roles.iter().copied().collect(), scope: None, method, session_id: None }
    }

    const ENTERPRISE: &str = "91330100MA27XKQ717";

    #[test]
    fn users_are_created_by_the_system_admin_or_the_tenant_admin() {
        let sysadmin = who(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::PasswordOtp);
        assert!(may_create_user(&sysadmin, ENTERPRISE, &[Role::EnterpriseAdmin]).is_ok());
        assert!(may_create_user(&sysadmin, PLATFORM_TENANT, &[Role::Auditor]).is_ok());
        assert!(may_create_user(&sysadmin, ENTERPRISE, &[Role::Auditor]).is_err(), "administrators live in the platform tenant");
        let one_factor = who(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::Password);
        assert!(may_create_user(&one_factor, ENTERPRISE, &[Role::EnterpriseUser]).is_err());
        let tenant_admin = who(ENTERPRISE, &[Role::EnterpriseAdmin], AuthMethod::Password);
        assert!(may_create_user(&tenant_admin, ENTERPRISE, &[Role::EnterpriseUser]).is_ok());
        assert!(may_create_user(&tenant_admin, "other-tenant", &[Role::EnterpriseUser]).is_err());
        let user = who(ENTERPRISE, &[Role::EnterpriseUser], AuthMethod::Password);
        assert!(may_create_user(&user, ENTERPRISE, &[Role::EnterpriseUser]).is_err());
    }

    #[test]
    fn keys_never_exceed_their_issuer_and_never_administer() {
        let tenant_admin = who(ENTERPRISE, &[Role::EnterpriseAdmin], AuthMethod::Password);
        assert!(may_issue_api_key(&tenant_admin, ENTERPRISE, &[Role::EnterpriseAdmin]).is_ok());
        assert!(may_issue_api_key(&tenant_admin, ENTERPRISE, &[Role::GovAnalyst]).is_err());
        assert!(may_issue_api_key(&tenant_admin, ENTERPRISE, &[]).is_err());
        let security = who(PLATFORM_TENANT, &[Role::SecurityAdmin], AuthMethod::PasswordOtp);
        assert!(may_issue_api_key(&security, ENTERPRISE, &[Role::GovAnalyst]).is_ok());
        assert!(may_issue_api_key(&security, ENTERPRISE, &[Role::SystemAdmin]).is_err());
        let auditor = who(PLATFORM_TENANT, &[Role::Auditor], AuthMethod::PasswordOtp);
        assert!(may_issue_api_key(&auditor, ENTERPRISE, &[Role::EnterpriseUser]).is_err());
        assert!(may_read_ledger(&auditor).is_ok());
        assert!(may_consume(&auditor).is_err());
    }
}
