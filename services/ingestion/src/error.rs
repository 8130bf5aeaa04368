use brain_core::{ErrorCode, ServiceError, Violation};

/// Why a whole request was refused (per-record problems are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum IngestionError {
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName { what: &'static str, value: String, reason: &'static str },
    #[error("body is not a JSON array of records: {reason}")]
    MalformedBody { reason: String },
    #[error("batch has {count} records; the limit is {limit}")]
    BatchTooLarge { count: usize, limit: u32 },
    #[error("body is {size} bytes; the limit is {limit}")]
    BodyTooLarge { size: usize, limit: u64 },
    #[error("dataset {tenant}/{dataset} is not in the catalog; register it with governance first")]
    UnknownDataset { tenant: String, dataset: String },
    #[error("publishing to the bus failed: {0}")]
    Bus(#[from] brain_bus::BusError),
}

impl ServiceError for IngestionError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidName { .. } | Self::MalformedBody { .. } => ErrorCode::InvalidArgument,
            Self::BatchTooLarge { .. } | Self::BodyTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::UnknownDataset { .. } => ErrorCode::NotFound,
            Self::Bus(e) => e.code(),
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::InvalidName { what, reason, .. } => {
                vec![Violation { field: Some((*what).to_owned()), rule: "name".into(), reason: (*reason).to_owned(), ..Violation::default() }]
            }
            _ => Vec::new(),
        }
    }
}
