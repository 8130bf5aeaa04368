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
use futures::future::BoxFuture;
use std::collections::HashMap;
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

/// The events a batch sends downstream once its effect is durable.
#[derive(Default)]
struct Outgoing {
    accepted: Vec<Event>,
    rejected: Vec<Event>,
}

/// What one batch step does with its events: make their effect durable, and say what to publish.
type Step = for<'a> fn(&'a Pipeline, &'a [Delivered]) -> BoxFuture<'a, Result<Outgoing, GovernanceError>>;

/// A batch whose effect is durable and whose downstream events are being published.
struct InFlight {
    batch: Vec<Delivered>,
    published: tokio::task::JoinHandle<bool>,
}

impl Pipeline {
    pub async fn run_warehouse(self, shutdown: CancellationToken) -> Result<(), GovernanceError> {
        let topic = self.ingest_topic.clone();
        self.consume(WAREHOUSE_GROUP, topic, shutdown, |p, batch| Box::pin(p.warehouse_batch(batch))).await
    }

    pub async fn run_rejected_store(self, shutdown: CancellationToken) -> Result<(), GovernanceError> {
        let topic = self.rejected_topic.clone();
        self.consume(REJECTED_GROUP, topic, shutdown, |p, batch| Box::pin(p.rejected_batch(batch))).await
    }

    /// The consumer loop shared by both, in two overlapping stages: while batch k's events are
    /// published (in a task), batch k+1 is read and written. Offsets move strictly in order:
    /// batch k's are committed only once its events are out.
    async fn consume(&self, group: &'static str, topic: String, shutdown: CancellationToken, step: Step) -> Result<(), GovernanceError> {
        let mut subscription: Box<dyn Subscription> = self.bus.subscribe(group, &[topic]).await?;
        let mut in_flight: Option<InFlight> = None;
        let mut backoff = Duration::from_millis(100);
        loop {
            let batch = tokio::select! {
                () = shutdown.cancelled() => break,
                batch = next_batch(subscription.as_mut(), BATCH_MAX, BATCH_LINGER) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(BusError::Closed) => return Err(BusError::Closed.into()),
                Err(error) => {
                    tracing::warn!(group, %error, "cannot read the bus; retrying");
                    if sleep_or_stop(&shutdown, &mut backoff).await {
                        break;
                    }
                    continue;
                }
            };
            // The batch is retried until its effect is durable: nothing is skipped.
            let outgoing = loop {
                match step(self, &batch).await {
                    Ok(outgoing) => break Some(outgoing),
                    Err(error) => {
                        tracing::warn!(group, %error, events = batch.len(), "batch not processed yet; retrying");
                        if sleep_or_stop(&shutdown, &mut backoff).await {
                            break None;
                        }
                    }
                }
            };
            backoff = Duration::from_millis(100);
            if let Some(previous) = in_flight.take()
                && !settle(group, subscription.as_mut(), previous).await
            {
                return Ok(());
            }
            let Some(outgoing) = outgoing else { return Ok(()) };
            let published = tokio::spawn(self.clone().publish(outgoing, shutdown.clone()).in_current_span());
            in_flight = Some(InFlight { batch, published });
        }
        if let Some(previous) = in_flight {
            settle(group, subscription.as_mut(), previous).await;
        }
        Ok(())
    }

    /// Publishes a batch's downstream events until the bus takes them (or shutdown).
    async fn publish(self, outgoing: Outgoing, shutdown: CancellationToken) -> bool {
        let mut backoff = Duration::from_millis(100);
        let sends = [(&self.accepted_topic, &outgoing.accepted), (&self.rejected_topic, &outgoing.rejected)];
        for (topic, events) in sends.into_iter().filter(|(_, events)| !events.is_empty()) {
            while let Err(error) = self.bus.publish(topic, events.clone()).await {
                tracing::warn!(topic, %error, events = events.len(), "downstream events not published yet; retrying");
                if sleep_or_stop(&shutdown, &mut backoff).await {
                    return false;
                }
            }
        }
        true
    }

