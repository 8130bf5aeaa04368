//! gRPC `brain.ingestion.v1.IngestionService`. Methods not listed here answer UNIMPLEMENTED.

use crate::domain::{RecordInput, RecordOutcome, json_record};
use crate::Ingestion;
use brain_core::grpc_status;
use brain_proto::common::v1::Violation;
use brain_proto::ingestion::v1::ingestion_service_server::{IngestionService, IngestionServiceServer};
use brain_proto::ingestion::v1::{BatchAck, IngestBatch, RecordResult, RecordStatus};
use tonic::{Request, Response, Status};

pub(crate) const SERVICE_NAME: &str = "brain.ingestion.v1.IngestionService";

pub(crate) fn server(service: Ingestion) -> IngestionServiceServer<Ingestion> {
    IngestionServiceServer::new(service)
}

fn input_of(record: brain_proto::ingestion::v1::InputRecord) -> RecordInput {
    let mut input = match std::str::from_utf8(&record.payload_json) {
        Ok(text) => json_record(text),
        Err(e) => RecordInput { id: None, event_time: None, fields: Err(format!("payload_json is not UTF-8: {e}")), size: record.payload_json.len() },
    };
    if !record.id.is_empty() {
        input.id = Some(record.id);
    }
    if let Some(ts) = record.event_time {
        let millis = brain_proto::time::to_millis(&ts);
        input.event_time = chrono::DateTime::from_timestamp_millis(millis).map(|t| t.to_rfc3339());
    }
    input
}

#[tonic::async_trait]
impl IngestionService for Ingestion {
    async fn ingest(&self, request: Request<IngestBatch>) -> Result<Response<BatchAck>, Status> {
        let batch = request.into_inner();
        let dataset = batch.dataset.unwrap_or_default();
        let mut source = batch.source.unwrap_or_default();
        source.kind = brain_proto::events::v1::SourceKind::Grpc as i32;
        let inputs = batch.records.into_iter().map(input_of).collect();
        let outcomes = self.ingest(&dataset.tenant_id, &dataset.dataset, source, inputs).await.map_err(grpc_status)?;
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
                    violation: Some(Violation {
                        record_id: id.clone(),
                        record_index: *index,
                        field: violation.field.clone().unwrap_or_default(),
                        rule: violation.rule.clone(),
                        reason: violation.reason.clone(),
                    }),
                },
            })
            .collect();
        let accepted = results.iter().filter(|r| r.status == RecordStatus::Accepted as i32).count() as u32;
        Ok(Response::new(BatchAck { batch_id: batch.batch_id, accepted, rejected: results.len() as u32 - accepted, results }))
    }
}
