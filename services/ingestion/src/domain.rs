//! Pure checks on incoming records: names, shape, size, ids, event times. No I/O.
//! Bodies and protobuf batches are split into [`RecordInput`]s by `crate::parse`.

use crate::IngestionError;
use brain_core::Violation;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Explicit limits on what one request may carry.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub max_record_bytes: u64,
    pub max_batch_records: u32,
}

impl Limits {
    pub fn from_config(c: &brain_config::IngestionConfig) -> Self {
        Self { max_body_bytes: c.max_body_bytes, max_record_bytes: c.max_record_bytes, max_batch_records: c.max_batch_records }
    }
}

/// Reserved keys of a JSON record: the client's record id and event time (RFC 3339).
pub const ID_KEY: &str = "_id";
pub const EVENT_TIME_KEY: &str = "_event_time";
const MAX_ID_LEN: usize = 128;
/// Prefix of serde_json's private marker keys (`$serde_json::private::RawValue`).
const SERDE_JSON_PRIVATE: &str = "$serde_json::private::";

/// One record as received, before checks.
#[derive(Clone, Debug)]
pub struct RecordInput {
    pub id: Option<String>,
    pub event_time: Option<String>,
    /// The record's fields, or the reason the input was not a JSON object.
    pub fields: Result<Map<String, Value>, String>,
    /// Size of the record as received, for the record-size limit.
    pub size: usize,
}

/// What became of one record.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordOutcome {
    Accepted { index: u32, id: String, event_time_ms: i64, payload_json: Vec<u8> },
    Rejected { index: u32, id: String, violation: Violation, raw: Vec<u8> },
}

impl RecordOutcome {
    pub fn id(&self) -> &str {
        match self {
            Self::Accepted { id, .. } | Self::Rejected { id, .. } => id,
        }
    }
}

/// Tenant ids and dataset names: 1–64 ASCII letters, digits, '.', '_' or '-'.
pub fn validate_name(what: &'static str, value: &str) -> Result<(), IngestionError> {
    let ok = !value.is_empty() && value.len() <= 64 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(IngestionError::InvalidName { what, value: value.chars().take(80).collect(), reason: "use 1-64 ASCII letters, digits, '.', '_' or '-'" })
    }
}

/// A record given as JSON text, with `_id` and `_event_time` taken out of its fields.
pub fn json_record(text: &str) -> RecordInput {
    let size = text.len();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut fields)) => {
            let id = fields.remove(ID_KEY).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            let event_time = fields.remove(EVENT_TIME_KEY).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            RecordInput { id, event_time, fields: Ok(fields), size }
        }
        Ok(other) => RecordInput { id: None, event_time: None, fields: Err(format!("expected a JSON object, got {}", kind(&other))), size },
        Err(e) => RecordInput { id: None, event_time: None, fields: Err(format!("invalid JSON: {e}")), size },
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks one record and gives it its id (client-supplied, or derived from its content so
/// that a re-sent record gets the same id and is deduplicated downstream).
pub fn check_record(index: u32, tenant: &str, dataset: &str, input: RecordInput, now_ms: i64, limits: &Limits) -> RecordOutcome {
    let reject = |id: String, field: Option<&str>, rule: &str, reason: String, raw: Vec<u8>| RecordOutcome::Rejected {
        index,
        violation: Violation { record_id: Some(id.clone()), record_index: Some(index), field: field.map(str::to_owned), rule: rule.to_owned(), reason },
        id,
        raw,
    };
    let fields = match input.fields {
        Ok(fields) => fields,
        Err(reason) => return reject(String::new(), None, "json_object", reason, Vec::new()),
    };
    // serde_json reads an object with this key as something else (its raw-value marker), so
    // the published payload would not mean what was sent. Found by fuzzing the CSV parser.
    if let Some(name) = fields.keys().find(|k| k.starts_with(SERDE_JSON_PRIVATE)) {
        let reason = format!("field name `{name}` is reserved by the JSON library and cannot be stored faithfully");
        return reject(String::new(), Some(name), "field_name", reason, Vec::new());
    }
    let payload_json = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
    let id = match &input.id {
        Some(id) => id.clone(),
        // The client's event time is part of what a record says: two equal readings taken at
        // different times are two records.
        None => derive_id(tenant, dataset, input.event_time.as_deref().unwrap_or(""), &payload_json),
    };
    if input.size as u64 > limits.max_record_bytes {
        let reason = format!("record is {} bytes; the limit is {}", input.size, limits.max_record_bytes);
        return reject(id, None, "max_record_bytes", reason, Vec::new());
    }
    if let Some(supplied) = &input.id
        && (supplied.is_empty() || supplied.len() > MAX_ID_LEN || supplied.chars().any(char::is_control)) {
            let reason = format!("must be 1-{MAX_ID_LEN} characters without control characters");
            return reject(supplied.chars().take(MAX_ID_LEN).collect(), Some(ID_KEY), "record_id", reason, payload_json);
        }
    let event_time_ms = match &input.event_time {
        None => now_ms,
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(time) => time.timestamp_millis(),
            Err(e) => {
                let reason = format!("`{text}` is not an RFC 3339 time such as 2026-11-22T08:00:00+08:00: {e}");
                return reject(id, Some(EVENT_TIME_KEY), "event_time", reason, payload_json);
            }
        },
    };
    RecordOutcome::Accepted { index, id, event_time_ms, payload_json }
}

