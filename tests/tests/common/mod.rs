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
    let trust = TRUST_SERVICES.iter().map(|name| ("trust", *name));
    GRPC_SERVICES.iter().copied().chain(std::iter::once(EVALUATION)).chain(trust).collect()
}

/// The trust service's gRPC names (identity, access, products, ledger).
pub const TRUST_SERVICES: [&str; 4] =
    ["brain.trust.v1.IdentityService", "brain.trust.v1.AccessService", "brain.trust.v1.ProductService", "brain.trust.v1.LedgerService"];

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

/// The environment of one distributed brain process on Kafka and PostgreSQL, on ports the OS
/// picks. The processes of one test share a data directory, and so their signing keys.
pub fn distributed_env(kafka: &str, database: &str, prefix: &str) -> Vec<(String, String)> {
    let data_dir = std::env::temp_dir().join("brain-e2e").join(prefix);
    vec![
        ("BRAIN_COMMON__DATA_DIR".into(), data_dir.display().to_string()),
        ("BRAIN_COMMON__BUS".into(), format!("kafka://{kafka}")),
        ("BRAIN_COMMON__DATABASE".into(), database.to_owned()),
        ("BRAIN_COMMON__TOPIC_PREFIX".into(), prefix.to_owned()),
        ("BRAIN_COMMON__HTTP_ADDR".into(), "127.0.0.1:0".into()),
        ("BRAIN_COMMON__GRPC_ADDR".into(), "127.0.0.1:0".into()),
        ("BRAIN_BUS__KAFKA_SESSION_TIMEOUT_MS".into(), "1000".into()),
        ("BRAIN_BUS__KAFKA_HEARTBEAT_INTERVAL_MS".into(), "100".into()),
    ]
}

