//! Grading: a field's grade is the highest of its evidence (name terms, value detectors), a dataset's
//! grade is its highest field grade, and every result says why in plain English.
//!
//! Manual overrides are recorded next to the automatic result (never instead of it), so a change of
//! rules can be re-run over stored samples and still show what the rules alone would say.

use super::detectors::{DetectorKind, coordinate_axis};
use super::dictionary::match_field_name;
use super::rules::ClassificationRules;
use super::taxonomy::{DataDomain, Grade, GradeScheme, Lang, grade_label};
use brain_proto::events::v1::FieldGrade;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A field and sample values of it (e.g. the first records of a dataset, or a stored sample).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSamples {
    pub name: String,
    pub samples: Vec<Value>,
}

impl FieldSamples {
    pub fn new(name: impl Into<String>, samples: Vec<Value>) -> Self {
        FieldSamples { name: name.into(), samples }
    }
}

/// Where a piece of evidence came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum EvidenceSource {
    /// A dictionary term found in the field name.
    FieldName { term: String },
    /// A value detector matched `matched` of `sampled` non-empty samples.
    Values { detector: DetectorKind, matched: usize, sampled: usize },
}

/// One reason for a grade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub source: EvidenceSource,
    pub grade: Grade,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DataDomain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DetectorKind>,
    /// What was observed, e.g. `field name "身份证号" contains "身份证"`.
    pub detail: String,
    /// Why that deserves the grade, from the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Evidence {
    /// `{detail} → {grade}: {reason}`.
    fn sentence(&self, scheme: GradeScheme) -> String {
        let label = grade_label(self.grade, scheme, Lang::En);
        match &self.reason {
            Some(r) if !r.trim().is_empty() => format!("{} → {label}: {r}", self.detail),
            _ => format!("{} → {label}", self.detail),
        }
    }
}

/// A manual grade decision: who, why, from what to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeOverride {
    pub previous: Grade,
    pub grade: Grade,
    pub reason: String,
    pub actor: String,
}

/// The classification of one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldClassification {
    pub field: String,
    pub domain: DataDomain,
    /// The effective grade: the override's if there is one, else the automatic one.
    pub grade: Grade,
    /// What the rules alone say.
    pub automatic_grade: Grade,
    /// What the values are, as a masking hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DetectorKind>,
    pub explanation: String,
    pub automatic_explanation: String,
    /// Evidence, highest grade first.
    pub matched: Vec<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_override: Option<GradeOverride>,
}

impl FieldClassification {
    /// The proto form carried on `RecordAccepted` and in `Classification`.
    pub fn to_field_grade(&self) -> FieldGrade {
        FieldGrade { field: self.field.clone(), domain: self.domain.to_proto(), grade: self.grade.to_proto(), explanation: self.explanation.clone() }
    }
}

/// The classification of a dataset: its fields and its grade (the highest field grade).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetClassification {
    pub grade: Grade,
    /// The (first) field with the highest grade; `None` for a dataset without fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graded_by: Option<String>,
    pub explanation: String,
    /// The dataset's catalog domain, used for fields nothing else assigns one to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_domain: Option<DataDomain>,
    pub rules_version: String,
    pub grade_scheme: GradeScheme,
    pub fields: Vec<FieldClassification>,
}

impl DatasetClassification {
    pub fn field(&self, name: &str) -> Option<&FieldClassification> {
        self.fields.iter().find(|f| f.field == name)
    }

    pub fn to_field_grades(&self) -> Vec<FieldGrade> {
        self.fields.iter().map(FieldClassification::to_field_grade).collect()
    }
}

/// Why an override was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClassificationError {
    #[error("no field named {0:?} in this classification")]
    UnknownField(String),
    #[error("an override needs a reason")]
    MissingReason,
    #[error("an override needs the actor who made it")]
    MissingActor,
}

