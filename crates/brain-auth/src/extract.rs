//! Reading the caller in handlers, and the tenant check every tenant-owned route makes.
//!
//! The [`AuthLayer`](crate::AuthLayer) puts the [`Principal`] in the request's extensions; a
//! handler that finds none was reached without the layer, which is refused as
//! unauthenticated rather than served.

use crate::error::AuthError;
use crate::principal::{Principal, Subject};
use crate::roles::Role;
use brain_core::Problem;

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| Problem::from(&AuthError::MissingCredential))
    }
}

/// The caller of a gRPC request.
pub fn grpc_principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| tonic::Status::from(Problem::from(&AuthError::MissingCredential)))
}

/// The caller of a gRPC request, refused unless it acts for `tenant` (see
/// [`Principal::require_tenant`]).
pub fn grpc_tenant<T>(request: &tonic::Request<T>, tenant: &str) -> Result<Principal, tonic::Status> {
    let principal = grpc_principal(request)?;
    principal.require_tenant(tenant).map_err(|e| tonic::Status::from(Problem::from(&e)))?;
    Ok(principal)
}

impl Principal {
    /// The principal of another service of the platform calling in-process or with a
    /// service token: it acts for the platform tenant and holds no role.
    pub fn service(name: &str) -> Self {
        Self {
            tenant: PLATFORM_TENANT.to_owned(),
            subject: Subject::Service { name: name.to_owned() },
            roles: Default::default(),
            scope: None,
            method: crate::principal::AuthMethod::Mtls,
            session_id: None,
        }
    }

    pub fn is_service(&self) -> bool {
        matches!(self.subject, Subject::Service { .. })
    }

    /// `PermissionDenied` unless the caller acts for `tenant` or is another service of the
    /// platform. The answer is the same whether or not anything of `tenant` exists, so
    /// refusals do not reveal other tenants' resources.
    pub fn require_tenant(&self, tenant: &str) -> Result<(), AuthError> {
        if self.tenant == tenant || self.is_service() {
            return Ok(());
        }
        Err(AuthError::denied(format!("not permitted for tenant {tenant:?}")))
    }

    /// The tenant check, then the API key's dataset scope (if any).
    pub fn require_dataset_of(&self, tenant: &str, dataset: &str) -> Result<(), AuthError> {
        self.require_tenant(tenant)?;
        self.require_dataset(dataset)
    }

    /// `PermissionDenied` for separated administrators (system, security, audit) who did not
    /// sign in with a second factor: MLPS level 3 wants two factors for administration.
    pub fn require_second_factor_for_admins(&self) -> Result<(), AuthError> {
        let admin = self.roles.iter().any(|r| r.is_separated_admin());
        if admin && !self.method.is_multi_factor() {
            return Err(AuthError::denied("administrator operations need a sign-in with a TOTP code; enrol TOTP and sign in again"));
        }
        Ok(())
    }

    /// `PermissionDenied` unless the caller holds one of `roles` (and, for administrators,
    /// signed in with two factors).
    pub fn require_admin(&self, roles: &[Role]) -> Result<(), AuthError> {
        self.require_any(roles)?;
        self.require_second_factor_for_admins()
    }
}

/// The tenant of the brain's own operator: the separated administrators belong to it.
pub const PLATFORM_TENANT: &str = "platform";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::AuthMethod;

    fn user(tenant: &str, roles: &[Role], method: AuthMethod) -> Principal {
        Principal {
            tenant: tenant.into(),
            subject: Subject::User { id: "u1".into(), name: "U".into() },
            roles: roles.iter().copied().collect(),
            scope: None,
            method,
            session_id: None,
        }
    }

    #[test]
    fn tenant_check_allows_own_tenant_and_services_only() {
        let a = user("tenant-a", &[Role::EnterpriseAdmin], AuthMethod::Password);
        assert!(a.require_tenant("tenant-a").is_ok());
        let refused = a.require_tenant("tenant-b").unwrap_err();
        assert!(refused.to_string().contains("not permitted"), "{refused}");
        let admin = user(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::PasswordOtp);
        assert!(admin.require_tenant("tenant-b").is_err(), "administrators do not read tenants' data");
        assert!(Principal::service("governance").require_tenant("tenant-b").is_ok());
    }

    #[test]
    fn administrators_need_a_second_factor() {
        let one_factor = user(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::Password);
        assert!(one_factor.require_admin(&[Role::SystemAdmin]).is_err());
        let two = user(PLATFORM_TENANT, &[Role::SystemAdmin], AuthMethod::PasswordOtp);
        assert!(two.require_admin(&[Role::SystemAdmin]).is_ok());
        assert!(two.require_admin(&[Role::SecurityAdmin]).is_err());
        let tenant_admin = user("t", &[Role::EnterpriseAdmin], AuthMethod::Password);
        assert!(tenant_admin.require_admin(&[Role::EnterpriseAdmin]).is_ok(), "tenant administrators are not separated administrators");
    }
}