/// A fresh PostgreSQL database and the environment of distributed processes on it and the
/// broker (topics under a prefix of their own); `None` where the engines are absent outside CI.
pub async fn distributed() -> Option<(brain_testkit::postgres::TempDatabase, Vec<(String, String)>)> {
    let (Some(kafka), Some(postgres)) = (brain_testkit::engines::kafka(), brain_testkit::engines::postgres()) else { return None };
    let database = brain_testkit::postgres::fresh_database(&postgres).await.unwrap();
    let env = distributed_env(&kafka, database.url(), &format!("e2e{}", uuid::Uuid::now_v7().simple()));
    Some((database, env))
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

// ---- identities ----------------------------------------------------------------------------

/// The enterprise most tests act as (a unified social credit code).
pub const TENANT: &str = "91330100MA27XKQ717";
pub const USER_PASSWORD: &str = "Loom-and-shuttle-7";

/// A signed-in caller: a REST client that sends its bearer token, and the token for gRPC.
#[derive(Clone)]
pub struct Session {
    pub token: String,
    pub tenant: String,
    pub http: reqwest::Client,
}

impl Session {
    pub fn new(token: String, tenant: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(headers).build().unwrap();
        Self { token, tenant: tenant.to_owned(), http }
    }

    /// A gRPC channel that sends this session's bearer token.
    pub async fn grpc(&self, grpc: &str) -> Authed {
        tonic::service::interceptor::InterceptedService::new(channel(grpc).await, Bearer(self.token.clone()))
    }
}

/// A channel whose every call carries `authorization: Bearer …`.
pub type Authed = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

#[derive(Clone)]
pub struct Bearer(pub String);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", self.0).parse().map_err(|_| tonic::Status::internal("token is not a header value"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// Signs in with a password (and a TOTP code when given); panics unless it succeeds.
pub async fn sign_in(http: &str, tenant: &str, username: &str, password: &str, totp: Option<String>) -> Session {
    let response = self::http()
        .post(format!("{http}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({"tenant_id": tenant, "username": username, "password": password, "totp_code": totp}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign-in of {tenant}/{username}: {}", response.text().await.unwrap());
    let body: serde_json::Value = response.json().await.unwrap();
    Session::new(body["access_token"].as_str().unwrap().to_owned(), tenant)
}

pub fn totp_code(secret_base32: &str, at: std::time::SystemTime) -> String {
    let secret = brain_auth::TotpSecret::from_base32(secret_base32).unwrap();
    let unix = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    brain_auth::Totp::default().code_at(&secret, unix)
}

/// Signs a person in with two factors: enrols TOTP with the previous time step's code, then
/// signs in again with the current one, so no code is used twice.
pub async fn with_second_factor(http: &str, tenant: &str, username: &str, password: &str) -> Session {
    let first = sign_in(http, tenant, username, password, None).await;
    let enrolment: serde_json::Value =
        first.http.post(format!("{http}/api/v1/auth/totp/enroll")).send().await.unwrap().json().await.unwrap();
    let secret = enrolment["secret_base32"].as_str().unwrap().to_owned();
    let earlier = std::time::SystemTime::now() - Duration::from_secs(30);
    let confirmed = first
        .http
        .post(format!("{http}/api/v1/auth/totp/confirm"))
        .json(&serde_json::json!({"secret_base32": secret, "code": totp_code(&secret, earlier)}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200, "TOTP enrolment of {tenant}/{username}: {}", confirmed.text().await.unwrap());
    sign_in(http, tenant, username, password, Some(totp_code(&secret, std::time::SystemTime::now()))).await
}

/// The bootstrap system administrator, with TOTP enrolled (administration needs two factors).
pub async fn platform_admin(http: &str) -> Session {
    with_second_factor(http, "platform", "admin", brain_testkit::process::TEST_ADMIN_PASSWORD).await
}

/// A separated administrator (`security-admin`, `auditor`) of the platform, signed in with two factors.
pub async fn platform_officer(http: &str, admin: &Session, username: &str, role: &str) -> Session {
    let user = admin
        .http
        .post(format!("{http}/api/v1/identity/tenants/platform/users"))
        .json(&serde_json::json!({"username": username, "display_name": username, "password": USER_PASSWORD, "roles": [role]}))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201, "user platform/{username}: {}", user.text().await.unwrap());
    with_second_factor(http, "platform", username, USER_PASSWORD).await
}

/// Creates a tenant (kind `enterprise`, `government`, …) and a user in it with `roles`, then
/// signs that user in.
pub async fn tenant_user(http: &str, admin: &Session, tenant: &str, kind: &str, username: &str, roles: &[&str]) -> Session {
    let created = admin
        .http
        .post(format!("{http}/api/v1/identity/tenants"))
        .json(&serde_json::json!({"id": tenant, "kind": kind, "name": format!("{kind} {tenant}")}))
        .send()
        .await
        .unwrap();
    assert!(created.status() == 201 || created.status() == 409, "tenant {tenant}: {}", created.text().await.unwrap());
    let user = admin
        .http
        .post(format!("{http}/api/v1/identity/tenants/{tenant}/users"))
        .json(&serde_json::json!({"username": username, "display_name": username, "password": USER_PASSWORD, "roles": roles}))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201, "user {tenant}/{username}: {}", user.text().await.unwrap());
    sign_in(http, tenant, username, USER_PASSWORD, None).await
}

/// The administrator of the enterprise [`TENANT`] on the brain whose trust service is at `http`.
pub async fn enterprise(http: &str) -> Session {
    let admin = platform_admin(http).await;
    tenant_user(http, &admin, TENANT, "enterprise", "weaver", &["enterprise-admin"]).await
}

/// A valid resident ID card number (GB 11643 check character) for a birth date and sequence.
pub fn id_card(region: &str, birth: &str, sequence: u32) -> String {
    let first17 = format!("{region}{birth}{sequence:03}");
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

// ---------------------------------------------------------------------------------------
// A model served by the gateway

/// A mock OpenAI upstream's chat completion: a stream of four chunks 150 ms apart (and a
/// usage chunk when asked for), or one answer.
pub async fn completion(axum::Json(request): axum::Json<serde_json::Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures::StreamExt;
    if request["stream"] == true {
        let mut chunks: Vec<String> = ["库存", " 1200", " 米", "。"]
            .iter()
            .map(|t| format!("data: {}\n\n", serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "textile-qa", "choices": [{"index": 0, "delta": {"content": t}}]})))
            .collect();
        if request["stream_options"]["include_usage"] == true {
            chunks.push(format!("data: {}\n\n", serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "textile-qa", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}})));
        }
        chunks.push("data: [DONE]\n\n".into());
        let events = futures::stream::iter(chunks.into_iter().enumerate()).then(|(i, chunk)| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            Ok::<_, std::io::Error>(chunk)
        });
        return axum::response::Response::builder().header("content-type", "text/event-stream").body(axum::body::Body::from_stream(events)).unwrap();
    }
    axum::Json(serde_json::json!({"id": "c0", "object": "chat.completion", "created": 1, "model": "textile-qa",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "库存 1200 米。"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}))
    .into_response()
}

/// Starts the mock upstream; its base URL.
pub async fn mock_upstream() -> String {
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(completion));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The platform registers `textile-qa` on the mock and puts it in production; the endpoint
/// takes at most `max_concurrency` requests at once.
pub async fn serve_model(http: &str, admin: &Session, upstream: &str, max_concurrency: u32) {
    let models = format!("{http}/api/v1/models");
    let model = serde_json::json!({"name": "textile-qa", "level": "foundation", "description": "textile Q&A",
        "version": {"version": "1", "endpoints": [{"url": upstream, "location": "on_premise", "max_concurrency": max_concurrency}]}});
    let created = admin.http.post(&models).json(&model).send().await.unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    for stage in ["staging", "production"] {
        let promoted = admin.http.post(format!("{models}/textile-qa/versions/1/promote")).json(&serde_json::json!({"stage": stage})).send().await.unwrap();
        assert_eq!(promoted.status(), 200, "{stage}: {}", promoted.text().await.unwrap());
    }
}
