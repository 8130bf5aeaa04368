//! One usage event per request on the bus — tenant, key, model, endpoint, prompt and
//! completion tokens as the upstream reported them, latency, status — for evaluation and
//! billing. Requests only queue their event; one publisher appends the queue in batches, so
//! no answer waits for the bus and a bus that is down delays events, never answers. A crash
//! loses at most the events of the last window (~50 ms) — budgets are enforced apart, by
//! [`super::quota`], so this touches billing totals only.

use brain_auth::{Principal, Subject};
use brain_bus::{CloudEvent, Event, EventBus};
use brain_telemetry::propagation::HeaderPairs;
use brain_proto::events::v1::{UsageEvent, UsageKind};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What one request consumed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metered {
    pub model: String,
    pub version: String,
    /// `on_premise`, `in_province`, `external`; empty when no endpoint answered.
    pub location: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Whether the upstream reported its usage (a stream without a usage chunk does not).
    pub usage_reported: bool,
    pub status: u16,
    pub latency: Duration,
    pub guardrail: &'static str,
}

/// Most usage events waiting for the bus; beyond it new ones are dropped (logged, counted).
const QUEUE_MAX: usize = 65_536;
/// Most events in one append.
const BATCH_MAX: usize = 1_024;
/// Shortest gap between two appends: the events of one window share one append (one fsync on
/// the embedded log) instead of each request paying its own, and no request waits for it.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// Hands usage events to the [`MeterPublisher`] without waiting for the bus.
#[derive(Clone)]
pub struct Meter {
    queue: mpsc::Sender<Usage>,
}

/// Appends queued usage events to the bus in batches until every request is done.
pub struct MeterPublisher {
    bus: Arc<dyn EventBus>,
    topic: String,
    queue: mpsc::Receiver<Usage>,
}

/// One request's usage as queued: the event itself is built by the publisher, off the
/// request path; the trace headers tie it to the request's trace.
struct Usage {
    tenant: String,
    api_key: Option<String>,
    metered: Metered,
    at: chrono::DateTime<chrono::Utc>,
    trace: Vec<(String, String)>,
}

impl Meter {
    pub fn new(bus: Arc<dyn EventBus>, topic: String) -> (Self, MeterPublisher) {
        let (sender, queue) = mpsc::channel(QUEUE_MAX);
        (Self { queue: sender }, MeterPublisher { bus, topic, queue })
    }

    /// Queues the request's usage event; returns at once.
    pub fn record(&self, caller: &Principal, metered: &Metered) {
        super::metrics::record(metered);
        let api_key = match &caller.subject {
            Subject::ApiKey { id, .. } => Some(id.clone()),
            _ => None,
        };
        let mut trace = Vec::new();
        brain_telemetry::propagation::inject_current(&mut HeaderPairs(&mut trace));
        let usage = Usage { tenant: caller.tenant.clone(), api_key, metered: metered.clone(), at: chrono::Utc::now(), trace };
        if let Err(error) = self.queue.try_send(usage) {
            super::metrics::usage_event_dropped();
            let why = match error {
                mpsc::error::TrySendError::Full(_) => "the queue to the bus is full",
                mpsc::error::TrySendError::Closed(_) => "the publisher has stopped",
            };
            tracing::error!(model = %metered.model, tenant = %caller.tenant, why, "usage event dropped");
        }
    }
}

