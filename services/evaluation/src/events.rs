//! The usage consumer: events are taken in batches; each event is added once (the dedupe
//! marks and the summed deltas of a batch commit in one transaction), and the bus offsets are
//! committed only after that transaction. One transaction per batch, not per event, is what
//! lets the gateway meter a thousand requests a second on one SQLite file.

use crate::domain::{day_of, kind_name};
use crate::store::{UsageDelta, UsageStore};
use crate::EvaluationError;
use brain_bus::{BusError, Delivered, EventBus};
use brain_proto::events::v1::{UsageEvent, UsageKind};
use brain_store::TenantId;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Consumer group (and dedupe namespace) of the usage meter.
pub(crate) const CONSUMER: &str = "evaluation.usage";
/// Most events summed in one transaction.
const BATCH_MAX: usize = 512;
/// How long a batch waits for more events once it has one: the delay of usage totals.
const BATCH_LINGER: Duration = Duration::from_millis(100);

pub(crate) async fn meter_usage(bus: Arc<dyn EventBus>, topic: &str, usage: UsageStore, shutdown: CancellationToken) -> Result<(), EvaluationError> {
    let mut subscription = bus.subscribe(CONSUMER, &[topic.to_owned()]).await?;
    let mut bus_backoff = Duration::from_millis(100);
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = brain_bus::next_batch(subscription.as_mut(), BATCH_MAX, BATCH_LINGER) => next,
        };
        let batch = match next {
            Ok(batch) => {
                bus_backoff = Duration::from_millis(100);
                batch
            }
            Err(BusError::Closed) => return Err(BusError::Closed.into()),
            Err(error) => {
                // A broker hiccup must not take the process down: wait and ask again.
                tracing::warn!(%error, retry_in_ms = bus_backoff.as_millis() as u64, "usage consumer cannot read the bus");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(bus_backoff) => {}
                }
                bus_backoff = (bus_backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let Some((batch, events)) = parse_batch(batch).await else { return Ok(()) };
        let mut backoff = Duration::from_millis(100);
        while let Err(error) = record_batch(&usage, &events).await {
            // The store is unavailable: keep the batch and retry, never skip it.
            tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "usage events not recorded yet");
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
        if let Err(error) = brain_bus::commit_batch(subscription.as_mut(), &batch).await {
            // Not fatal: the events come again (to this or another member) and the dedupe
            // marks make the second delivery a no-op.
            tracing::warn!(%error, events = batch.len(), "usage offsets not committed; they will be redelivered");
        }
    }
}

/// A usable usage event, or why it can never be processed.
struct Usage {
    id: String,
    tenant: TenantId,
    day: String,
    kind: &'static str,
    unit: String,
    quantity: f64,
}

fn parse(delivered: &Delivered) -> Result<Usage, String> {
    let event = UsageEvent::decode(delivered.payload.as_slice()).map_err(|e| format!("not a UsageEvent: {e}"))?;
    if event.id.is_empty() {
        return Err("usage event without id".into());
    }
    let tenant = TenantId::new(event.tenant_id.clone()).map_err(|e| format!("tenant: {e}"))?;
    let kind = UsageKind::try_from(event.kind).unwrap_or(UsageKind::Unspecified);
    let millis = event.time.as_ref().map_or(delivered.timestamp_ms, brain_proto::time::to_millis);
    Ok(Usage { id: event.id, tenant, day: day_of(millis), kind: kind_name(kind), unit: event.unit, quantity: event.quantity })
}

