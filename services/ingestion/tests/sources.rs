#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! MQTT subscriptions against the real Mosquitto (`BRAIN_TEST_MQTT`) and scheduled pulls
//! against an HTTP server in the test, both publishing onto an embedded log.

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use brain_bus::{BusError, BusSettings, Delivered, EmbeddedLog, Event, EventBus, Position, Subscription};
use brain_config::{Config, FsyncPolicy, MqttSubscriptionConfig, PullCursorConfig, PullFeedConfig};
use brain_ingestion::sources::Sources;
use brain_proto::events::v1::{Record, RecordIngested, RecordRejected, SourceKind};
use brain_store::Store;
use prost::Message;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn open_bus(dir: &std::path::Path) -> Arc<dyn EventBus> {
    let settings = BusSettings {
        partitions: 1,
        replication_factor: 1,
        session_timeout_ms: 10_000,
        heartbeat_interval_ms: 1_000,
        linger_ms: 0,
        segment_bytes: 8 * 1024 * 1024,
        fsync: FsyncPolicy::Never,
    };
    Arc::new(EmbeddedLog::open(&dir.join("bus"), settings).unwrap())
}

async fn ensure_topics(bus: &Arc<dyn EventBus>) {
    for topic in brain_bus::topics::ALL {
        bus.ensure_topic(&brain_bus::topics::name("brain", topic)).await.unwrap();
    }
}

async fn read_all(bus: &Arc<dyn EventBus>, topic: &str) -> Vec<Delivered> {
    bus.read(&brain_bus::topics::name("brain", topic), 0, 0, 100_000).await.unwrap()
}

async fn records(bus: &Arc<dyn EventBus>) -> Vec<Record> {
    read_all(bus, brain_bus::topics::INGEST_RECORDS)
        .await
        .iter()
        .map(|d| RecordIngested::decode(d.payload.as_slice()).unwrap().record.unwrap())
        .collect()
}

async fn rejected(bus: &Arc<dyn EventBus>) -> Vec<RecordRejected> {
    read_all(bus, brain_bus::topics::GOVERNANCE_REJECTED).await.iter().map(|d| RecordRejected::decode(d.payload.as_slice()).unwrap()).collect()
}

fn payload(record: &Record) -> Value {
    serde_json::from_slice(&record.payload_json).unwrap()
}

/// Polls `check` until it holds or `WAIT` passes.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A bus whose every publish fails (as when the bus is down), counting the attempts.
#[derive(Default)]
struct FailingBus {
    attempts: AtomicUsize,
}

#[async_trait]
impl EventBus for FailingBus {
    fn backend(&self) -> &'static str {
        "failing"
    }
    async fn ensure_topic(&self, _topic: &str) -> Result<(), BusError> {
        Ok(())
    }
    async fn publish(&self, _topic: &str, _events: Vec<Event>) -> Result<Vec<Position>, BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Err(BusError::Closed)
    }
    async fn subscribe(&self, _group: &str, _topics: &[String]) -> Result<Box<dyn Subscription>, BusError> {
        Err(BusError::Closed)
    }
    async fn read(&self, _topic: &str, _partition: u32, _offset: u64, _max: usize) -> Result<Vec<Delivered>, BusError> {
        Ok(Vec::new())
    }
    async fn flush(&self) -> Result<(), BusError> {
        Ok(())
    }
    async fn ping(&self) -> Result<(), BusError> {
        Err(BusError::Closed)
    }
}

/// Sources running in the background until `stop`.
struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    status: brain_ingestion::sources::SourceStatus,
}

impl Running {
    fn start(sources: Sources) -> Self {
        let shutdown = CancellationToken::new();
        let status = sources.status();
        let task = tokio::spawn(sources.run(shutdown.clone()));
        Self { shutdown, task, status }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task).await.expect("sources did not stop in time").unwrap();
    }
}

// ---------------------------------------------------------------- MQTT

