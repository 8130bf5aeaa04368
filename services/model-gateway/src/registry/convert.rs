//! Between the contract (`brain.gateway.v1`) and the registry's types.

use super::domain::{Endpoint, Level, Location, Model, NewModel, NewVersion, Stage, Version, violation};
use super::endpoint::DEFAULT_WEIGHT;
use brain_auth::proto::timestamp;
use brain_core::Violation;
use brain_governance::domain::Grade;
use brain_proto::common::v1::DatasetRef;
use brain_proto::gateway::v1 as pb;

pub(crate) fn level_from(value: i32) -> Option<Level> {
    match pb::ModelLevel::try_from(value).ok()? {
        pb::ModelLevel::Unspecified => None,
        pb::ModelLevel::Foundation => Some(Level::Foundation),
        pb::ModelLevel::Industry => Some(Level::Industry),
        pb::ModelLevel::Scenario => Some(Level::Scenario),
    }
}

fn level_to(level: Level) -> pb::ModelLevel {
    match level {
        Level::Foundation => pb::ModelLevel::Foundation,
        Level::Industry => pb::ModelLevel::Industry,
        Level::Scenario => pb::ModelLevel::Scenario,
    }
}

pub(crate) fn stage_from(value: i32) -> Option<Stage> {
    match pb::Stage::try_from(value).ok()? {
        pb::Stage::Unspecified => None,
        pb::Stage::Development => Some(Stage::Development),
        pb::Stage::Staging => Some(Stage::Staging),
        pb::Stage::Production => Some(Stage::Production),
        pb::Stage::Retired => Some(Stage::Retired),
    }
}

fn stage_to(stage: Stage) -> pb::Stage {
    match stage {
        Stage::Development => pb::Stage::Development,
        Stage::Staging => pb::Stage::Staging,
        Stage::Production => pb::Stage::Production,
        Stage::Retired => pb::Stage::Retired,
    }
}

fn location_from(value: i32) -> Option<Location> {
    match pb::EndpointLocation::try_from(value).ok()? {
        pb::EndpointLocation::Unspecified => None,
        pb::EndpointLocation::OnPremise => Some(Location::OnPremise),
        pb::EndpointLocation::InProvince => Some(Location::InProvince),
        pb::EndpointLocation::External => Some(Location::External),
    }
}

fn location_to(location: Location) -> pb::EndpointLocation {
    match location {
        Location::OnPremise => pb::EndpointLocation::OnPremise,
        Location::InProvince => pb::EndpointLocation::InProvince,
        Location::External => pb::EndpointLocation::External,
    }
}

fn grade_to(grade: Option<Grade>) -> i32 {
    grade.map_or(brain_proto::common::v1::Grade::Unspecified as i32, Grade::to_proto)
}

fn text(value: String) -> Option<String> {
    Some(value).filter(|v| !v.is_empty())
}

/// A new version from the contract; what cannot be read (unknown enum values) as violations
/// with fields under `prefix`.
pub(crate) fn new_version_from(version: pb::NewVersion, prefix: &str) -> Result<NewVersion, Vec<Violation>> {
    let mut violations = Vec::new();
    let endpoints = version
        .endpoints
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let location = location_from(e.location).unwrap_or_else(|| {
                violations.push(violation(format!("{prefix}endpoints[{i}].location"), "required", "ON_PREMISE, IN_PROVINCE or EXTERNAL"));
                Location::External
            });
            Endpoint {
                url: e.url,
                location,
                weight: if e.weight == 0 { DEFAULT_WEIGHT } else { e.weight },
                max_concurrency: e.max_concurrency,
                request_timeout_ms: e.request_timeout_ms,
                api_key_secret_env: text(e.api_key_secret_env),
            }
        })
        .collect();
    let trained_on_grade = match brain_proto::common::v1::Grade::try_from(version.trained_on_grade) {
        Ok(brain_proto::common::v1::Grade::Unspecified) => None,
        _ => Grade::from_proto(version.trained_on_grade).or_else(|| {
            violations.push(violation(format!("{prefix}trained_on_grade"), "grade", "LOW, MEDIUM or HIGH"));
            None
        }),
    };
    let new = NewVersion {
        version: version.version,
        endpoints,
        training_datasets: version.training_datasets.into_iter().map(|d| format!("{}/{}", d.tenant_id, d.dataset)).collect(),
        trained_on_grade,
        fallback_model: text(version.fallback_model),
    };
    if violations.is_empty() { Ok(new) } else { Err(violations) }
}

pub(crate) fn new_model_from(request: pb::RegisterModelRequest) -> Result<NewModel, Vec<Violation>> {
    let level = level_from(request.level);
    let version = new_version_from(request.version.unwrap_or_default(), "version.");
    match (level, version) {
        (Some(level), Ok(version)) => Ok(NewModel { name: request.name, level, parent: text(request.parent), description: request.description, version }),
        (level, version) => {
            let mut violations = Vec::new();
            if level.is_none() {
                violations.push(violation("level", "required", "FOUNDATION, INDUSTRY or SCENARIO"));
            }
            violations.extend(version.err().unwrap_or_default());
            Err(violations)
        }
    }
}

fn endpoint_to(endpoint: &Endpoint) -> pb::Endpoint {
    pb::Endpoint {
        url: endpoint.url.clone(),
        location: location_to(endpoint.location) as i32,
        weight: endpoint.weight,
        max_concurrency: endpoint.max_concurrency,
        request_timeout_ms: endpoint.request_timeout_ms,
        api_key_secret_env: endpoint.api_key_secret_env.clone().unwrap_or_default(),
    }
}

fn dataset_ref(reference: &str) -> DatasetRef {
    let (tenant, dataset) = reference.split_once('/').unwrap_or((reference, ""));
    DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() }
}

fn version_to(model: &Model, version: &Version) -> pb::ModelVersion {
    pb::ModelVersion {
        version: version.version.clone(),
        stage: stage_to(version.stage) as i32,
        endpoints: version.endpoints.iter().map(endpoint_to).collect(),
        training_datasets: version.training_datasets.iter().map(|d| dataset_ref(d)).collect(),
        trained_on_grade: grade_to(version.trained_on_grade),
        created_at: Some(timestamp(version.created_at)),
        fallback_model: version.fallback_model.clone().unwrap_or_default(),
        stage_changed_at: Some(timestamp(version.stage_changed_at)),
        effective_grade: grade_to(model.effective_grade(version)),
        created_by: version.created_by.clone(),
    }
}

pub(crate) fn model_to(model: &Model) -> pb::Model {
    pb::Model {
        name: model.name.clone(),
        level: level_to(model.level) as i32,
        parent: model.parent.clone().unwrap_or_default(),
        description: model.description.clone(),
        versions: model.versions.iter().map(|v| version_to(model, v)).collect(),
        owner_tenant_id: model.owner_tenant.clone(),
        created_at: Some(timestamp(model.created_at)),
        lineage_grade: grade_to(model.lineage_grade()),
        production_version: model.production().map(|v| v.version.clone()).unwrap_or_default(),
    }
}
