//! The OpenAI-compatible front door (being built): endpoint choice, circuit breaking and the
//! grade-aware guardrail, as pure rules first.

pub mod api;
pub mod balance;
pub mod breaker;
pub mod forward;
pub mod grpc;
pub mod guard;
pub mod guardrail;
pub mod metering;
pub mod openai;
pub mod quota;
pub mod scan;
