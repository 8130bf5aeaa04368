//! Topic names of the data chain: `<prefix>.<domain>.<event>.v1`.

/// Records pushed by ingestion, before governance.
pub const INGEST_RECORDS: &str = "ingest.records.v1";
/// Records that passed governance, on their way to the warehouse.
pub const GOVERNANCE_ACCEPTED: &str = "governance.accepted.v1";
/// Dead letters: records refused by governance, with reasons.
pub const GOVERNANCE_REJECTED: &str = "governance.rejected.v1";
/// Key operations for the tamper-evident ledger.
pub const AUDIT_EVENTS: &str = "audit.events.v1";
/// Metering: API calls, tokens, compute seconds, data reads.
pub const USAGE_EVENTS: &str = "usage.events.v1";
/// Dataset and schema changes.
pub const CATALOG_EVENTS: &str = "catalog.events.v1";
/// Compute job lifecycle.
pub const SCHEDULER_JOBS: &str = "scheduler.jobs.v1";
/// Data leaving for the provincial center.
pub const EXCHANGE_OUTBOUND: &str = "exchange.outbound.v1";

/// Every topic the platform uses, created at startup.
pub const ALL: [&str; 8] = [
    INGEST_RECORDS,
    GOVERNANCE_ACCEPTED,
    GOVERNANCE_REJECTED,
    AUDIT_EVENTS,
    USAGE_EVENTS,
    CATALOG_EVENTS,
    SCHEDULER_JOBS,
    EXCHANGE_OUTBOUND,
];

/// The full topic name under a brain's prefix, e.g. `brain.ingest.records.v1`.
pub fn name(prefix: &str, topic: &str) -> String {
    format!("{prefix}.{topic}")
}

/// Topic names become directory names in the embedded log and must be valid Kafka names.
pub(crate) fn validate(topic: &str) -> Result<(), crate::BusError> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(crate::BusError::InvalidTopic {
            topic: topic.to_owned(),
            reason: "use 1-249 ASCII letters, digits, '.', '_' or '-'".into(),
        })
    }
}
