//! Translation between the protobuf contract and governance's own types.

use crate::catalog::quality::QualityRule;
use crate::catalog::schema::{FieldSpec, FieldType};
use crate::catalog::{Dataset, Domain, Library, NewDataset};
use crate::store::{RejectedRow, StoredRecord};
use crate::GovernanceError;
use brain_core::Violation;
use brain_proto::common::v1 as common;
use brain_proto::governance::v1 as pb;
use chrono::{DateTime, Utc};

fn invalid(field: &str, reason: String) -> GovernanceError {
    GovernanceError::invalid(field, vec![Violation { field: Some(field.to_owned()), rule: "enum".into(), reason, ..Violation::default() }])
}

pub(crate) fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    brain_proto::time::from_millis(time.timestamp_millis())
}

pub(crate) fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

fn library_to(library: Library) -> common::Library {
    match library {
        Library::Basic => common::Library::Basic,
        Library::Industry => common::Library::Industry,
        Library::Scenario => common::Library::Scenario,
    }
}

pub(crate) fn library_from(value: i32) -> Result<Option<Library>, GovernanceError> {
    match common::Library::try_from(value) {
        Ok(common::Library::Unspecified) => Ok(None),
        Ok(common::Library::Basic) => Ok(Some(Library::Basic)),
        Ok(common::Library::Industry) => Ok(Some(Library::Industry)),
        Ok(common::Library::Scenario) => Ok(Some(Library::Scenario)),
        Err(_) => Err(invalid("library", format!("{value} is not a library"))),
    }
}

fn domain_from(value: i32) -> Result<Domain, GovernanceError> {
    Domain::from_proto(value).ok_or_else(|| invalid("domain", format!("{value} is not a data domain")))
}

fn field_type_to(kind: FieldType) -> pb::FieldType {
    match kind {
        FieldType::String => pb::FieldType::String,
        FieldType::Integer => pb::FieldType::Integer,
        FieldType::Number => pb::FieldType::Number,
        FieldType::Boolean => pb::FieldType::Boolean,
        FieldType::Timestamp => pb::FieldType::Timestamp,
        FieldType::Object => pb::FieldType::Object,
    }
}

fn field_type_from(value: i32, field: &str) -> Result<FieldType, GovernanceError> {
    match pb::FieldType::try_from(value) {
        Ok(pb::FieldType::String) => Ok(FieldType::String),
        Ok(pb::FieldType::Integer) => Ok(FieldType::Integer),
        Ok(pb::FieldType::Number) => Ok(FieldType::Number),
        Ok(pb::FieldType::Boolean) => Ok(FieldType::Boolean),
        Ok(pb::FieldType::Timestamp) => Ok(FieldType::Timestamp),
        Ok(pb::FieldType::Object) => Ok(FieldType::Object),
        _ => Err(invalid(field, format!("field {field}: {value} is not a field type"))),
    }
}

