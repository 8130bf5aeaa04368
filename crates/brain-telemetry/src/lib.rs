//! Telemetry of a brain process: `tracing` logs (pretty in a terminal, JSON otherwise),
//! OpenTelemetry traces and metrics exported by OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set, Prometheus exposition for `/metrics`, and W3C trace-context propagation.

mod init;
pub mod metrics;
pub mod propagation;
pub mod spans;

pub use init::{Telemetry, TelemetryError, TelemetrySettings, init};
