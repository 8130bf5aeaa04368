//! Whether a record enters the warehouse: its payload parses, fits the dataset's schema and
//! passes its quality rules. Pure logic: no I/O.

use super::quality::CompiledRules;
use super::schema::{FieldSpec, validate_record};
use brain_core::Violation;
use serde_json::{Map, Value};

/// The record's fields when admitted, or every reason it is not.
pub fn admit(fields: &[FieldSpec], rules: &CompiledRules, payload_json: &[u8], age_ms: i64) -> Result<Map<String, Value>, Vec<Violation>> {
    let record = match serde_json::from_slice::<Value>(payload_json) {
        Ok(Value::Object(record)) => record,
        Ok(_) => return Err(vec![plain("json_object", "the payload is not a JSON object".into())]),
        Err(e) => return Err(vec![plain("json", format!("the payload is not valid JSON: {e}"))]),
    };
    let mut violations = validate_record(fields, &record);
    violations.extend(rules.check(&record, age_ms));
    if violations.is_empty() { Ok(record) } else { Err(violations) }
}

fn plain(rule: &str, reason: String) -> Violation {
    Violation { rule: rule.to_owned(), reason, ..Violation::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::quality::{QualityRule, compile};
    use crate::catalog::schema::FieldType;

    fn fields() -> Vec<FieldSpec> {
        vec![FieldSpec { name: "output_m".into(), kind: FieldType::Integer, required: true, description: String::new() }]
    }

    #[test]
    fn admits_or_lists_every_reason() {
        let rules = compile(&[QualityRule::Range { field: "output_m".into(), min: Some(0.0), max: None }]).unwrap();
        assert!(admit(&fields(), &rules, br#"{"output_m": 5}"#, 0).is_ok());
        let reasons = admit(&fields(), &rules, br#"{"output_m": -5, "x": 1}"#, 0).unwrap_err();
        assert_eq!(reasons.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(), vec!["known_field", "quality.range"]);
        assert_eq!(admit(&fields(), &rules, b"[1]", 0).unwrap_err()[0].rule, "json_object");
        assert_eq!(admit(&fields(), &rules, b"{", 0).unwrap_err()[0].rule, "json");
    }
}
