//! `application/json` bodies: one JSON array whose elements are the records.

use super::{BOM, BodyError, Limits, Parsed, check_batch_count, check_body_size};
use crate::domain::json_record;
use serde_json::value::RawValue;

/// Splits a JSON array into record inputs. The array itself must be well-formed (otherwise
/// record boundaries are unknown and the body is refused); an element that is not an object
/// is a rejected record (`line N: expected a JSON object, got …`).
pub fn parse_json_array(body: &[u8], limits: &Limits) -> Result<Parsed, BodyError> {
    check_body_size(body, limits)?;
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let values: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| BodyError::NotJsonArray { reason: e.to_string() })?;
    let mut parsed = Parsed::default();
    let base = body.as_ptr() as usize;
    let (mut line, mut counted) = (1u64, 0usize);
    for raw in values {
        let text = raw.get();
        // Each element borrows from `body`: its address gives its offset, and the newlines
        // before it its line. Offsets only grow, so each byte is counted once.
        if let Some(offset) = (text.as_ptr() as usize).checked_sub(base).filter(|o| *o >= counted && *o <= body.len()) {
            line += body[counted..offset].iter().filter(|b| **b == b'\n').count() as u64;
            counted = offset;
        }
        check_batch_count(&parsed, line, limits)?;
        let mut record = json_record(text);
        if let Err(reason) = &mut record.fields {
            *reason = format!("line {line}: {reason}");
        }
        parsed.push(line, record);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_support::{LIMITS, fields, reason};

    #[test]
    fn an_array_of_objects() {
        let parsed = parse_json_array(b"[\n  {\"a\": 1},\n  {\"_id\": \"r-2\", \"b\": \"x\"}\n]", &LIMITS).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.lines, [2, 3]);
        assert_eq!(fields(&parsed, 0)["a"], 1);
        assert_eq!(parsed.records[1].id.as_deref(), Some("r-2"));
        assert!(!fields(&parsed, 1).contains_key("_id"));
        assert_eq!(parsed.records[0].size, 8);
    }

    #[test]
    fn wrong_types_are_rejected_records_naming_the_line() {
        let parsed = parse_json_array(b"[{\"a\":1},\n7,\n[1,2], \"s\", null]", &LIMITS).unwrap();
        assert_eq!(parsed.records.len(), 5);
        assert_eq!(reason(&parsed, 1), "line 2: expected a JSON object, got a number");
        assert_eq!(reason(&parsed, 2), "line 3: expected a JSON object, got an array");
        assert_eq!(reason(&parsed, 3), "line 3: expected a JSON object, got a string");
        assert_eq!(reason(&parsed, 4), "line 3: expected a JSON object, got null");
    }

    #[test]
    fn a_body_that_is_not_an_array_is_refused() {
        for body in [&b"{\"a\":1}"[..], b"[{\"a\":1},", b"", b"7", b"[{\"a\":1}] trailing", b"\xff\xfe"] {
            let e = parse_json_array(body, &LIMITS).unwrap_err();
            assert!(matches!(e, BodyError::NotJsonArray { .. }), "{e:?}");
            assert!(e.to_string().starts_with("body is not a JSON array of records: "), "{e}");
        }
        let e = parse_json_array(b"[{\"a\":1},\n{\"a\":}]", &LIMITS).unwrap_err();
        assert!(e.to_string().contains("line 2 column"), "{e}");
    }

    #[test]
    fn limits() {
        assert!(matches!(parse_json_array(&[b' '; 5000], &LIMITS), Err(BodyError::TooLarge { size: 5000, limit: 4096 })));
        let e = parse_json_array(b"[{},{},{},{},{},\n{}]", &LIMITS).unwrap_err();
        assert_eq!(e, BodyError::TooManyRecords { count: 6, line: 2, limit: 5 });
        assert_eq!(parse_json_array(b"[]", &LIMITS).unwrap().records.len(), 0);
        // An oversized record is read; the record limit rejects it in `check_record`.
        let big = format!("[{{\"blob\":\"{}\"}}]", "x".repeat(300));
        assert_eq!(parse_json_array(big.as_bytes(), &LIMITS).unwrap().records[0].size, 311);
    }

    #[test]
    fn a_bom_is_skipped() {
        let parsed = parse_json_array(b"\xEF\xBB\xBF[{\"a\":1}]", &LIMITS).unwrap();
        assert_eq!(fields(&parsed, 0)["a"], 1);
    }
}
