//! gRPC `brain.ingestion.v1.IngestionService`. Methods not listed here answer UNIMPLEMENTED.
//!
//! # `IngestStream`
//! The client sends batches; the server answers each with a `BatchAck`, in the order the
//! batches came, and only once the batch's records are durably on the bus (the same
//! [`Ingestion::ingest`] as the unary method and REST).
//!
//! - **Flow control.** A stream handles one batch at a time: the next batch is read only after
//!   the current one is acknowledged into a small bounded queue ([`ACK_BUFFER`]). A slow bus
//!   (or a client that does not read its acks) stops the reading, the HTTP/2 flow-control
//!   window fills, and the client's sends wait. Memory per stream stays bounded: one batch
//!   (at most `ingestion.max_body_bytes` encoded, the decoding limit), the window, and
//!   `ACK_BUFFER` acks.
//! - **A batch refused as a whole** (invalid tenant or dataset name, more than
//!   `max_batch_records` records) does not end the stream: it is acknowledged with every
//!   record `REJECTED`, each carrying the reason (rule `name` with field `tenant`/`dataset`,
//!   or `max_batch_records`). Like a 4xx answer on REST, nothing of it went to the bus; the
//!   client fixes and resends it, and its other batches carry on.
//! - **Failures where nothing can be acknowledged end the stream with a status**: the bus is
//!   unavailable (`UNAVAILABLE`; some records of that batch may be on the bus, which is safe
//!   since ids make a resend idempotent), or a message cannot be decoded or is above the
//!   decoding limit (the status tells how many batches were acknowledged before). The client
//!   reconnects and resends every batch not acknowledged.
//! - `batch_id` is echoed (it may be empty). A batch with no records is acknowledged at once
//!   without touching the bus, so its names are not checked (it can serve as a ping).
//! - Shutdown: the listener stops taking new streams and waits (up to the grace period) for
//!   open ones; a stream is not told to finish early yet, since that needs the shutdown
//!   token in `Ingestion` (a client resends what was not acknowledged in any case).
//!
//! The unary `Ingest` answers a batch refused as a whole with an error status instead, as
//! REST answers with a problem.

use crate::domain::RecordOutcome;
use crate::parse::record_input;
use crate::{Ingestion, IngestionError};
use brain_auth::{Principal, grpc_principal};
use brain_core::{ErrorCode, Problem, ServiceError, grpc_status};
use brain_proto::common::v1::Violation;
use brain_proto::ingestion::v1::ingestion_service_server::{IngestionService, IngestionServiceServer};
use brain_proto::common::v1::{DatasetRef, PageResponse};
use brain_proto::events::v1::SourceKind;
use brain_proto::ingestion::v1::{BatchAck, IngestBatch, IngestSource, InputRecord, ListSourcesRequest, ListSourcesResponse, RecordResult, RecordStatus};
use tokio::sync::mpsc;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

pub(crate) const SERVICE_NAME: &str = "brain.ingestion.v1.IngestionService";

/// Acknowledgements a stream may have computed but the client not yet received.
pub(crate) const ACK_BUFFER: usize = 4;

pub(crate) fn server(service: Ingestion) -> IngestionServiceServer<Ingestion> {
    // One message may be as large as a REST body (tonic's default would be 4 MiB).
    let limit = usize::try_from(service.limits.max_body_bytes).unwrap_or(usize::MAX);
    IngestionServiceServer::new(service).max_decoding_message_size(limit)
}

fn proto_violation(v: &brain_core::Violation) -> Violation {
    Violation {
        record_id: v.record_id.clone().unwrap_or_default(),
        record_index: v.record_index.unwrap_or_default(),
        field: v.field.clone().unwrap_or_default(),
        rule: v.rule.clone(),
        reason: v.reason.clone(),
    }
}

