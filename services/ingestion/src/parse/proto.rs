//! Records of a gRPC `IngestBatch`: protobuf messages whose payloads are JSON objects.

use crate::domain::{RecordInput, json_record};
use brain_proto::ingestion::v1::{IngestBatch, InputRecord};
use prost::Message;

/// Decodes an `IngestBatch` as tonic does for the gRPC methods (used by tests and fuzzing;
/// the server decodes through tonic's codec, which calls the same `prost` code).
pub fn decode_batch(bytes: &[u8]) -> Result<IngestBatch, prost::DecodeError> {
    IngestBatch::decode(bytes)
}

/// One protobuf record as a record input. `payload_json` must be a UTF-8 JSON object (else
/// the record is rejected with the reason); a non-empty `id` overrides `_id` of the payload
/// and `event_time`, when set, overrides `_event_time`.
pub fn record_input(record: InputRecord) -> RecordInput {
    let mut input = match std::str::from_utf8(&record.payload_json) {
        Ok(text) => json_record(text),
        Err(e) => RecordInput { id: None, event_time: None, fields: Err(format!("payload_json is not UTF-8: {e}")), size: record.payload_json.len() },
    };
    if !record.id.is_empty() {
        input.id = Some(record.id);
    }
    if let Some(ts) = &record.event_time {
        input.event_time = Some(event_time_text(ts));
    }
    input
}

/// A protobuf timestamp as RFC 3339 text (UTC, with as many fraction digits as needed).
///
/// A timestamp outside the representable range, or with `nanos` outside 0..1e9 (invalid per
/// `google.protobuf.Timestamp`), gives text that is not RFC 3339, so the record is rejected
/// by the event-time check with the values in its reason instead of overflowing here.
pub fn event_time_text(ts: &prost_types::Timestamp) -> String {
    let time = u32::try_from(ts.nanos).ok().filter(|n| *n < 1_000_000_000).and_then(|nanos| chrono::DateTime::from_timestamp(ts.seconds, nanos));
    match time {
        Some(time) => time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => format!("Timestamp {{ seconds: {}, nanos: {} }} (out of range)", ts.seconds, ts.nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Limits, RecordOutcome, check_record};

    const LIMITS: Limits = Limits { max_body_bytes: 4096, max_record_bytes: 200, max_batch_records: 5 };

    fn record(id: &str, seconds: Option<(i64, i32)>, payload: &[u8]) -> InputRecord {
        InputRecord {
            id: id.into(),
            event_time: seconds.map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
            payload_json: payload.to_vec(),
        }
    }

    fn check(input: RecordInput) -> RecordOutcome {
        check_record(0, "acme", "orders", input, 1_000, &LIMITS)
    }

    #[test]
    fn id_and_event_time_of_the_message_override_the_payload() {
        let input = record_input(record("r-9", Some((1_795_305_600, 250_000_000)), br#"{"_id":"p","_event_time":"x","a":1}"#));
        assert_eq!(input.id.as_deref(), Some("r-9"));
        assert_eq!(input.event_time.as_deref(), Some("2026-11-22T00:00:00.250Z"));
        let RecordOutcome::Accepted { id, event_time_ms, payload_json, .. } = check(input) else { panic!("rejected") };
        assert_eq!((id.as_str(), event_time_ms), ("r-9", 1_795_305_600_250));
        assert_eq!(payload_json, br#"{"a":1}"#);
        // Without them, the payload's reserved keys count.
        let input = record_input(record("", None, br#"{"_id":"p","a":1}"#));
        assert_eq!(input.id.as_deref(), Some("p"));
    }

    #[test]
    fn bad_payloads_are_rejected_records() {
        for (payload, reason) in [
            (&b"\xff{}"[..], "payload_json is not UTF-8"),
            (b"[1]", "expected a JSON object, got an array"),
            (b"", "invalid JSON: EOF while parsing"),
            (b"{\"a\":", "invalid JSON"),
        ] {
            let RecordOutcome::Rejected { violation, .. } = check(record_input(record("", None, payload))) else { panic!("accepted") };
            assert!(violation.reason.starts_with(reason), "{}", violation.reason);
        }
    }

    #[test]
    fn out_of_range_timestamps_are_rejected_not_overflowed() {
        for (seconds, nanos) in [(i64::MAX, 0), (i64::MIN, 999_999_999), (0, -1), (0, 1_000_000_000)] {
            let input = record_input(record("", Some((seconds, nanos)), b"{}"));
            let RecordOutcome::Rejected { violation, .. } = check(input) else { panic!("accepted {seconds} {nanos}") };
            assert_eq!(violation.field.as_deref(), Some("_event_time"));
            assert!(violation.reason.contains(&format!("seconds: {seconds}, nanos: {nanos}")), "{}", violation.reason);
        }
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        assert!(decode_batch(b"\x0a\xff\xff\xff\xff\xff").is_err());
        assert!(decode_batch(b"\x22\x03\x1a\x05").is_err());
        let batch = IngestBatch { batch_id: "b".into(), records: vec![record("", None, b"{}")], ..IngestBatch::default() };
        assert_eq!(decode_batch(&batch.encode_to_vec()).unwrap(), batch);
    }
}
