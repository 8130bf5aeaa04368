//! The usage consumer: each event is added once (the dedupe mark and the sum commit in one
//! transaction), and the bus offset is committed only after that transaction.

use crate::domain::{day_of, kind_name};
use crate::store::{UsageDelta, UsageStore};
use crate::EvaluationError;
use brain_bus::{BusError, Delivered, EventBus};
use brain_proto::events::v1::{UsageEvent, UsageKind};
use brain_store::TenantId;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Consumer group (and dedupe namespace) of the usage meter.
pub(crate) const CONSUMER: &str = "evaluation.usage";

/// What to do with an event that can never be processed.
enum Outcome {
    Done,
    /// Unusable payload: logged with its position and skipped; it stays on the bus for replay.
    Unusable(String),
}

pub(crate) async fn meter_usage(bus: Arc<dyn EventBus>, topic: &str, usage: UsageStore, shutdown: CancellationToken) -> Result<(), EvaluationError> {
    let mut subscription = bus.subscribe(CONSUMER, &[topic.to_owned()]).await?;
    let mut bus_backoff = Duration::from_millis(100);
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = subscription.next() => next,
        };
        let delivered = match next {
            Ok(delivered) => {
                bus_backoff = Duration::from_millis(100);
                delivered
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
        let mut backoff = Duration::from_millis(100);
        loop {
            match record(&usage, &delivered).await {
                Ok(Outcome::Done) => break,
                Ok(Outcome::Unusable(reason)) => {
                    tracing::error!(topic, partition = delivered.position.partition, offset = delivered.position.offset, %reason, "unusable usage event skipped");
                    break;
                }
                Err(error) => {
                    // The store is unavailable: keep the event and retry, never skip it.
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "usage event not recorded yet");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        if let Err(error) = subscription.commit(&delivered).await {
            // Not fatal: the event comes again (to this or another member) and the dedupe
            // mark makes the second delivery a no-op.
            tracing::warn!(%error, offset = delivered.position.offset, "usage offset not committed; it will be redelivered");
        }
    }
}

async fn record(usage: &UsageStore, delivered: &Delivered) -> Result<Outcome, EvaluationError> {
    let span = tracing::info_span!(
        "evaluation.record_usage",
        otel.kind = "consumer",
        messaging.system = "brain-bus",
        messaging.destination.name = %delivered.topic,
        messaging.consumer.group.name = CONSUMER,
        messaging.message.id = tracing::field::Empty,
    );
    delivered.continue_trace(&span);
    async {
        let event = match UsageEvent::decode(delivered.payload.as_slice()) {
            Ok(event) => event,
            Err(e) => return Ok(Outcome::Unusable(format!("not a UsageEvent: {e}"))),
        };
        tracing::Span::current().record("messaging.message.id", event.id.as_str());
        if event.id.is_empty() {
            return Ok(Outcome::Unusable("usage event without id".into()));
        }
        let tenant = match TenantId::new(event.tenant_id.clone()) {
            Ok(tenant) => tenant,
            Err(e) => return Ok(Outcome::Unusable(format!("tenant: {e}"))),
        };
        let kind = UsageKind::try_from(event.kind).unwrap_or(UsageKind::Unspecified);
        let millis = event.time.as_ref().map_or(delivered.timestamp_ms, brain_proto::time::to_millis);
        let day = day_of(millis);
        let mut tx = usage.begin().await?;
        if tx.mark_processed(CONSUMER, &event.id).await? {
            let delta = UsageDelta { tenant: &tenant, day: &day, kind: kind_name(kind), unit: &event.unit, quantity: event.quantity };
            usage.add(&mut tx, &delta).await?;
        } else {
            tracing::debug!(event_id = %event.id, "duplicate delivery ignored");
        }
        tx.commit().await?;
        Ok(Outcome::Done)
    }
    .instrument(span)
    .await
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
