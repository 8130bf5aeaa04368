//! The data chain after ingestion, as two consumers:
//!
//! - **warehouse** (`brain.ingest.records.v1`): checks each record against its dataset's schema
//!   and quality rules; accepted records go to the warehouse in one bulk insert per dataset and
//!   transaction (exactly one row per record id), then to `brain.governance.accepted.v1`;
//!   refused ones go to the dead-letter topic with their reasons.
//! - **rejected store** (dead-letter topic): keeps every refused record — from ingestion or
//!   governance — queryable with its reasons, and counts it for the quality score.
//!
//! Offsets are committed only after the effect is durable; redeliveries change nothing.

use crate::catalog::admission::admit;
use crate::catalog::quality::{self, CompiledRules};
use crate::catalog::Dataset;
use crate::store::{GovernanceStore, WarehouseRow};
use crate::GovernanceError;
use brain_bus::{BusError, CloudEvent, Delivered, Event, EventBus, Subscription, commit_batch, next_batch};
use brain_core::Violation;
use brain_proto::common::v1::Violation as ProtoViolation;
use brain_proto::events::v1::{Record, RecordAccepted, RecordIngested, RecordRejected};
use brain_store::TenantId;
use chrono::{DateTime, Utc};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub(crate) const WAREHOUSE_GROUP: &str = "governance.warehouse";
pub(crate) const REJECTED_GROUP: &str = "governance.rejected-store";
const SOURCE: &str = "/brain/governance";
const BATCH_MAX: usize = 2000;
const BATCH_LINGER: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub(crate) struct Pipeline {
    pub bus: Arc<dyn EventBus>,
    pub store: GovernanceStore,
    pub ingest_topic: String,
    pub accepted_topic: String,
    pub rejected_topic: String,
}

/// What one batch step does with its events.
type Step = fn(&Pipeline, &[Delivered]) -> futures::future::BoxFuture<'static, Result<(), GovernanceError>>;

impl Pipeline {
    pub async fn run_warehouse(self, shutdown: CancellationToken) -> Result<(), GovernanceError> {
        let topic = self.ingest_topic.clone();
        self.consume(WAREHOUSE_GROUP, topic, shutdown, |p, batch| {
            let (p, batch) = (p.clone(), batch.to_vec());
            Box::pin(async move { p.warehouse_batch(&batch).await })
        })
        .await
    }

    pub async fn run_rejected_store(self, shutdown: CancellationToken) -> Result<(), GovernanceError> {
        let topic = self.rejected_topic.clone();
        self.consume(REJECTED_GROUP, topic, shutdown, |p, batch| {
            let (p, batch) = (p.clone(), batch.to_vec());
            Box::pin(async move { p.rejected_batch(&batch).await })
        })
        .await
    }

