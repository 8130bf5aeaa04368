//! The registry's rules, pure: names, the model tree, stages and their transitions,
//! endpoints, and the grade a model carries from the data it and its ancestors were trained on.
//!
//! No I/O, no clock: the operations feed these functions what the store holds and store what
//! they allow. Checks return every violation at once (field, rule, reason).

use brain_core::Violation;
use brain_governance::domain::Grade;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use utoipa::ToSchema;

pub use super::endpoint::{Endpoint, Location};

/// Names of models and versions: lowercase `[a-z0-9][a-z0-9._-]{0,63}`.
pub const NAME_RULE: &str = "use 1-64 characters of [a-z0-9._-], starting with a letter or digit";
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_ENDPOINTS: usize = 32;
pub const MAX_TRAINING_DATASETS: usize = 100;
pub const ENDPOINTS: RangeInclusive<usize> = 1..=MAX_ENDPOINTS;

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

pub(crate) fn violation(field: impl Into<String>, rule: &str, reason: impl Into<String>) -> Violation {
    Violation { field: Some(field.into()), rule: rule.to_owned(), reason: reason.into(), ..Violation::default() }
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
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// Where a model sits in the "large base + small models" tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A base model; no parent.
    Foundation,
    /// Fine-tuned from a foundation model on an industry's data.
    Industry,
    /// Fine-tuned from an industry model for one application scenario.
    Scenario,
}

text_enum!(Level { Foundation => "foundation", Industry => "industry", Scenario => "scenario" });

impl Level {
    /// The level its parent must have; `None` for foundation models, which have none.
    pub fn parent_level(self) -> Option<Level> {
        match self {
            Self::Foundation => None,
            Self::Industry => Some(Self::Foundation),
            Self::Scenario => Some(Self::Industry),
        }
    }
}

/// The life of a version. Only the production version serves; a retired one never again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Development,
    Staging,
    Production,
    Retired,
}

text_enum!(Stage { Development => "development", Staging => "staging", Production => "production", Retired => "retired" });

/// Why a version cannot move to a stage.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("version {version} is already in {stage}")]
    Unchanged { version: String, stage: Stage },
    #[error("version {version} cannot move from {from} to {to}: {reason}")]
    NotAllowed { version: String, from: Stage, to: Stage, reason: &'static str },
}

/// Whether a version in `from` may move to `to`, and if not, why.
///
/// ```text
/// development ⇄ staging → production      production → staging (roll back)
/// any stage → retired (final)
/// ```
pub fn transition(from: Stage, to: Stage) -> Result<(), &'static str> {
    use Stage::*;
    match (from, to) {
        (Retired, _) => Err("a retired version never serves again; add a new version"),
        (_, Retired) | (Development, Staging) | (Staging, Development) | (Staging, Production) | (Production, Staging) => Ok(()),
        (Development, Production) => Err("a version reaches production through staging"),
        (Production, Development) => Err("move it to staging first"),
        (Development, Development) | (Staging, Staging) | (Production, Production) => Err("it is already there"),
    }
}

/// One version moving from one stage to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StageChange {
    pub version: String,
    pub from: Stage,
    pub to: Stage,
}

/// The changes that move `version` (now in `current`) to `target`, in the order to apply them:
/// promoting to production first moves the present production version (if another) back to
/// staging, where it stays ready for a roll-back.
pub fn plan_stage_change(version: &str, current: Stage, target: Stage, production: Option<&str>) -> Result<Vec<StageChange>, StageError> {
    if current == target {
        return Err(StageError::Unchanged { version: version.to_owned(), stage: current });
    }
    transition(current, target).map_err(|reason| StageError::NotAllowed { version: version.to_owned(), from: current, to: target, reason })?;
    let mut changes = Vec::with_capacity(2);
    if target == Stage::Production
        && let Some(previous) = production.filter(|p| *p != version)
    {
        changes.push(StageChange { version: previous.to_owned(), from: Stage::Production, to: Stage::Staging });
    }
    changes.push(StageChange { version: version.to_owned(), from: current, to: target });
    Ok(changes)
}

