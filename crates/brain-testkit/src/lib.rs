//! Test sandbox for Industry Brain: real engines from the environment, brain processes
//! on random ports, and a mock OpenTelemetry collector.

pub mod certs;
pub mod collector;
pub mod engines;
pub mod postgres;
pub mod process;

pub use collector::MockCollector;
pub use process::BrainProcess;
