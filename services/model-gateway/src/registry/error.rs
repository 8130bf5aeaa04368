use super::domain::StageError;
use brain_core::{ErrorCode, ServiceError, Violation};

/// Errors of the model registry; one code each for gRPC and problem+json.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{what} is invalid")]
    Invalid { what: &'static str, violations: Vec<Violation> },
    #[error("model {0} is not in the registry")]
    UnknownModel(String),
    #[error("model {model} has no version {version}")]
    UnknownVersion { model: String, version: String },
    #[error("model {0} is already in the registry")]
    ModelExists(String),
    #[error("model {model} already has a version {version}")]
    VersionExists { model: String, version: String },
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A version that may not serve from its endpoints (promotion to production).
    #[error("{reason}")]
    Unservable { reason: String, violations: Vec<Violation> },
    #[error(transparent)]
    Auth(#[from] brain_auth::AuthError),
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    #[error(transparent)]
    Audit(#[from] brain_runtime::AuditError),
    #[error("stored model {model} is unreadable: {reason}")]
    Corrupt { model: String, reason: String },
}

impl RegistryError {
    pub(crate) fn invalid(what: &'static str, violations: Vec<Violation>) -> Self {
        Self::Invalid { what, violations }
    }

    /// `Err(Invalid)` when there is any violation.
    pub(crate) fn check(what: &'static str, violations: Vec<Violation>) -> Result<(), Self> {
        if violations.is_empty() { Ok(()) } else { Err(Self::invalid(what, violations)) }
    }
}

impl ServiceError for RegistryError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { .. } => ErrorCode::InvalidArgument,
            Self::UnknownModel(_) | Self::UnknownVersion { .. } => ErrorCode::NotFound,
            Self::ModelExists(_) | Self::VersionExists { .. } => ErrorCode::AlreadyExists,
            Self::Stage(_) | Self::Unservable { .. } => ErrorCode::FailedPrecondition,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Audit(e) => e.code(),
            Self::Corrupt { .. } => ErrorCode::Internal,
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::Invalid { violations, .. } | Self::Unservable { violations, .. } => violations.clone(),
            Self::Auth(e) => e.violations(),
            _ => Vec::new(),
        }
    }
}
