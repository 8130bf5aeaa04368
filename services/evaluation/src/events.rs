//! The usage consumer: each event is added once (the dedupe mark and the sum commit in one
//! transaction), and the bus offset is committed only after that transaction.

use crate::domain::{day_of, kind_name};
use crate::store::{UsageDelta, UsageStore};
use crate::EvaluationError;
use brain_bus::{Delivered, EventBus};
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
    loop {
        let delivered = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            next = subscription.next() => next?,
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
        subscription.commit(&delivered).await?;
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
