//! The runtime of a brain process: which services run (targets), the backends they need,
//! the HTTP and gRPC listeners, health and readiness, OpenAPI, and graceful shutdown.
//!
//! Services are plain library crates that hand the runtime a [`ServiceSpec`]; the runtime
//! starts only the backends the selected targets need (an explicit dependency map, as in
//! Loki), then the services, then the listeners, and stops in reverse.

pub mod audit;
mod auth;
mod context;
mod error;
mod grpc;
mod http;
mod metrics;
mod peers;
mod process;
mod service;
pub mod targets;
mod tls;
mod x509;

pub use audit::{AuditError, Auditor};
pub use context::{ServiceContext, Topics};
pub use peers::{PeerChannel, Peers};
pub use error::RuntimeError;
pub use process::{Process, ProcessOptions, RunningProcess};
pub use service::{Backend, Service, ServiceSpec};
pub use tls::{ServiceTls, TlsConnector};