/// Text the detectors see: strings as they are, numbers and booleans printed, a two-number array as
/// a coordinate pair, other structures as compact JSON; `None` for null and blank strings, which
/// do not count towards the share.
fn sample_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) if items.len() == 2 && items.iter().all(Value::is_number) => Some(format!("{},{}", items[0], items[1])),
        other => Some(other.to_string()),
    }
}

/// Classify one field with the rules' default domain as the fallback.
pub fn classify_field(name: &str, samples: &[Value], rules: &ClassificationRules) -> FieldClassification {
    classify_field_in(name, samples, None, rules)
}

/// Classify one field of a dataset whose catalog domain (if known) is the fallback domain.
pub fn classify_field_in(name: &str, samples: &[Value], dataset_domain: Option<DataDomain>, rules: &ClassificationRules) -> FieldClassification {
    let scheme = rules.grade_scheme;
    let mut evidence: Vec<Evidence> = match_field_name(name, &rules.dictionary)
        .into_iter()
        .map(|m| Evidence {
            source: EvidenceSource::FieldName { term: m.term.to_string() },
            grade: m.entry.grade,
            domain: m.entry.domain,
            kind: m.entry.kind,
            detail: format!("field name \"{name}\" contains \"{}\"", m.term),
            reason: Some(m.entry.reason.clone()),
        })
        .collect();

    let texts: Vec<String> = samples.iter().filter_map(sample_text).collect();
    let sampled = texts.len();
    let axis = coordinate_axis(name);
    let mut not_counted = Vec::new();
    for rule in &rules.detectors {
        let matched = texts.iter().filter(|t| rule.detector.matches(t, axis)).count();
        if matched == 0 {
            continue;
        }
        let share = rules.share_for(rule);
        if matched as f64 >= share * sampled as f64 {
            evidence.push(Evidence {
                source: EvidenceSource::Values { detector: rule.detector, matched, sampled },
                grade: rule.grade,
                domain: rule.domain,
                kind: Some(rule.detector),
                detail: rule.detector.evidence_detail(matched, sampled),
                reason: rule.reason.clone(),
            });
        } else {
            not_counted.push(format!(
                "{matched} of {sampled} samples look like {}, under the {:.0}% needed",
                rule.detector.noun(Lang::En),
                share * 100.0
            ));
        }
    }
    // Highest grade first; names before values among equals (stable sort).
    evidence.sort_by_key(|e| std::cmp::Reverse(e.grade));

    let grade = evidence.first().map_or(rules.default_grade, |e| e.grade);
    let (domain, domain_source) = choose_domain(&evidence, dataset_domain, rules.default_domain);
    let kind = evidence
        .iter()
        .find(|e| matches!(e.source, EvidenceSource::Values { .. }) && e.grade == grade)
        .or_else(|| evidence.iter().find(|e| matches!(e.source, EvidenceSource::Values { .. })))
        .or_else(|| evidence.iter().find(|e| e.kind.is_some()))
        .and_then(|e| e.kind);

    let mut text = if evidence.is_empty() {
        format!("no dictionary term or value detector matched → {} (rules default)", grade_label(grade, scheme, Lang::En))
    } else {
        evidence.iter().map(|e| e.sentence(scheme)).collect::<Vec<_>>().join("; ")
    };
    if !not_counted.is_empty() {
        text.push_str("; not counted: ");
        text.push_str(&not_counted.join("; "));
    }
    text.push_str(&format!(". Domain: {} ({domain_source}).", domain.label(Lang::En)));

    FieldClassification {
        field: name.to_string(),
        domain,
        grade,
        automatic_grade: grade,
        kind,
        explanation: text.clone(),
        automatic_explanation: text,
        matched: evidence,
        manual_override: None,
    }
}