pub(crate) fn fields_from(fields: Vec<pb::Field>) -> Result<Vec<FieldSpec>, GovernanceError> {
    fields
        .into_iter()
        .map(|f| Ok(FieldSpec { kind: field_type_from(f.r#type, &f.name)?, name: f.name, required: f.required, description: f.description }))
        .collect()
}

/// Open range ends travel as infinities; a unique key travels as one `unique_key` rule per field.
fn rules_to(rules: &[QualityRule]) -> Vec<pb::QualityRule> {
    use pb::quality_rule::Rule;
    let one = |field: &str, rule| pb::QualityRule { field: field.to_owned(), rule: Some(rule) };
    rules
        .iter()
        .flat_map(|rule| match rule {
            QualityRule::Required { field } => vec![one(field, Rule::Required(true))],
            QualityRule::Range { field, min, max } => {
                vec![one(field, Rule::Range(pb::Range { min: min.unwrap_or(f64::NEG_INFINITY), max: max.unwrap_or(f64::INFINITY) }))]
            }
            QualityRule::Regex { field, pattern } => vec![one(field, Rule::Regex(pattern.clone()))],
            QualityRule::Enum { field, values } => vec![one(field, Rule::EnumValues(pb::EnumValues { values: values.clone() }))],
            QualityRule::Freshness { max_age_seconds } => vec![one("", Rule::FreshnessSeconds(u32::try_from(*max_age_seconds).unwrap_or(u32::MAX)))],
            QualityRule::UniqueKey { fields } => fields.iter().map(|f| one(f, Rule::UniqueKey(true))).collect(),
        })
        .collect()
}

/// The `unique_key` rules, in order, make up the dataset's one unique key.
fn rules_from(rules: Vec<pb::QualityRule>) -> Result<Vec<QualityRule>, GovernanceError> {
    use pb::quality_rule::Rule;
    let mut out = Vec::with_capacity(rules.len());
    let mut key_fields = Vec::new();
    for rule in rules {
        let field = rule.field;
        let bound = |v: f64| v.is_finite().then_some(v);
        out.push(match rule.rule {
            Some(Rule::Required(_)) => QualityRule::Required { field },
            Some(Rule::Range(r)) => QualityRule::Range { field, min: bound(r.min), max: bound(r.max) },
            Some(Rule::Regex(pattern)) => QualityRule::Regex { field, pattern },
            Some(Rule::EnumValues(e)) => QualityRule::Enum { field, values: e.values },
            Some(Rule::FreshnessSeconds(s)) => QualityRule::Freshness { max_age_seconds: u64::from(s) },
            Some(Rule::UniqueKey(_)) => {
                key_fields.push(field);
                continue;
            }
            None => return Err(invalid("quality_rules", format!("a rule on `{field}` names no check"))),
        });
    }
    if !key_fields.is_empty() {
        out.push(QualityRule::UniqueKey { fields: key_fields });
    }
    Ok(out)
}

pub(crate) fn new_dataset_from(dataset: pb::Dataset) -> Result<(String, NewDataset), GovernanceError> {
    let reference = dataset.r#ref.unwrap_or_default();
    let library = library_from(dataset.library)?.ok_or_else(|| invalid("library", "a library is required".into()))?;
    let new = NewDataset {
        name: reference.dataset,
        title: dataset.title,
        description: dataset.description,
        library,
        domain: domain_from(dataset.domain)?,
        fields: fields_from(dataset.schema.unwrap_or_default().fields)?,
        quality_rules: rules_from(dataset.quality_rules)?,
        lineage_sources: dataset.lineage_sources.into_iter().map(|r| format!("{}/{}", r.tenant_id, r.dataset)).collect(),
    };
    Ok((reference.tenant_id, new))
}

pub(crate) fn dataset_to(dataset: Dataset) -> pb::Dataset {
    pb::Dataset {
        r#ref: Some(common::DatasetRef { tenant_id: dataset.tenant_id, dataset: dataset.name }),
        title: dataset.title,
        description: dataset.description,
        library: library_to(dataset.library) as i32,
        domain: dataset.domain.to_proto(),
        grade: dataset.classification.as_ref().map_or(common::Grade::Unspecified as i32, |c| c.grade.to_proto()),
        schema: Some(pb::Schema {
            version: u32::try_from(dataset.schema_version).unwrap_or(u32::MAX),
            fields: dataset
                .fields
                .into_iter()
                .map(|f| {
                    let graded = dataset.classification.as_ref().and_then(|c| c.fields.iter().find(|g| g.field == f.name));
                    pb::Field {
                        r#type: field_type_to(f.kind) as i32,
                        domain: graded.map_or(0, |g| g.domain.to_proto()),
                        grade: graded.map_or(0, |g| g.grade.to_proto()),
                        grade_explanation: graded.map(|g| g.explanation.clone()).unwrap_or_default(),
                        name: f.name,
                        required: f.required,
                        description: f.description,
                    }
                })
                .collect(),
            created_at: Some(timestamp(dataset.updated_at)),
        }),
        quality_rules: rules_to(&dataset.quality_rules),
        lineage_sources: dataset
            .lineage_sources
            .iter()
            .filter_map(|s| s.split_once('/'))
            .map(|(t, d)| common::DatasetRef { tenant_id: t.to_owned(), dataset: d.to_owned() })
            .collect(),
        created_at: Some(timestamp(dataset.created_at)),
    }
}

pub(crate) fn record_to(tenant: &str, dataset: &str, record: StoredRecord) -> brain_proto::events::v1::Record {
    brain_proto::events::v1::Record {
        id: record.record_id,
        dataset: Some(common::DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() }),
        source: None,
        event_time: Some(timestamp(record.event_time)),
        ingest_time: Some(timestamp(record.ingest_time)),
        payload_json: serde_json::to_vec(&record.payload).unwrap_or_default(),
    }
}

pub(crate) fn rejected_to(tenant: &str, dataset: &str, row: RejectedRow) -> pb::RejectedRecord {
    let violations: Vec<Violation> = serde_json::from_value(row.violations).unwrap_or_default();
    pb::RejectedRecord {
        record: Some(brain_proto::events::v1::Record {
            id: row.record_id,
            dataset: Some(common::DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() }),
            payload_json: serde_json::to_vec(&row.payload).unwrap_or_default(),
            ..Default::default()
        }),
        violations: violations
            .into_iter()
            .map(|v| common::Violation {
                record_id: v.record_id.unwrap_or_default(),
                record_index: v.record_index.unwrap_or_default(),
                field: v.field.unwrap_or_default(),
                rule: v.rule,
                reason: v.reason,
            })
            .collect(),
        rejected_at: Some(timestamp(row.rejected_at)),
    }
}

pub(crate) fn page_size(page: Option<&common::PageRequest>) -> Option<u32> {
    page.map(|p| p.page_size).filter(|n| *n != 0)
}

pub(crate) fn page_token(page: Option<&common::PageRequest>) -> Option<&str> {
    page.map(|p| p.page_token.as_str()).filter(|t| !t.is_empty())
}

pub(crate) fn page_response(next: Option<String>) -> Option<common::PageResponse> {
    Some(common::PageResponse { next_page_token: next.unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_rules_survive_the_round_trip() {
        let rules = vec![
            QualityRule::Required { field: "line".into() },
            QualityRule::Range { field: "output_m".into(), min: Some(0.0), max: None },
            QualityRule::Regex { field: "batch".into(), pattern: "^B[0-9]+$".into() },
            QualityRule::Enum { field: "grade".into(), values: vec!["A".into(), "B".into()] },
            QualityRule::Freshness { max_age_seconds: 3600 },
            QualityRule::UniqueKey { fields: vec!["uscc".into(), "day".into()] },
        ];
        let wire = rules_to(&rules);
        assert_eq!(wire.len(), 7, "one unique_key rule per key field");
        assert_eq!(rules_from(wire).unwrap(), rules);
    }

    #[test]
    fn unknown_enum_values_are_refused_with_the_field() {
        let err = field_type_from(42, "output_m").unwrap_err();
        let violations = brain_core::ServiceError::violations(&err);
        assert_eq!(violations[0].field.as_deref(), Some("output_m"));
        assert!(violations[0].reason.contains("42 is not a field type"), "{}", violations[0].reason);
        assert!(domain_from(0).is_err());
        assert_eq!(library_from(0).unwrap(), None);
    }
}
