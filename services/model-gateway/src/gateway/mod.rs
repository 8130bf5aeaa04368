//! The OpenAI-compatible front door: endpoint choice and forwarding, circuit breaking, quotas,
//! the grade-aware guardrail, metering and metrics; the REST API and its gRPC twin.

pub mod api;
pub mod balance;
pub mod breaker;
pub mod forward;
pub mod grpc;
pub mod guard;
pub mod guardrail;
pub mod metering;
pub mod metrics;
pub mod openai;
pub mod quota;
pub mod scan;
