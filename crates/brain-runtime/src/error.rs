/// Errors of starting and running a brain process.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("unknown target `{name}`; known targets: {known}")]
    UnknownTarget { name: String, known: String },
    #[error("no target selected")]
    NoTarget,
    #[error("cannot bind {what} listener on {addr}: {source}")]
    Bind { what: &'static str, addr: String, source: std::io::Error },
    #[error("{backend} backend: {reason}")]
    Backend { backend: &'static str, reason: String },
    #[error("service `{service}` used the {backend} backend without declaring it in its spec")]
    UndeclaredBackend { service: &'static str, backend: &'static str },
    #[error("service `{service}` failed: {reason}")]
    Service { service: &'static str, reason: String },
    #[error("telemetry: {0}")]
    Telemetry(#[from] brain_telemetry::TelemetryError),
    #[error("service TLS file {file}: {reason}")]
    Tls { file: String, reason: String },
    #[error("{what} server failed: {reason}")]
    Server { what: &'static str, reason: String },
}

impl brain_core::ServiceError for RuntimeError {
    fn code(&self) -> brain_core::ErrorCode {
        match self {
            Self::UnknownTarget { .. } | Self::NoTarget => brain_core::ErrorCode::InvalidArgument,
            Self::Backend { .. } => brain_core::ErrorCode::Unavailable,
            _ => brain_core::ErrorCode::Internal,
        }
    }
}
