//! Sources that ingestion reaches out to: MQTT subscriptions of edge devices and scheduled
//! pulls of public JSON feeds (`ingestion.mqtt`, `ingestion.pulls` in the configuration).
//!
//! Each source runs as its own task and never stops the process: broker and feed errors are
//! logged with the source name and retried (reconnect with backoff, next tick). Both feed
//! [`Ingestion::ingest`], so records are checked, given ids and published durably exactly as
//! over REST and gRPC, and refused records become dead letters with their reasons.

mod cursors;
mod mqtt;
mod pull;
mod schedule;
mod topic_pattern;

pub(crate) use cursors::MIGRATIONS;

use crate::{Ingestion, IngestionError, domain, events};
use brain_bus::EventBus;
use brain_config::Config;
use brain_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A source that cannot be started as configured.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("config key `{key}`: {reason}")]
    Config { key: String, reason: String },
}

/// The configured sources of one process.
pub struct Sources {
    ingestion: Ingestion,
    mqtt: Vec<mqtt::MqttSource>,
    pulls: Vec<pull::PullFeed>,
    cursors: Option<cursors::CursorStore>,
    status: SourceStatus,
}

impl Sources {
    /// Sources publishing to `bus` under `config.common.topic_prefix`, outside a brain
    /// process (tests, tools). Pull feeds keep their cursors in `store`, which must have the
    /// platform's and ingestion's migrations applied (see [`crate::spec`]).
    pub fn new(bus: Arc<dyn EventBus>, store: Option<Store>, config: &Config) -> Result<Self, SourceError> {
        let ingestion = Ingestion {
            publisher: events::Publisher::new(bus, &brain_runtime::Topics::new(&config.common.topic_prefix)),
            limits: domain::Limits::from_config(&config.ingestion),
            // Machine sources are not refused records: governance judges them.
            catalog: crate::catalog::CatalogCheck::default(),
            sources: SourceDirectory::from_config(&config.ingestion),
        };
        Self::with_ingestion(ingestion, store, config)
    }

    pub(crate) fn with_ingestion(ingestion: Ingestion, store: Option<Store>, config: &Config) -> Result<Self, SourceError> {
        let c = &config.ingestion;
        let mqtt = c.mqtt.iter().map(|m| mqtt::MqttSource::new(m, &config.common)).collect::<Result<Vec<_>, _>>()?;
        let pulls = c.pulls.iter().map(pull::PullFeed::new).collect::<Result<Vec<_>, _>>()?;
        let cursors = match store {
            Some(store) => Some(cursors::CursorStore::new(store)),
            None if c.pulls.iter().any(|p| p.cursor.is_some()) => {
                return Err(SourceError::Config { key: "ingestion.pulls".into(), reason: "feeds with a cursor need the store".into() });
            }
            None => None,
        };
        let status = ingestion.sources.status.clone();
        for m in &mqtt {
            status.update("mqtt", m.name(), |_| {});
        }
        for p in &pulls {
            status.update("pull", p.name(), |_| {});
        }
        Ok(Self { ingestion, mqtt, pulls, cursors, status })
    }

    pub fn is_empty(&self) -> bool {
        self.mqtt.is_empty() && self.pulls.is_empty()
    }

    /// Live state of each source (connected, subscribed, last success, cursor, last error).
    pub fn status(&self) -> SourceStatus {
        self.status.clone()
    }

    /// Runs every source until `shutdown`; returns once each has finished its work in hand.
    pub async fn run(self, shutdown: CancellationToken) {
        let tasks = tokio_util::task::TaskTracker::new();
        for source in self.mqtt {
            tasks.spawn(source.run(self.ingestion.clone(), self.status.clone(), shutdown.clone()));
        }
        for feed in self.pulls {
            tasks.spawn(feed.run(self.ingestion.clone(), self.cursors.clone(), self.status.clone(), shutdown.clone()));
        }
        tasks.close();
        tasks.wait().await;
    }
}

/// The state of one source, for operators and tests.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SourceState {
    /// MQTT: connected to the broker.
    pub connected: bool,
    /// MQTT: the subscription is in place (acknowledged by the broker, or kept by the session).
    pub subscribed: bool,
    /// Last batch (MQTT) or run (pull) that ended with its records durable.
    pub last_success: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    /// Pull: successful and failed runs since start.
    pub runs: u64,
    pub failures: u64,
    /// Pull: the cursor after the last successful run.
    #[schema(value_type = Option<Object>)]
    pub cursor: Option<serde_json::Value>,
}

/// A configured source as operators see it: where it reads (without credentials), where its
/// records go (templates with `{placeholders}` for MQTT), and its live state.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SourceView {
    /// `mqtt` or `pull`.
    pub kind: &'static str,
    pub name: String,
    /// MQTT: the topic pattern. Pull: the URL without credentials or query.
    pub pattern: String,
    /// MQTT: the broker without credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<String>,
    /// Pull: the cron schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    pub tenant: String,
    pub dataset: String,
    #[serde(flatten)]
    pub state: SourceState,
}

/// The configured sources and their shared state, known from construction (for the API)
/// while the sources themselves run as the service's background work.
#[derive(Clone, Default)]
pub(crate) struct SourceDirectory {
    configured: Arc<Vec<SourceView>>,
    pub status: SourceStatus,
}