/// Summed deltas of a batch: (tenant, day, kind, unit) → (quantity, events).
type Sums = BTreeMap<(TenantId, String, &'static str, String), (f64, i64)>;

/// The span of consuming one event, a child of the producer's trace.
fn consumer_span(delivered: &Delivered) -> tracing::Span {
    let span = tracing::info_span!(
        "evaluation.record_usage",
        otel.kind = "consumer",
        messaging.system = "brain-bus",
        messaging.destination.name = %delivered.topic,
        messaging.consumer.group.name = CONSUMER,
        messaging.message.id = tracing::field::Empty,
    );
    delivered.continue_trace(&span);
    span
}

/// Parses a batch on a blocking thread: decoding a few hundred events is a few hundred µs of
/// CPU, which on a request worker would hold up the requests queued behind it. The batch
/// comes back for its commit; `None` when the runtime is shutting down.
async fn parse_batch(batch: Vec<Delivered>) -> Option<(Vec<Delivered>, Vec<Usage>)> {
    match tokio::task::spawn_blocking(move || {
        let events = parse_all(&batch);
        (batch, events)
    })
    .await
    {
        Ok(parsed) => Some(parsed),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => None,
    }
}

/// The usable events of a batch. Unusable payloads are logged with their position and
/// skipped (they stay on the bus for replay).
fn parse_all(batch: &[Delivered]) -> Vec<Usage> {
    let mut events = Vec::with_capacity(batch.len());
    for delivered in batch {
        match parse(delivered) {
            Ok(event) => {
                // A consumer span per event, linked to the producer's trace, unless that
                // trace is unsampled: such a span would be recorded nowhere, and making it
                // was half of this loop's cost at a thousand events a second.
                if !delivered.trace_unsampled() {
                    consumer_span(delivered).record("messaging.message.id", event.id.as_str());
                }
                events.push(event);
            }
            Err(reason) => {
                let span = consumer_span(delivered);
                let _entered = span.enter();
                let (partition, offset) = (delivered.position.partition, delivered.position.offset);
                tracing::error!(topic = %delivered.topic, partition, offset, %reason, "unusable usage event skipped");
            }
        }
    }
    events
}

/// Adds a batch's events in one transaction; duplicates (a producer retry, a redelivery)
/// count once.
async fn record_batch(usage: &UsageStore, events: &[Usage]) -> Result<(), EvaluationError> {
    let mut tx = usage.begin().await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let mut new = tx.mark_processed_batch(CONSUMER, &ids).await?;
    if new.len() < ids.len() {
        tracing::debug!(duplicates = ids.len() - new.len(), "duplicate deliveries ignored");
    }
    let mut sums = Sums::new();
    for event in events {
        // `remove`: a second copy of an id in the same batch counts once.
        if new.remove(&event.id) {
            let sum = sums.entry((event.tenant.clone(), event.day.clone(), event.kind, event.unit.clone())).or_insert((0.0, 0));
            sum.0 += event.quantity;
            sum.1 += 1;
        }
    }
    for ((tenant, day, kind, unit), (quantity, events)) in &sums {
        usage.add(&mut tx, &UsageDelta { tenant, day, kind, unit, quantity: *quantity, events: *events }).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_bus::{BusSettings, EmbeddedLog, Event};
    use brain_store::Store;

    fn usage_event(id: &str, tenant: &str, quantity: f64) -> Event {
        let event = UsageEvent {
            id: id.into(),
            tenant_id: tenant.into(),
            kind: UsageKind::ModelTokens as i32,
            service: "model-gateway".into(),
            subject: "qwen-textile".into(),
            quantity,
            unit: "tokens".into(),
            time: Some(brain_proto::time::from_millis(1_795_305_600_000)),
            attributes: Default::default(),
        };
        Event::new(tenant.as_bytes().to_vec(), event.encode_to_vec())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_event_counts_once_even_when_delivered_twice() {
        let dir = tempfile::tempdir().unwrap();
        let settings = BusSettings::from(&brain_config::BusConfig::default());
        let bus: Arc<dyn EventBus> = Arc::new(EmbeddedLog::open(&dir.path().join("bus"), settings).unwrap());
        let store = Store::connect(&format!("sqlite://{}/brain.db", dir.path().display())).await.unwrap();
        store.migrate(&brain_store::PLATFORM).await.unwrap();
        store.migrate(&crate::store::MIGRATIONS).await.unwrap();
        let usage = UsageStore::new(store.clone());

        // e-2 is published twice (a producer retry), and one payload is garbage.
        let events = vec![
            usage_event("e-1", "acme", 100.0),
            usage_event("e-2", "acme", 20.0),
            usage_event("e-2", "acme", 20.0),
            Event::new(b"acme".to_vec(), b"not protobuf".to_vec()),
            usage_event("e-3", "other", 7.0),
        ];
        bus.publish("usage", events).await.unwrap();

        let shutdown = CancellationToken::new();
        let consumer = tokio::spawn(meter_usage(bus.clone(), "usage", usage.clone(), shutdown.clone()));
        let acme = TenantId::new("acme").unwrap();
        let mut totals = Vec::new();
        for _ in 0..100 {
            totals = usage.totals(&acme, "", "").await.unwrap();
            if totals.first().is_some_and(|t| t.events == 2) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        consumer.await.unwrap().unwrap();
        assert_eq!(totals.len(), 1, "{totals:?}");
        assert_eq!((totals[0].kind.as_str(), totals[0].quantity, totals[0].events), ("model_tokens", 120.0, 2));
        // Another tenant's usage is not visible to acme, and is counted for its own tenant.
        let other = usage.totals(&TenantId::new("other").unwrap(), "2026-11-22", "2026-11-22").await.unwrap();
        assert_eq!(other[0].quantity, 7.0);
        assert!(usage.totals(&TenantId::new("other").unwrap(), "2026-11-23", "").await.unwrap().is_empty());
    }
}
