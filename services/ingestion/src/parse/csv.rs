//! `text/csv` bodies (RFC 4180): a header row naming the fields, then one record per row.
//!
//! - The header row names the fields: each name is trimmed of surrounding whitespace and must
//!   be non-empty, unique and UTF-8, or the whole body is refused naming the column.
//! - Columns `_id` and `_event_time` are the record id and event time, as the reserved keys of
//!   a JSON record; their cells are taken as text, never typed.
//! - Values are typed conservatively, because CSV has no types and a wrong guess corrupts
//!   data (leading zeros of a code, digits of an ID-card or bank-card number):
//!   - an empty cell is an absent field (CSV cannot tell empty from missing);
//!   - `true` / `false` (lower case, exactly) are booleans;
//!   - an integer without sign `+`, without a leading zero (`0` itself is fine) and of at most
//!     15 digits is a JSON number (every JSON reader holds it exactly);
//!   - a decimal of the same shape with a `.` and digits on both sides (no exponent), at most
//!     15 digits in all, is a JSON number;
//!   - everything else, including cells with surrounding spaces, `00123`, `1e5`, `TRUE`,
//!     and 16+ digit numbers such as ID-card or bank-card numbers, stays a string, as written.
//!
//!   A producer that needs other types sends JSON or NDJSON.
//! - Quoted cells may hold commas, quotes (`""`) and line breaks; lines end with LF or CRLF;
//!   empty lines are skipped; a UTF-8 byte-order mark at the start is skipped.
//! - A row with a different number of cells than the header, or a cell that is not UTF-8, is
//!   a rejected record whose reason names its line (the line on which the row starts).

use super::{BOM, BodyError, Limits, Parsed, check_batch_count, check_body_size, unreadable};
use crate::domain::{EVENT_TIME_KEY, ID_KEY, RecordInput};
use serde_json::{Map, Number, Value};

/// Digits a number may have to be typed as one (2^53 has 16).
const MAX_NUMBER_DIGITS: usize = 15;

/// Splits a CSV body into record inputs (see the module documentation for the rules).
pub fn parse_csv(body: &[u8], limits: &Limits) -> Result<Parsed, BodyError> {
    check_body_size(body, limits)?;
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut row = ::csv::ByteRecord::new();
    let mut lines = Lines { body, counted: 0, line: 1 };
    let names = match reader.read_byte_record(&mut row) {
        Ok(true) => header(&row, lines.locate(&row, reader.position().byte()).0)?,
        Ok(false) => return Err(BodyError::CsvNoHeader),
        Err(e) => return Err(csv_error(&e)),
    };
    let header_line = lines.line;
    let mut parsed = Parsed::default();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => break,
            // The reader is flexible and reads bytes, so only I/O errors remain, and a slice
            // has none; refuse the body rather than guess where the next record starts.
            Err(e) => return Err(csv_error(&e)),
        }
        let (line, size) = lines.locate(&row, reader.position().byte());
        check_batch_count(&parsed, line, limits)?;
        parsed.push(line, record(&names, header_line, &row, line, size));
    }
    Ok(parsed)
}

/// Line numbers and sizes of rows. The reader's own line numbers lag behind with CRLF
/// endings (a row ends at its CR and the LF is read with the next row) and ignore lone CRs,
/// which it takes as line endings too, so rows are located by their bytes: a row starts at the first byte after its position that is not a line
/// ending, and its size is its bytes without the line ending.
struct Lines<'a> {
    body: &'a [u8],
    /// Bytes before this offset have been counted into `line`.
    counted: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line on which `row` starts and its size, given the reader's offset after it.
    fn locate(&mut self, row: &::csv::ByteRecord, end: u64) -> (u64, usize) {
        let len = self.body.len();
        let at = |offset: u64| usize::try_from(offset).unwrap_or(len).min(len);
        let mut start = row.position().map_or(self.counted, |p| at(p.byte())).max(self.counted);
        while start < len && matches!(self.body[start], b'\r' | b'\n') {
            start += 1;
        }
        let end = at(end).max(start);
        self.line += line_breaks(&self.body[self.counted..start]);
        self.counted = start;
        let text = &self.body[start..end];
        let trimmed = text.iter().rposition(|b| !matches!(b, b'\r' | b'\n')).map_or(0, |last| last + 1);
        (self.line, trimmed)
    }
}

