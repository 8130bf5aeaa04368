//! Quality rules of a dataset and the quality score. Pure logic: no I/O.

use brain_core::Violation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One rule on one field (or, for `unique_key`, a set of fields). `unique_key` is checked by
/// the warehouse, which holds the rows a key must not repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "rule", deny_unknown_fields)]
pub enum QualityRule {
    Required { field: String },
    Range { field: String, min: Option<f64>, max: Option<f64> },
    Regex { field: String, pattern: String },
    Enum { field: String, values: Vec<String> },
    /// The record's event time may not be older than this at ingest.
    Freshness { max_age_seconds: u64 },
    /// No two records (different ids) may have the same values in these fields.
    UniqueKey { fields: Vec<String> },
}

impl QualityRule {
    fn name(&self) -> &'static str {
        match self {
            Self::Required { .. } => "required",
            Self::Range { .. } => "range",
            Self::Regex { .. } => "regex",
            Self::Enum { .. } => "enum",
            Self::Freshness { .. } => "freshness",
            Self::UniqueKey { .. } => "unique_key",
        }
    }

    /// The schema fields the rule reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Self::Required { field } | Self::Range { field, .. } | Self::Regex { field, .. } | Self::Enum { field, .. } => vec![field],
            Self::Freshness { .. } => vec![],
            Self::UniqueKey { fields } => fields.iter().map(String::as_str).collect(),
        }
    }
}

/// Rules compiled once per dataset version (regexes parsed, patterns checked).
pub struct CompiledRules {
    rules: Vec<(QualityRule, Option<regex::Regex>)>,
}

/// Why a rule set was refused when a dataset was created or changed.
pub fn compile(rules: &[QualityRule]) -> Result<CompiledRules, Vec<Violation>> {
    let mut compiled = Vec::with_capacity(rules.len());
    let mut violations = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let regex = match rule {
            QualityRule::Regex { field, pattern } => match regex::Regex::new(pattern) {
                Ok(regex) => Some(regex),
                Err(e) => {
                    violations.push(Violation {
                        field: Some(field.clone()),
                        rule: "regex".into(),
                        reason: format!("quality rule {i}: invalid pattern: {e}"),
                        ..Violation::default()
                    });
                    None
                }
            },
            QualityRule::UniqueKey { fields } if fields.is_empty() || rules[..i].iter().any(|r| matches!(r, QualityRule::UniqueKey { .. })) => {
                violations.push(Violation {
                    rule: "unique_key".into(),
                    reason: format!("quality rule {i}: a dataset has at most one unique key, of one or more fields"),
                    ..Violation::default()
                });
                None
            }
            QualityRule::Range { field, min: Some(min), max: Some(max) } if min > max => {
                violations.push(Violation {
                    field: Some(field.clone()),
                    rule: "range".into(),
                    reason: format!("quality rule {i}: min {min} is above max {max}"),
                    ..Violation::default()
                });
                None
            }
            _ => None,
        };
        compiled.push((rule.clone(), regex));
    }
    if violations.is_empty() { Ok(CompiledRules { rules: compiled }) } else { Err(violations) }
}

impl CompiledRules {
    /// The fields of the dataset's unique key, if it has one.
    pub fn unique_key(&self) -> Option<&[String]> {
        self.rules.iter().find_map(|(rule, _)| match rule {
            QualityRule::UniqueKey { fields } => Some(fields.as_slice()),
            _ => None,
        })
    }

    /// Every rule the record breaks. `age_ms` is ingest time minus event time.
    pub fn check(&self, record: &Map<String, Value>, age_ms: i64) -> Vec<Violation> {
        let mut out = Vec::new();
        for (rule, regex) in &self.rules {
            let broken = |field: Option<&str>, reason: String| Violation {
                field: field.map(str::to_owned),
                rule: format!("quality.{}", rule.name()),
                reason,
                ..Violation::default()
            };
            match rule {
                QualityRule::Required { field } => {
                    if record.get(field).is_none_or(|v| v.is_null() || v.as_str().is_some_and(str::is_empty)) {
                        out.push(broken(Some(field), "a value is required".into()));
                    }
                }
                QualityRule::Range { field, min, max } => {
                    if let Some(n) = record.get(field).and_then(Value::as_f64)
                        && (min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m))
                    {
                        let bounds = format!("[{}, {}]", min.map_or("-∞".into(), |m| m.to_string()), max.map_or("+∞".into(), |m| m.to_string()));
                        out.push(broken(Some(field), format!("{n} is outside {bounds}")));
                    }
                }
                QualityRule::Regex { field, pattern } => {
                    if let (Some(text), Some(regex)) = (record.get(field).and_then(Value::as_str), regex)
                        && !regex.is_match(text)
                    {
                        out.push(broken(Some(field), format!("\"{text}\" does not match /{pattern}/")));
                    }
                }
                QualityRule::Enum { field, values } => {
                    if let Some(value) = record.get(field).filter(|v| !v.is_null()) {
                        let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                        if !values.contains(&text) {
                            out.push(broken(Some(field), format!("\"{text}\" is not one of {}", values.join(", "))));
                        }
                    }
                }
                QualityRule::Freshness { max_age_seconds } => {
                    let max_ms = i64::try_from(*max_age_seconds).unwrap_or(i64::MAX / 1000).saturating_mul(1000);
                    if age_ms > max_ms {
                        out.push(broken(None, format!("the record is {} s old at ingest; the limit is {max_age_seconds} s", age_ms / 1000)));
                    }
                }
                // Needs the stored rows: the warehouse checks it.
                QualityRule::UniqueKey { .. } => {}
            }
        }
        out
    }
}