/// The highest of some grades; `None` when none is given (trained on no data of this brain).
pub fn max_grade(grades: impl IntoIterator<Item = Option<Grade>>) -> Option<Grade> {
    grades.into_iter().flatten().max()
}

/// A `tenant/dataset` reference: 1-64 of `[A-Za-z0-9._-]` on each side.
pub fn valid_dataset_ref(reference: &str) -> bool {
    let part = |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    reference.split_once('/').is_some_and(|(tenant, dataset)| part(tenant) && part(dataset))
}

/// What a client sends for a new version. It starts in development.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    /// Unique within the model: 1-64 of `[a-z0-9._-]`, starting with a letter or digit.
    pub version: String,
    /// One or more OpenAI-compatible upstreams.
    pub endpoints: Vec<Endpoint>,
    /// The datasets it was trained or fine-tuned on, as `tenant/dataset` (required for
    /// industry and scenario models).
    #[serde(default)]
    pub training_datasets: Vec<String>,
    /// The highest grade of that data (`low`, `medium`, `high`); required when datasets are named.
    #[serde(default)]
    pub trained_on_grade: Option<Grade>,
    /// A model the gateway falls back to when this one fails.
    #[serde(default)]
    pub fallback_model: Option<String>,
}

/// What a client sends to register a model with its first version.
#[derive(Clone, Debug, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModel {
    /// Unique in the brain: 1-64 of `[a-z0-9._-]`, starting with a letter or digit.
    pub name: String,
    pub level: Level,
    /// The model it was fine-tuned from: a foundation model for an industry model, an
    /// industry model for a scenario model; none for a foundation model.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The first version.
    pub version: NewVersion,
}

