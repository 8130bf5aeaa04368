//! What ingestion publishes: accepted records, dead letters, and a usage event per batch.

use crate::domain::RecordOutcome;
use brain_bus::{BusError, CloudEvent, Event, EventBus};
use brain_proto::common::v1::{DatasetRef, Violation as ProtoViolation};
use brain_proto::events::v1::{Record, RecordIngested, RecordRejected, Source, UsageEvent, UsageKind};
use brain_proto::time::from_millis;
use brain_runtime::Topics;
use prost::Message;
use std::sync::Arc;

const SOURCE: &str = "/brain/ingestion";

#[derive(Clone)]
pub(crate) struct Publisher {
    bus: Arc<dyn EventBus>,
    records_topic: String,
    rejected_topic: String,
    usage_topic: String,
}

impl Publisher {
    pub fn new(bus: Arc<dyn EventBus>, topics: &Topics) -> Self {
        Self {
            bus,
            records_topic: topics.name(brain_bus::topics::INGEST_RECORDS),
            rejected_topic: topics.name(brain_bus::topics::GOVERNANCE_REJECTED),
            usage_topic: topics.name(brain_bus::topics::USAGE_EVENTS),
        }
    }

    /// Publishes every outcome of a batch; returns once all of it is durable on the bus.
    pub async fn publish(&self, tenant: &str, dataset: &str, source: &Source, outcomes: &[RecordOutcome]) -> Result<(), BusError> {
        let now = chrono::Utc::now().timestamp_millis();
        let key = format!("{tenant}/{dataset}");
        let dataset_ref = DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() };
        let record = |id: &str, event_time_ms: i64, payload: &[u8]| Record {
            id: id.to_owned(),
            dataset: Some(dataset_ref.clone()),
            source: Some(source.clone()),
            event_time: Some(from_millis(event_time_ms)),
            ingest_time: Some(from_millis(now)),
            payload_json: payload.to_vec(),
        };
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for outcome in outcomes {
            match outcome {
                RecordOutcome::Accepted { id, event_time_ms, payload_json, .. } => {
                    let payload = RecordIngested { record: Some(record(id, *event_time_ms, payload_json)) }.encode_to_vec();
                    let ce = CloudEvent { id, kind: "brain.ingest.record.v1", source: SOURCE, subject: &key, tenant };
                    accepted.push(Event::cloud(&ce, key.clone(), payload));
                }
                RecordOutcome::Rejected { id, violation, raw, .. } => {
                    let payload = RecordRejected {
                        record: Some(record(id, now, raw)),
                        violations: vec![ProtoViolation {
                            record_id: violation.record_id.clone().unwrap_or_default(),
                            record_index: violation.record_index.unwrap_or_default(),
                            field: violation.field.clone().unwrap_or_default(),
                            rule: violation.rule.clone(),
                            reason: violation.reason.clone(),
                        }],
                    }
                    .encode_to_vec();
                    let event_id = format!("{id}:rejected:{now}");
                    let ce = CloudEvent { id: &event_id, kind: "brain.governance.rejected.v1", source: SOURCE, subject: &key, tenant };
                    rejected.push(Event::cloud(&ce, key.clone(), payload));
                }
            }
        }
        let usage_id = usage_id(tenant, dataset, outcomes);
        let usage = UsageEvent {
            id: usage_id.clone(),
            tenant_id: tenant.to_owned(),
            kind: UsageKind::RecordsIngested as i32,
            service: "ingestion".into(),
            subject: dataset.to_owned(),
            quantity: accepted.len() as f64,
            unit: "records".into(),
            time: Some(from_millis(now)),
            attributes: Default::default(),
        };
        let ce = CloudEvent { id: &usage_id, kind: "brain.usage.event.v1", source: SOURCE, subject: dataset, tenant };
        let usage_event = Event::cloud(&ce, tenant.to_owned(), usage.encode_to_vec());
        // All three at once: the acknowledgement waits for one bus round trip, not two. The
        // usage id is derived from the batch, so a batch sent again (after an error or a lost
        // acknowledgement) is metered once; only a batch whose records failed and that is never
        // sent again stays metered.
        let (records, dead, usage) = tokio::join!(
            self.publish_some(&self.records_topic, accepted),
            self.publish_some(&self.rejected_topic, rejected),
            self.bus.publish(&self.usage_topic, vec![usage_event]),
        );
        records?;
        dead?;
        usage?;
        Ok(())
    }

    async fn publish_some(&self, topic: &str, events: Vec<Event>) -> Result<(), BusError> {
        if !events.is_empty() {
            self.bus.publish(topic, events).await?;
        }
        Ok(())
    }
}

/// The usage event's id: a hash of the batch's tenant, dataset and accepted record ids.
fn usage_id(tenant: &str, dataset: &str, outcomes: &[RecordOutcome]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [tenant, dataset] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    for outcome in outcomes {
        if let RecordOutcome::Accepted { id, .. } = outcome {
            hash.update((id.len() as u64).to_be_bytes());
            hash.update(id.as_bytes());
        }
    }
    format!("usage-{}", hex::encode(&hash.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(id: &str) -> RecordOutcome {
        RecordOutcome::Accepted { index: 0, id: id.into(), event_time_ms: 0, payload_json: vec![] }
    }

    #[test]
    fn a_batch_sent_again_has_the_same_usage_id() {
        let batch = [accepted("a"), accepted("b")];
        assert_eq!(usage_id("t", "d", &batch), usage_id("t", "d", &[accepted("a"), accepted("b")]));
        assert_ne!(usage_id("t", "d", &batch), usage_id("t", "d", &[accepted("a")]));
        assert_ne!(usage_id("t", "d", &batch), usage_id("t", "e", &batch));
        assert_ne!(usage_id("t", "da", &[accepted("b")]), usage_id("t", "d", &[accepted("ab")]), "fields are length-prefixed");
    }
}
