//! The OpenAI-compatible front door (being built): endpoint choice, circuit breaking and the
//! grade-aware guardrail, as pure rules first.

pub mod balance;
pub mod breaker;
pub mod guardrail;
