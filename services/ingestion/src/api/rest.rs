//! REST routes of ingestion under `/api/v1`.

use crate::domain::RecordOutcome;
use crate::parse::{self, BodyError, BodyFormat};
use crate::{Ingestion, IngestionError};
use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use brain_core::{ErrorCode, Problem, Violation};
use brain_proto::events::v1::{Source, SourceKind};
use futures::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "ingestion";

pub(crate) fn router(service: Ingestion) -> OpenApiRouter {
    // `post_records` reads its body itself and stops at the configured limit with a precise
    // problem; axum's limit sits just above it for any extractor that buffers a body.
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
    /// Position of the record in the batch, from 0.
    index: u32,
    /// Line of the body on which the record starts, from 1 (REST bodies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
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

/// The acknowledgement of `outcomes`; `lines[i]`, when given, is the line of record `i`.
pub(crate) fn ack(outcomes: &[RecordOutcome], lines: &[u64]) -> BatchAck {
    let line = |index: &u32| lines.get(*index as usize).copied();
    let results: Vec<RecordResult> = outcomes
        .iter()
        .map(|o| match o {
            RecordOutcome::Accepted { index, id, .. } => {
                RecordResult { index: *index, line: line(index), record_id: id.clone(), status: "accepted", violation: None }
            }
            RecordOutcome::Rejected { index, id, violation, .. } => RecordResult {
                index: *index,
                line: line(index),
                record_id: id.clone(),
                status: "rejected",
                violation: Some(violation.clone()),
            },
        })
        .collect();
    let accepted = results.iter().filter(|r| r.status == "accepted").count() as u32;
    BatchAck { accepted, rejected: results.len() as u32 - accepted, results }
}

/// The format of a request body by its `Content-Type`; a request without one is JSON.
/// Anything else is refused with 415 naming the supported types.
fn body_format(headers: &HeaderMap) -> Result<BodyFormat, Problem> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else { return Ok(BodyFormat::Json) };
    let text = value.to_str().unwrap_or("(not ASCII)");
    BodyFormat::from_content_type(text).ok_or_else(|| {
        let detail = format!("content type `{text}` is not supported; send one of: {}", BodyFormat::SUPPORTED);
        // brain-core has no code of its own for 415; the problem keeps `invalid_argument`
        // as its code and answers with the precise HTTP status.
        let mut problem = Problem::new(ErrorCode::InvalidArgument, detail).with_violations(vec![Violation {
            field: Some("content-type".into()),
            rule: "media_type".into(),
            reason: format!("supported: {}", BodyFormat::SUPPORTED),
            ..Violation::default()
        }]);
        problem.status = http::StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16();
        problem.title = "Unsupported Media Type".into();
        problem.kind = "https://industry-brain.dev/problems/unsupported_media_type".into();
        problem
    })
}

/// Receives a body of at most `limit` bytes: a declared `Content-Length` above it is refused
/// before reading, and reading stops (refused) as soon as the next chunk would pass it, so no
/// more than `limit` bytes are ever held.
///
/// The whole body is then parsed at once. Streaming the parse (NDJSON by line, CSV by row,
/// feeding `csv::Reader` / a line splitter from this chunk stream) would hold only the records
/// instead of body + records, but the records of one request are one batch acknowledged
/// together, so they would still be held until `ingest` returns; streaming starts to pay
/// once a request may be published as several durable batches with partial acknowledgement,
/// which the API does not promise today.
async fn read_body(headers: &HeaderMap, body: Body, limit: u64) -> Result<bytes::Bytes, Problem> {
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared
        && size > limit
    {
        return Err(Problem::from(&BodyError::TooLarge { size: usize::try_from(size).unwrap_or(usize::MAX), limit }));
    }
    let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut buffer = bytes::BytesMut::with_capacity(capacity);
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| Problem::new(ErrorCode::InvalidArgument, format!("reading the request body failed: {e}")))?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(Problem::from(&BodyError::OverLimit { limit }));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

/// Push records of a dataset.
///
/// The body is, by `Content-Type`:
/// - `application/json` (also when absent): a JSON array of objects, one per record;
/// - `application/x-ndjson`: one JSON object per line (LF or CRLF), blank lines ignored;
/// - `text/csv`: a header row naming the fields (trimmed, non-empty, unique), then a record
///   per row. Values are typed conservatively: empty cells are absent fields, `true`/`false`
///   booleans, integers and decimals of at most 15 digits without a leading zero or `+` are
///   numbers, everything else (codes like `007`, ID-card numbers, `1e5`, ` 12`) a string.
///
/// Only UTF-8 is accepted; a byte-order mark at the start is skipped. In every format `_id`
/// (optional) is the record id — when absent it is derived from the content, so re-sending a
/// batch creates no duplicates — and `_event_time` (optional, RFC 3339) the time of the fact;
/// every other key or column is a field.
///
/// A record that cannot be read (bad JSON on a line, a ragged CSV row, not an object) is
/// rejected on its own with a reason naming its line, published as a dead letter and reported
/// in the results; each result gives the record's `index` and `line`. The whole request is
/// refused only when the body cannot be split into records or is over a limit
/// (`ingestion.max_body_bytes`, `max_batch_records`; `max_record_bytes` rejects one record).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/datasets/{dataset}/records",
    tag = TAG,
    params(("tenant" = String, Path, description = "Owner tenant id"), ("dataset" = String, Path, description = "Dataset name")),
    request_body(
        description = "Records: a JSON array, NDJSON or CSV with a header row",
        content(
            (Vec<serde_json::Value> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 200, description = "Per-record results", body = BatchAck),
        (status = 400, description = "Body cannot be split into records (not a JSON array, bad CSV header), or a name is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or batch above the limits", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content type other than JSON, NDJSON or CSV in UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The bus is unavailable; nothing was acknowledged", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn post_records(
    State(service): State<Ingestion>,
    Path((tenant, dataset)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchAck>, Problem> {
    let format = body_format(&headers)?;
    let body = read_body(&headers, body, service.limits.max_body_bytes).await?;
    let parsed = parse::parse_body(format, &body, &service.limits).map_err(|e| Problem::from(&e))?;
    drop(body);
    let client = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut attributes = std::collections::HashMap::new();
    attributes.insert("content_type".to_owned(), format.media_type().to_owned());
    let source = Source { kind: SourceKind::Rest as i32, name: client, attributes };
    let outcomes = service.ingest(&tenant, &dataset, source, parsed.records).await.map_err(|e: IngestionError| Problem::from(&e))?;
    Ok(Json(ack(&outcomes, &parsed.lines)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SourceList {
    sources: Vec<crate::sources::SourceView>,
}

/// List configured MQTT subscriptions and scheduled pulls, with their live state.
#[utoipa::path(
    get,
    path = "/api/v1/ingestion/sources",
    tag = TAG,
    responses((status = 200, description = "The configured sources feeding the caller's tenant (all of them for platform administrators), MQTT first, in configuration order", body = SourceList))
)]
async fn list_sources(State(service): State<Ingestion>, caller: brain_auth::Principal) -> Json<SourceList> {
    Json(SourceList { sources: service.sources.views_for(&caller) })
}
