use brain_core::{ErrorCode, ServiceError, Violation};

#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] brain_store::StoreError),
    #[error(transparent)]
    Bus(#[from] brain_bus::BusError),
}

impl ServiceError for EvaluationError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::Store(e) => e.code(),
            Self::Bus(e) => e.code(),
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::InvalidArgument { field, reason } => {
                vec![Violation { field: Some((*field).to_owned()), rule: "format".into(), reason: reason.clone(), ..Violation::default() }]
            }
            _ => Vec::new(),
        }
    }
}