fn mqtt_config(broker: &str, name: &str, topic: &str, client_id: &str, qos: u8) -> Config {
    let mut config = Config::default();
    config.ingestion.mqtt.push(MqttSubscriptionConfig {
        name: name.into(),
        broker: format!("mqtt://{broker}"),
        topic: topic.into(),
        dataset: "line-telemetry".into(),
        tenant: "{uscc}".into(),
        qos,
        client_id: Some(client_id.into()),
        keep_alive_seconds: 30,
    });
    config.validate().unwrap();
    config
}

/// A device publishing to the broker; its event loop runs until the test ends.
struct Device {
    client: AsyncClient,
    task: JoinHandle<()>,
}

impl Device {
    fn connect(broker: &str) -> Self {
        let (host, port) = broker.rsplit_once(':').unwrap();
        let mut options = MqttOptions::new(format!("it-device-{}", unique()), host, port.parse().unwrap());
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 100);
        let task = tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Self { client, task }
    }

    async fn publish(&self, topic: &str, payload: &[u8]) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.to_vec()).await.unwrap();
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ends the persistent session a test created (a clean-session connect replaces it), so the
/// broker does not keep it forever.
async fn forget_session(broker: &str, client_id: &str) {
    let (host, port) = broker.rsplit_once(':').unwrap();
    let mut options = MqttOptions::new(client_id, host, port.parse().unwrap());
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, 10);
    let done = async {
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    client.disconnect().await.unwrap();
                }
                Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), done).await.unwrap();
}

