//! Vocabulary shared by every crate of Industry Brain: the error codes and their one mapping
//! to gRPC status and RFC 9457 problem+json.

pub mod calendar;
pub mod error;
pub mod load_locks;

pub use error::{ErrorCode, Problem, ServiceError, Violation, grpc_status};