impl Usage {
    fn event(&self) -> UsageEvent {
        let metered = &self.metered;
        let mut attributes: std::collections::HashMap<String, String> = [
            ("model", metered.model.clone()),
            ("version", metered.version.clone()),
            ("endpoint_location", metered.location.clone()),
            ("prompt_tokens", metered.prompt_tokens.to_string()),
            ("completion_tokens", metered.completion_tokens.to_string()),
            ("usage_reported", metered.usage_reported.to_string()),
            ("status", metered.status.to_string()),
            ("latency_ms", format!("{:.3}", metered.latency.as_secs_f64() * 1000.0)),
            ("guardrail", metered.guardrail.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(id) = &self.api_key {
            attributes.insert("api_key".into(), id.clone());
        }
        UsageEvent {
            id: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id: self.tenant.clone(),
            kind: UsageKind::ModelTokens as i32,
            service: "model-gateway".into(),
            subject: metered.model.clone(),
            quantity: (metered.prompt_tokens + metered.completion_tokens) as f64,
            unit: "tokens".into(),
            time: Some(brain_auth::proto::timestamp(self.at)),
            attributes,
        }
    }

    fn into_bus_event(self) -> Event {
        let usage = self.event();
        let ce = CloudEvent { id: &usage.id, kind: "brain.usage.event.v1", source: "/brain/model-gateway", subject: &self.metered.model, tenant: &self.tenant };
        let mut event = Event::cloud(&ce, self.tenant.clone(), usage.encode_to_vec());
        // The publisher runs outside the request's span: carry the request's trace instead.
        event.headers.retain(|(name, _)| !self.trace.iter().any(|(traced, _)| traced == name));
        event.headers.extend(self.trace);
        event
    }
}

impl MeterPublisher {
    /// Publishes until `requests_done`, then publishes what is left and returns. While the bus
    /// refuses, the batch is retried with backoff and new events wait in the queue.
    pub async fn run(mut self, requests_done: CancellationToken) {
        let mut queued = Vec::with_capacity(BATCH_MAX);
        loop {
            let window = tokio::time::Instant::now() + PUBLISH_EVERY;
            tokio::select! {
                received = self.queue.recv_many(&mut queued, BATCH_MAX) => if received == 0 { return },
                () = requests_done.cancelled() => break,
            }
            self.publish(&mut queued, &requests_done).await;
            tokio::select! {
                () = tokio::time::sleep_until(window) => {}
                () = requests_done.cancelled() => break,
            }
        }
        // Every request has finished: nothing more will be queued.
        self.queue.close();
        while self.queue.recv_many(&mut queued, BATCH_MAX).await > 0 {
            self.publish(&mut queued, &requests_done).await;
        }
    }

    /// Publishes the queued usage and empties the queue; after `requests_done`, a refusal
    /// loses it (logged).
    async fn publish(&self, queued: &mut Vec<Usage>, requests_done: &CancellationToken) {
        let window = std::mem::replace(queued, Vec::with_capacity(BATCH_MAX));
        let count = window.len();
        // Encoding a window's events (~50 at 1,000 requests/s) is a few hundred µs of CPU: on
        // a blocking thread the OS shares it out, where on a request worker it would hold up
        // the requests queued behind it.
        let batch: Vec<Event> = match tokio::task::spawn_blocking(move || window.into_iter().map(Usage::into_bus_event).collect()).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, events = count, "usage events lost: encoding them failed");
                return;
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            // A retry sends the same events (the same ids), so the consumer's dedupe holds
            // when a refused append had in fact landed.
            match self.bus.publish(&self.topic, batch.clone()).await {
                Ok(_) => break,
                Err(error) if requests_done.is_cancelled() => {
                    tracing::error!(%error, events = batch.len(), "usage events lost at shutdown: the bus refused them");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, events = batch.len(), retry_in_ms = backoff.as_millis() as u64, "usage events not published yet");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = requests_done.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_auth::AuthMethod;
    use brain_bus::{BusSettings, EmbeddedLog};

    fn key_holder() -> Principal {
        Principal {
            tenant: "91330100MA27XKQ717".into(),
            subject: Subject::ApiKey { id: "key-1".into(), name: "ci".into() },
            roles: Default::default(),
            scope: None,
            method: AuthMethod::ApiKey,
            session_id: None,
        }
    }

    fn metered(tokens: u64) -> Metered {
        Metered { model: "textile-qa".into(), prompt_tokens: tokens, completion_tokens: 1, usage_reported: true, status: 200, guardrail: "allow", ..Metered::default() }
    }

    async fn on_bus(bus: &EmbeddedLog) -> Vec<UsageEvent> {
        let mut events = Vec::new();
        for partition in 0..16 {
            if let Ok(delivered) = bus.read("usage", partition, 0, usize::MAX).await {
                events.extend(delivered.iter().map(|d| UsageEvent::decode(d.payload.as_slice()).unwrap()));
            }
        }
        events
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_usage_reaches_the_bus_and_the_rest_is_published_when_requests_are_done() {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(EmbeddedLog::open(dir.path(), BusSettings::from(&brain_config::BusConfig::default())).unwrap());
        let (meter, publisher) = Meter::new(bus.clone(), "usage".into());
        let requests_done = CancellationToken::new();
        let publishing = tokio::spawn(publisher.run(requests_done.clone()));

        meter.record(&key_holder(), &metered(10));
        // Published within a window or two, without anyone waiting for it.
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = on_bus(&bus).await;
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].tenant_id.as_str(), seen[0].quantity), ("91330100MA27XKQ717", 11.0));
        assert_eq!(seen[0].attributes["api_key"], "key-1");

        // A burst recorded just before the listeners drain is published before the run ends.
        for tokens in 0..500 {
            meter.record(&key_holder(), &metered(tokens));
        }
        requests_done.cancel();
        tokio::time::timeout(Duration::from_secs(10), publishing).await.unwrap().unwrap();
        let all = on_bus(&bus).await;
        assert_eq!(all.len(), 501);
        let ids: std::collections::BTreeSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 501, "every request has its own event id");

        // After the publisher stopped, a late record is dropped, not blocked on.
        meter.record(&key_holder(), &metered(1));
    }
}