const USCC: &str = "91330100MA27XKQ717";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_messages_land_on_the_bus_with_topic_attributes() {
    let Some(broker) = brain_testkit::engines::mqtt() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bus = open_bus(dir.path());
    ensure_topics(&bus).await;
    let run = unique();
    let template = format!("it-{run}/factory/{{uscc}}/line/{{line}}/telemetry");
    let config = mqtt_config(&broker, "edge", &template, &format!("it-{run}"), 1);
    let sources = Running::start(Sources::new(bus.clone(), None, &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("mqtt", "edge", |s| s.subscribed)).await.expect("not subscribed");

    let device = Device::connect(&broker);
    let topic = |uscc: &str, line: &str| format!("it-{run}/factory/{uscc}/line/{line}/telemetry");
    // Not a valid tenant: acknowledged and logged, and the subscription keeps flowing.
    device.publish(&topic("no tenant!", "L0"), br#"{"temp":1}"#).await;
    // An extra level: outside the subscription filter, never delivered.
    device.publish(&format!("it-{run}/factory/{USCC}/line/L1/telemetry/extra"), br#"{"temp":1}"#).await;
    device.publish(&topic(USCC, "L1"), br#"{"_id":"m-1","_event_time":"2026-03-01T08:00:00+08:00","temp":21.5}"#).await;
    device.publish(&topic(USCC, "L2"), br#"[{"temp":22.0},{"temp":22.5}]"#).await;
    device.publish(&topic(USCC, "L2"), b"temp=23").await;

    eventually("3 records and 1 dead letter", || async { records(&bus).await.len() >= 3 && !rejected(&bus).await.is_empty() }).await;
    let got = records(&bus).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let first = got.iter().find(|r| r.id == "m-1").expect("the record with the client id");
    assert_eq!(payload(first), json!({"temp": 21.5}));
    assert_eq!(first.event_time.as_ref().unwrap().seconds, 1_772_323_200);
    let dataset = first.dataset.as_ref().unwrap();
    assert_eq!((dataset.tenant_id.as_str(), dataset.dataset.as_str()), (USCC, "line-telemetry"));
    let source = first.source.as_ref().unwrap();
    assert_eq!(source.kind, SourceKind::Mqtt as i32);
    assert_eq!(source.name, topic(USCC, "L1"));
    assert_eq!(source.attributes.get("uscc").map(String::as_str), Some(USCC));
    assert_eq!(source.attributes.get("line").map(String::as_str), Some("L1"));
    assert_eq!(source.attributes.get("subscription").map(String::as_str), Some("edge"));
    let l2: Vec<&Record> = got.iter().filter(|r| r.source.as_ref().unwrap().attributes.get("line").map(String::as_str) == Some("L2")).collect();
    assert_eq!(l2.len(), 2);

    // The invalid payload is a dead letter with its reason, not a lost message.
    let dead = rejected(&bus).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].violations[0].reason.starts_with("invalid JSON"), "{:?}", dead[0].violations);
    assert_eq!(dead[0].record.as_ref().unwrap().dataset.as_ref().unwrap().tenant_id, USCC);

    let state = sources.status.get("mqtt", "edge").unwrap();
    assert!(state.connected && state.last_success.is_some(), "{state:?}");
    sources.stop().await;
    forget_session(&broker, &format!("it-{run}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_messages_published_while_the_brain_is_down_are_delivered_after_restart() {
    let Some(broker) = brain_testkit::engines::mqtt() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bus = open_bus(dir.path());
    ensure_topics(&bus).await;
    let run = unique();
    let config = mqtt_config(&broker, "edge", &format!("it-{run}/factory/{{uscc}}/line/{{line}}/telemetry"), &format!("it-{run}"), 1);

    // First start creates the persistent session and its subscription.
    let sources = Running::start(Sources::new(bus.clone(), None, &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("mqtt", "edge", |s| s.subscribed)).await.expect("not subscribed");
    sources.stop().await;

    let device = Device::connect(&broker);
    for i in 0..20 {
        device.publish(&format!("it-{run}/factory/{USCC}/line/L1/telemetry"), format!(r#"{{"seq":{i}}}"#).as_bytes()).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(records(&bus).await.is_empty());

    let sources = Running::start(Sources::new(bus.clone(), None, &config).unwrap());
    eventually("the 20 queued messages", || async { records(&bus).await.len() >= 20 }).await;
    let mut seqs: Vec<i64> = records(&bus).await.iter().map(|r| payload(r)["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    sources.stop().await;
    forget_session(&broker, &format!("it-{run}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos1_message_whose_ingest_fails_is_not_acknowledged() {
    let Some(broker) = brain_testkit::engines::mqtt() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = unique();
    let config = mqtt_config(&broker, "edge", &format!("it-{run}/factory/{{uscc}}/line/{{line}}/telemetry"), &format!("it-{run}"), 1);

    // The bus is down: ingest keeps failing, the message is retried and never acknowledged.
    let failing = Arc::new(FailingBus::default());
    let sources = Running::start(Sources::new(failing.clone(), None, &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("mqtt", "edge", |s| s.subscribed)).await.expect("not subscribed");
    let device = Device::connect(&broker);
    device.publish(&format!("it-{run}/factory/{USCC}/line/L1/telemetry"), br#"{"_id":"kept","temp":20}"#).await;
    eventually("two failed ingest attempts", || async { failing.attempts.load(Ordering::SeqCst) >= 2 }).await;
    sources.stop().await;
    drop(device);

    // Restarted with a working bus (as after a crash and repair): the broker redelivers the
    // unacknowledged message on the same session, and only now does it land.
    let bus = open_bus(dir.path());
    ensure_topics(&bus).await;
    let sources = Running::start(Sources::new(bus.clone(), None, &config).unwrap());
    eventually("the redelivered message", || async { !records(&bus).await.is_empty() }).await;
    let got = records(&bus).await;
    assert_eq!(got[0].id, "kept");
    sources.stop().await;

    // Acknowledged this time: a third start receives nothing more.
    let sources = Running::start(Sources::new(bus.clone(), None, &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("mqtt", "edge", |s| s.subscribed)).await.expect("not subscribed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    sources.stop().await;
    assert_eq!(records(&bus).await.len(), 1);
    forget_session(&broker, &format!("it-{run}")).await;
}

// ---------------------------------------------------------------- scheduled pull

/// `since` of each request, and whether it carried the API key.
type Requests = Arc<Mutex<Vec<(Option<String>, bool)>>>;

/// A feed of records ordered by `updated_at`, answering pages of 2 after `?since=`.
#[derive(Clone, Default)]
struct Feed {
    items: Arc<Mutex<Vec<Value>>>,
    requests: Requests,
    /// Answers to give before the real ones (status, body).
    failures: Arc<Mutex<Vec<(StatusCode, &'static str)>>>,
}

impl Feed {
    fn add(&self, n: usize) {
        let mut items = self.items.lock().unwrap();
        for _ in 0..n {
            let i = items.len() + 1;
            items.push(json!({"station": format!("S{i}"), "kwh": i * 10, "updated_at": format!("2026-03-01T08:00:{i:02}Z")}));
        }
    }

    fn requests(&self) -> Vec<(Option<String>, bool)> {
        self.requests.lock().unwrap().clone()
    }

    async fn serve(self) -> String {
        async fn page(State(feed): State<Feed>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
            let since = query.get("since").cloned();
            let keyed = headers.get("x-api-key").is_some_and(|v| v == "k3y");
            feed.requests.lock().unwrap().push((since.clone(), keyed));
            if let Some((status, body)) = feed.failures.lock().unwrap().pop() {
                return (status, body).into_response();
            }
            let items: Vec<Value> = feed
                .items
                .lock()
                .unwrap()
                .iter()
                .filter(|item| since.as_deref().is_none_or(|s| item["updated_at"].as_str().is_none_or(|u| u > s)))
                .take(2)
                .cloned()
                .collect();
            axum::Json(json!({"code": 0, "data": {"items": items}})).into_response()
        }
        let app = axum::Router::new().route("/feed", axum::routing::get(page)).with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/feed")
    }
}

fn pull_config(url: &str) -> Config {
    let mut config = Config::default();
    config.ingestion.pulls.push(PullFeedConfig {
        name: "power".into(),
        url: url.into(),
        schedule: "* * * * * *".into(),
        tenant: "gov-power".into(),
        dataset: "power-usage".into(),
        records_pointer: "/data/items".into(),
        cursor: Some(PullCursorConfig { param: "since".into(), from_field: "updated_at".into() }),
        headers: [("X-Api-Key".to_owned(), "k3y".to_owned())].into_iter().collect(),
        timeout_seconds: 5,
        max_pages_per_run: 10,
    });
    config.validate().unwrap();
    config
}

async fn migrated(url: &str) -> Store {
    let store = Store::connect(url).await.unwrap();
    store.migrate(&brain_store::PLATFORM).await.unwrap();
    for migrations in brain_ingestion::spec().migrations {
        store.migrate(migrations).await.unwrap();
    }
    store
}

/// Pages through the feed, then resumes after a restart from the stored cursor.
async fn pull_pages_with_a_durable_cursor(store_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bus = open_bus(dir.path());
    ensure_topics(&bus).await;
    let feed = Feed::default();
    feed.add(5);
    let config = pull_config(&feed.clone().serve().await);

    let store = migrated(store_url).await;
    let sources = Running::start(Sources::new(bus.clone(), Some(store.clone()), &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("pull", "power", |s| s.runs >= 1)).await.expect("no run");
    sources.stop().await;
    store.close().await;

    let got = records(&bus).await;
    assert_eq!(got.len(), 5);
    assert_eq!(payload(&got[0]), json!({"station": "S1", "kwh": 10, "updated_at": "2026-03-01T08:00:01Z"}));
    let dataset = got[0].dataset.as_ref().unwrap();
    assert_eq!((dataset.tenant_id.as_str(), dataset.dataset.as_str()), ("gov-power", "power-usage"));
    let source = got[0].source.as_ref().unwrap();
    assert_eq!((source.kind, source.name.as_str()), (SourceKind::Pull as i32, "power"));
    // One run pages while the cursor moves: none, after item 2, after item 4, after item 5 (empty).
    let since: Vec<Option<String>> = feed.requests().iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(
        since[..4],
        [None, Some("2026-03-01T08:00:02Z".into()), Some("2026-03-01T08:00:04Z".into()), Some("2026-03-01T08:00:05Z".into())]
    );
    assert!(feed.requests().iter().all(|(_, keyed)| *keyed), "the API key header is sent");

    // Restart on the same store: the first request carries the stored cursor.
    feed.add(2);
    let before = feed.requests().len();
    let store = migrated(store_url).await;
    let sources = Running::start(Sources::new(bus.clone(), Some(store.clone()), &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("pull", "power", |s| s.runs >= 1)).await.expect("no run");
    sources.stop().await;
    store.close().await;
    assert_eq!(feed.requests()[before].0.as_deref(), Some("2026-03-01T08:00:05Z"));
    let got = records(&bus).await;
    assert_eq!(got.len(), 7, "nothing fetched twice");
    assert_eq!(payload(&got[6])["station"], "S7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_pages_with_a_durable_cursor_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    pull_pages_with_a_durable_cursor(&format!("sqlite://{}/brain.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_pages_with_a_durable_cursor_on_postgres() {
    let Some(server) = brain_testkit::engines::postgres() else { return };
    let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
    pull_pages_with_a_durable_cursor(db.url()).await;
    db.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pulls_keep_the_cursor_and_retry_at_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let feed = Feed::default();
    feed.add(2);
    feed.items.lock().unwrap().push(json!("not a record"));
    // Popped from the end: first a 503, then a body that is not JSON.
    *feed.failures.lock().unwrap() = vec![(StatusCode::OK, "<html>maintenance</html>"), (StatusCode::SERVICE_UNAVAILABLE, "busy")];
    let config = pull_config(&feed.clone().serve().await);
    let store = migrated(&format!("sqlite://{}/brain.db", dir.path().display())).await;

    // The bus is down at first: the records are fetched but the cursor must not move.
    let failing = Arc::new(FailingBus::default());
    let sources = Running::start(Sources::new(failing.clone(), Some(store.clone()), &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("pull", "power", |s| s.failures >= 3)).await.expect("three failed runs");
    let state = sources.status.get("pull", "power").unwrap();
    sources.stop().await;
    assert_eq!(state.runs, 0);
    assert!(state.last_error.as_deref().unwrap().starts_with("ingest:"), "{state:?}");
    assert!(failing.attempts.load(Ordering::SeqCst) >= 1);
    let since: Vec<Option<String>> = feed.requests().iter().map(|(s, _)| s.clone()).collect();
    assert!(since.iter().all(Option::is_none), "the cursor never moved: {since:?}");

    // With the bus back, the next run starts from the same (empty) cursor.
    let bus = open_bus(dir.path());
    ensure_topics(&bus).await;
    let sources = Running::start(Sources::new(bus.clone(), Some(store.clone()), &config).unwrap());
    tokio::time::timeout(WAIT, sources.status.wait_for("pull", "power", |s| s.runs >= 1)).await.expect("no run");
    let state = sources.status.get("pull", "power").unwrap();
    sources.stop().await;
    assert_eq!(state.cursor, Some(json!("2026-03-01T08:00:02Z")));
    assert_eq!(records(&bus).await.len(), 2);
    // The element that is not an object is a dead letter with its reason.
    // (A later run may fetch it again: it carries no cursor field.)
    let dead = rejected(&bus).await;
    assert!(!dead.is_empty());
    assert!(dead.iter().all(|d| d.violations[0].reason == "expected a JSON object, got a string"), "{dead:?}");
    store.close().await;
}