    async fn warehouse_batch(&self, batch: &[Delivered]) -> Result<Outgoing, GovernanceError> {
        let span = tracing::info_span!("governance.warehouse_batch", otel.kind = "consumer", messaging.batch.message_count = batch.len());
        if let Some(first) = batch.first() {
            first.continue_trace(&span);
        }
        async {
            let now = Utc::now();
            let mut outgoing = Outgoing::default();
            let mut tx = self.store.begin().await?;
            for ((tenant, name), records) in group_by_dataset(batch) {
                let checked = match TenantId::new(tenant.clone()) {
                    Ok(tenant_id) => self.store.dataset(&tenant_id, &name).await?.map(|d| (tenant_id, d)),
                    Err(_) => None,
                };
                let Some((tenant_id, dataset)) = checked else {
                    let reason = format!("dataset {tenant}/{name} is not in the catalog; register it first");
                    for (_, record) in records {
                        outgoing.rejected.push(rejected_event(record, vec![violation("dataset_registered", reason.clone())]));
                    }
                    continue;
                };
                let rules = quality::compile(&dataset.quality_rules)
                    .map_err(|v| GovernanceError::Corrupt(format!("stored quality rules of {name} no longer compile: {v:?}")))?;
                let mut judged = judge(&dataset, &rules, &records, now);
                if rules.unique_key().is_some() {
                    let keys: Vec<&str> = judged.rows.iter().filter_map(|(_, row)| row.unique_key.as_deref()).collect();
                    let owners = self.store.key_owners(&mut tx, &tenant_id, &name, &keys).await?;
                    enforce_unique_key(&mut judged, &records, &owners, rules.unique_key().unwrap_or_default());
                }
                let rows: Vec<WarehouseRow<'_>> = judged.rows.iter().map(|(_, row)| row.clone()).collect();
                let inserted = self.store.insert_records(&mut tx, &tenant_id, &name, dataset.schema_version, &rows).await?;
                let day = brain_core::calendar::cst_day(now.timestamp_millis());
                self.store.count_quality(&mut tx, &tenant_id, &name, &day, inserted, 0).await?;
                let grades = AcceptedSuffix::of(&dataset);
                outgoing.accepted.extend(judged.rows.iter().map(|(i, _)| grades.event(&records[*i])));
                outgoing.rejected.extend(judged.rejected.into_iter().map(|(i, violations)| rejected_event(records[i].1.clone(), violations)));
            }
            tx.commit().await?;
            Ok(outgoing)
        }
        .instrument(span)
        .await
    }

