//! REST routes of governance under `/api/v1/tenants/{tenant}/datasets`.

use crate::catalog::quality::{self, score};
use crate::catalog::schema::{FieldSpec, check_evolution};
use crate::catalog::{Dataset, Library, NewDataset, check_new_dataset, valid_name};
use crate::store::{RejectedRow, StoredRecord};
use crate::{Governance, GovernanceError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use brain_core::{Problem, Violation};
use brain_store::TenantId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "governance";
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
/// 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the default event-time range.
const EARLIEST: i64 = -2_208_988_800;
const LATEST: i64 = 253_402_300_799;

pub(crate) fn router(service: Governance) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_dataset, list_datasets))
        .routes(routes!(get_dataset))
        .routes(routes!(evolve_schema))
        .routes(routes!(query_records))
        .routes(routes!(list_rejected))
        .routes(routes!(resubmit))
        .routes(routes!(quality_score))
        .routes(routes!(classify))
        .with_state(service)
}

type ApiResult<T> = Result<T, Problem>;

fn problem(error: GovernanceError) -> Problem {
    Problem::from(&error)
}

fn tenant_id(tenant: &str) -> ApiResult<TenantId> {
    TenantId::new(tenant).map_err(|e| problem(GovernanceError::invalid("tenant", vec![field_violation("tenant", &e.to_string())])))
}

fn field_violation(field: &str, reason: &str) -> Violation {
    Violation { field: Some(field.to_owned()), rule: "format".into(), reason: reason.to_owned(), ..Violation::default() }
}

fn dataset_name(name: &str) -> ApiResult<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(problem(GovernanceError::invalid("dataset", vec![field_violation("dataset", "use 1-64 ASCII letters, digits, '.', '_' or '-'")])))
    }
}

async fn existing(service: &Governance, tenant: &TenantId, name: &str) -> ApiResult<Dataset> {
    dataset_name(name)?;
    service
        .store
        .dataset(tenant, name)
        .await
        .map_err(problem)?
        .ok_or_else(|| problem(GovernanceError::UnknownDataset { tenant: tenant.to_string(), dataset: name.to_owned() }))
}

/// Page tokens are opaque to clients: the hex of our cursor.
fn token(cursor: &str) -> String {
    hex::encode(cursor)
}

fn untoken(token: &str) -> ApiResult<String> {
    hex::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| problem(GovernanceError::invalid("page_token", vec![field_violation("page_token", "not a token this API issued")])))
}

fn page_size(size: Option<u32>) -> ApiResult<i64> {
    match size.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(i64::from(n)),
        _ => Err(problem(GovernanceError::invalid("page_size", vec![field_violation("page_size", &format!("must be 1-{MAX_PAGE}"))]))),
    }
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// `basic`, `industry` or `scenario`.
    library: Option<Library>,
    /// Words to find in the name, title or description.
    #[serde(default)]
    q: String,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DatasetPage {
    datasets: Vec<Dataset>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Register a dataset in the catalog (schema version 1).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets",
    tag = TAG,
    params(("tenant" = String, Path, description = "Owner tenant id")),
    request_body = NewDataset,
    responses(
        (status = 201, body = Dataset),
        (status = 400, description = "Every problem of the registration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_dataset(State(service): State<Governance>, Path(tenant): Path<String>, Json(new): Json<NewDataset>) -> ApiResult<(StatusCode, Json<Dataset>)> {
    let tenant = tenant_id(&tenant)?;
    check_new_dataset(&new).map_err(|v| problem(GovernanceError::invalid("dataset registration", v)))?;
    match service.store.create_dataset(&tenant, &new).await {
        Ok(dataset) => Ok((StatusCode::CREATED, Json(dataset))),
        Err(GovernanceError::Store(brain_store::StoreError::AlreadyExists { .. })) => {
            Err(problem(GovernanceError::DatasetExists { tenant: tenant.to_string(), dataset: new.name }))
        }
        Err(error) => Err(problem(error)),
    }
}

/// List and search a tenant's datasets, by name.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets",
    tag = TAG,
    params(("tenant" = String, Path), ListParams),
    responses((status = 200, body = DatasetPage), (status = 400, body = Problem, content_type = "application/problem+json"))
)]
async fn list_datasets(State(service): State<Governance>, Path(tenant): Path<String>, Query(params): Query<ListParams>) -> ApiResult<Json<DatasetPage>> {
    let tenant = tenant_id(&tenant)?;
    let limit = page_size(params.page_size)?;
    let after = params.page_token.as_deref().map(untoken).transpose()?.unwrap_or_default();
    let datasets = service.store.list_datasets(&tenant, params.library, &params.q, &after, limit).await.map_err(problem)?;
    let next_page_token = (datasets.len() as i64 == limit).then(|| datasets.last().map(|d| token(&d.name))).flatten();
    Ok(Json(DatasetPage { datasets, next_page_token }))
}