/// Checks a registration (all of it but what needs the store: the parent's and the fallback's
/// existence and level); every violation at once.
pub fn check_new_model(new: &NewModel) -> Vec<Violation> {
    let mut violations = Vec::new();
    if !valid_name(&new.name) {
        violations.push(violation("name", "name", NAME_RULE));
    }
    match (new.level.parent_level(), new.parent.as_deref()) {
        (None, Some(_)) => violations.push(violation("parent", "parent", "a foundation model has no parent")),
        (Some(level), None) => violations.push(violation("parent", "parent", format!("a {} model needs its parent, a {level} model", new.level))),
        (Some(_), Some(parent)) if !valid_name(parent) => violations.push(violation("parent", "name", NAME_RULE)),
        (Some(_), Some(parent)) if parent == new.name => violations.push(violation("parent", "parent", "a model is not its own parent")),
        _ => {}
    }
    if new.description.chars().count() > MAX_DESCRIPTION_CHARS {
        violations.push(violation("description", "length", format!("at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    violations.extend(check_new_version(new.level, &new.name, &new.version, "version."));
    violations
}

/// Checks a new version of a model named `model` at `level`; field names start with `prefix`.
pub fn check_new_version(level: Level, model: &str, new: &NewVersion, prefix: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let field = |name: &str| format!("{prefix}{name}");
    if !valid_name(&new.version) {
        violations.push(violation(field("version"), "name", NAME_RULE));
    }
    if !ENDPOINTS.contains(&new.endpoints.len()) {
        violations.push(violation(field("endpoints"), "count", format!("give 1-{MAX_ENDPOINTS} endpoints")));
    }
    for (i, endpoint) in new.endpoints.iter().enumerate() {
        violations.extend(endpoint.check(&field(&format!("endpoints[{i}].")), &new.endpoints[..i]));
    }
    if new.training_datasets.len() > MAX_TRAINING_DATASETS {
        violations.push(violation(field("training_datasets"), "count", format!("at most {MAX_TRAINING_DATASETS} datasets")));
    }
    for (i, reference) in new.training_datasets.iter().enumerate() {
        if !valid_dataset_ref(reference) {
            violations.push(violation(field(&format!("training_datasets[{i}]")), "dataset_ref", format!("`{reference}` is not `tenant/dataset`")));
        } else if new.training_datasets[..i].contains(reference) {
            violations.push(violation(field(&format!("training_datasets[{i}]")), "unique", format!("`{reference}` is named twice")));
        }
    }
    if level != Level::Foundation && new.training_datasets.is_empty() {
        violations.push(violation(field("training_datasets"), "required", format!("a fine-tuned ({level}) model names the datasets it was trained on")));
    }
    if !new.training_datasets.is_empty() && new.trained_on_grade.is_none() {
        violations.push(violation(field("trained_on_grade"), "required", "declare the highest grade of the training data (low, medium or high)"));
    }
    match new.fallback_model.as_deref() {
        Some(fallback) if !valid_name(fallback) => violations.push(violation(field("fallback_model"), "name", NAME_RULE)),
        Some(fallback) if fallback == model => violations.push(violation(field("fallback_model"), "fallback", "a model cannot fall back to itself")),
        _ => {}
    }
    violations
}

/// Endpoints that may not serve a model trained on data of `grade`: high-graded weights stay
/// on premise, medium-graded ones in the province. Field names start with `prefix`.
pub fn check_locations(endpoints: &[Endpoint], grade: Option<Grade>, prefix: &str) -> Vec<Violation> {
    let Some(grade) = grade else { return Vec::new() };
    endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.location.may_serve(grade))
        .map(|(i, e)| {
            let reason = format!("an endpoint {} may not serve a model trained on data graded {} (with its ancestors)", e.location.description(), grade.as_str());
            violation(format!("{prefix}endpoints[{i}].location"), "location_grade", reason)
        })
        .collect()
}

/// A reason given for a stage change (optional, recorded in the ledger).
pub fn check_reason(reason: &str) -> Vec<Violation> {
    if reason.chars().count() > MAX_REASON_CHARS {
        vec![violation("reason", "length", format!("at most {MAX_REASON_CHARS} characters"))]
    } else {
        Vec::new()
    }
}

/// A stored version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    pub version: String,
    pub stage: Stage,
    pub endpoints: Vec<Endpoint>,
    pub training_datasets: Vec<String>,
    /// As declared; absent: trained on no data of this brain.
    pub trained_on_grade: Option<Grade>,
    pub fallback_model: Option<String>,
    /// Who added it: `user:<id>`, `api-key:<id>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub stage_changed_at: DateTime<Utc>,
}

/// A model with its versions, as stored, and the grade it inherits from its ancestors.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub level: Level,
    pub parent: Option<String>,
    pub description: String,
    /// The tenant that registered it: its operators and providers change it.
    pub owner_tenant: String,
    pub created_at: DateTime<Utc>,
    /// In the order they were added.
    pub versions: Vec<Version>,
    /// The highest grade any version of any ancestor was trained on (which parent version a
    /// child came from is not recorded, so every one counts).
    pub inherited_grade: Option<Grade>,
}

impl Model {
    pub fn version(&self, version: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The version that serves, if any.
    pub fn production(&self) -> Option<&Version> {
        self.versions.iter().find(|v| v.stage == Stage::Production)
    }

    /// What its children inherit: the highest grade of its versions and its ancestors.
    pub fn lineage_grade(&self) -> Option<Grade> {
        max_grade(self.versions.iter().map(|v| v.trained_on_grade).chain([self.inherited_grade]))
    }

    /// What guards a version: its own grade and everything its ancestors were trained on.
    pub fn effective_grade(&self, version: &Version) -> Option<Grade> {
        max_grade([version.trained_on_grade, self.inherited_grade])
    }
}

#[cfg(test)]
#[path = "domain_tests.rs"]
mod tests;
