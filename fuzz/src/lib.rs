//! What every fuzz target checks after parsing: the parse result is consistent, and every
//! record goes through `check_record` (ids, sizes, event times) without panicking.

use brain_ingestion::parse::{BodyError, Limits, Parsed, check_record};
use brain_ingestion::RecordOutcome;

/// Small limits, so that fuzzing reaches the limit paths too.
pub const LIMITS: Limits = Limits { max_body_bytes: 64 * 1024, max_record_bytes: 1024, max_batch_records: 64 };

/// Checks the invariants of a body parse and runs every record through `check_record`.
pub fn check_body(body: &[u8], result: Result<Parsed, BodyError>, strictly_increasing_lines: bool) {
    let parsed = match result {
        Ok(parsed) => parsed,
        Err(error) => {
            // A whole-body refusal always has a message, and a size refusal is truthful.
            assert!(!error.to_string().is_empty());
            if let BodyError::TooLarge { size, .. } = error {
                assert_eq!(size, body.len());
            }
            return;
        }
    };
    assert!(body.len() as u64 <= LIMITS.max_body_bytes);
    assert_eq!(parsed.records.len(), parsed.lines.len());
    assert!(parsed.records.len() <= LIMITS.max_batch_records as usize);
    let mut previous = 0;
    for (i, (record, line)) in parsed.records.into_iter().zip(parsed.lines).enumerate() {
        assert!(line >= 1);
        if strictly_increasing_lines {
            assert!(line > previous, "line {line} after {previous}");
        } else {
            assert!(line >= previous, "line {line} after {previous}");
        }
        previous = line;
        // Every line number is a line of the body.
        assert!(line <= body.iter().filter(|b| matches!(b, b'\n' | b'\r')).count() as u64 + 1);
        assert!(record.size <= body.len());
        if let Err(reason) = &record.fields {
            assert!(reason.starts_with(&format!("line {line}: ")), "{reason}");
        }
        check(i, record);
    }
}

/// Runs one record through the checks ingestion applies before publishing.
pub fn check(index: usize, record: brain_ingestion::RecordInput) {
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    match check_record(index, "91330100MA27XKQ717", "fuzz", record, 0, &LIMITS) {
        RecordOutcome::Accepted { id, payload_json, .. } => {
            assert!(!id.is_empty());
            // What is published is a JSON object.
            let value: serde_json::Value = serde_json::from_slice(&payload_json).expect("payload is JSON");
            assert!(value.is_object());
        }
        RecordOutcome::Rejected { violation, .. } => {
            assert!(!violation.rule.is_empty());
            assert!(!violation.reason.is_empty());
        }
    }
}
