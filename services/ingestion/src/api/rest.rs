//! REST routes of ingestion under `/api/v1`.

use crate::domain::{self, RecordOutcome};
use crate::{Ingestion, IngestionError};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::Json;
use brain_core::{Problem, Violation};
use brain_proto::events::v1::{Source, SourceKind};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "ingestion";

pub(crate) fn router(service: Ingestion) -> OpenApiRouter {
    // The handler enforces the configured limit itself with a precise error; axum's limit
    // sits just above it so oversized bodies are refused before being buffered whole.
    let limit = usize::try_from(service.limits.max_body_bytes).unwrap_or(usize::MAX).saturating_add(1);
    OpenApiRouter::new()
        .routes(routes!(post_records))
        .routes(routes!(list_sources))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(service)
}

/// Result of one record of a batch.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecordResult {
    index: u32,
    record_id: String,
    /// `accepted` or `rejected`
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    violation: Option<Violation>,
}

/// Acknowledgement of a batch: sent only once every record is durably on the bus
/// (accepted ones on the data chain, rejected ones as dead letters with their reason).
#[derive(Serialize, ToSchema)]
pub(crate) struct BatchAck {
    accepted: u32,
    rejected: u32,
    results: Vec<RecordResult>,
}

pub(crate) fn ack(outcomes: &[RecordOutcome]) -> BatchAck {
    let results: Vec<RecordResult> = outcomes
        .iter()
        .map(|o| match o {
            RecordOutcome::Accepted { index, id, .. } => RecordResult { index: *index, record_id: id.clone(), status: "accepted", violation: None },
            RecordOutcome::Rejected { index, id, violation, .. } => {
                RecordResult { index: *index, record_id: id.clone(), status: "rejected", violation: Some(violation.clone()) }
            }
        })
        .collect();
    let accepted = results.iter().filter(|r| r.status == "accepted").count() as u32;
    BatchAck { accepted, rejected: results.len() as u32 - accepted, results }
}

/// Push records of a dataset.
///
/// The body is a JSON array of objects, one per record. `_id` (optional) is the record id —
/// when absent it is derived from the content, so re-sending a batch creates no duplicates —
/// and `_event_time` (optional, RFC 3339) the time of the fact; every other key is a field.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/records",
    tag = TAG,
    params(("tenant" = String, Path, description = "Owner tenant id"), ("dataset" = String, Path, description = "Dataset name")),
    request_body(content = Vec<serde_json::Value>, content_type = "application/json", description = "Records"),
    responses(
        (status = 200, description = "Per-record results", body = BatchAck),
        (status = 400, description = "Body is not a JSON array, or a name is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or batch above the limits", body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "NDJSON and CSV bodies are not built yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The bus is unavailable; nothing was acknowledged", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn post_records(
    State(service): State<Ingestion>,
    Path((tenant, dataset)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<BatchAck>, Problem> {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if content_type.starts_with("application/x-ndjson") || content_type.starts_with("text/csv") {
        return Err(Problem::unimplemented(&format!("ingesting `{content_type}` bodies")));
    }
    let inputs = domain::parse_json_batch(&body, &service.limits).map_err(|e| Problem::from(&e))?;
    let client = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let source = Source { kind: SourceKind::Rest as i32, name: client, attributes: Default::default() };
    let outcomes = service.ingest(&tenant, &dataset, source, inputs).await.map_err(|e: IngestionError| Problem::from(&e))?;
    Ok(Json(ack(&outcomes)))
}

/// List configured MQTT subscriptions and scheduled pulls.
#[utoipa::path(
    get,
    path = "/api/v1/ingestion/sources",
    tag = TAG,
    responses((status = 501, description = "Not built yet", body = Problem, content_type = "application/problem+json"))
)]
async fn list_sources() -> Problem {
    Problem::unimplemented("GET /api/v1/ingestion/sources")
}