    /// The consumer loop shared by both: batch, process until it succeeds, commit.
    async fn consume(&self, group: &str, topic: String, shutdown: CancellationToken, step: Step) -> Result<(), GovernanceError> {
        let mut subscription: Box<dyn Subscription> = self.bus.subscribe(group, &[topic]).await?;
        let mut backoff = Duration::from_millis(100);
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                batch = next_batch(subscription.as_mut(), BATCH_MAX, BATCH_LINGER) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(BusError::Closed) => return Err(BusError::Closed.into()),
                Err(error) => {
                    tracing::warn!(group, %error, "cannot read the bus; retrying");
                    if sleep_or_stop(&shutdown, &mut backoff).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            // The batch is retried until its effect is durable: nothing is skipped.
            loop {
                match step(self, &batch).await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::warn!(group, %error, events = batch.len(), "batch not processed yet; retrying");
                        if sleep_or_stop(&shutdown, &mut backoff).await {
                            return Ok(());
                        }
                    }
                }
            }
            backoff = Duration::from_millis(100);
            if let Err(error) = commit_batch(subscription.as_mut(), &batch).await {
                tracing::warn!(group, %error, "offsets not committed; the batch will come again and change nothing");
            }
        }
    }

    async fn warehouse_batch(&self, batch: &[Delivered]) -> Result<(), GovernanceError> {
        let span = tracing::info_span!("governance.warehouse_batch", otel.kind = "consumer", messaging.batch.message_count = batch.len());
        if let Some(first) = batch.first() {
            first.continue_trace(&span);
        }
        async {
            let now = Utc::now();
            let mut groups: Vec<((String, String), Vec<Record>)> = Vec::new();
            for delivered in batch {
                let Some(record) = decode_ingested(delivered) else { continue };
                let dataset = record.dataset.clone().unwrap_or_default();
                let key = (dataset.tenant_id, dataset.dataset);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, records)) => records.push(record),
                    None => groups.push((key, vec![record])),
                }
            }
            let mut accepted_events = Vec::new();
            let mut rejected_events = Vec::new();
            let mut tx = self.store.begin().await?;
            for ((tenant, name), records) in groups {
                let checked = match TenantId::new(tenant.clone()) {
                    Ok(tenant_id) => self.store.dataset(&tenant_id, &name).await?.map(|d| (tenant_id, d)),
                    Err(_) => None,
                };
                let Some((tenant_id, dataset)) = checked else {
                    let reason = format!("dataset {tenant}/{name} is not in the catalog; register it first");
                    for record in records {
                        rejected_events.push(rejected_event(record, vec![violation("dataset_registered", reason.clone())]));
                    }
                    continue;
                };
                let rules = quality::compile(&dataset.quality_rules)
                    .map_err(|v| GovernanceError::Corrupt(format!("stored quality rules of {name} no longer compile: {v:?}")))?;
                let (rows, accepted, rejected) = judge(&dataset, &rules, records, now);
                rejected_events.extend(rejected);
                let inserted = self.store.insert_records(&mut tx, &tenant_id, &name, dataset.schema_version, &rows).await?;
                let day = brain_core::calendar::cst_day(now.timestamp_millis());
                self.store.count_quality(&mut tx, &tenant_id, &name, &day, inserted, 0).await?;
                accepted_events.extend(accepted.into_iter().map(|a| accepted_event(a, &dataset)));
            }
            tx.commit().await?;
            // Downstream topics after the warehouse commit: a crash in between republishes on
            // redelivery, and consumers deduplicate by record id.
            if !accepted_events.is_empty() {
                self.bus.publish(&self.accepted_topic, accepted_events).await?;
            }
            if !rejected_events.is_empty() {
                self.bus.publish(&self.rejected_topic, rejected_events).await?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn rejected_batch(&self, batch: &[Delivered]) -> Result<(), GovernanceError> {
        let now = Utc::now();
        let mut tx = self.store.begin().await?;
        for delivered in batch {
            let Ok(rejected) = RecordRejected::decode(delivered.payload.as_slice()) else {
                tracing::error!(offset = delivered.position.offset, "undecodable dead letter left on the bus");
                continue;
            };
            let record = rejected.record.unwrap_or_default();
            let dataset = record.dataset.unwrap_or_default();
            let Ok(tenant) = TenantId::new(dataset.tenant_id.clone()) else {
                tracing::error!(tenant = %dataset.tenant_id, offset = delivered.position.offset, "dead letter with an invalid tenant left on the bus");
                continue;
            };
            let payload = serde_json::from_slice(&record.payload_json)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&record.payload_json).into_owned()));
            let violations: Vec<Violation> = rejected.violations.into_iter().map(from_proto).collect();
            let violations = serde_json::to_value(violations).unwrap_or_default();
            if self.store.insert_rejected(&mut tx, &tenant, &dataset.dataset, &record.id, payload, violations).await? {
                let day = brain_core::calendar::cst_day(now.timestamp_millis());
                self.store.count_quality(&mut tx, &tenant, &dataset.dataset, &day, 0, 1).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sends a corrected record through the data chain again, under its original id.
    pub async fn resubmit(&self, tenant: &str, dataset: &str, record_id: &str, payload: serde_json::Value) -> Result<(), GovernanceError> {
        let now = Utc::now().timestamp_millis();
        let record = Record {
            id: record_id.to_owned(),
            dataset: Some(brain_proto::common::v1::DatasetRef { tenant_id: tenant.to_owned(), dataset: dataset.to_owned() }),
            source: Some(brain_proto::events::v1::Source {
                kind: brain_proto::events::v1::SourceKind::Rest as i32,
                name: "resubmission".into(),
                attributes: Default::default(),
            }),
            event_time: Some(brain_proto::time::from_millis(now)),
            ingest_time: Some(brain_proto::time::from_millis(now)),
            payload_json: serde_json::to_vec(&payload).unwrap_or_default(),
        };
        let key = format!("{tenant}/{dataset}");
        let ce = CloudEvent { id: record_id, kind: "brain.ingest.record.v1", source: SOURCE, subject: &key, tenant };
        let event = Event::cloud(&ce, key.clone(), RecordIngested { record: Some(record) }.encode_to_vec());
        self.bus.publish(&self.ingest_topic, vec![event]).await?;
        Ok(())
    }
}

