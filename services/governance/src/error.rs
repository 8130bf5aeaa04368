use brain_core::{ErrorCode, ServiceError, Violation};

/// Errors of the governance service.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error("{what} is invalid")]
    Invalid { what: String, violations: Vec<Violation> },
    #[error("dataset {tenant}/{dataset} is not in the catalog")]
    UnknownDataset { tenant: String, dataset: String },
    #[error("dataset {tenant}/{dataset} already exists")]
    DatasetExists { tenant: String, dataset: String },
    #[error("no open rejection of record {record_id} in {dataset}")]
    NoRejection { dataset: String, record_id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(String),
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    #[error(transparent)]
    Bus(#[from] brain_bus::BusError),
    #[error(transparent)]
    Audit(#[from] brain_runtime::AuditError),
}

impl GovernanceError {
    pub(crate) fn invalid(what: impl Into<String>, violations: Vec<Violation>) -> Self {
        Self::Invalid { what: what.into(), violations }
    }
}

impl ServiceError for GovernanceError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid { .. } => ErrorCode::InvalidArgument,
            Self::UnknownDataset { .. } | Self::NoRejection { .. } => ErrorCode::NotFound,
            Self::DatasetExists { .. } => ErrorCode::AlreadyExists,
            Self::Conflict(_) => ErrorCode::FailedPrecondition,
            Self::Corrupt(_) | Self::Database(_) => ErrorCode::Internal,
            Self::Store(e) => e.code(),
            Self::Bus(e) => e.code(),
            Self::Audit(e) => e.code(),
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::Invalid { violations, .. } => violations.clone(),
            _ => Vec::new(),
        }
    }
}
