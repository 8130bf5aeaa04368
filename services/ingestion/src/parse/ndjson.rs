//! `application/x-ndjson` bodies: one JSON object per line.

use super::{BOM, BodyError, Limits, Parsed, check_batch_count, check_body_size, unreadable};
use crate::domain::json_record;

/// Splits an NDJSON body into record inputs. Lines end with LF or CRLF; blank lines (only
/// spaces, tabs or CR) are ignored. Each other line is one record: a line that is not a JSON
/// object (bad JSON, an array, a number, invalid UTF-8) is a rejected record whose reason
/// starts with `line N:`. A record's size is its line's length without the line ending.
pub fn parse_ndjson(body: &[u8], limits: &Limits) -> Result<Parsed, BodyError> {
    check_body_size(body, limits)?;
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut parsed = Parsed::default();
    for (number, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line = number as u64 + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        check_batch_count(&parsed, line, limits)?;
        let record = match std::str::from_utf8(raw) {
            Ok(text) => {
                let mut record = json_record(text);
                if let Err(reason) = &mut record.fields {
                    *reason = format!("line {line}: {reason}");
                }
                record
            }
            Err(e) => unreadable(line, format_args!("not valid UTF-8: {e}"), raw.len()),
        };
        parsed.push(line, record);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_support::{LIMITS, fields, reason};

    #[test]
    fn one_object_per_line_blank_lines_ignored() {
        let parsed = parse_ndjson(b"{\"a\":1}\n\n  \n{\"_id\":\"r-2\",\"_event_time\":\"2026-11-22T08:00:00+08:00\",\"b\":true}\n", &LIMITS).unwrap();
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.lines, [1, 4]);
        assert_eq!(fields(&parsed, 0)["a"], 1);
        assert_eq!(parsed.records[1].id.as_deref(), Some("r-2"));
        assert_eq!(parsed.records[1].event_time.as_deref(), Some("2026-11-22T08:00:00+08:00"));
        assert_eq!(fields(&parsed, 1).len(), 1);
        assert_eq!(parsed.records[0].size, 7);
    }

    #[test]
    fn crlf_line_endings_and_no_final_newline() {
        let parsed = parse_ndjson(b"{\"a\":1}\r\n\r\n{\"a\":2}\r\n{\"a\":3}", &LIMITS).unwrap();
        assert_eq!(parsed.lines, [1, 3, 4]);
        assert_eq!(fields(&parsed, 2)["a"], 3);
        assert_eq!(parsed.records[0].size, 7);
    }

    #[test]
    fn a_bad_line_is_a_rejected_record_naming_the_line() {
        let limits = Limits { max_batch_records: 10, ..LIMITS };
        let parsed = parse_ndjson(b"{\"a\":1}\n{\"a\":\n[1,2]\n42\n\"text\"\n{\"ok\":2}\n\xff{}\n", &limits).unwrap();
        assert_eq!(parsed.records.len(), 7);
        assert!(reason(&parsed, 1).starts_with("line 2: invalid JSON: EOF while parsing"), "{}", reason(&parsed, 1));
        assert_eq!(reason(&parsed, 2), "line 3: expected a JSON object, got an array");
        assert_eq!(reason(&parsed, 3), "line 4: expected a JSON object, got a number");
        assert_eq!(reason(&parsed, 4), "line 5: expected a JSON object, got a string");
        assert_eq!(fields(&parsed, 5)["ok"], 2);
        assert!(reason(&parsed, 6).starts_with("line 7: not valid UTF-8"), "{}", reason(&parsed, 6));
    }

    #[test]
    fn two_objects_on_one_line_are_one_bad_record() {
        let parsed = parse_ndjson(b"{\"a\":1} {\"a\":2}\n", &LIMITS).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert!(reason(&parsed, 0).starts_with("line 1: invalid JSON: trailing characters"), "{}", reason(&parsed, 0));
    }

    #[test]
    fn limits() {
        assert!(matches!(parse_ndjson(&[b'\n'; 5000], &LIMITS), Err(BodyError::TooLarge { .. })));
        let e = parse_ndjson(b"{}\n{}\n\n{}\n{}\n{}\n{}\n", &LIMITS).unwrap_err();
        assert_eq!(e, BodyError::TooManyRecords { count: 6, line: 7, limit: 5 });
        // An oversized line is read with its size; `check_record` rejects it by the record limit.
        let big = format!("{{\"blob\":\"{}\"}}\n{{}}", "x".repeat(300));
        let parsed = parse_ndjson(big.as_bytes(), &LIMITS).unwrap();
        assert_eq!(parsed.records[0].size, 311);
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parse_ndjson(b"", &LIMITS).unwrap().records.len(), 0);
    }

    #[test]
    fn a_bom_is_skipped() {
        let parsed = parse_ndjson(b"\xEF\xBB\xBF{\"a\":1}\n", &LIMITS).unwrap();
        assert_eq!(fields(&parsed, 0)["a"], 1);
    }

}