/// The acknowledgement of a batch whose records were checked and published.
fn batch_ack(batch_id: String, outcomes: &[RecordOutcome]) -> BatchAck {
    let results: Vec<RecordResult> = outcomes
        .iter()
        .map(|o| match o {
            RecordOutcome::Accepted { index, id, .. } => {
                RecordResult { index: *index, record_id: id.clone(), status: RecordStatus::Accepted as i32, violation: None }
            }
            RecordOutcome::Rejected { index, id, violation, .. } => RecordResult {
                index: *index,
                record_id: id.clone(),
                status: RecordStatus::Rejected as i32,
                violation: Some(Violation { record_id: id.clone(), record_index: *index, ..proto_violation(violation) }),
            },
        })
        .collect();
    let accepted = results.iter().filter(|r| r.status == RecordStatus::Accepted as i32).count() as u32;
    BatchAck { batch_id, accepted, rejected: results.len() as u32 - accepted, results }
}

/// The acknowledgement of a batch refused as a whole: every record rejected with the reason.
fn refused_ack(batch_id: String, ids: &[String], error: &IngestionError) -> BatchAck {
    let (field, rule) = match error.violations().first() {
        Some(v) => (v.field.clone().unwrap_or_default(), v.rule.clone()),
        None => match error {
            IngestionError::BatchTooLarge { .. } => (String::new(), "max_batch_records".to_owned()),
            _ => (String::new(), error.code().as_str().to_owned()),
        },
    };
    let reason = format!("the batch was refused as a whole: {error}");
    let results: Vec<RecordResult> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| RecordResult {
            index: i as u32,
            record_id: id.clone(),
            status: RecordStatus::Rejected as i32,
            violation: Some(Violation { record_id: id.clone(), record_index: i as u32, field: field.clone(), rule: rule.clone(), reason: reason.clone() }),
        })
        .collect();
    BatchAck { batch_id, accepted: 0, rejected: results.len() as u32, results }
}

impl Ingestion {
    async fn ingest_batch(&self, batch: IngestBatch) -> Result<Vec<RecordOutcome>, IngestionError> {
        let dataset = batch.dataset.unwrap_or_default();
        let mut source = batch.source.unwrap_or_default();
        source.kind = brain_proto::events::v1::SourceKind::Grpc as i32;
        let inputs = batch.records.into_iter().map(record_input).collect();
        self.ingest(&dataset.tenant_id, &dataset.dataset, source, inputs).await
    }

    /// One batch of a stream: its acknowledgement, or the status that ends the stream.
    async fn stream_batch(&self, caller: &Principal, mut batch: IngestBatch) -> Result<BatchAck, Status> {
        authorize(caller, &batch)?;
        let batch_id = std::mem::take(&mut batch.batch_id);
        if batch.records.is_empty() {
            return Ok(BatchAck { batch_id, ..BatchAck::default() });
        }
        let ids: Vec<String> = batch.records.iter().map(|r: &InputRecord| r.id.clone()).collect();
        match self.ingest_batch(batch).await {
            Ok(outcomes) => Ok(batch_ack(batch_id, &outcomes)),
            Err(error @ IngestionError::Bus(_)) => Err(grpc_status(error)),
            Err(error) => Ok(refused_ack(batch_id, &ids, &error)),
        }
    }

    /// Reads batches one at a time and queues their acknowledgements, until the client ends
    /// its side, goes away, or a failure ends the stream (see the module documentation).
    async fn serve_stream(self, caller: Principal, mut batches: Streaming<IngestBatch>, acks: mpsc::Sender<Result<BatchAck, Status>>) {
        let mut acknowledged: u64 = 0;
        loop {
            let next = tokio::select! {
                next = batches.message() => next,
                // The client dropped the response: stop reading its batches.
                () = acks.closed() => return,
            };
            let reply = match next {
                Ok(Some(batch)) => self.stream_batch(&caller, batch).await,
                Ok(None) => return,
                Err(status) => Err(unreadable(acknowledged, &status)),
            };
            let last = reply.is_err();
            if acks.send(reply).await.is_err() || last {
                return;
            }
            acknowledged += 1;
        }
    }
}

