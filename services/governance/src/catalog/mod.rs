//! The catalog: datasets of the basic, industry and scenario libraries, their typed schemas
//! with versions, quality rules and lineage. Pure types and checks; storage is in `store`.

pub mod admission;
pub mod quality;
pub mod schema;

use brain_core::Violation;
use quality::QualityRule;
use schema::FieldSpec;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The five data domains, shared with classification.
pub use crate::domain::DataDomain as Domain;

/// The three libraries of the industry data warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Library {
    /// 基础库: enterprises, products, standards.
    Basic,
    /// 行业库: the industry's production, operations and trade.
    Industry,
    /// 场景库: data prepared for one application scenario.
    Scenario,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(Library { Basic => "basic", Industry => "industry", Scenario => "scenario" });

/// What a client sends to register a dataset.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    /// Unique within the tenant: 1-64 of `[A-Za-z0-9._-]`.
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub library: Library,
    pub domain: Domain,
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub quality_rules: Vec<QualityRule>,
    /// Datasets this one is derived from, as `tenant/dataset`.
    #[serde(default)]
    pub lineage_sources: Vec<String>,
}

/// A dataset as the catalog shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Dataset {
    pub tenant_id: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub library: Library,
    pub domain: Domain,
    pub schema_version: i64,
    pub fields: Vec<FieldSpec>,
    pub quality_rules: Vec<QualityRule>,
    pub lineage_sources: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Domain, grade and the reason for it, per field and for the dataset (its highest field).
    #[schema(value_type = Option<Object>)]
    pub classification: Option<crate::domain::DatasetClassification>,
}

/// Names of tenants and datasets: 1-64 ASCII letters, digits, '.', '_' or '-'.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn violation(field: &str, rule: &str, reason: impl Into<String>) -> Violation {
    Violation { field: Some(field.to_owned()), rule: rule.to_owned(), reason: reason.into(), ..Violation::default() }
}

/// Checks a registration before it reaches the store; all problems at once.
pub fn check_new_dataset(new: &NewDataset) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    if !valid_name(&new.name) {
        violations.push(violation("name", "name", "use 1-64 ASCII letters, digits, '.', '_' or '-'"));
    }
    if new.title.trim().is_empty() || new.title.chars().count() > 200 {
        violations.push(violation("title", "title", "a title of 1-200 characters is required"));
    }
    if new.description.chars().count() > 4000 {
        violations.push(violation("description", "description", "at most 4000 characters"));
    }
    if let Err(mut more) = schema::check_fields(&new.fields) {
        violations.append(&mut more);
    }
    if let Err(mut more) = quality::compile(&new.quality_rules) {
        violations.append(&mut more);
    }
    for field in new.quality_rules.iter().flat_map(QualityRule::fields) {
        if !new.fields.iter().any(|f| f.name == field) {
            violations.push(violation(field, "quality_rule_field", "a quality rule names a field that is not in the schema"));
        }
    }
    for source in &new.lineage_sources {
        let ok = source.split_once('/').is_some_and(|(t, d)| valid_name(t) && valid_name(d));
        if !ok {
            violations.push(violation("lineage_sources", "dataset_ref", format!("`{source}` is not `tenant/dataset`")));
        }
    }
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_dataset() -> NewDataset {
        serde_json::from_value(serde_json::json!({
            "name": "production-output",
            "title": "Daily output per line",
            "library": "industry",
            "domain": "production",
            "fields": [{"name": "line", "type": "string", "required": true}, {"name": "output_m", "type": "integer"}],
            "quality_rules": [{"rule": "range", "field": "output_m", "min": 0, "max": 100000}],
            "lineage_sources": ["91330100MA27XKQ717/mes-raw"]
        }))
        .unwrap()
    }

    #[test]
    fn a_good_registration_passes() {
        assert!(check_new_dataset(&new_dataset()).is_ok());
    }

    #[test]
    fn problems_are_listed_together() {
        let mut bad = new_dataset();
        bad.name = "bad name".into();
        bad.quality_rules.push(QualityRule::Enum { field: "colour".into(), values: vec![] });
        bad.lineage_sources.push("nonsense".into());
        let rules: Vec<String> = check_new_dataset(&bad).unwrap_err().into_iter().map(|v| v.rule).collect();
        assert_eq!(rules, vec!["name", "quality_rule_field", "dataset_ref"]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_value::<NewDataset>(serde_json::json!({"name": "x", "titel": "y"})).unwrap_err();
        assert!(err.to_string().contains("titel"), "{err}");
    }

    #[test]
    fn enums_round_trip_as_text() {
        for library in [Library::Basic, Library::Industry, Library::Scenario] {
            assert_eq!(Library::parse(library.as_str()), Some(library));
        }
        assert_eq!(Domain::parse("operation_maintenance"), Some(Domain::OperationMaintenance));
        assert_eq!(Domain::parse("o_and_m"), None, "aliases are for rules files, not stored values");
    }
}