/// Line breaks in `bytes` as the reader sees them: LF, CRLF, or a CR alone. `bytes` never
/// ends between the CR and LF of a CRLF (it ends before the first byte of a row).
fn line_breaks(bytes: &[u8]) -> u64 {
    let lf = bytes.iter().filter(|b| **b == b'\n').count();
    let lone_cr = bytes.iter().enumerate().filter(|(i, b)| **b == b'\r' && bytes.get(i + 1) != Some(&b'\n')).count();
    (lf + lone_cr) as u64
}

/// Field names from the header row: trimmed, non-empty, unique, UTF-8.
fn header(row: &::csv::ByteRecord, line: u64) -> Result<Vec<String>, BodyError> {
    let mut names: Vec<String> = Vec::with_capacity(row.len());
    for (i, cell) in row.iter().enumerate() {
        let column = i + 1;
        let refuse = |reason: String| BodyError::CsvHeader { line, column, reason };
        let name = std::str::from_utf8(cell).map_err(|e| refuse(format!("the name is not valid UTF-8: {e}")))?.trim();
        if name.is_empty() {
            return Err(refuse("the field name is empty; every column needs a name".into()));
        }
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(refuse(format!("field `{name}` is named twice (columns {} and {column})", first + 1)));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn record(names: &[String], header_line: u64, row: &::csv::ByteRecord, line: u64, size: usize) -> RecordInput {
    if row.len() != names.len() {
        let reason = format!("the row has {} fields; the header (line {header_line}) has {}", row.len(), names.len());
        return unreadable(line, reason, size);
    }
    let (mut id, mut event_time, mut fields) = (None, None, Map::new());
    for (i, (name, cell)) in names.iter().zip(row.iter()).enumerate() {
        let Ok(text) = std::str::from_utf8(cell) else {
            return unreadable(line, format_args!("field `{name}` (column {}) is not valid UTF-8", i + 1), size);
        };
        if text.is_empty() {
            continue;
        }
        match name.as_str() {
            ID_KEY => id = Some(text.to_owned()),
            EVENT_TIME_KEY => event_time = Some(text.to_owned()),
            _ => {
                fields.insert(name.clone(), typed(text));
            }
        }
    }
    RecordInput { id, event_time, fields: Ok(fields), size }
}

/// The JSON value of a non-empty cell, typed conservatively (see the module documentation).
pub(crate) fn typed(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Some(number) = number(text) {
        return Value::Number(number);
    }
    Value::String(text.to_owned())
}

fn number(text: &str) -> Option<Number> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    // `0` and `0.5` but not `007` (a code) or `-0` (the sign would be lost).
    if (int.len() > 1 && int.starts_with('0')) || (frac.is_none() && text == "-0") {
        return None;
    }
    if int.len() + frac.map_or(0, str::len) > MAX_NUMBER_DIGITS {
        return None;
    }
    match frac {
        None => text.parse::<i64>().ok().map(Number::from),
        Some(_) => text.parse::<f64>().ok().and_then(Number::from_f64),
    }
}

fn csv_error(error: &::csv::Error) -> BodyError {
    let line = error.position().map_or(0, ::csv::Position::line);
    BodyError::Csv { line, reason: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::test_support::{LIMITS, fields, reason};
    use serde_json::json;

    fn parse(body: &str) -> Parsed {
        parse_csv(body.as_bytes(), &LIMITS).unwrap()
    }

    #[test]
    fn header_row_names_the_fields() {
        let parsed = parse("line,output_m,ok\nL1,1200,true\nL2,980.5,false\n");
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.lines, [2, 3]);
        assert_eq!(Value::Object(fields(&parsed, 0).clone()), json!({"line": "L1", "output_m": 1200, "ok": true}));
        assert_eq!(Value::Object(fields(&parsed, 1).clone()), json!({"line": "L2", "output_m": 980.5, "ok": false}));
        assert_eq!(parsed.records[0].size, "L1,1200,true".len());
    }

    #[test]
    fn values_are_typed_conservatively() {
        for (cell, value) in [
            ("0", json!(0)),
            ("42", json!(42)),
            ("-17", json!(-17)),
            ("3.25", json!(3.25)),
            ("-0.5", json!(-0.5)),
            ("999999999999999", json!(999_999_999_999_999_i64)),
            ("true", json!(true)),
            ("false", json!(false)),
            // Strings: codes, identifiers, other spellings, anything with spaces.
            ("007", json!("007")),
            ("-0", json!("-0")),
            ("+5", json!("+5")),
            ("1e5", json!("1e5")),
            (".5", json!(".5")),
            ("5.", json!("5.")),
            ("1,000", json!("1,000")),
            (" 12", json!(" 12")),
            ("TRUE", json!("TRUE")),
            ("NaN", json!("NaN")),
            ("1234567890123456", json!("1234567890123456")),
            ("330102199001011234", json!("330102199001011234")),
            ("6222020200112233445", json!("6222020200112233445")),
            ("91330100MA27XKQ717", json!("91330100MA27XKQ717")),
            ("12345678901234.56", json!("12345678901234.56")),
        ] {
            assert_eq!(typed(cell), value, "cell `{cell}`");
        }
    }

    #[test]
    fn empty_cells_are_absent_and_reserved_columns_are_taken_out() {
        let parsed = parse("_id,_event_time,line,note\nr-1,2026-11-22T08:00:00+08:00,L1,\n,,L2,x\n007,,L3,\n");
        assert_eq!(parsed.records[0].id.as_deref(), Some("r-1"));
        assert_eq!(parsed.records[0].event_time.as_deref(), Some("2026-11-22T08:00:00+08:00"));
        assert_eq!(Value::Object(fields(&parsed, 0).clone()), json!({"line": "L1"}));
        assert_eq!(parsed.records[1].id, None);
        assert_eq!(parsed.records[1].event_time, None);
        assert_eq!(Value::Object(fields(&parsed, 1).clone()), json!({"line": "L2", "note": "x"}));
        // Reserved columns are text, never typed.
        assert_eq!(parsed.records[2].id.as_deref(), Some("007"));
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_newlines() {
        let parsed = parse("name,address,qty\n\"Shaoxing, Keqiao\",\"Line 1\nLine 2\",3\n\"He said \"\"hi\"\"\",x,4\n");
        assert_eq!(parsed.lines, [2, 4]);
        assert_eq!(fields(&parsed, 0)["name"], "Shaoxing, Keqiao");
        assert_eq!(fields(&parsed, 0)["address"], "Line 1\nLine 2");
        assert_eq!(fields(&parsed, 0)["qty"], 3);
        assert_eq!(fields(&parsed, 1)["name"], "He said \"hi\"");
        // Quoting does not make a string: CSV has no types.
        assert_eq!(parse("a\n\"12\"\n").records.len(), 1);
        assert_eq!(fields(&parse("a\n\"12\"\n"), 0)["a"], 12);
    }

    #[test]
    fn crlf_line_endings() {
        let parsed = parse("a,b\r\n1,x\r\n\r\n2,\"y\r\nz\"\r\n");
        assert_eq!(parsed.records.len(), 2);
        assert_eq!(parsed.lines, [2, 4]);
        assert_eq!(Value::Object(fields(&parsed, 0).clone()), json!({"a": 1, "b": "x"}));
        assert_eq!(fields(&parsed, 1)["b"], "y\r\nz");
        assert_eq!(parsed.records[0].size, 3);
        assert_eq!(parsed.records[1].size, "2,\"y\r\nz\"".len());
        // Old Mac line endings (CR alone) end rows and lines too.
        assert_eq!(parse("a,b\r1,x\r2,y\r").lines, [2, 3]);
        // Blank lines before the header, and a ragged row, with CRLF.
        let parsed = parse("\r\n\r\na,b\r\n1\r\n");
        assert_eq!(parsed.lines, [4]);
        assert_eq!(reason(&parsed, 0), "line 4: the row has 1 fields; the header (line 3) has 2");
    }

    #[test]
    fn a_bom_and_chinese_header_names() {
        let parsed = parse("\u{feff}企业名称, 统一社会信用代码 ,产量（米）,工艺参数\n绍兴某纺织有限公司,91330100MA27XKQ717,1200,温度=180℃\n");
        assert_eq!(
            Value::Object(fields(&parsed, 0).clone()),
            json!({"企业名称": "绍兴某纺织有限公司", "统一社会信用代码": "91330100MA27XKQ717", "产量（米）": 1200, "工艺参数": "温度=180℃"})
        );
    }

    #[test]
    fn ragged_rows_are_rejected_records_naming_the_line() {
        let parsed = parse("a,b,c\n1,2,3\n1,2\n1,2,3,4\n\"x\ny\",2,3\n7,8,9\n");
        assert_eq!(parsed.records.len(), 5);
        assert_eq!(reason(&parsed, 1), "line 3: the row has 2 fields; the header (line 1) has 3");
        assert_eq!(reason(&parsed, 2), "line 4: the row has 4 fields; the header (line 1) has 3");
        assert_eq!(fields(&parsed, 3)["a"], "x\ny");
        assert_eq!(parsed.lines[4], 7);
        assert_eq!(fields(&parsed, 4)["c"], 9);
    }

    #[test]
    fn a_cell_that_is_not_utf8_is_a_rejected_record() {
        let parsed = parse_csv(b"a,b\n1,\xff\xfe\n2,3\n", &LIMITS).unwrap();
        assert_eq!(reason(&parsed, 0), "line 2: field `b` (column 2) is not valid UTF-8");
        assert_eq!(fields(&parsed, 1)["b"], 3);
    }

    #[test]
    fn a_header_that_cannot_name_fields_refuses_the_body() {
        let refuse = |body: &[u8]| parse_csv(body, &LIMITS).unwrap_err().to_string();
        assert_eq!(refuse(b"a,,c\n1,2,3\n"), "CSV header (line 1), column 2: the field name is empty; every column needs a name");
        assert_eq!(refuse(b"a, \n1,2\n"), "CSV header (line 1), column 2: the field name is empty; every column needs a name");
        assert_eq!(refuse("温度,压力, 温度\n1,2,3\n".as_bytes()), "CSV header (line 1), column 3: field `温度` is named twice (columns 1 and 3)");
        assert!(refuse(b"a,\xff\n").starts_with("CSV header (line 1), column 2: the name is not valid UTF-8"));
        assert_eq!(refuse(b""), "CSV body is empty: its first row must name the fields");
        assert_eq!(refuse(b"\xEF\xBB\xBF"), "CSV body is empty: its first row must name the fields");
        // A header alone is a body of no records.
        assert_eq!(parse("a,b\n").records.len(), 0);
    }

    #[test]
    fn fuzz_regression_a_serde_json_marker_as_a_column_name() {
        // Found by `fuzz/` (csv target): serde_json reads `{"$serde_json::private::RawValue":"+"}`
        // as a raw value, so the record must be rejected, not published.
        let parsed = parse_csv(b"$serde_json::private::RawValue\r+\r&", &LIMITS).unwrap();
        for input in parsed.records {
            let outcome = crate::domain::check_record(0, "t", "d", input, 0, &LIMITS);
            let crate::domain::RecordOutcome::Rejected { violation, .. } = outcome else { panic!("accepted: {outcome:?}") };
            assert_eq!(violation.rule, "field_name");
        }
    }

    #[test]
    fn limits() {
        let big = vec![b'a'; 5000];
        assert!(matches!(parse_csv(&big, &LIMITS), Err(BodyError::TooLarge { size: 5000, limit: 4096 })));
        let e = parse_csv(b"a\n1\n2\n3\n4\n5\n6\n", &LIMITS).unwrap_err();
        assert_eq!(e, BodyError::TooManyRecords { count: 6, line: 7, limit: 5 });
        let long = format!("a\n{}\n", "x".repeat(300));
        assert_eq!(parse_csv(long.as_bytes(), &LIMITS).unwrap().records[0].size, 300);
    }
}