/// Content-derived record id: SHA-256 over tenant, dataset, the client's event time (as sent)
/// and the canonical payload (serde_json orders object keys), first 128 bits in hex.
pub fn derive_id(tenant: &str, dataset: &str, event_time: &str, payload_json: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(tenant.as_bytes());
    hash.update([0]);
    hash.update(dataset.as_bytes());
    hash.update([0]);
    hash.update(event_time.as_bytes());
    hash.update([0]);
    hash.update(payload_json);
    hex::encode(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_body_bytes: 1024, max_record_bytes: 200, max_batch_records: 3 };

    fn check(text: &str) -> RecordOutcome {
        check_record(0, "91330100MA27XKQ717", "production-output", json_record(text), 1_000, &LIMITS)
    }

    #[test]
    fn equal_readings_at_different_times_are_different_records() {
        let a = check(r#"{"_event_time":"2026-11-22T08:00:00+08:00","temp":21.5}"#);
        let b = check(r#"{"_event_time":"2026-11-22T08:01:00+08:00","temp":21.5}"#);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), check(r#"{"temp":21.5,"_event_time":"2026-11-22T08:00:00+08:00"}"#).id());
    }

    #[test]
    fn same_content_same_id_whatever_the_key_order() {
        let a = check(r#"{"line":"L1","output_m":1200}"#);
        let b = check(r#"{"output_m":1200,"line":"L1"}"#);
        assert_eq!(a.id(), b.id());
        assert_ne!(a.id(), check(r#"{"line":"L1","output_m":1201}"#).id());
    }

    #[test]
    fn client_id_and_event_time_are_taken_out_of_the_fields() {
        let RecordOutcome::Accepted { id, event_time_ms, payload_json, .. } =
            check(r#"{"_id":"r-1","_event_time":"2026-11-22T08:00:00+08:00","line":"L1"}"#)
        else {
            panic!("rejected")
        };
        assert_eq!(id, "r-1");
        assert_eq!(event_time_ms, 1_795_305_600_000);
        assert_eq!(payload_json, br#"{"line":"L1"}"#);
    }

    #[test]
    fn missing_event_time_is_ingest_time() {
        let RecordOutcome::Accepted { event_time_ms, .. } = check(r#"{"a":1}"#) else { panic!("rejected") };
        assert_eq!(event_time_ms, 1_000);
    }

    #[test]
    fn rejections_name_field_rule_and_reason() {
        let RecordOutcome::Rejected { violation, .. } = check(r#"{"_event_time":"yesterday","a":1}"#) else { panic!("accepted") };
        assert_eq!(violation.field.as_deref(), Some("_event_time"));
        assert_eq!(violation.rule, "event_time");
        assert!(violation.reason.contains("`yesterday` is not an RFC 3339 time"), "{}", violation.reason);

        let RecordOutcome::Rejected { violation, .. } = check("[1,2]") else { panic!("accepted") };
        assert_eq!(violation.reason, "expected a JSON object, got an array");

        let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(300));
        let RecordOutcome::Rejected { violation, .. } = check(&big) else { panic!("accepted") };
        assert_eq!(violation.rule, "max_record_bytes");
    }

    #[test]
    fn a_field_named_like_a_serde_json_marker_is_rejected() {
        // The CSV parser builds fields directly; a JSON text with this key is unwrapped by
        // serde_json before it gets here.
        let mut fields = Map::new();
        fields.insert("$serde_json::private::RawValue".into(), Value::String("+".into()));
        let input = RecordInput { id: None, event_time: None, fields: Ok(fields), size: 10 };
        let RecordOutcome::Rejected { violation, .. } = check_record(0, "t", "d", input, 0, &LIMITS) else { panic!("accepted") };
        assert_eq!((violation.rule.as_str(), violation.field.as_deref()), ("field_name", Some("$serde_json::private::RawValue")));
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("dataset", "production-output").is_ok());
        assert!(validate_name("dataset", "../etc").is_err());
        assert!(validate_name("tenant", "").is_err());
    }
}