impl SourceDirectory {
    pub fn from_config(c: &brain_config::IngestionConfig) -> Self {
        let mqtt = c.mqtt.iter().map(|m| SourceView {
            kind: "mqtt",
            name: m.name.clone(),
            pattern: m.topic.clone(),
            broker: Some(brain_config::redact_url(&m.broker)),
            schedule: None,
            tenant: m.tenant.clone(),
            dataset: m.dataset.clone(),
            state: SourceState::default(),
        });
        let pulls = c.pulls.iter().map(|p| SourceView {
            kind: "pull",
            name: p.name.clone(),
            pattern: reqwest::Url::parse(&p.url).map_or_else(|_| String::new(), |u| pull::shown_url(&u)),
            broker: None,
            schedule: Some(p.schedule.clone()),
            tenant: p.tenant.clone(),
            dataset: p.dataset.clone(),
            state: SourceState::default(),
        });
        Self { configured: Arc::new(mqtt.chain(pulls).collect()), status: SourceStatus::default() }
    }

    /// Every configured source with its current state, MQTT first, in configuration order.
    pub fn views(&self) -> Vec<SourceView> {
        let states = self.status.snapshot();
        self.configured
            .iter()
            .map(|view| SourceView { state: states.get(&(view.kind, view.name.clone())).cloned().unwrap_or_default(), ..view.clone() })
            .collect()
    }

    /// The sources a caller may see: those feeding its own tenant (platform administrators,
    /// who configure them, see all).
    pub fn views_for(&self, caller: &brain_auth::Principal) -> Vec<SourceView> {
        let mut views = self.views();
        if !caller.is_platform_admin() {
            views.retain(|view| view.tenant == caller.tenant);
        }
        views
    }
}

/// Shared, observable state of all sources, keyed by (`mqtt` | `pull`, name).
#[derive(Clone)]
pub struct SourceStatus(Arc<watch::Sender<BTreeMap<(&'static str, String), SourceState>>>);

impl Default for SourceStatus {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(BTreeMap::new())))
    }
}

impl SourceStatus {
    pub fn snapshot(&self) -> BTreeMap<(&'static str, String), SourceState> {
        self.0.borrow().clone()
    }

    /// The state of one source (`kind` is `mqtt` or `pull`).
    pub fn get(&self, kind: &'static str, name: &str) -> Option<SourceState> {
        self.0.borrow().get(&(kind, name.to_owned())).cloned()
    }

    /// Waits until `check` holds for the state of one source.
    pub async fn wait_for(&self, kind: &'static str, name: &str, mut check: impl FnMut(&SourceState) -> bool) {
        let mut rx = self.0.subscribe();
        let key = (kind, name.to_owned());
        let _ = rx.wait_for(|all| all.get(&key).is_some_and(&mut check)).await;
    }

    pub(crate) fn update(&self, kind: &'static str, name: &str, change: impl FnOnce(&mut SourceState)) {
        self.0.send_modify(|all| change(all.entry((kind, name.to_owned())).or_default()));
    }
}

/// Transient errors (the bus unavailable) are retried; the others would fail again.
pub(crate) fn retryable(error: &IngestionError) -> bool {
    match error {
        IngestionError::Bus(e) => !matches!(e, brain_bus::BusError::TooLarge { .. } | brain_bus::BusError::InvalidTopic { .. } | brain_bus::BusError::UnsupportedUrl { .. }),
        _ => false,
    }
}

/// Exponential backoff with jitter.
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max, next: min }
    }

    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // Up to +25 % so that many sources do not retry in lockstep.
        let quarter = (base.as_millis() as u64 / 4).max(1);
        let jitter = u64::from(chrono::Utc::now().timestamp_subsec_nanos()) % quarter;
        base + Duration::from_millis(jitter)
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

pub(crate) mod metrics {
    use opentelemetry::metrics::Counter;
    use std::sync::OnceLock;

    pub(crate) struct SourceMetrics {
        pub mqtt_messages: Counter<u64>,
        pub mqtt_connection_errors: Counter<u64>,
        pub pull_runs: Counter<u64>,
    }

    pub(crate) fn get() -> &'static SourceMetrics {
        static METRICS: OnceLock<SourceMetrics> = OnceLock::new();
        METRICS.get_or_init(|| {
            let meter = brain_telemetry::metrics::meter();
            SourceMetrics {
                mqtt_messages: meter
                    .u64_counter("brain_ingestion_mqtt_messages_total")
                    .with_description("MQTT messages handled, by subscription and outcome (ingested, unroutable, unacknowledged)")
                    .build(),
                mqtt_connection_errors: meter
                    .u64_counter("brain_ingestion_mqtt_connection_errors_total")
                    .with_description("MQTT connection failures, by subscription")
                    .build(),
                pull_runs: meter
                    .u64_counter("brain_ingestion_pull_runs_total")
                    .with_description("Scheduled pull runs, by feed and outcome (ok or the kind of failure)")
                    .build(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<u64> = (0..6).map(|_| b.next_delay().as_millis() as u64).collect();
        for (delay, base) in delays.iter().zip([100u64, 200, 400, 800, 1000, 1000]) {
            assert!((base..=base + base / 4).contains(delay), "{delays:?}");
        }
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(130));
    }

    #[test]
    fn only_bus_outages_are_retried() {
        assert!(retryable(&IngestionError::Bus(brain_bus::BusError::Closed)));
        assert!(!retryable(&IngestionError::Bus(brain_bus::BusError::TooLarge { size: 2, limit: 1 })));
        assert!(!retryable(&IngestionError::BatchTooLarge { count: 2, limit: 1 }));
    }
}
