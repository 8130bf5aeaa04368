/// Errors of the event bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("unsupported bus `{url}`: use `embedded` or `kafka://host:port[,host:port…]`")]
    UnsupportedUrl { url: String },
    #[error("embedded log I/O at {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("embedded log at {path} is in use by another process")]
    Locked { path: String },
    #[error("corrupt embedded log at {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("invalid topic name `{topic}`: {reason}")]
    InvalidTopic { topic: String, reason: String },
    #[error("partition {partition} does not exist in topic `{topic}`")]
    NoSuchPartition { topic: String, partition: u32 },
    #[error("partition {partition} of `{topic}` is no longer assigned to this member; its events will be redelivered")]
    NotAssigned { topic: String, partition: u32 },
    #[error("event too large: {size} bytes, limit {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("the bus is shut down")]
    Closed,
}

impl BusError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

impl brain_core::ServiceError for BusError {
    fn code(&self) -> brain_core::ErrorCode {
        use brain_core::ErrorCode;
        match self {
            Self::UnsupportedUrl { .. } | Self::InvalidTopic { .. } | Self::NoSuchPartition { .. } => ErrorCode::InvalidArgument,
            Self::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::NotAssigned { .. } => ErrorCode::FailedPrecondition,
            Self::Io { .. } | Self::Locked { .. } | Self::Corrupt { .. } => ErrorCode::Internal,
            Self::Kafka(_) | Self::Closed => ErrorCode::Unavailable,
        }
    }
}