/// Domain precedence: a dictionary term (highest grade, then longest term, then dictionary order),
/// then a detector rule's domain, then the dataset's, then the rules default.
fn choose_domain(evidence: &[Evidence], dataset_domain: Option<DataDomain>, default: DataDomain) -> (DataDomain, String) {
    let mut best: Option<(&Evidence, &str)> = None;
    for e in evidence {
        if let (EvidenceSource::FieldName { term }, Some(_)) = (&e.source, e.domain) {
            let better = match best {
                None => true,
                Some((b, bterm)) => e.grade > b.grade || (e.grade == b.grade && term.chars().count() > bterm.chars().count()),
            };
            if better {
                best = Some((e, term));
            }
        }
    }
    if let Some((e, term)) = best
        && let Some(d) = e.domain
    {
        return (d, format!("from the field-name term \"{term}\""));
    }
    for e in evidence {
        if let (EvidenceSource::Values { detector, .. }, Some(d)) = (&e.source, e.domain) {
            return (d, format!("from the {} detector", detector.noun(Lang::En)));
        }
    }
    match dataset_domain {
        Some(d) => (d, "the dataset's domain".to_string()),
        None => (default, "rules default".to_string()),
    }
}

/// Classify every field of a dataset; the dataset grade is the highest field grade.
pub fn classify_dataset(fields: &[FieldSamples], dataset_domain: Option<DataDomain>, rules: &ClassificationRules) -> DatasetClassification {
    let mut classification = DatasetClassification {
        grade: rules.default_grade,
        graded_by: None,
        explanation: String::new(),
        dataset_domain,
        rules_version: rules.version.clone(),
        grade_scheme: rules.grade_scheme,
        fields: fields.iter().map(|f| classify_field_in(&f.name, &f.samples, dataset_domain, rules)).collect(),
    };
    summarize(&mut classification, rules.default_grade);
    classification
}

/// Recompute the dataset grade, the field that caused it and the explanation.
fn summarize(c: &mut DatasetClassification, empty_grade: Grade) {
    let scheme = c.grade_scheme;
    let Some(top) = c.fields.iter().map(|f| f.grade).max() else {
        c.grade = empty_grade;
        c.graded_by = None;
        c.explanation = format!("no fields → {} (rules default)", grade_label(empty_grade, scheme, Lang::En));
        return;
    };
    let at_top: Vec<&str> = c.fields.iter().filter(|f| f.grade == top).map(|f| f.field.as_str()).collect();
    let label = grade_label(top, scheme, Lang::En);
    let mut text = format!("highest field grade is {label}, from field \"{}\"", at_top[0]);
    if at_top.len() > 1 {
        let others: Vec<String> = at_top[1..].iter().take(3).map(|f| format!("\"{f}\"")).collect();
        let more = at_top.len() - 1 - others.len();
        text.push_str(&format!("; also {label}: {}", others.join(", ")));
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
    }
    if c.fields.iter().any(|f| f.manual_override.is_some()) {
        text.push_str(" (some field grades are manual overrides)");
    }
    c.grade = top;
    c.graded_by = Some(at_top[0].to_string());
    c.explanation = text;
}

fn override_explanation(field: &FieldClassification, o: &GradeOverride, scheme: GradeScheme) -> String {
    format!(
        "overridden to {} by {} (was {}): {}. Automatic classification: {}",
        grade_label(o.grade, scheme, Lang::En),
        o.actor,
        grade_label(o.previous, scheme, Lang::En),
        o.reason,
        field.automatic_explanation
    )
}

/// Set a field's grade by hand. Returns the record to keep (e.g. on the audit ledger); the field
/// keeps its automatic grade and evidence next to it, and the dataset grade follows.
pub fn apply_override(
    classification: &mut DatasetClassification,
    field: &str,
    grade: Grade,
    reason: &str,
    actor: &str,
) -> Result<GradeOverride, ClassificationError> {
    if reason.trim().is_empty() {
        return Err(ClassificationError::MissingReason);
    }
    if actor.trim().is_empty() {
        return Err(ClassificationError::MissingActor);
    }
    let scheme = classification.grade_scheme;
    let f = classification.fields.iter_mut().find(|f| f.field == field).ok_or_else(|| ClassificationError::UnknownField(field.to_string()))?;
    let record = GradeOverride { previous: f.grade, grade, reason: reason.trim().to_string(), actor: actor.trim().to_string() };
    f.grade = grade;
    f.explanation = override_explanation(f, &record, scheme);
    f.manual_override = Some(record.clone());
    let empty_grade = classification.grade;
    summarize(classification, empty_grade);
    Ok(record)
}

