use crate::domain::GrantError;
use brain_core::{ErrorCode, ServiceError, Violation};

/// Errors of the trust service.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("stored {what} {id} is unreadable: {reason}")]
    Corrupt { what: &'static str, id: String, reason: String },
    #[error(transparent)]
    Auth(#[from] brain_auth::AuthError),
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    #[error("{service} is unavailable: {reason}")]
    Upstream { service: &'static str, reason: String },
    #[error(transparent)]
    Ledger(#[from] brain_ledger::LedgerError),
}

impl ServiceError for TrustError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Grant(e) => e.code(),
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Corrupt { .. } => ErrorCode::Internal,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Upstream { .. } => ErrorCode::Unavailable,
            Self::Ledger(e) => e.code(),
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::Grant(e) => e.violations(),
            Self::Auth(e) => e.violations(),
            _ => Vec::new(),
        }
    }
}
