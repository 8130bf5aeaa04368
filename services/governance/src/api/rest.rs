//! REST routes of governance under `/api/v1/tenants/{tenant}/datasets`.

use crate::catalog::schema::FieldSpec;
use crate::catalog::{Dataset, Library, NewDataset};
use crate::domain::{DatasetClassification, Grade, Reclassification};
use crate::store::{RejectedRow, StoredRecord};
use crate::{Governance, GovernanceError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use brain_core::Problem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "governance";

pub(crate) fn router(service: Governance) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_dataset, list_datasets))
        .routes(routes!(get_dataset))
        .routes(routes!(evolve_schema))
        .routes(routes!(query_records))
        .routes(routes!(list_rejected))
        .routes(routes!(resubmit))
        .routes(routes!(quality_score))
        .routes(routes!(get_classification, classify))
        .routes(routes!(override_grade))
        .with_state(service)
}

type ApiResult<T> = Result<T, Problem>;

fn problem(error: GovernanceError) -> Problem {
    Problem::from(&error)
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
async fn create_dataset(State(service): State<Governance>, principal: brain_auth::Principal, Path(tenant): Path<String>, Json(new): Json<NewDataset>) -> ApiResult<(StatusCode, Json<Dataset>)> {
    let dataset = service.create_dataset(&principal, &tenant, new).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(dataset)))
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
    let page = service.list_datasets(&tenant, params.library, &params.q, params.page_size, params.page_token.as_deref()).await.map_err(problem)?;
    Ok(Json(DatasetPage { datasets: page.items, next_page_token: page.next_page_token }))
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
    Ok(Json(service.get_dataset(&tenant, &name).await.map_err(problem)?))
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
async fn evolve_schema(State(service): State<Governance>, principal: brain_auth::Principal, Path((tenant, name)): Path<(String, String)>, Json(change): Json<SchemaChange>) -> ApiResult<Json<Dataset>> {
    Ok(Json(service.evolve_schema(&principal, &tenant, &name, change.fields).await.map_err(problem)?))
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
    let page = service
        .query_records(&tenant, &name, params.from, params.to, params.page_size, params.page_token.as_deref())
        .await
        .map_err(problem)?;
    Ok(Json(RecordPage { records: page.items, next_page_token: page.next_page_token }))
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
    let page = service.list_rejected(&tenant, &name, params.page_size, params.page_token.as_deref()).await.map_err(problem)?;
    Ok(Json(RejectedPage { records: page.items, next_page_token: page.next_page_token }))
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
    service.resubmit(&tenant, &name, &record_id, payload).await.map_err(problem)?;
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
    let quality = service.quality(&tenant, &name, &params.from, &params.to).await.map_err(problem)?;
    Ok(Json(QualityReport {
        score: quality.score,
        accepted: quality.accepted,
        rejected: quality.rejected,
        days: quality.days.into_iter().map(|(day, accepted, rejected, score)| DailyQuality { day, accepted, rejected, score }).collect(),
    }))
}

/// The current classification: each field's domain, grade and why, and the dataset's grade.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/classification",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
async fn get_classification(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>) -> ApiResult<Json<DatasetClassification>> {
    let dataset = service.get_dataset(&tenant, &name).await.map_err(problem)?;
    match dataset.classification {
        Some(classification) => Ok(Json(classification)),
        None => Ok(Json(service.classify(&tenant, &name).await.map_err(problem)?.classification)),
    }
}

/// Classify and grade again — by field names and by the values of the newest records, after
/// records arrived or the rules changed. Manual overrides are kept; the changes are listed.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/classification",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
async fn classify(State(service): State<Governance>, Path((tenant, name)): Path<(String, String)>) -> ApiResult<Json<Reclassification>> {
    Ok(Json(service.classify(&tenant, &name).await.map_err(problem)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GradeChange {
    field: String,
    grade: Grade,
    /// Why: kept in the override history and shown in the field's explanation.
    reason: String,
}

/// Override the grade of one field, with a reason; the override is recorded.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/grades",
    tag = TAG,
    params(("tenant" = String, Path), ("dataset" = String, Path)),
    request_body = GradeChange,
    responses((status = 200, body = Object), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
async fn override_grade(
    State(service): State<Governance>,
    principal: brain_auth::Principal,
    Path((tenant, name)): Path<(String, String)>,
    Json(change): Json<GradeChange>,
) -> ApiResult<Json<DatasetClassification>> {
    let classification = service
        .override_grade(&tenant, &name, &change.field, change.grade, &change.reason, &principal)
        .await
        .map_err(problem)?;
    Ok(Json(classification))
}