/// Whether re-classification keeps manual overrides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideHandling {
    #[default]
    Keep,
    Discard,
}

/// What happened to a field's manual override on re-classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideOutcome {
    NotOverridden,
    Kept,
    Discarded,
}

/// A field whose effective grade, automatic grade or domain changed, or that appeared or vanished
/// (`None` before = new field, `None` after = field no longer present).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub grade_before: Option<Grade>,
    pub grade_after: Option<Grade>,
    pub automatic_before: Option<Grade>,
    pub automatic_after: Option<Grade>,
    pub domain_before: Option<DataDomain>,
    pub domain_after: Option<DataDomain>,
    pub manual_override: OverrideOutcome,
}

impl FieldChange {
    /// The effective grade changed (including fields that appeared or vanished).
    pub fn grade_changed(&self) -> bool {
        self.grade_before != self.grade_after
    }
}

/// The result of re-running rules over stored samples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reclassification {
    pub classification: DatasetClassification,
    pub grade_before: Grade,
    pub rules_version_before: String,
    pub changes: Vec<FieldChange>,
}

impl Reclassification {
    /// Names of the fields whose effective grade changed.
    pub fn fields_with_new_grade(&self) -> Vec<&str> {
        self.changes.iter().filter(|c| c.grade_changed()).map(|c| c.field.as_str()).collect()
    }
}

/// Re-run `rules` over stored samples (for when rules change) and report what changed against
/// `previous`. Overrides are re-applied on top of the new automatic result unless `Discard`.
pub fn reclassify(
    previous: &DatasetClassification,
    fields: &[FieldSamples],
    rules: &ClassificationRules,
    overrides: OverrideHandling,
) -> Reclassification {
    let mut next = classify_dataset(fields, previous.dataset_domain, rules);
    let mut changes = Vec::new();
    let scheme = next.grade_scheme;
    for f in &mut next.fields {
        let before = previous.field(&f.field);
        let prior_override = before.and_then(|b| b.manual_override.as_ref());
        let outcome = match (prior_override, overrides) {
            (None, _) => OverrideOutcome::NotOverridden,
            (Some(o), OverrideHandling::Keep) => {
                f.grade = o.grade;
                f.explanation = override_explanation(f, o, scheme);
                f.manual_override = Some(o.clone());
                OverrideOutcome::Kept
            }
            (Some(_), OverrideHandling::Discard) => OverrideOutcome::Discarded,
        };
        let change = FieldChange {
            field: f.field.clone(),
            grade_before: before.map(|b| b.grade),
            grade_after: Some(f.grade),
            automatic_before: before.map(|b| b.automatic_grade),
            automatic_after: Some(f.automatic_grade),
            domain_before: before.map(|b| b.domain),
            domain_after: Some(f.domain),
            manual_override: outcome,
        };
        let changed = change.grade_before != change.grade_after
            || change.automatic_before != change.automatic_after
            || change.domain_before != change.domain_after
            || outcome == OverrideOutcome::Discarded;
        if changed {
            changes.push(change);
        }
    }
    for b in &previous.fields {
        if next.field(&b.field).is_none() {
            changes.push(FieldChange {
                field: b.field.clone(),
                grade_before: Some(b.grade),
                grade_after: None,
                automatic_before: Some(b.automatic_grade),
                automatic_after: None,
                domain_before: Some(b.domain),
                domain_after: None,
                manual_override: if b.manual_override.is_some() { OverrideOutcome::Discarded } else { OverrideOutcome::NotOverridden },
            });
        }
    }
    summarize(&mut next, rules.default_grade);
    Reclassification { classification: next, grade_before: previous.grade, rules_version_before: previous.rules_version.clone(), changes }
}

#[cfg(test)]
#[path = "grading_tests.rs"]
mod tests;
