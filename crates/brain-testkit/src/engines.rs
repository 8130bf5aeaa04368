//! Real engines for tests, found through the environment that `infra/test.sh` sets.
//!
//! When an engine's variable is missing, a test skips it with a message on stderr,
//! except under `CI=true`, where a missing engine fails the run: a green run must
//! never hide an engine that was not there.

/// Kafka-compatible broker bootstrap servers, e.g. `127.0.0.1:19092`.
pub const KAFKA: &str = "BRAIN_TEST_KAFKA";
/// PostgreSQL URL of a database the tests may create databases from.
pub const POSTGRES: &str = "BRAIN_TEST_POSTGRES";
/// Redis URL, e.g. `redis://127.0.0.1:6379`.
pub const REDIS: &str = "BRAIN_TEST_REDIS";
/// MQTT broker `host:port`, e.g. `127.0.0.1:1883`.
pub const MQTT: &str = "BRAIN_TEST_MQTT";

/// True when running under continuous integration (`CI=true`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The engine address from `var`, or `None` (with a note on stderr) outside CI.
///
/// # Panics
/// Under `CI=true` when the variable is missing or empty.
#[allow(clippy::panic)]
pub fn engine(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if under_ci() => panic!(
            "{var} is not set but CI=true: the engine is missing; run the tests through infra/test.sh"
        ),
        _ => {
            eprintln!("skipping: {var} is not set (run the tests through infra/test.sh to use real engines)");
            None
        }
    }
}

/// Kafka bootstrap servers, see [`engine`].
pub fn kafka() -> Option<String> {
    engine(KAFKA)
}

/// PostgreSQL URL, see [`engine`].
pub fn postgres() -> Option<String> {
    engine(POSTGRES)
}

/// Redis URL, see [`engine`].
pub fn redis() -> Option<String> {
    engine(REDIS)
}

/// MQTT broker address, see [`engine`].
pub fn mqtt() -> Option<String> {
    engine(MQTT)
}