/// A dataset with its current schema, quality rules and lineage.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 200, body = Dataset), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
async fn get_dataset(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>) -> ApiResult<Json<Dataset>> {
    let tenant = tenant_id(&tenant)?;
    Ok(Json(existing(&service, &tenant, &name).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchemaChange {
    /// The complete field list of the next version.
    fields: Vec<FieldSpec>,
}

/// Add a schema version. Incompatible changes are refused with the rule each one breaks.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/schema",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    request_body = SchemaChange,
    responses(
        (status = 200, body = Dataset),
        (status = 400, description = "Incompatible change, with the rules it breaks", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn evolve_schema(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>, Json(change): Json<SchemaChange>) -> ApiResult<Json<Dataset>> {
    let tenant = tenant_id(&tenant)?;
    let dataset = existing(&service, &tenant, &name).await?;
    check_evolution(&dataset.fields, &change.fields).map_err(|v| problem(GovernanceError::invalid("schema change", v)))?;
    Ok(Json(service.store.add_schema_version(&tenant, &dataset, &change.fields).await.map_err(problem)?))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct RecordParams {
    /// Start of the event-time range (RFC 3339, inclusive); default: the beginning.
    from: Option<DateTime<Utc>>,
    /// End of the event-time range (RFC 3339, exclusive); default: far future.
    to: Option<DateTime<Utc>>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RecordPage {
    records: Vec<StoredRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Records of a dataset in the warehouse, by event time.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/records",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path), RecordParams),
    responses((status = 200, body = RecordPage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
async fn query_records(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>, Query(params): Query<RecordParams>) -> ApiResult<Json<RecordPage>> {
    let tenant = tenant_id(&tenant)?;
    existing(&service, &tenant, &name).await?;
    let limit = page_size(params.page_size)?;
    // Bounds both engines store and compare correctly (SQLite compares fixed-width text).
    let from = params.from.unwrap_or_else(|| DateTime::from_timestamp(EARLIEST, 0).unwrap_or_default());
    let to = params.to.unwrap_or_else(|| DateTime::from_timestamp(LATEST, 0).unwrap_or_default());
    let after = match params.page_token.as_deref() {
        None => None,
        Some(t) => {
            let cursor = untoken(t)?;
            let parsed = cursor.split_once('|').and_then(|(micros, id)| {
                let micros: i64 = micros.parse().ok()?;
                Some((DateTime::from_timestamp_micros(micros)?, id.to_owned()))
            });
            Some(parsed.ok_or_else(|| problem(GovernanceError::invalid("page_token", vec![field_violation("page_token", "not a token this API issued")])))?)
        }
    };
    let records = service.store.query_records(&tenant, &name, from, to, after, limit).await.map_err(problem)?;
    let next_page_token =
        (records.len() as i64 == limit).then(|| records.last().map(|r| token(&format!("{}|{}", r.event_time.timestamp_micros(), r.record_id)))).flatten();
    Ok(Json(RecordPage { records, next_page_token }))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct PageParams {
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RejectedPage {
    records: Vec<RejectedRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Rejected records of a dataset with the rules they failed and why.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/rejected",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path), PageParams),
    responses((status = 200, body = RejectedPage), (status = 400, body = Problem, content_type = "application/problem+json"))
)]
async fn list_rejected(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>, Query(params): Query<PageParams>) -> ApiResult<Json<RejectedPage>> {
    // Records of datasets that are not (yet) in the catalog are kept too, so no catalog check.
    let tenant = tenant_id(&tenant)?;
    dataset_name(&name)?;
    let limit = page_size(params.page_size)?;
    let after = params.page_token.as_deref().map(untoken).transpose()?.unwrap_or_default();
    let records = service.store.rejected(&tenant, &name, &after, limit).await.map_err(problem)?;
    let next_page_token = (records.len() as i64 == limit).then(|| records.last().map(|r| token(&r.record_id))).flatten();
    Ok(Json(RejectedPage { records, next_page_token }))
}

/// Send a corrected rejected record through the data chain again, under its id.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/rejected/{record_id}/resubmit",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path), ("record_id" = String, Path)),
    request_body(content = serde_json::Value, description = "The corrected record: a JSON object of fields"),
    responses(
        (status = 202, description = "Re-submitted; it is checked again like any record"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No open rejection of this record", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn resubmit(
    State(service): State<Governance>,
    Path((tenant, name, record_id)): Path<(String, String, String)>,
    Json(payload): Json<serde_json::Value>,
) -> ApiResult<StatusCode> {
    let tenant = tenant_id(&tenant)?;
    dataset_name(&name)?;
    if !payload.is_object() {
        return Err(problem(GovernanceError::invalid("record", vec![field_violation("body", "the corrected record must be a JSON object")])));
    }
    if !service.store.mark_resubmitted(&tenant, &name, &record_id).await.map_err(problem)? {
        return Err(problem(GovernanceError::NoRejection { dataset: name, record_id }));
    }
    service.pipeline.resubmit(tenant.as_str(), &name, &record_id, payload).await.map_err(problem)?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct DayParams {
    /// First day `YYYY-MM-DD` (China Standard Time), inclusive.
    #[serde(default)]
    from: String,
    /// Last day, inclusive.
    #[serde(default)]
    to: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DailyQuality {
    day: String,
    accepted: i64,
    rejected: i64,
    /// Share of accepted records, 0–100.
    score: f64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct QualityReport {
    /// Over the whole range.
    score: f64,
    accepted: i64,
    rejected: i64,
    days: Vec<DailyQuality>,
}

/// Quality score of a dataset, overall and per day.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/quality",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path), DayParams),
    responses((status = 200, body = QualityReport), (status = 400, body = Problem, content_type = "application/problem+json"))
)]
async fn quality_score(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>, Query(params): Query<DayParams>) -> ApiResult<Json<QualityReport>> {
    let tenant = tenant_id(&tenant)?;
    dataset_name(&name)?;
    for (field, day) in [("from", &params.from), ("to", &params.to)] {
        if !brain_core::calendar::valid_day(day) {
            return Err(problem(GovernanceError::invalid("day range", vec![field_violation(field, "use YYYY-MM-DD")])));
        }
    }
    let days = service.store.quality_days(&tenant, &name, &params.from, &params.to).await.map_err(problem)?;
    let (accepted, rejected) = days.iter().fold((0, 0), |(a, r), (_, da, dr)| (a + da, r + dr));
    let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Json(QualityReport {
        score: quality::score(as_u64(accepted), as_u64(rejected)),
        accepted,
        rejected,
        days: days.into_iter().map(|(day, a, r)| DailyQuality { day, accepted: a, rejected: r, score: score(as_u64(a), as_u64(r)) }).collect(),
    }))
}

/// Classify and grade the fields of a dataset (not built yet).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/classification",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn classify() -> Problem {
    Problem::unimplemented("POST /api/v1/tenants/{tenant}/datasets/{dataset}/classification")
}