/// The record's unique-key value as stored and compared: the key fields' values as a JSON
/// array. None when a key field is missing or null (`required` is the rule for that).
pub fn key_value(record: &Map<String, Value>, fields: &[String]) -> Option<String> {
    let values: Option<Vec<&Value>> = fields.iter().map(|f| record.get(f).filter(|v| !v.is_null())).collect();
    serde_json::to_string(&values?).ok()
}

/// Share of accepted records, 0–100, rounded to one decimal; 100 when nothing arrived.
pub fn score(accepted: u64, rejected: u64) -> f64 {
    let total = accepted + rejected;
    if total == 0 { 100.0 } else { (accepted as f64 * 1000.0 / total as f64).round() / 10.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn rules() -> CompiledRules {
        compile(&[
            QualityRule::Required { field: "batch_no".into() },
            QualityRule::Range { field: "output_m".into(), min: Some(0.0), max: Some(100_000.0) },
            QualityRule::Regex { field: "batch_no".into(), pattern: "^B[0-9]{6}$".into() },
            QualityRule::Enum { field: "fabric".into(), values: vec!["denim".into(), "silk".into()] },
            QualityRule::Freshness { max_age_seconds: 86_400 },
        ])
        .unwrap()
    }

    #[test]
    fn a_good_record_passes() {
        assert!(rules().check(&record(json!({"batch_no": "B000123", "output_m": 1200, "fabric": "silk"})), 1000).is_empty());
    }

    #[test]
    fn each_broken_rule_is_reported() {
        let got = rules().check(&record(json!({"batch_no": "X1", "output_m": -3, "fabric": "wool"})), 2 * 86_400_000);
        let rules: Vec<&str> = got.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, vec!["quality.range", "quality.regex", "quality.enum", "quality.freshness"]);
        assert_eq!(got[0].reason, "-3 is outside [0, 100000]");
        assert_eq!(got[3].reason, "the record is 172800 s old at ingest; the limit is 86400 s");
    }

    #[test]
    fn bad_rules_are_refused() {
        let err = compile(&[QualityRule::Regex { field: "a".into(), pattern: "(".into() }]).err().unwrap();
        assert!(err[0].reason.contains("invalid pattern"), "{}", err[0].reason);
        assert!(compile(&[QualityRule::Range { field: "a".into(), min: Some(2.0), max: Some(1.0) }]).is_err());
    }

    #[test]
    fn unique_keys() {
        let rules = compile(&[QualityRule::UniqueKey { fields: vec!["uscc".into(), "day".into()] }]).unwrap();
        assert_eq!(rules.unique_key().unwrap(), ["uscc".to_owned(), "day".to_owned()]);
        assert!(rules.check(&record(json!({"uscc": "x"})), 0).is_empty(), "checked by the warehouse, not per record");
        let key = |v: Value| key_value(&record(v), rules.unique_key().unwrap());
        assert_eq!(key(json!({"uscc": "913", "day": "2026-11-01", "x": 1})).unwrap(), r#"["913","2026-11-01"]"#);
        assert_eq!(key(json!({"uscc": "913", "day": null})), None);
        assert!(compile(&[QualityRule::UniqueKey { fields: vec![] }]).is_err());
        let two = compile(&[QualityRule::UniqueKey { fields: vec!["a".into()] }, QualityRule::UniqueKey { fields: vec!["b".into()] }]);
        assert!(two.err().unwrap()[0].reason.contains("at most one unique key"));
    }

    #[test]
    fn scores() {
        assert_eq!(score(0, 0), 100.0);
        assert_eq!(score(997, 3), 99.7);
        assert_eq!(score(1, 2), 33.3);
    }
}