    async fn rejected_batch(&self, batch: &[Delivered]) -> Result<Outgoing, GovernanceError> {
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
        Ok(Outgoing::default())
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

/// Waits for a batch's events to be out, then commits its offsets. False when they were not
/// published (shutdown): the offsets stay, and the batch comes again.
async fn settle(group: &str, subscription: &mut dyn Subscription, in_flight: InFlight) -> bool {
    match in_flight.published.await {
        Ok(true) => {}
        Ok(false) => return false,
        Err(error) => {
            tracing::error!(group, %error, "the publishing task failed; the batch will come again");
            return false;
        }
    }
    if let Err(error) = commit_batch(subscription, &in_flight.batch).await {
        tracing::warn!(group, %error, "offsets not committed; the batch will come again and change nothing");
    }
    true
}

/// An ingested record with the bytes it arrived in (reused for the accepted event).
type Ingested<'a> = (&'a Delivered, Record);

/// The batch's decodable records, grouped by (tenant, dataset) in order of first appearance.
fn group_by_dataset(batch: &[Delivered]) -> Vec<((String, String), Vec<Ingested<'_>>)> {
    let mut groups: Vec<((String, String), Vec<Ingested<'_>>)> = Vec::new();
    for delivered in batch {
        let record = match RecordIngested::decode(delivered.payload.as_slice()) {
            Ok(RecordIngested { record: Some(record) }) => record,
            _ => {
                tracing::error!(topic = %delivered.topic, offset = delivered.position.offset, "undecodable record left on the bus");
                continue;
            }
        };
        let dataset = record.dataset.as_ref();
        let (tenant, name) = dataset.map_or(("", ""), |d| (d.tenant_id.as_str(), d.dataset.as_str()));
        match groups.iter_mut().find(|((t, d), _)| t == tenant && d == name) {
            Some((_, records)) => records.push((delivered, record)),
            None => groups.push(((tenant.to_owned(), name.to_owned()), vec![(delivered, record)])),
        }
    }
    groups
}

/// A dataset's records split into warehouse rows and rejections, by index into the records.
struct Judged<'a> {
    rows: Vec<(usize, WarehouseRow<'a>)>,
    rejected: Vec<(usize, Vec<Violation>)>,
}

fn judge<'a>(dataset: &Dataset, rules: &CompiledRules, records: &'a [Ingested<'_>], now: DateTime<Utc>) -> Judged<'a> {
    let mut judged = Judged { rows: Vec::with_capacity(records.len()), rejected: Vec::new() };
    for (i, (_, record)) in records.iter().enumerate() {
        let event_ms = record.event_time.as_ref().map_or(now.timestamp_millis(), brain_proto::time::to_millis);
        let ingest_ms = record.ingest_time.as_ref().map_or(now.timestamp_millis(), brain_proto::time::to_millis);
        let admitted = admit(&dataset.fields, rules, &record.payload_json, ingest_ms - event_ms);
        // Admission parsed the payload as JSON, so it is UTF-8.
        match (admitted, std::str::from_utf8(&record.payload_json)) {
            (Ok(fields), Ok(payload)) => judged.rows.push((
                i,
                WarehouseRow {
                    record_id: &record.id,
                    event_time: DateTime::from_timestamp_millis(event_ms).unwrap_or(now),
                    ingest_time: DateTime::from_timestamp_millis(ingest_ms).unwrap_or(now),
                    payload,
                    unique_key: rules.unique_key().and_then(|key| quality::key_value(&fields, key)),
                },
            )),
            (Err(violations), _) => {
                let violations = violations.into_iter().map(|v| Violation { record_id: Some(record.id.clone()), ..v }).collect();
                judged.rejected.push((i, violations));
            }
            (Ok(_), Err(_)) => judged.rejected.push((i, vec![violation("json", "the payload is not UTF-8".into())])),
        }
    }
    judged
}

/// Refuses rows whose unique key another record id already holds, in the warehouse (`owners`)
/// or earlier in this batch. The same id again is a redelivery, not a conflict.
fn enforce_unique_key<'a>(judged: &mut Judged<'a>, records: &[Ingested<'_>], owners: &HashMap<String, String>, key_fields: &[String]) {
    let mut seen: HashMap<String, &'a str> = HashMap::new();
    let mut kept = Vec::with_capacity(judged.rows.len());
    for (i, row) in std::mem::take(&mut judged.rows) {
        let Some(key) = row.unique_key.clone() else {
            kept.push((i, row));
            continue;
        };
        let holder = owners.get(&key).map(String::as_str).or_else(|| seen.get(&key).copied());
        match holder {
            Some(holder) if holder != row.record_id => {
                let reason = format!("unique key ({}) = {key} is already held by record {holder}", key_fields.join(", "));
                let record_id = records[i].1.id.clone();
                judged.rejected.push((i, vec![Violation { record_id: Some(record_id), rule: "quality.unique_key".into(), reason, ..Violation::default() }]));
            }
            _ => {
                seen.entry(key).or_insert(row.record_id);
                kept.push((i, row));
            }
        }
    }
    judged.rows = kept;
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
///
/// `RecordIngested` and `RecordAccepted` both carry the record as field 1, so an accepted
/// event is the ingested bytes followed by the encoded remaining fields (protobuf merges
/// concatenated messages): no record is decoded and encoded again.
struct AcceptedSuffix(Vec<u8>);

impl AcceptedSuffix {
    fn of(dataset: &Dataset) -> Self {
        let classification = dataset.classification.as_ref();
        let suffix = RecordAccepted {
            record: None,
            schema_version: u32::try_from(dataset.schema_version).unwrap_or(u32::MAX),
            grade: classification.map_or(0, |c| c.grade.to_proto()),
            fields: classification.map(|c| c.fields.iter().map(|f| f.to_field_grade()).collect()).unwrap_or_default(),
        };
        Self(suffix.encode_to_vec())
    }

    fn event(&self, (delivered, record): &Ingested<'_>) -> Event {
        let mut payload = Vec::with_capacity(delivered.payload.len() + self.0.len());
        payload.extend_from_slice(&delivered.payload);
        payload.extend_from_slice(&self.0);
        cloud_event(record, "brain.governance.accepted.v1", payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::quality::QualityRule;
    use crate::catalog::schema::{FieldSpec, FieldType};

    fn delivered(record: &Record) -> Delivered {
        Delivered {
            topic: "t".into(),
            position: brain_bus::Position { partition: 0, offset: 0 },
            key: vec![],
            payload: RecordIngested { record: Some(record.clone()) }.encode_to_vec(),
            headers: vec![],
            timestamp_ms: 0,
        }
    }

    fn record(id: &str, payload: &str) -> Record {
        Record {
            id: id.into(),
            dataset: Some(brain_proto::common::v1::DatasetRef { tenant_id: "t1".into(), dataset: "d".into() }),
            payload_json: payload.as_bytes().to_vec(),
            ..Record::default()
        }
    }

    fn dataset(rules: Vec<QualityRule>) -> Dataset {
        let mut dataset: Dataset = serde_json::from_value(serde_json::json!({
            "tenant_id": "t1", "name": "d", "title": "t", "description": "", "library": "industry", "domain": "production",
            "schema_version": 3, "fields": [], "quality_rules": [], "lineage_sources": [],
            "created_at": "2026-11-22T00:00:00Z", "updated_at": "2026-11-22T00:00:00Z"
        }))
        .unwrap();
        dataset.fields = vec![
            FieldSpec { name: "uscc".into(), kind: FieldType::String, required: true, description: String::new() },
            FieldSpec { name: "day".into(), kind: FieldType::String, required: true, description: String::new() },
        ];
        dataset.quality_rules = rules;
        dataset
    }

    #[test]
    fn an_accepted_event_is_the_ingested_bytes_plus_the_grades() {
        let r = record("r1", r#"{"uscc":"913","day":"2026-11-01"}"#);
        let d = delivered(&r);
        let event = AcceptedSuffix::of(&dataset(vec![])).event(&(&d, r.clone()));
        let accepted = RecordAccepted::decode(event.payload.as_slice()).unwrap();
        assert_eq!(accepted.record.unwrap(), r);
        assert_eq!(accepted.schema_version, 3);
    }

    #[test]
    fn a_unique_key_admits_one_record_id_per_value() {
        let d = dataset(vec![QualityRule::UniqueKey { fields: vec!["uscc".into(), "day".into()] }]);
        let rules = quality::compile(&d.quality_rules).unwrap();
        let rs = [
            record("a", r#"{"uscc":"913","day":"1"}"#),
            record("b", r#"{"uscc":"913","day":"1"}"#),
            record("a", r#"{"uscc":"913","day":"1"}"#),
            record("c", r#"{"uscc":"913","day":"2"}"#),
            record("d", r#"{"uscc":"914","day":"1"}"#),
        ];
        let ds: Vec<Delivered> = rs.iter().map(delivered).collect();
        let records: Vec<Ingested<'_>> = ds.iter().zip(rs.iter().cloned()).collect();
        let mut judged = judge(&d, &rules, &records, Utc::now());
        assert_eq!(judged.rows.len(), 5);
        let owners = HashMap::from([(r#"["913","2"]"#.to_owned(), "z".to_owned())]);
        enforce_unique_key(&mut judged, &records, &owners, rules.unique_key().unwrap());
        let kept: Vec<&str> = judged.rows.iter().map(|(_, r)| r.record_id).collect();
        assert_eq!(kept, ["a", "a", "d"], "b repeats a's key in the batch; c repeats a stored record's");
        let reasons: Vec<(usize, &str)> = judged.rejected.iter().map(|(i, v)| (*i, v[0].reason.as_str())).collect();
        assert_eq!(reasons[0], (1, r#"unique key (uscc, day) = ["913","1"] is already held by record a"#));
        assert_eq!(reasons[1].0, 3);
        assert!(reasons[1].1.ends_with("held by record z"));
    }
}
