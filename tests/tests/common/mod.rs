//! Helpers shared by the end-to-end tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// Every gRPC service of the seven services, by target.
pub const GRPC_SERVICES: [(&str, &str); 10] = [
    ("ingestion", "brain.ingestion.v1.IngestionService"),
    ("governance", "brain.governance.v1.CatalogService"),
    ("governance", "brain.governance.v1.ClassificationService"),
    ("governance", "brain.governance.v1.QualityService"),
    ("governance", "brain.governance.v1.WarehouseService"),
    ("compute-scheduler", "brain.scheduler.v1.ComputeSchedulerService"),
    ("model-gateway", "brain.gateway.v1.ModelRegistryService"),
    ("model-gateway", "brain.gateway.v1.ModelGatewayService"),
    ("service-opening", "brain.opening.v1.ServiceOpeningService"),
    ("portal-api", "brain.portal.v1.PortalService"),
];

/// The evaluation service's gRPC name (listed apart: it is real, not a stub).
pub const EVALUATION: (&str, &str) = ("evaluation", "brain.evaluation.v1.EvaluationService");

pub fn all_grpc_services() -> Vec<(&'static str, &'static str)> {
    GRPC_SERVICES.iter().copied().chain(std::iter::once(EVALUATION)).collect()
}

pub async fn channel(grpc: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(grpc.to_owned()).unwrap().connect().await.unwrap()
}

pub async fn health(grpc: &str, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(channel(grpc).await);
    let response = client.check(HealthCheckRequest { service: service.to_owned() }).await;
    match response {
        Ok(r) => ServingStatus::try_from(r.into_inner().status).unwrap(),
        Err(status) if status.code() == tonic::Code::NotFound => ServingStatus::ServiceUnknown,
        Err(status) => panic!("health check of {service} failed: {status}"),
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Polls `check` every 100 ms until it returns Some, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `brain up` on a fresh data directory and ports the OS picks.
pub fn brain_up(data_dir: &std::path::Path) -> brain_testkit::BrainProcess {
    brain_testkit::BrainProcess::spawn(
        &["up", "--data-dir", data_dir.to_str().unwrap(), "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"],
        &[],
    )
    .unwrap()
}

/// The catalog entry of the records [`textile_batch`] makes: daily output per production line.
pub fn textile_dataset() -> serde_json::Value {
    serde_json::json!({
        "name": "production-output",
        "title": "Daily output per production line",
        "description": "Woven fabric output and energy use per line (织造产量与能耗)",
        "library": "industry",
        "domain": "production",
        "fields": [
            {"name": "enterprise_uscc", "type": "string", "required": true},
            {"name": "line", "type": "string", "required": true},
            {"name": "fabric", "type": "string"},
            {"name": "output_m", "type": "integer", "required": true},
            {"name": "energy_kwh", "type": "number"}
        ],
        "quality_rules": [{"rule": "range", "field": "output_m", "min": 0, "max": 100000}],
        "lineage_sources": ["91330100MA27XKQ717/mes-raw"]
    })
}

/// Registers a dataset in the catalog of the governance at `http`; panics unless created.
pub async fn register_dataset(client: &reqwest::Client, http: &str, tenant: &str, spec: &serde_json::Value) {
    let created = client.post(format!("{http}/api/v1/tenants/{tenant}/datasets")).json(spec).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

/// Textile records as an enterprise would push them.
pub fn textile_batch(batch: usize, size: usize) -> serde_json::Value {
    let records: Vec<serde_json::Value> = (0..size)
        .map(|i| {
            serde_json::json!({
                "_id": format!("b{batch}-r{i}"),
                "_event_time": "2026-11-22T08:00:00+08:00",
                "enterprise_uscc": "91330100MA27XKQ717",
                "line": format!("L{}", i % 4),
                "fabric": "denim",
                "output_m": 1200 + i,
                "energy_kwh": 310.5,
            })
        })
        .collect();
    serde_json::Value::Array(records)
}

/// The environment of one distributed brain process on Kafka and PostgreSQL, on ports the OS picks.
pub fn distributed_env(kafka: &str, database: &str, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("BRAIN_COMMON__BUS".into(), format!("kafka://{kafka}")),
        ("BRAIN_COMMON__DATABASE".into(), database.to_owned()),
        ("BRAIN_COMMON__TOPIC_PREFIX".into(), prefix.to_owned()),
        ("BRAIN_COMMON__HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("BRAIN_COMMON__GRPC_ADDR".into(), "127.0.0.1:0".into()),
        ("BRAIN_BUS__KAFKA_SESSION_TIMEOUT_MS".into(), "1000".into()),
        ("BRAIN_BUS__KAFKA_HEARTBEAT_INTERVAL_MS".into(), "100".into()),
    ]
}

/// Ingestion asks governance (in another process) whether datasets exist.
pub fn with_governance_peer(env: &[(String, String)], governance: &brain_testkit::BrainProcess) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("BRAIN_COMMON__PEERS__GOVERNANCE".into(), governance.grpc.clone()));
    env
}

pub fn spawn(target: &str, env: &[(String, String)]) -> brain_testkit::BrainProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    brain_testkit::BrainProcess::spawn(&["serve", "--target", target], &env).unwrap()
}