async fn sleep_or_stop(shutdown: &CancellationToken, backoff: &mut Duration) -> bool {
    let stop = tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(*backoff) => false,
    };
    *backoff = (*backoff * 2).min(Duration::from_secs(10));
    stop
}

fn decode_ingested(delivered: &Delivered) -> Option<Record> {
    match RecordIngested::decode(delivered.payload.as_slice()) {
        Ok(RecordIngested { record: Some(record) }) => Some(record),
        _ => {
            tracing::error!(topic = %delivered.topic, offset = delivered.position.offset, "undecodable record left on the bus");
            None
        }
    }
}

/// Splits a dataset's records into warehouse rows (with their events) and rejections.
fn judge(dataset: &Dataset, rules: &CompiledRules, records: Vec<Record>, now: DateTime<Utc>) -> (Vec<WarehouseRow>, Vec<Record>, Vec<Event>) {
    let mut rows = Vec::new();
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for record in records {
        let event_ms = record.event_time.as_ref().map_or(now.timestamp_millis(), brain_proto::time::to_millis);
        let ingest_ms = record.ingest_time.as_ref().map_or(now.timestamp_millis(), brain_proto::time::to_millis);
        match admit(&dataset.fields, rules, &record.payload_json, ingest_ms - event_ms) {
            Ok(fields) => {
                rows.push(WarehouseRow {
                    record_id: record.id.clone(),
                    event_time: DateTime::from_timestamp_millis(event_ms).unwrap_or(now),
                    ingest_time: DateTime::from_timestamp_millis(ingest_ms).unwrap_or(now),
                    payload: serde_json::Value::Object(fields),
                });
                accepted.push(record);
            }
            Err(violations) => {
                let violations = violations.into_iter().map(|v| Violation { record_id: Some(record.id.clone()), ..v }).collect();
                rejected.push(rejected_event(record, violations));
            }
        }
    }
    (rows, accepted, rejected)
}

fn violation(rule: &str, reason: String) -> Violation {
    Violation { rule: rule.to_owned(), reason, ..Violation::default() }
}

fn to_proto(v: Violation) -> ProtoViolation {
    ProtoViolation {
        record_id: v.record_id.unwrap_or_default(),
        record_index: v.record_index.unwrap_or_default(),
        field: v.field.unwrap_or_default(),
        rule: v.rule,
        reason: v.reason,
    }
}

fn from_proto(v: ProtoViolation) -> Violation {
    Violation {
        record_id: (!v.record_id.is_empty()).then_some(v.record_id),
        record_index: None,
        field: (!v.field.is_empty()).then_some(v.field),
        rule: v.rule,
        reason: v.reason,
    }
}

fn cloud_event(record: &Record, kind: &str, payload: Vec<u8>) -> Event {
    let dataset = record.dataset.clone().unwrap_or_default();
    let key = format!("{}/{}", dataset.tenant_id, dataset.dataset);
    let ce = CloudEvent { id: &record.id, kind, source: SOURCE, subject: &key, tenant: &dataset.tenant_id };
    Event::cloud(&ce, key.clone(), payload)
}

fn rejected_event(record: Record, violations: Vec<Violation>) -> Event {
    let payload = RecordRejected { violations: violations.into_iter().map(to_proto).collect(), record: Some(record.clone()) }.encode_to_vec();
    cloud_event(&record, "brain.governance.rejected.v1", payload)
}

/// The accepted record carries its dataset's grades, so downstream consumers (exchange, model
/// gateway) know what they hold without asking the catalog.
fn accepted_event(record: Record, dataset: &Dataset) -> Event {
    let classification = dataset.classification.as_ref();
    let payload = RecordAccepted {
        record: Some(record.clone()),
        schema_version: u32::try_from(dataset.schema_version).unwrap_or(u32::MAX),
        grade: classification.map_or(0, |c| c.grade.to_proto()),
        fields: classification.map(|c| c.fields.iter().map(|f| f.to_field_grade()).collect()).unwrap_or_default(),
    }
    .encode_to_vec();
    cloud_event(&record, "brain.governance.accepted.v1", payload)
}