/// A batch goes only into the caller's own tenant's datasets (and a key's scoped datasets).
/// Refused, the stream ends: it is a security refusal, not a data problem.
fn authorize(caller: &Principal, batch: &IngestBatch) -> Result<(), Status> {
    let dataset = batch.dataset.clone().unwrap_or_default();
    caller.require_dataset_of(&dataset.tenant_id, &dataset.dataset).map_err(grpc_status)
}

/// The status that ends a stream whose next message could not be read. tonic reports a
/// message that is not protobuf as INTERNAL and one above the decoding limit as OUT_OF_RANGE;
/// both are the client's input, answered as `invalid_argument` and `payload_too_large`
/// (RESOURCE_EXHAUSTED, as gRPC itself answers an oversized message) with a problem.
fn unreadable(acknowledged: u64, status: &Status) -> Status {
    let code = match status.code() {
        tonic::Code::Internal => ErrorCode::InvalidArgument,
        tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => ErrorCode::PayloadTooLarge,
        _ => return Status::new(status.code(), format!("{acknowledged} batches were acknowledged; then: {}", status.message())),
    };
    let detail = format!("{acknowledged} batches were acknowledged; the next could not be read as an IngestBatch: {}", status.message());
    Problem::new(code, detail).into()
}

#[tonic::async_trait]
impl IngestionService for Ingestion {
    async fn ingest_stream(&self, request: Request<Streaming<IngestBatch>>) -> Result<Response<BoxStream<BatchAck>>, Status> {
        let caller = grpc_principal(&request)?;
        let batches = request.into_inner();
        let (acks, queued) = mpsc::channel(ACK_BUFFER);
        // The handler's span (with the caller's trace context) follows the stream's task.
        let span = tracing::info_span!("ingestion.stream");
        tokio::spawn(self.clone().serve_stream(caller, batches, acks).instrument(span));
        let stream = futures::stream::unfold(queued, |mut queued| async move { queued.recv().await.map(|ack| (ack, queued)) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn ingest(&self, request: Request<IngestBatch>) -> Result<Response<BatchAck>, Status> {
        let caller = grpc_principal(&request)?;
        let mut batch = request.into_inner();
        authorize(&caller, &batch)?;
        let batch_id = std::mem::take(&mut batch.batch_id);
        let outcomes = self.ingest_batch(batch).await.map_err(grpc_status)?;
        Ok(Response::new(batch_ack(batch_id, &outcomes)))
    }

    /// Sources are few (they come from configuration): the page token is an offset.
    async fn list_sources(&self, request: Request<ListSourcesRequest>) -> Result<Response<ListSourcesResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let page = request.into_inner().page.unwrap_or_default();
        let views = self.sources.views_for(&caller);
        let start: usize = match page.page_token.as_str() {
            "" => 0,
            token => token.parse().ok().filter(|n| *n <= views.len()).ok_or_else(|| {
                Status::from(Problem::new(ErrorCode::InvalidArgument, "page_token: not a token this API issued".to_owned()))
            })?,
        };
        let size = match page.page_size {
            0 => views.len(),
            n => n as usize,
        };
        let end = start.saturating_add(size).min(views.len());
        let sources = views[start..end].iter().map(source_to).collect();
        let next_page_token = if end < views.len() { end.to_string() } else { String::new() };
        Ok(Response::new(ListSourcesResponse { sources, page: Some(PageResponse { next_page_token }) }))
    }
}

fn source_to(view: &crate::sources::SourceView) -> IngestSource {
    IngestSource {
        name: view.name.clone(),
        kind: if view.kind == "mqtt" { SourceKind::Mqtt } else { SourceKind::Pull } as i32,
        dataset: Some(DatasetRef { tenant_id: view.tenant.clone(), dataset: view.dataset.clone() }),
        pattern: view.pattern.clone(),
        schedule: view.schedule.clone().unwrap_or_default(),
        cursor: view.state.cursor.as_ref().map(|c| c.to_string()).unwrap_or_default(),
        last_success: view.state.last_success.map(|t| brain_proto::time::from_millis(t.timestamp_millis())),
    }
}
