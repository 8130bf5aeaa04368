//! Typed dataset schemas, the rules for evolving them compatibly, and validation of records
//! against them. Pure logic: no I/O.

use brain_core::Violation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Type of a field's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    /// RFC 3339 text.
    Timestamp,
    Object,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
            Self::Object => "object",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Integer => value.as_i64().is_some() || value.as_u64().is_some(),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::Timestamp => value.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            Self::Object => value.is_object() || value.is_array(),
        }
    }
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

const MAX_FIELDS: usize = 512;
const MAX_NAME: usize = 128;

/// Checks a field list on its own: names present, unique, not reserved, not too many.
pub fn check_fields(fields: &[FieldSpec]) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if fields.is_empty() {
        violations.push(violation("fields", "non_empty", "a schema needs at least one field".into()));
    }
    if fields.len() > MAX_FIELDS {
        violations.push(violation("fields", "max_fields", format!("{} fields; the limit is {MAX_FIELDS}", fields.len())));
    }
    for field in fields {
        let name = field.name.trim();
        if name.is_empty() || name.len() > MAX_NAME || name != field.name {
            violations.push(violation(&field.name, "field_name", format!("names are 1-{MAX_NAME} characters without surrounding spaces")));
        } else if name.starts_with('_') {
            violations.push(violation(&field.name, "field_name", "names starting with `_` are reserved (`_id`, `_event_time`)".into()));
        } else if !seen.insert(name.to_owned()) {
            violations.push(violation(&field.name, "unique_field", "the field is listed twice".into()));
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}

/// Whether `next` may follow `current` without making stored or in-flight records invalid.
///
/// Allowed: new optional fields, required → optional, integer → number, new descriptions.
/// Refused (with the rule and the way out in the reason): new required fields, removing a
/// field, optional → required, any other type change.
pub fn check_evolution(current: &[FieldSpec], next: &[FieldSpec]) -> Result<(), Vec<Violation>> {
    check_fields(next)?;
    let mut violations = Vec::new();
    for old in current {
        match next.iter().find(|f| f.name == old.name) {
            None => violations.push(violation(
                &old.name,
                "no_field_removal",
                "removing a field breaks records and readers of earlier versions; keep it (optional) and stop sending it".into(),
            )),
            Some(new) => {
                if new.kind != old.kind && !(old.kind == FieldType::Integer && new.kind == FieldType::Number) {
                    violations.push(violation(
                        &old.name,
                        "compatible_type",
                        format!("type {} cannot become {}; only integer → number widens safely; add a new field instead", old.kind.as_str(), new.kind.as_str()),
                    ));
                }
                if new.required && !old.required {
                    violations.push(violation(
                        &old.name,
                        "no_new_requirement",
                        "an optional field cannot become required: records without it were valid before".into(),
                    ));
                }
            }
        }
    }
    for new in next.iter().filter(|f| f.required) {
        if !current.iter().any(|f| f.name == new.name) {
            violations.push(violation(
                &new.name,
                "new_fields_optional",
                "a new field must be optional: producers still send records without it".into(),
            ));
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}

/// Validates one record's fields against a schema; every problem is reported, not only the first.
pub fn validate_record(fields: &[FieldSpec], record: &Map<String, Value>) -> Vec<Violation> {
    let mut violations = Vec::new();
    for field in fields {
        match record.get(&field.name) {
            None | Some(Value::Null) if field.required => {
                violations.push(violation(&field.name, "required", "the field is required but missing".into()));
            }
            None | Some(Value::Null) => {}
            Some(value) if !field.kind.accepts(value) => violations.push(violation(
                &field.name,
                "type",
                format!("expected {}, got {}", describe(field.kind), preview(value)),
            )),
            Some(_) => {}
        }
    }
    for name in record.keys() {
        if !fields.iter().any(|f| &f.name == name) {
            violations.push(violation(name, "known_field", "the field is not in the dataset's schema; evolve the schema to add it".into()));
        }
    }
    violations
}

fn describe(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "a string",
        FieldType::Integer => "an integer",
        FieldType::Number => "a number",
        FieldType::Boolean => "true or false",
        FieldType::Timestamp => "an RFC 3339 timestamp string",
        FieldType::Object => "an object or array",
    }
}

/// A short rendering of an offending value for error messages.
fn preview(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

fn violation(field: &str, rule: &str, reason: String) -> Violation {
    Violation { field: Some(field.to_owned()), rule: rule.to_owned(), reason, ..Violation::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, kind: FieldType, required: bool) -> FieldSpec {
        FieldSpec { name: name.into(), kind, required, description: String::new() }
    }

    fn v1() -> Vec<FieldSpec> {
        vec![field("line", FieldType::String, true), field("output_m", FieldType::Integer, true), field("note", FieldType::String, false)]
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn valid_record_has_no_violations() {
        assert!(validate_record(&v1(), &object(json!({"line": "L1", "output_m": 1200}))).is_empty());
    }

    #[test]
    fn every_problem_is_named() {
        let violations = validate_record(&v1(), &object(json!({"output_m": "1200", "colour": "blue"})));
        let rules: Vec<(&str, &str)> = violations.iter().map(|v| (v.field.as_deref().unwrap(), v.rule.as_str())).collect();
        assert_eq!(rules, vec![("line", "required"), ("output_m", "type"), ("colour", "known_field")]);
        assert_eq!(violations[1].reason, "expected an integer, got \"1200\"");
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        let fields = vec![field("at", FieldType::Timestamp, true)];
        assert!(validate_record(&fields, &object(json!({"at": "2026-11-22T08:00:00+08:00"}))).is_empty());
        assert_eq!(validate_record(&fields, &object(json!({"at": "2026/11/22"})))[0].rule, "type");
    }

    #[test]
    fn compatible_evolution_is_allowed() {
        let mut next = v1();
        next.push(field("energy_kwh", FieldType::Number, false));
        next[1].kind = FieldType::Number;
        next[0].required = false;
        assert!(check_evolution(&v1(), &next).is_ok());
    }

    #[test]
    fn incompatible_evolution_explains_the_rule() {
        let mut next = v1();
        next.remove(2);
        next.push(field("shift", FieldType::String, true));
        next[0].kind = FieldType::Integer;
        let rules: Vec<String> = check_evolution(&v1(), &next).unwrap_err().into_iter().map(|v| v.rule).collect();
        assert_eq!(rules, vec!["compatible_type", "no_field_removal", "new_fields_optional"]);
    }

    #[test]
    fn field_lists_are_checked() {
        let bad = vec![field("a", FieldType::String, false), field("a", FieldType::Integer, false), field("_id", FieldType::String, false)];
        let rules: Vec<String> = check_fields(&bad).unwrap_err().into_iter().map(|v| v.rule).collect();
        assert_eq!(rules, vec!["unique_field", "field_name"]);
        assert!(check_fields(&[]).is_err());
    }
}
