//! Parsers of outside input: request bodies (JSON array, NDJSON, CSV) and protobuf batches,
//! turned into [`RecordInput`]s. Pure functions, no I/O; each has a fuzz target in `fuzz/`.
//!
//! Two kinds of failure, kept apart:
//! - a problem with one record (bad JSON on an NDJSON line, a ragged CSV row, a value that is
//!   not an object) becomes that record's input with `fields: Err(reason)`, so it is rejected
//!   with its reason, published as a dead letter and reported — never dropped;
//! - a problem with the body as a whole (too big, too many records, not a JSON array, a CSV
//!   header that cannot name fields) is a [`BodyError`] and the request is refused.
//!
//! Every reason names the line (`line 7: …`); [`Parsed::lines`] gives the line of every
//! record so that a response can point at it even when a later check (size, `_id`,
//! `_event_time`) rejects it.

mod csv;
mod json;
mod ndjson;
mod proto;

pub use self::csv::parse_csv;
pub use self::json::parse_json_array;
pub use self::ndjson::parse_ndjson;
pub use self::proto::{decode_batch, event_time_text, record_input};
/// Re-exported so that callers outside the crate (fuzz targets) can drive the whole pure
/// path: parse, then check each record as ingestion does.
pub use crate::domain::{Limits, RecordInput, check_record, json_record};

use brain_core::{ErrorCode, ServiceError, Violation};

/// Formats of a REST body, chosen by its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: a JSON array of objects.
    Json,
    /// `application/x-ndjson`: one JSON object per line.
    Ndjson,
    /// `text/csv`: a header row naming the fields, then one record per row.
    Csv,
}

impl BodyFormat {
    /// The media types this service accepts, for errors and documentation.
    pub const SUPPORTED: &'static str = "application/json, application/x-ndjson, text/csv (UTF-8)";

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv",
        }
    }

    /// The format of a `Content-Type` value; `None` means "not supported" (including a
    /// charset other than UTF-8). Media types are compared case-insensitively.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let format = match media.as_str() {
            "application/json" => Self::Json,
            "application/x-ndjson" => Self::Ndjson,
            "text/csv" => Self::Csv,
            _ => return None,
        };
        for param in parts {
            let (name, val) = param.split_once('=').unwrap_or((param, ""));
            if name.trim().eq_ignore_ascii_case("charset") {
                let charset = val.trim().trim_matches('"');
                if !(charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")) {
                    return None;
                }
            }
        }
        Some(format)
    }
}

/// Records of a body, in order, with the line on which each starts (1-based).
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub records: Vec<RecordInput>,
    /// `lines[i]` is the line of `records[i]`.
    pub lines: Vec<u64>,
}

impl Parsed {
    fn push(&mut self, line: u64, record: RecordInput) {
        self.records.push(record);
        self.lines.push(line);
    }
}

/// Parses a body of the given format, enforcing the body and batch limits. The record
/// limit is enforced per record by [`check_record`] (the size of each record is recorded).
pub fn parse_body(format: BodyFormat, body: &[u8], limits: &Limits) -> Result<Parsed, BodyError> {
    match format {
        BodyFormat::Json => parse_json_array(body, limits),
        BodyFormat::Ndjson => parse_ndjson(body, limits),
        BodyFormat::Csv => parse_csv(body, limits),
    }
}

/// Why a body was refused as a whole (per-record problems are rejected records instead).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BodyError {
    #[error("body is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: u64 },
    /// Raised while receiving a body of unannounced length, before all of it was read.
    #[error("body is larger than the limit of {limit} bytes")]
    OverLimit { limit: u64 },
    #[error("body has more than {limit} records (record {count} starts on line {line}); the limit is {limit} per request")]
    TooManyRecords { count: usize, line: u64, limit: u32 },
    #[error("body is not a JSON array of records: {reason}")]
    NotJsonArray { reason: String },
    #[error("CSV body is empty: its first row must name the fields")]
    CsvNoHeader,
    #[error("CSV header (line {line}), column {column}: {reason}")]
    CsvHeader { line: u64, column: usize, reason: String },
    #[error("CSV body, line {line}: {reason}")]
    Csv { line: u64, reason: String },
}

