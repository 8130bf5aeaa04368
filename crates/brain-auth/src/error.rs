//! The one error type of the crate. Messages are precise but never contain a secret
//! (password, token, key, code): they end up in responses and logs.

use crate::password::PasswordViolation;
use crate::roles::Role;
use brain_core::{ErrorCode, ServiceError, Violation};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credential: send `authorization: Bearer <token>` or an `x-api-key` header")]
    MissingCredential,

    #[error("invalid credential: {reason}")]
    InvalidCredential { reason: String },

    /// `what` names the credential: "access token", "API key", "session", …
    #[error("{what} has expired")]
    Expired { what: &'static str },

    #[error("{what} has been revoked")]
    Revoked { what: &'static str },

    #[error("account locked after repeated failed sign-ins; try again after {until}")]
    Locked { until: DateTime<Utc> },

    #[error("permission denied: {reason}")]
    PermissionDenied { reason: String },

    #[error("password does not meet the policy: {}", describe(violations))]
    WeakPassword { violations: Vec<PasswordViolation> },

    #[error("roles {first} and {second} are separated duties and cannot be held by one user")]
    RoleConflict { first: Role, second: Role },

    /// A request that is malformed, whoever sends it (an unknown role, a missing field).
    #[error("{reason}")]
    InvalidInput { reason: String },

    #[error("invalid tenant id {id:?}: {reason}")]
    InvalidTenantId { id: String, reason: String },

    #[error("signing key {path}: {reason}")]
    Key { path: String, reason: String },

    #[error("identity provider unavailable: {reason}")]
    ProviderUnavailable { reason: String },

    #[error("internal authentication error: {reason}")]
    Internal { reason: String },
}

impl AuthError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidCredential {
            reason: reason.into(),
        }
    }

    pub fn bad_input(reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            reason: reason.into(),
        }
    }

    pub fn denied(reason: impl Into<String>) -> Self {
        Self::PermissionDenied {
            reason: reason.into(),
        }
    }

    pub fn internal(reason: impl Into<String>) -> Self {
        Self::Internal {
            reason: reason.into(),
        }
    }
}

fn describe(violations: &[PasswordViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            // A locked account has no accepted identity either: same answer as a failed sign-in.
            Self::MissingCredential
            | Self::InvalidCredential { .. }
            | Self::Expired { .. }
            | Self::Revoked { .. }
            | Self::Locked { .. } => ErrorCode::Unauthenticated,
            Self::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Self::WeakPassword { .. }
            | Self::RoleConflict { .. }
            | Self::InvalidInput { .. }
            | Self::InvalidTenantId { .. } => ErrorCode::InvalidArgument,
            Self::ProviderUnavailable { .. } => ErrorCode::Unavailable,
            Self::Key { .. } | Self::Internal { .. } => ErrorCode::Internal,
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::WeakPassword { violations } => violations
                .iter()
                .map(|v| Violation {
                    field: Some("password".into()),
                    rule: v.rule().into(),
                    reason: v.to_string(),
                    ..Violation::default()
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_right_transport_status() {
        assert_eq!(
            AuthError::MissingCredential.code().http_status(),
            http::StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            AuthError::Expired { what: "API key" }.code(),
            ErrorCode::Unauthenticated
        );
        assert_eq!(
            AuthError::denied("x").code().grpc_code(),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            AuthError::RoleConflict {
                first: Role::SystemAdmin,
                second: Role::Auditor
            }
            .code(),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            AuthError::ProviderUnavailable { reason: "x".into() }.code(),
            ErrorCode::Unavailable
        );
    }

    #[test]
    fn weak_password_lists_each_violation() {
        let error = AuthError::WeakPassword {
            violations: vec![
                PasswordViolation::TooShort { min: 10, actual: 4 },
                PasswordViolation::ContainsUserName,
            ],
        };
        let violations = error.violations();
        assert_eq!(violations.len(), 2);
        assert_eq!(violations[0].rule, "min_length");
        assert_eq!(violations[1].field.as_deref(), Some("password"));
        assert!(
            error.to_string().contains("at least 10 characters"),
            "{error}"
        );
    }
}