impl BodyError {
    /// The name of the rule the body broke, for violations.
    fn rule(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::OverLimit { .. } => "max_body_bytes",
            Self::TooManyRecords { .. } => "max_batch_records",
            Self::NotJsonArray { .. } => "json_array",
            Self::CsvNoHeader | Self::CsvHeader { .. } => "csv_header",
            Self::Csv { .. } => "csv",
        }
    }
}

impl ServiceError for BodyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } | Self::OverLimit { .. } | Self::TooManyRecords { .. } => ErrorCode::PayloadTooLarge,
            Self::NotJsonArray { .. } | Self::CsvNoHeader | Self::CsvHeader { .. } | Self::Csv { .. } => ErrorCode::InvalidArgument,
        }
    }

    fn violations(&self) -> Vec<Violation> {
        let field = match self {
            Self::CsvHeader { column, .. } => Some(format!("column {column}")),
            _ => None,
        };
        vec![Violation { field, rule: self.rule().to_owned(), reason: self.to_string(), ..Violation::default() }]
    }
}

/// Refuses a body above the limit before any parsing.
fn check_body_size(body: &[u8], limits: &Limits) -> Result<(), BodyError> {
    if body.len() as u64 > limits.max_body_bytes {
        return Err(BodyError::TooLarge { size: body.len(), limit: limits.max_body_bytes });
    }
    Ok(())
}

/// Refuses the record about to be added when the batch is full.
fn check_batch_count(parsed: &Parsed, line: u64, limits: &Limits) -> Result<(), BodyError> {
    if parsed.records.len() >= limits.max_batch_records as usize {
        return Err(BodyError::TooManyRecords { count: parsed.records.len() + 1, line, limit: limits.max_batch_records });
    }
    Ok(())
}

/// A UTF-8 byte-order mark, tolerated (and skipped) at the start of NDJSON and CSV bodies.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A record that could not be read, with the line in its reason.
fn unreadable(line: u64, reason: impl std::fmt::Display, size: usize) -> RecordInput {
    RecordInput { id: None, event_time: None, fields: Err(format!("line {line}: {reason}")), size }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub const LIMITS: Limits = Limits { max_body_bytes: 4096, max_record_bytes: 200, max_batch_records: 5 };

    /// The fields of record `i`, or the test fails with the reason it was refused.
    pub fn fields(parsed: &Parsed, i: usize) -> &serde_json::Map<String, serde_json::Value> {
        match &parsed.records[i].fields {
            Ok(fields) => fields,
            Err(reason) => panic!("record {i} was refused: {reason}"),
        }
    }

    /// The reason record `i` was refused, or the test fails.
    pub fn reason(parsed: &Parsed, i: usize) -> &str {
        match &parsed.records[i].fields {
            Ok(fields) => panic!("record {i} was read: {fields:?}"),
            Err(reason) => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(BodyFormat::from_content_type("application/json"), Some(BodyFormat::Json));
        assert_eq!(BodyFormat::from_content_type("Application/JSON; charset=utf-8"), Some(BodyFormat::Json));
        assert_eq!(BodyFormat::from_content_type("application/x-ndjson"), Some(BodyFormat::Ndjson));
        assert_eq!(BodyFormat::from_content_type("text/csv; charset=\"UTF-8\"; header=present"), Some(BodyFormat::Csv));
        assert_eq!(BodyFormat::from_content_type("text/csv; charset=gbk"), None);
        assert_eq!(BodyFormat::from_content_type("application/xml"), None);
        assert_eq!(BodyFormat::from_content_type("application/x-www-form-urlencoded"), None);
        assert_eq!(BodyFormat::from_content_type(""), None);
    }

    #[test]
    fn body_errors_carry_code_rule_and_reason() {
        let e = BodyError::CsvHeader { line: 1, column: 3, reason: "is empty".into() };
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        let v = &e.violations()[0];
        assert_eq!(v.rule, "csv_header");
        assert_eq!(v.field.as_deref(), Some("column 3"));
        assert_eq!(v.reason, "CSV header (line 1), column 3: is empty");
        assert_eq!(BodyError::TooLarge { size: 2, limit: 1 }.code(), ErrorCode::PayloadTooLarge);
        assert_eq!(
            BodyError::TooManyRecords { count: 6, line: 9, limit: 5 }.to_string(),
            "body has more than 5 records (record 6 starts on line 9); the limit is 5 per request"
        );
    }
}
